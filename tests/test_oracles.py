"""Hand-computed, asymmetric oracles for the core numbers (issue "Tests that fail when the code is
wrong"): cases where accuracy differs from balanced accuracy and recall from precision, so that a
swapped column or a plain accuracy in place of a balanced one fails a test."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, digits_params
from scipy import stats as sps

from blockbench import evaluation, keys, remedies, report, training
from blockbench import params as bbp
from blockbench.errors import BlockbenchError
from blockbench.report import claims, prose_answers, statistics
from blockbench.report.runs import Group
from blockbench.split import _keep_minority, make_split
from blockbench.storage import (
    _alive,
    array_sha256,
    file_sha256,
    load_npz,
    read_json,
    save_npz,
    write_json,
    write_text,
    write_text_if_changed,
)
from blockbench.tensors import EVAL_BATCH
from blockbench.training import run_fingerprint


def test_all_predicted_majority_accuracy_075_balanced_05():
    y_true = np.array([0] * 6 + [1] * 2)
    y_pred = np.zeros(8, dtype=int)
    v = evaluation.validation_metrics(y_true, y_pred, minority=[1])
    assert v["accuracy"] == 0.75 and v["balanced_accuracy"] == 0.5
    assert v["minority_recall_mean"] == 0.0


def test_recall_and_precision_are_read_from_their_own_columns():
    # class 1: 2 actual, both found (recall 1), 4 predicted (precision 0.5)
    y_true = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    proba = np.eye(3)[y_pred] * 0.7 + 0.1
    m = evaluation.compute_metrics(y_true, y_pred, proba, minority=[1], bootstrap_samples=20)
    assert m["minority_recall"]["1"] == 1.0 and m["minority_recall_mean"] == 1.0
    assert m["per_class"]["1"]["precision"] == 0.5
    assert m["per_class"]["0"]["recall"] == pytest.approx(4 / 6)
    assert m["accuracy"] == 0.8 and m["balanced_accuracy"] == pytest.approx((4 / 6 + 1 + 1) / 3)
    assert m["majority_recall_mean"] == pytest.approx((4 / 6 + 1) / 2)


def test_bootstrap_interval_is_the_95_percent_percentile_interval():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 3, 400)
    y_pred = np.where(rng.random(400) < 0.8, y_true, (y_true + 1) % 3)
    ci = evaluation.bootstrap_ci(y_true, y_pred, samples=2000, seed=7, n_classes=3)
    # an independent percentile computation with the same resamples
    again = np.random.default_rng(7)
    accs = [np.mean((y_true == y_pred)[again.integers(0, 400, 400)]) for _ in range(2000)]
    assert ci["accuracy"] == pytest.approx(list(np.percentile(accs, [2.5, 97.5])))
    # and its width is that of the normal approximation, not a 50% interval's
    p = np.mean(y_true == y_pred)
    normal = 2 * 1.96 * np.sqrt(p * (1 - p) / 400)
    width = ci["accuracy"][1] - ci["accuracy"][0]
    assert 0.8 * normal < width < 1.2 * normal


def test_holm_caps_at_1_and_needs_the_adjusted_p():
    assert statistics.holm([0.6, 0.7]) == [1.0, 1.0]
    adjusted = statistics.holm([0.02, 0.03, 0.04])
    assert adjusted == pytest.approx([0.06, 0.06, 0.06])
    assert not any(p < 0.05 for p in adjusted)  # every raw p < 0.05, nothing significant


def test_verdicts_say_everything_both_adjusted_tests_say():
    assert statistics.verdict(0.01, 0.9, 0.05) == statistics.DIFFERENT
    assert statistics.verdict(0.2, 0.01, 0.05) == statistics.EQUIVALENT
    assert statistics.verdict(0.2, 0.3, 0.05) == statistics.INCONCLUSIVE
    # both tests reject: different AND within the margin, never only one of them
    assert statistics.verdict(0.01, 0.01, 0.05) == statistics.WITHIN
    assert statistics.verdict(0.05, None, 0.05) == statistics.INCONCLUSIVE
    # different; beyond the margin only where the simultaneous interval lies outside it
    assert statistics.verdict(0.01, 0.9, 0.05, 0.5, (0.6, 1.2)) == statistics.BEYOND
    assert statistics.verdict(0.01, 0.9, 0.05, 0.5, (-1.2, -0.51)) == statistics.BEYOND
    assert statistics.verdict(0.01, 0.9, 0.05, 0.5, (0.4, 1.2)) == statistics.DIFFERENT
    assert statistics.verdict(0.01, 0.9, 0.05, None, (0.6, 1.2)) == statistics.DIFFERENT


def test_a_5923_image_class_at_keep_0065_keeps_385():
    """5,923 x 0.065 = 384.995: rounded, not floored (MNIST's digit 0)."""
    y = np.array([0] * 5923 + [1] * 100)
    kept = _keep_minority(y, [0], 0.065, np.random.default_rng(0))
    assert np.sum(y[kept] == 0) == 385 and np.sum(y[kept] == 1) == 100
    assert round(sps.norm.ppf(0.5), 6) == 0.0  # (scipy present: the report's tests use it)


def test_two_config_writes_leave_mtimes_alone_and_a_removed_run_goes(tmp_path):
    params = digits_params()
    keys.write_configs(params, tmp_path)
    c4 = tmp_path / "results/configs/c4.yaml"
    os.utime(c4, (1000, 1000))
    keys.write_configs(params, tmp_path)
    assert c4.stat().st_mtime == 1000  # unchanged content: not rewritten
    assert write_text_if_changed(c4, c4.read_text()) is False
    fewer = {**params, "seeds": {**params["seeds"], "c1m3": params["seeds"]["c1m3"][:-1]}}
    dropped = f"c1m3_s{params['seeds']['c1m3'][-1]}"
    assert (tmp_path / f"results/configs/{dropped}.yaml").exists()
    keys.write_configs(bbp.validate(fewer), tmp_path)
    assert not (tmp_path / f"results/configs/{dropped}.yaml").exists()
    assert c4.stat().st_mtime == 1000


def test_outputs_get_mode_0644_under_umask_022(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o644


# ------------------------------------------------------------------ the claims' rules, table-driven
D, E, INC = statistics.DIFFERENT, statistics.EQUIVALENT, statistics.INCONCLUSIVE
B, W = statistics.BEYOND, statistics.WITHIN


@pytest.mark.parametrize(
    "verdict, diff, want, answer",
    [
        (E, +0.1, "equal", "holds"),
        (W, +0.1, "equal", "holds"),  # different, but inside the margin: the same for a user
        (B, +1.0, "equal", "does not hold"),  # shown to exceed the margin
        (B, -1.0, "equal", "does not hold"),
        (D, -1.0, "equal", "inconclusive"),  # different, but not shown to exceed the margin
        (INC, +1.0, "equal", "inconclusive"),
        (W, +0.1, "higher", "holds"),  # a real gain, small or not
        (B, -1.0, "higher", "does not hold"),
        (D, +1.0, "not higher", "does not hold"),
        (D, -1.0, "not higher", "holds"),
        (E, +0.1, "not higher", "holds"),
        (INC, -1.0, "not higher", "inconclusive"),
        (D, +1.0, "higher", "holds"),
        (D, -1.0, "higher", "does not hold"),
        (E, +0.1, "higher", "inconclusive"),  # a gain inside the margin: neither shown nor excluded
        (D, -1.0, "lower", "holds"),
        (D, +1.0, "lower", "does not hold"),
        (INC, -1.0, "lower", "inconclusive"),
        (D, +0.5, "lower", "does not hold"),  # a gain under 1 point is still a gain
        (D, -0.5, "higher", "does not hold"),
        (D, 0.0, "higher", "does not hold"),  # no direction: neither claim is shown
        (D, 0.0, "lower", "does not hold"),
    ],
)
def test_claim_rules(verdict, diff, want, answer):
    assert claims.claim_verdict(verdict, diff, want) == answer


def test_without_a_margin_a_difference_refutes_sameness():
    assert claims.claim_verdict(D, 1.0, "equal", has_margin=False) == "does not hold"
    assert claims.claim_verdict(D, 1.0, "equal", has_margin=True) == "inconclusive"


class _Comparison:
    def __init__(self, verdict: str, diff: float):
        self.verdict, self.result = verdict, {"diff": diff}


class _SpeedStudy:
    """What Study.time_verdict reads: one comparison per speed metric (diff = a − b time)."""

    def __init__(self, *comparisons):
        self.family = dict(zip(prose_answers.SPEED_METRICS, comparisons))

    def cmp_key(self, a, b, metric):
        return metric if metric in self.family and (a, b) == ("a", "b") else None


@pytest.mark.parametrize(
    "comparisons, answer",
    [
        ([(D, -2.0), (D, -1.0)], "holds"),  # a takes less time at both: faster
        ([(D, +2.0), (D, +1.0)], "does not hold"),  # slower
        ([(D, -2.0), (E, 0.0)], "does not hold"),  # the same inference time: not faster
        ([(D, -2.0), (INC, -1.0)], "inconclusive"),
        ([(D, -2.0), (D, +0.5)], "does not hold"),  # slower by less than one unit is slower
        ([(D, -2.0), (D, 0.0)], "inconclusive"),  # (a zero difference is neither)
        ([], "cannot be tested here"),
    ],
)
def test_speed_claim_direction(monkeypatch, comparisons, answer):
    monkeypatch.setattr(prose_answers, "speed_table", lambda study: "table")
    monkeypatch.setattr(prose_answers, "speed_words", lambda df, a, b: f"{df}: {a} vs {b}")
    fake = _SpeedStudy(*[_Comparison(v, d) for v, d in comparisons])
    verdict, why = report.Study.time_verdict(fake, "a", "b")
    assert verdict == answer
    assert why == ("table: a vs b" if comparisons else "no benchmark of a and b (benchmark stage)")


def _group(name: str, values: list[float]) -> Group:
    runs = [SimpleNamespace(metrics={"x": v}, seed=i) for i, v in enumerate(values)]
    return Group(name, runs)


@pytest.mark.parametrize(
    "original, inside", [(1.1, "yes"), (1.0, "yes"), (2.0, "yes"), (2.2, "no"), (0.05, "no")]
)
def test_reproduced_by_the_twin_means_inside_its_prediction_interval(original, inside):
    """Twin seeds 0.9, 1.1, 1.3: mean 1.1, SD 0.2, 95% PI 1.1 ± t(0.975, 2)·0.2·sqrt(1 + 1/3)
    = [0.106, 2.094] (hand-computed: t = 4.303)."""
    twin = _group("t", [0.9, 1.1, 1.3])
    ours = _group("o", [1.0, 1.0, 1.2])
    row = claims._row(
        1, "c", "cfg", "m", original, ours, twin, lambda r: r.metrics["x"], "num", "", ""
    )
    assert row["twin 95% PI from"] == pytest.approx(0.106, abs=1e-3)
    assert row["twin 95% PI to"] == pytest.approx(2.094, abs=1e-3)
    assert row["reproduced by the twin"] == inside


# ------------------------------------------------------------------------------------ the split
def test_every_majority_class_loses_the_same_share_within_one_image():
    """train_over_test drops majority images only, stratified: each majority class keeps its
    share of the pool within one image, whatever its size (a random drop misses by dozens)."""
    sizes = [300, 600, 900, 1200, 300, 1500, 2000, 300, 2500, 3000]
    y = np.concatenate([np.full(n, c) for c, n in enumerate(sizes)])
    arrays = {
        "x_train": np.zeros((len(y), 1), np.float32),
        "y_train": y,
        "x_test": np.zeros((1000, 1), np.float32),
        "y_test": np.arange(1000) % 10,
    }
    cfg = {
        "minority_classes": [0, 4, 7],
        "keep_fraction": 0.1,
        "seed": 0,
        "val_fraction": 0.2,
        "train_over_test": 4.0,
    }
    out, record = make_split(arrays, cfg)
    kept = {c: int(np.sum(out["y_train"] == c) + np.sum(out["y_val"] == c)) for c in range(10)}
    assert all(kept[c] == 30 for c in (0, 4, 7))  # 10% of 300, untouched by the drop
    majority = [c for c in range(10) if c not in (0, 4, 7)]
    share = (sum(kept[c] for c in majority)) / sum(sizes[c] for c in majority)
    assert 0.3 < share < 0.5  # the drop happened: 4.0 × 1000 / 0.8 of 11,700 majority images
    for c in majority:
        assert abs(kept[c] - share * sizes[c]) <= 1, (c, kept[c], share * sizes[c])
    assert record["train_over_test"]["achieved"] == pytest.approx(4.0, abs=0.002)


# --------------------------------------------------------------------------------- the remedies
def test_augment_degrees_translate_and_scale_are_used():
    """All three at zero: the identity; a rotation alone (90°, nothing else) moves the pixels."""
    x = torch.zeros(4, 1, 28, 28)
    x[:, :, 4:8, 10:20] = 1.0  # a bar near the top: not symmetric under rotation
    mask = torch.ones(4, dtype=torch.bool)
    still = {"augment_degrees": 0, "augment_translate": 0.0, "augment_scale": [1.0, 1.0]}
    out = remedies.augment_batch(x, mask, remedies.make_augmenter(still, fill=0.0))
    assert torch.allclose(out, x, atol=1e-6)
    turned = remedies.make_augmenter({**still, "augment_degrees": 180}, fill=0.0)
    torch.manual_seed(0)
    assert not torch.allclose(remedies.augment_batch(x, mask, turned), x, atol=0.1)
    shifted = remedies.make_augmenter({**still, "augment_translate": 0.5}, fill=0.0)
    torch.manual_seed(0)
    assert not torch.allclose(remedies.augment_batch(x, mask, shifted), x, atol=0.1)
    zoomed = remedies.make_augmenter({**still, "augment_scale": [1.8, 2.0]}, fill=0.0)
    assert not torch.allclose(remedies.augment_batch(x, mask, zoomed), x, atol=0.1)


def _readme_remedies() -> dict[str, tuple[str, list[str]]]:
    """README's remedies table: remedy -> (what changes, its params)."""
    text = (REPO / "README.md").read_text().split("#### Imbalance remedies (`remedy`)")[1]
    rows = {}
    for line in text.split("\n\n|", 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        name, what, params = (c.strip() for c in line.strip("|").split("|"))
        rows[name.strip("`")] = (what, re.findall(r"`([a-z_]+)`", params))
    return rows


def test_the_readme_remedy_table_agrees_with_the_schema_the_defaults_and_the_code():
    rows = _readme_remedies()
    schema = yaml.safe_load((REPO / "src/blockbench/params.schema.yaml").read_text())
    train_props = schema["$defs"]["train_keys"]["properties"]
    assert list(rows) == train_props["remedy"]["enum"]  # every remedy, in the schema's order
    listed = {p for _, ps in rows.values() for p in ps}
    remedy_keys = {"class_weights", "cb_beta", "logit_tau", "focal_gamma"} | {
        k for k in train_props if k.startswith("augment_")
    }
    assert listed == remedy_keys  # each remedy's params, no more, no fewer
    defaults = yaml.safe_load((REPO / "params.yaml").read_text())["train"]
    for remedy in rows:
        # the code's fallbacks are params.yaml's defaults: a config without them reads the same
        with_defaults = {**{k: defaults[k] for k in remedy_keys}, "remedy": remedy}
        assert remedies.describe({"remedy": remedy}) == remedies.describe(with_defaults)
    # what the README says is the default is params.yaml's default and what the code does with it
    said = re.search(r"`augment_scope: (\w+)` \(the default\)", rows["augment"][0]).group(1)
    assert said == defaults["augment_scope"] == "all"
    counts = torch.tensor([100, 5, 100])
    assert remedies.augmented_classes({}, counts).all()
    assert remedies.augmented_classes({"augment_scope": "repeated"}, counts).tolist() == [
        False,
        True,
        False,
    ]
    assert "1/n_c" in rows["class_weights"][0] and defaults["class_weights"] == "inverse"
    w = remedies.class_weights(torch.tensor([100.0, 25.0]), "inverse")
    assert w.tolist() == pytest.approx([0.4, 1.6])  # ∝ 1/n_c, averaging 1


def test_family_verdicts_use_the_holm_adjusted_p_not_the_raw_one():
    """Three comparisons with raw p 0.02, 0.03 and 0.04: every one under α = 0.05, none after
    Holm (0.06 each), so no verdict may be 'different'."""
    family = statistics.Family(alpha=0.05)
    for i, p in enumerate((0.02, 0.03, 0.04)):
        key = family.add("q", f"a{i}", f"b{i}", "accuracy", {0: 1.0, 1: 2.0}, {0: 0.0, 1: 0.5})
        family.items[key].result["p"] = p
    family.finish()
    for c in family.items.values():
        assert c.p_holm == pytest.approx(0.06) and not c.significant
        assert c.verdict == statistics.INCONCLUSIVE
    assert family.items["a0 vs b0: accuracy"].threshold == pytest.approx(0.05 / 3)


# ------------------------------------------------------------------ keys: what a params edit reruns
def test_a_stamp_is_the_sha256_of_each_stage_file_then_of_its_params_sections():
    params = digits_params()
    lines = keys.stamp(params, "benchmark", REPO).splitlines()
    files = [ln.split("  ", 1) for ln in lines if "params.yaml:" not in ln]
    assert files and all(
        digest == hashlib.sha256((REPO / rel).read_bytes()).hexdigest() for digest, rel in files
    )
    for line, key in zip(lines[len(files) :], ["benchmark", "compute"], strict=True):
        blob = json.dumps(params[key], sort_keys=True).encode()
        assert line == f"{hashlib.sha256(blob).hexdigest()}  params.yaml:{key}"
    assert keys.stamp_path("train") == Path("results/code/train.sha256")
    assert keys._lookup({"a": {"b": {"c": 3}}}, "a.b.c") == 3


def test_write_stamps_writes_each_stage_once_and_only_on_change(tmp_path):
    for part in ("src", "workflow/scripts"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    # this copy's train stage imports one module more: its stamp lists the copy's code
    (tmp_path / "src/blockbench/extra.py").write_text("")
    with open(tmp_path / "workflow/scripts/train.py", "a") as fh:
        fh.write("import blockbench.extra  # noqa\n")
    assert "src/blockbench/extra.py" in keys.stamp(digits_params(), "train", tmp_path)
    with open(tmp_path / "src/blockbench/storage.py", "a") as fh:
        fh.write("# this copy's code differs from the checkout's: its stamps are read here\n")
    params = digits_params()
    keys.write_stamps(params, tmp_path)
    written = sorted(p.name for p in (tmp_path / "results/code").iterdir())
    assert written == sorted(f"{s}.sha256" for s in keys.STAGE_PARAMS)
    for stage in keys.STAGE_PARAMS:
        text = (tmp_path / keys.stamp_path(stage)).read_text()
        assert text == keys.stamp(params, stage, tmp_path) and text.endswith("\n")
        os.utime(tmp_path / keys.stamp_path(stage), (1000, 1000))
    params["evaluate"]["bootstrap_samples"] += 1
    keys.write_stamps(params, tmp_path)
    changed = [
        s for s in keys.STAGE_PARAMS if (tmp_path / keys.stamp_path(s)).stat().st_mtime != 1000
    ]
    assert changed == ["evaluate"]
    # keys.write: the run configs and the stamps, both under the given root
    params["evaluate"]["bootstrap_samples"] += 1
    runs = keys.write(params, tmp_path)
    assert runs == {n: bbp.run_config(params, n)["split"] for n in bbp.run_names(params)}
    assert (tmp_path / "results/configs/runs.yaml").exists()
    assert (tmp_path / keys.stamp_path("evaluate")).read_text() == keys.stamp(
        params, "evaluate", tmp_path
    )


def test_listed_runs_and_differs_on_missing_broken_and_real_files(tmp_path):
    assert keys.listed_runs(tmp_path) is None
    (tmp_path / "results/configs").mkdir(parents=True)
    (tmp_path / "results/configs/runs.yaml").write_text("expanded_runs: [")
    assert keys.listed_runs(tmp_path) is None
    (tmp_path / "results/configs/runs.yaml").write_text("other: 1\n")
    assert keys.listed_runs(tmp_path) is None
    (tmp_path / "results/configs/runs.yaml").write_text("expanded_runs: {b: 1, a: 2}\n")
    assert keys.listed_runs(tmp_path) == ["b", "a"]
    f = tmp_path / "f.txt"
    assert keys._differs(f, "x") is True
    f.write_text("x")
    assert keys._differs(f, "x") is False and keys._differs(f, "y") is True
    f.write_bytes(b"\xff\xfe")
    assert keys._differs(f, "x") is True


def test_plan_names_exactly_the_stages_a_params_edit_reruns(tmp_path):
    params = digits_params()
    keys.write_configs(params, tmp_path)
    assert keys.plan(params, tmp_path) == []
    why = "its resolved config changes"

    def edited(change) -> list:
        p = copy.deepcopy(params)
        change(p)
        return keys.plan(bbp.validate(p), tmp_path)

    # c3m3's lr: c3m3, its seeds and its twins (which inherit it), nothing else
    c3m3 = [r for r in bbp.run_names(params) if r.startswith("c3m3")]
    assert len(c3m3) == 6
    assert edited(lambda p: p["runs"]["c3m3"].update(lr=0.05)) == [
        (f"train@{r}", why) for r in c3m3
    ]
    got = edited(lambda p: p["splits"]["ratio2"].update(train_over_test=2.5))
    assert got[0] == ("split@ratio2", "its split config changes")
    assert [g for g in got if g[0].startswith("split@")] == [got[0]]
    got = edited(lambda p: p["runs"].update(c9={"n_conv": 1, "n_mobilenet": 0}))
    assert got == [("train@c9", "new run (needs a second `dvc repro`: see configs)")]

    def drop(p):
        del p["runs"]["c3m5"]
        p["study"]["block_counts"] = ["c1m3", "c3m3"]
        p["grids"]["twins"]["runs"].remove("c3m5")

    gone = sorted(r for r in bbp.run_names(params) if r.startswith("c3m5"))
    assert edited(drop) == [
        (f"train@{r}", "removed from params.yaml (its stages go)") for r in gone
    ]
    bench = ("benchmark", "a benchmarked run's network, batch size or optimizer changes")
    assert bench in edited(lambda p: p["runs"]["c4"].update(batch_size=3000))
    assert bench not in edited(lambda p: p["runs"]["c4"].update(epochs=3))


# ------------------------------------------------------------------ storage: the files stages share
def test_write_json_is_sorted_indented_and_takes_numpy_values(tmp_path):

    out = tmp_path / "m.json"
    write_json(out, {"b": np.int64(2), "a": np.float32(0.5), "c": np.array([1, 2])})
    assert out.read_text() == '{\n  "a": 0.5,\n  "b": 2,\n  "c": [\n    1,\n    2\n  ]\n}\n'
    assert read_json(out) == {"a": 0.5, "b": 2, "c": [1, 2]}
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        write_json(tmp_path / "x.json", {"a": object()})
    assert not (tmp_path / "x.json").exists()  # nothing half-written
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 5000)  # over one 1 MiB chunk
    assert file_sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest()


def test_read_json_says_what_is_wrong_and_what_to_do(tmp_path):

    with pytest.raises(BlockbenchError) as err:
        read_json(tmp_path / "none.json")
    assert (
        str(err.value) == f"{tmp_path / 'none.json'}: not found; run the stage that makes it first"
    )
    (tmp_path / "bad.json").write_text('{"a": 1,\n')
    with pytest.raises(BlockbenchError) as err:
        read_json(tmp_path / "bad.json")
    assert str(err.value).startswith(f"{tmp_path / 'bad.json'}: corrupt JSON (")
    assert str(err.value).endswith("at line 2); delete it and rerun its stage")


# ------------------------------------------------------------------ the report's verdict words
@pytest.mark.parametrize(
    "p, verdict, diff, label",
    [
        (None, statistics.DIFFERENT, 0.02, "not tested"),
        (0.01, statistics.DIFFERENT, 0.02, "different (higher)"),
        (0.01, statistics.DIFFERENT, -0.02, "different (lower)"),
        (0.01, statistics.DIFFERENT, 0.0, "different (lower)"),
        (0.01, statistics.EQUIVALENT, 0.001, statistics.EQUIVALENT),
        (0.30, statistics.INCONCLUSIVE, 0.02, statistics.INCONCLUSIVE),
    ],
)
def test_verdict_label(p, verdict, diff, label):
    c = SimpleNamespace(result={"p": p, "diff": diff}, verdict=verdict)
    assert report.Study.verdict_label(None, c) == label


@pytest.mark.parametrize(
    "metric, family, target",
    [
        ("accuracy", report.PRIMARY, 0.01),
        ("minority recall", report.PRIMARY, 0.03),
        ("accuracy", report.SECONDARY, None),
        ("validation loss, last epoch", report.PRIMARY, None),
    ],
)
def test_target_for_primary_rows_only(metric, family, target):
    fake = SimpleNamespace(target_mde={"accuracy": 0.01, "minority_recall": 0.03})
    c = SimpleNamespace(metric=metric, family=family)
    assert report.Study.target_for(fake, c) == target


def _remedy_study(scores: dict[str, dict[int, float]]) -> SimpleNamespace:
    groups = {
        name: SimpleNamespace(by_seed=lambda fn, s=by_seed: dict(s))
        for name, by_seed in scores.items()
    }
    ns = SimpleNamespace(remedy_candidates=lambda base: {r: r for r in scores}, groups=groups)
    ns.selection_seeds = lambda base: report.Study.selection_seeds(ns, base)
    ns.selection_score = lambda run, base: report.Study.selection_score(ns, run, base)
    return ns


@pytest.mark.parametrize(
    "scores, chosen",
    [
        # seeds every candidate has: a's extra seed 3 (1.0) must not count (mean over 0-3: 0.85)
        ({"a": {0: 0.80, 1: 0.80, 2: 0.80, 3: 1.0}, "b": {0: 0.83, 1: 0.83, 2: 0.83}}, "b"),
        # no seed in common: each candidate's mean over its own seeds (0.9 against 0.8)
        ({"a": {0: 0.9}, "b": {1: 0.8, 2: 0.8}}, "a"),
        ({"a_best": {0: 0.9, 1: 0.9}, "b_worse": {0: 0.5, 1: 0.5}}, "a_best"),
        ({}, None),
    ],
)
def test_selected_remedy_is_the_best_mean_over_shared_seeds(scores, chosen):
    assert report.Study.selected_remedy(_remedy_study(scores), "base") == chosen


def test_original_numbers_map_the_originals_accuracies_to_our_runs_by_role():
    study = {
        "mobilenet": "m",
        "plain": "p",
        "block_counts": ["m", "k1", "k2"],
        "sweeps": {
            "batch_size": [["m", "p"], ["m_bs", "p_bs"]],
            "lr": [["m", "p"]],  # one value only: nothing to compare with
            "momentum": [["m", "p"], ["m_mo", "p_mo"]],  # not a sweep of the original
        },
    }
    assert claims.original_numbers(study) == {
        "m": 69.29,
        "p": 69.44,
        "k1": 69.74,
        "k2": 69.65,
        "m_bs": 69.46,
        "p_bs": 69.59,
    }


def test_mcnemar_counts_truthy_values_and_tests_the_asymmetric_pairs():
    # as truth values: only a right on images 0, 3, 4 and only b on image 1 -> binomial(3 of 4)
    r = statistics.mcnemar([2, 0, 1, 1, 1, 1], [0, 3, 1, 0, 0, 1])
    assert (r["only_a_correct"], r["only_b_correct"]) == (3, 1)
    assert r["p_value"] == pytest.approx(0.625)  # 2 * (4 + 1) / 16
    assert statistics.mcnemar([1, 0], [1, 0])["p_value"] == 1.0  # no discordant image
    with pytest.raises(ValueError, match="^McNemar needs predictions on the same test images$"):
        statistics.mcnemar([1, 0], [1, 0, 1])


# ------------------------------------------------------------------ evaluation: model outputs
class _LinearNet(torch.nn.Module):
    """embed: a fixed linear map of the pixels to 6 features; classifier: 6 -> 10."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(28 * 28, 6, generator=g) / 28)
        self.classifier = torch.nn.Linear(6, 10)
        torch.nn.init.normal_(self.classifier.weight, generator=g)

    def embed(self, x):
        return x.flatten(1) @ self.w

    def forward(self, x):
        return self.classifier(self.embed(x))


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def _normalised(images: np.ndarray) -> torch.Tensor:
    """The model's input by hand: pixels / 255, minus mean 0.5, over std 0.25, one channel."""
    return torch.from_numpy(images).float().div(255).sub(0.5).div(0.25).unsqueeze(1)


def test_predict_is_the_softmax_of_the_model_in_batches_across_a_batch_boundary():

    model, images = _LinearNet(), _images(EVAL_BATCH + 3)
    model.train()
    proba, feats = evaluation.predict(model, images, 0.5, 0.25)
    assert not model.training  # eval mode
    x = _normalised(images)
    with torch.no_grad():
        f = model.embed(x)
        want = torch.softmax(model.classifier(f), dim=1)
    assert proba.shape == (EVAL_BATCH + 3, 10) and feats.shape == (EVAL_BATCH + 3, 6)
    assert proba.dtype == np.float32 and feats.dtype == np.float32
    np.testing.assert_allclose(proba, want.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(feats, f.numpy(), rtol=1e-5, atol=1e-5)


def test_transform_probe_is_the_clean_test_under_the_identity_and_seeded_otherwise():

    model, images = _LinearNet(), _images(EVAL_BATCH + 5, seed=1)
    y = np.arange(len(images)) % 10
    x = _normalised(images)
    with torch.no_grad():
        clean = model(x).argmax(1).numpy()
    identity = {"seed": 0, "augment_degrees": 0, "augment_translate": 0.0, "augment_scale": [1, 1]}
    got = evaluation.transform_probe(model, images, y, 0.5, 0.25, identity, [0, 4, 7])
    assert got == evaluation.shift_rates(y, clean, [0, 4, 7])
    moved = {
        "seed": 3,
        "augment_degrees": 30,
        "augment_translate": 0.2,
        "augment_scale": [0.8, 1.2],
    }
    first = evaluation.transform_probe(model, images, y, 0.5, 0.25, moved, [0, 4, 7])
    assert first == evaluation.transform_probe(model, images, y, 0.5, 0.25, moved, [0, 4, 7])
    assert first != got  # every image transformed: the predictions move
    other = evaluation.transform_probe(model, images, y, 0.5, 0.25, {**moved, "seed": 4}, [0, 4, 7])
    assert other != first  # the run's seed draws the transforms


class _FlatOrNot(torch.nn.Module):
    """Class 0 for an image within 0.2 of one value throughout, class 1 for any other."""

    def forward(self, x):
        flat = (x.amax((1, 2, 3)) - x.amin((1, 2, 3))) < 0.2
        return torch.stack([flat.float(), (~flat).float()], 1)


def test_transform_probe_fills_with_the_normalised_background():
    """Blank images, moved by the augment transform: the pixels it exposes are filled with the
    background's normalised value, (0 - mean) / std = -0.42, so every image stays blank but for
    torchvision's bilinear rim (the fill blended by its mask: at most a quarter of the fill, 0.10
    here); a fill of 0 or of the wrong sign or scale leaves a step of 0.38 or more."""
    images = np.zeros((40, 28, 28), dtype=np.uint8)
    y = np.zeros(40, dtype=int)
    moved = {"seed": 1, "augment_degrees": 30, "augment_translate": 0.2, "augment_scale": [0.8, 1]}
    got = evaluation.transform_probe(_FlatOrNot(), images, y, 0.13, 0.31, moved, [1])
    assert got["accuracy"] == 1.0  # no image changed class: nothing but background was filled in


def test_save_npz_writes_fixed_zip_headers_and_refuses_objects(tmp_path):
    import struct
    import zipfile

    a, b = np.array([0.5, 1.5], dtype=np.float32), np.arange(6).reshape(2, 3)
    save_npz(tmp_path / "1.npz", b=b, a=a)
    save_npz(tmp_path / "2.npz", a=a, b=b)
    raw = (tmp_path / "1.npz").read_bytes()
    assert raw == (tmp_path / "2.npz").read_bytes()
    assert struct.unpack("<H", raw[28:30]) == (20,)  # the local header's zip64 extra field
    with zipfile.ZipFile(tmp_path / "1.npz") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["a.npy", "b.npy"]
    for i in infos:
        assert i.date_time == (1980, 1, 1, 0, 0, 0) and i.external_attr == 0o644 << 16
        assert i.compress_type == zipfile.ZIP_DEFLATED
    got = load_npz(tmp_path / "1.npz", required=("a", "b"))
    assert got["a"].tolist() == [0.5, 1.5] and got["b"].tolist() == b.tolist()
    with pytest.raises(ValueError):
        save_npz(tmp_path / "o.npz", o=np.array([{}], dtype=object))


def test_load_npz_errors_say_what_to_do(tmp_path):

    with pytest.raises(BlockbenchError) as err:
        load_npz(tmp_path / "no.npz")
    assert str(err.value) == f"{tmp_path / 'no.npz'}: not found; run the stage that makes it first"
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(BlockbenchError) as err:
        load_npz(tmp_path / "bad.npz")
    assert str(err.value).startswith(f"{tmp_path / 'bad.npz'}: corrupt or not an .npz (")
    assert str(err.value).endswith("); delete it and rerun its stage")
    save_npz(tmp_path / "p.npz", a=np.zeros(2))
    with pytest.raises(BlockbenchError) as err:
        load_npz(tmp_path / "p.npz", required=("a", "x", "y"))
    assert (
        str(err.value)
        == f"{tmp_path / 'p.npz'}: missing arrays x, y; delete it and rerun its stage"
    )
    np.savez(tmp_path / "pickled.npz", o=np.array([{}], dtype=object))
    with pytest.raises(BlockbenchError, match="corrupt or not an .npz"):
        load_npz(tmp_path / "pickled.npz")  # never unpickles


def test_array_sha256_hashes_dtype_shape_and_bytes_of_any_layout():

    m = np.arange(6, dtype=np.int32).reshape(2, 3)
    want = hashlib.sha256(b"<i4(3, 2)" + np.ascontiguousarray(m.T).tobytes()).hexdigest()
    assert array_sha256(m.T) == want == array_sha256(np.ascontiguousarray(m.T))
    assert array_sha256(m) != array_sha256(m.reshape(3, 2))


def test_alive_asks_without_signalling(tmp_path):
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _alive(child.pid) is True
        with pytest.raises(subprocess.TimeoutExpired):  # signal 0 only asks: the child runs on
            child.wait(timeout=1.0)
    finally:
        child.kill()
        child.wait()
    assert _alive(child.pid) is False


def test_another_users_process_is_alive(monkeypatch):
    def refused(pid, sig):
        raise PermissionError("not yours")

    monkeypatch.setattr(os, "kill", refused)
    assert _alive(1) is True  # it runs: only its owner may signal it


def test_a_temporary_another_cleaner_removed_first_is_no_error(tmp_path, monkeypatch):
    from blockbench import storage

    out = tmp_path / "m.json"
    dead = tmp_path / ".m.json.999999-x.tmp.json"
    dead.write_text("half")

    def gone(pid):  # a second cleaner deletes it between the listing and the unlink
        dead.unlink()
        return False

    monkeypatch.setattr(storage, "_alive", gone)
    assert storage.remove_stale_temporaries(out) == [dead]


def test_write_text_if_changed_says_whether_it_wrote(tmp_path):
    f = tmp_path / "k.yaml"
    assert write_text_if_changed(f, "a: 1\n") is True and f.read_text() == "a: 1\n"
    assert write_text_if_changed(f, "a: 1\n") is False
    assert write_text_if_changed(f, "a: 2\n") is True and f.read_text() == "a: 2\n"


# ------------------------------------------------------------------ training: the resume point
def test_run_fingerprint_hashes_config_device_threads_torch_and_the_arrays():

    cfg = {"b": 1, "a": {"d": 2, "c": 3}}  # unsorted keys: the hash sorts them
    split = {"y": np.arange(3), "x": np.ones((2, 2))}
    facts = {
        "config": cfg,
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    h = hashlib.sha256(json.dumps(facts, sort_keys=True).encode())
    for name in ("x", "y"):
        h.update(f"{name}:{array_sha256(split[name])}".encode())
    assert run_fingerprint(cfg, split, torch.device("cpu")) == h.hexdigest()


def test_rng_state_keeps_the_cuda_state_on_a_cuda_device(monkeypatch):

    seen = {}
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: "cuda-state")
    monkeypatch.setattr(
        torch.cuda, "set_rng_state", lambda s, device: seen.update(cuda=s, device=device.type)
    )
    gen = torch.Generator().manual_seed(5)
    state = training._rng_state(gen, SimpleNamespace(type="cuda"))
    assert state["cuda"] == "cuda-state"
    assert "cuda" not in training._rng_state(gen, torch.device("cpu"))
    first = torch.rand(3, generator=gen), torch.rand(3)
    training._set_rng_state(state, gen, SimpleNamespace(type="cuda"))
    assert seen == {"cuda": "cuda-state", "device": "cuda"}
    again = torch.rand(3, generator=gen), torch.rand(3)
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))


def test_dump_keeps_order_flow_lists_and_100_columns():
    text = "word " * 18  # 90 characters: one line at width 100, two at PyYAML's default 80
    assert keys._dump({"b": [1, 2], "a": text.strip()}, "# c\n") == (
        keys.HEADER + "# c\n" + f"b: [1, 2]\na: {text.strip()}\n"
    )
    # PyYAML breaks at the first space past column 100: here after column 101 (at 101, 106)
    words = "abcd a abc abcd abc abc abc ab a abcd abcde ab ab abc abc ab ab a abcde a abcd a abc "
    words += "abc a abcde a abcd abcde abcde abcd ab abcd a ab abcde a abcd abc abc"
    lines = keys._dump({"b": [1, 2], "a": words}, "").splitlines()
    assert max(len(line) for line in lines) == 101 and len(lines) == keys.HEADER.count("\n") + 3


def test_the_run_list_and_benchmark_key_files_say_what_they_hold(tmp_path):
    params = digits_params()
    stale = tmp_path / "results/configs/splits/gone.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("x: 1\n")
    runs = keys.write_configs(params, tmp_path)
    assert not stale.exists() and (tmp_path / "results/configs/splits/ratio2.yaml").exists()
    text = (tmp_path / "results/configs/runs.yaml").read_text()
    assert text.startswith(
        keys.HEADER
        + "# every run after grids and replicate seeds expand, and the runs with per-run\n"
        "# figures: dvc.yaml iterates over them\n"
    )
    assert yaml.safe_load(text) == {
        "expanded_runs": {r: {"split": s} for r, s in runs.items()},
        "plotted_runs": {r: {"split": runs[r]} for r in bbp.plotted_runs(params)},
    }
    bench = (tmp_path / "results/configs/benchmark/runs.yaml").read_text()
    assert bench.startswith(
        keys.HEADER
        + "# what the benchmark stage reads of the runs of params.yaml's benchmark.runs\n"
    )


def test_plan_on_a_fresh_checkout_reruns_everything(tmp_path):
    params = digits_params()
    got = keys.plan(params, tmp_path)  # no run list, no configs yet
    assert got[: len(params["splits"])] == [
        (f"split@{s}", "its split config changes") for s in params["splits"]
    ]
    runs = [g for g in got if g[0].startswith("train@")]
    assert runs == [(f"train@{r}", "its resolved config changes") for r in bbp.run_names(params)]
    assert got[-1][0] == "benchmark"


class _NotAWeight:
    """A pickled object that is no tensor: `weights_only` loading refuses it."""


def test_load_resume_point_says_why_it_resumes_or_starts_over(tmp_path, capsys):

    path = tmp_path / "resume.pt"
    assert training.load_resume_point(None, "f", "r") is None
    assert training.load_resume_point(path, "f", "r") is None  # no file: a plain start
    training.save_resume_point(path, {"fingerprint": "f", "epoch": 3, "w": torch.ones(2)})
    state = training.load_resume_point(path, "f", "r")
    assert state["epoch"] == 3 and torch.equal(state["w"], torch.ones(2))
    assert capsys.readouterr().err == f"r: resuming from {path} after epoch 3\n"
    assert training.load_resume_point(path, "other", "r") is None
    assert capsys.readouterr().err == (
        f"r: ignoring checkpoint {path}: made for another config or data\n"
    )
    torch.save({"fingerprint": "f", "epoch": 1, "x": _NotAWeight()}, path)
    assert training.load_resume_point(path, "f", "r") is None  # never unpickles arbitrary code
    assert capsys.readouterr().err.startswith(f"r: ignoring unreadable checkpoint {path} (")
    path.write_bytes(b"garbage")
    assert training.load_resume_point(path, "f", "r") is None
    assert (
        capsys.readouterr().err == f"r: ignoring unreadable checkpoint {path} (UnpicklingError)\n"
    )
