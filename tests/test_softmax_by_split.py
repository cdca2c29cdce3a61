"""Does the collapse need the imbalance? (report/prose_answers.section_softmax_by_split) on
fabricated runs: softmax into the loss collapses minority recall on the imbalanced split and not
on the balanced one, and each softmax run is compared with its logits counterpart on its split."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_capacity import _run

from blockbench import report
from blockbench.report import prose_answers, statistics
from blockbench.report.runs import Group
from blockbench.report.tables import Tables

KEEP = {"imbalanced": 0.065, "balanced": 1.0}


def _group(name, split, loss, minority: list[float]):
    runs = []
    for seed, m in enumerate(minority):
        cfg = {"n_conv": 1, "n_mobilenet": 3, "split": split, "loss_input": loss, "seed": seed}
        r = _run(name if seed == 0 else f"{name}_s{seed}", cfg, 0.9 + m / 20, m)
        r.split = {"config": {"keep_fraction": KEEP[split]}}
        y = np.repeat(np.arange(10), 100)
        rare = np.isin(y, [0, 4, 7])
        r.y_true, r.y_pred = y, np.where(rare & (np.arange(1000) % 100 >= 100 * m), (y + 1) % 10, y)
        runs.append(r)
    return Group(name, runs)


def _study(tmp_path, balanced_softmax: list[float]):
    groups = {
        "m": _group("m", "imbalanced", "logits", [0.90, 0.92, 0.91]),
        "m_bal": _group("m_bal", "balanced", "logits", [0.98, 0.985, 0.99]),
        "m_sm": _group("m_sm", "imbalanced", "softmax", [0.0, 0.0, 0.0]),
        "m_smbal": _group("m_smbal", "balanced", "softmax", balanced_softmax),
    }
    params = {
        "grids": {
            "abl": {"runs": ["m"], "variants": {"sm": {"loss_input": "softmax"}}},
            "smb": {
                "runs": ["m"],
                "variants": {"smbal": {"loss_input": "softmax", "split": "balanced"}},
            },
        }
    }
    s = SimpleNamespace(
        params=params,
        study={"ablations": "abl", "ablations_by_split": "smb"},
        groups=groups,
        family=statistics.Family(0.05),
        margin=lambda metric: None,
        tables=Tables(tmp_path),
    )
    s.compare = lambda *args, **kw: report.Study.compare(s, *args, **kw)
    s.cmp_key = lambda *args: report.Study.cmp_key(s, *args)
    s.verdict_label = lambda c: report.Study.verdict_label(s, c)
    prose_answers.declare_softmax_by_split(s)
    s.family.finish()
    return s


def test_each_softmax_run_meets_its_logits_counterpart_on_its_own_split(tmp_path):
    s = _study(tmp_path, [0.97, 0.98, 0.975])
    assert prose_answers.split_ablation_pairs(s) == [("m_sm", "m"), ("m_smbal", "m_bal")]
    df = prose_answers.softmax_by_split_table(s).set_index("softmax run")
    assert df.loc["m_sm", "collapsed"] == "yes" and df.loc["m_smbal", "collapsed"] == "no"
    assert df.loc["m_smbal", "minority recall %, logits"] == pytest.approx(98.5)
    assert prose_answers.needs_imbalance(df.reset_index()) == (
        "needs the imbalance: it does not collapse on balanced data"
    )
    text = "\n".join(prose_answers.section_softmax_by_split(s))
    assert "needs the imbalance" in text and "imbalanced (0.065)" in text
    # in percent, as the table: softmax 97.5% on balanced data against logits 98.5%
    assert "softmax 97.50% [" in text and "against logits 98.50% over 3 seeds" in text


def test_a_collapse_on_balanced_data_too_means_softmax_alone(tmp_path):
    s = _study(tmp_path, [0.0, 0.0, 0.0])
    df = prose_answers.softmax_by_split_table(s)
    assert prose_answers.needs_imbalance(df) == (
        "does not need the imbalance: it collapses on balanced data too"
    )
