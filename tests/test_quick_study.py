"""The quick preset runs the whole study end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import REPO
from enginekit import dvc_stale

from blockbench import params as bbp
from blockbench import report
from blockbench.quick import copy_pipeline, quick_params, run_engine

pytestmark = pytest.mark.engines


def test_quick_preset_keeps_runs_and_study_on_digits():
    full = bbp.load(REPO / "params.yaml")
    quick = quick_params(full)
    assert quick["data"]["dataset"] == "digits"
    assert (
        list(quick["runs"]) == list(full["runs"])
        and quick["study"]["sweeps"] == full["study"]["sweeps"]
    )
    assert quick["train"]["epochs"] <= 5
    assert quick["runs"]["c1m3_bs3000"]["batch_size"] == 2 * quick["train"]["batch_size"]


def test_quick_preset_keeps_the_remedies_grid_and_the_headline_twins():
    full = bbp.load(REPO / "params.yaml")
    quick = quick_params(full)
    assert quick["grids"]["remedies"]["runs"] == full["grids"]["remedies"]["runs"]
    assert list(quick["grids"]["remedies"]["variants"]) == list(
        full["grids"]["remedies"]["variants"]
    )
    own = ("severity", "capacity", "primary_fresh")  # cut to what the preset trains
    assert {k: v for k, v in quick["study"].items() if k not in own} == {
        k: v for k, v in full["study"].items() if k not in own
    }
    assert "primary_fresh" not in quick["study"]  # its seed numbers are the full study's
    cap, full_cap = quick["study"]["capacity"], full["study"]["capacity"]
    assert cap["seeds"] == [0, 1] and cap["pairs"] == full_cap["pairs"]
    assert cap["sweep"] == full_cap["sweep"]
    assert bbp.twin_table(quick) == {"c1m3": "c1m3_twin", "c4": "c4_twin"}
    # two seeds for the headline pair and every capacity width (a paired test needs two), one
    # for every other run
    assert bbp.replicates(quick, "c1m3") == ["c1m3", "c1m3_s1"]
    assert bbp.replicates(quick, "c4_w0p375") == ["c4_w0p375", "c4_w0p375_s1"]
    assert bbp.replicates(quick, "c4_focal") == ["c4_focal"]
    widths = {r for side in cap["sweep"].values() for r in side} - {"c1m3", "c4"}
    assert len(bbp.run_names(quick)) == len(bbp.logical_runs(quick)) + 2 + len(widths)


def test_quick_preset_cuts_the_severity_experiment_to_the_levels_it_trains_anyway():
    """digits' ~143 images per class cannot keep 0.1% of a class: the severity grids and their
    splits go, the section keeps the study's split and the balanced one."""
    full = bbp.load(REPO / "params.yaml")
    declared = (full["study"].get("severity") or {}).get("grids", [])  # params.yaml's own
    full["study"]["severity"] = {
        "splits": ["keep0p001", "imbalanced", "balanced"],
        "grids": [*declared, "sev"],
    }
    full["splits"]["keep0p001"] = {"keep_fraction": 0.001}
    full["grids"]["sev"] = {"runs": ["c1m3"], "variants": {"k": {"split": "keep0p001"}}}
    quick = quick_params(bbp.validate(full))
    assert not {"sev", *declared} & set(quick["grids"]) and "keep0p001" not in quick["splits"]
    assert quick["study"]["severity"]["splits"] == ["imbalanced", "balanced"]
    assert not any("keep0p001" in r for r in bbp.run_names(quick))


def test_quick_study_end_to_end(tmp_path):
    """The whole study's report on digits, under DVC. Snakemake runs the whole DAG in
    tests/test_engines.py and writes the same bytes as DVC there (so it is not run twice here)."""
    engine = "dvc"
    params = quick_params(bbp.load(REPO / "params.yaml"))
    # keep the test short: the remedies of the plain network only (the report treats each base
    # network's remedies alike), two remedies (one repeated over a second seed) and the reference
    params["grids"]["remedies"]["runs"] = [params["study"]["plain"]]
    variants = params["grids"]["remedies"]["variants"]
    params["grids"]["remedies"]["variants"] = {
        "oversample": {**variants["oversample"], "replicate_seeds": [1]},
        "augment_repeated": variants["augment_repeated"],
        "balanced": variants["balanced"],
    }
    params = bbp.validate(params)
    repo = copy_pipeline(REPO, tmp_path / engine, params)
    run_engine(repo, engine, cores=2)
    text = (repo / report.SUMMARY).read_text()
    assert text.split("\n## ")[1].startswith("Headline")
    for n in range(1, 9):
        assert f"\n## {n}. " in text
    summary = json.loads((repo / report.SUMMARY_JSON).read_text())
    for name in ("c1m3", "c4", "c3m5"):  # the report's numbers are the runs' numbers
        accs = [
            json.loads((repo / "results" / "runs" / r / "metrics.json").read_text())["accuracy"]
            for r in bbp.replicates(params, name)
        ]
        assert summary["runs"][name]["accuracy"] == pytest.approx(sum(accs) / len(accs))
        assert summary["runs"][name]["seeds"] == len(accs)
        table = pd.read_csv(repo / report.TABLES / "2_block_counts.csv").set_index("run")
        if name in table.index:
            assert table.loc[name, "accuracy %"] == round(100 * sum(accs) / len(accs), 2)
        if name in ("c1m3", "c4"):  # the headline quotes the pair
            assert f"{100 * sum(accs) / len(accs):.2f}%" in text.split("\n## ")[1]
    assert summary["comparisons"]["c1m3 vs c4: accuracy"]["seeds"] == 2
    for name in bbp.run_names(params):
        assert (repo / "results" / "runs" / name / "metrics.json").exists()
    for name in bbp.plotted_runs(params):  # per-run figures only where the report shows them
        assert (repo / "results" / "runs" / name / "figures" / "tsne.png").exists()
    assert not (repo / "results" / "runs" / "c3m5" / "figures").exists()
    for link in [
        line.split("](", 1)[1].split(")", 1)[0] for line in text.splitlines() if "![" in line
    ]:
        assert (repo / "results" / link).is_file(), link
    assert dvc_stale(repo) == set()
