"""The aggregate stage on fabricated run outputs: right tables, right verdicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import digits_params

from blockbench import evaluation, figures, paths, report
from blockbench import params as bbp
from blockbench.remedies import describe
from blockbench.stats import mcnemar
from blockbench.storage import write_json

N_TEST = 2000
RUNS = {  # name: (n_conv, n_mobilenet, share of test images right)
    "a": (1, 3, 0.95),
    "b": (4, 0, 0.80),
    "same": (1, 3, 0.95),
    "soft": (1, 3, 0.60),
    "a_bs": (1, 3, 0.94),
    "b_bs": (4, 0, 0.81),
}
# remedies grid over a and b: share of the minority-class test images each variant gets right
MINORITY_RIGHT = {"none": 0.60, "weak": 0.65, "fix": 0.915, "bal": 0.92}
FIX_B = 0.85  # b's best remedy stays 7 points below its bound


def study_params() -> dict:
    p = digits_params()
    p["runs"] = {n: {"n_conv": c, "n_mobilenet": m} for n, (c, m, _) in RUNS.items()}
    p["runs"]["soft"]["loss_input"] = "softmax"
    p["runs"]["a_bs"]["batch_size"] = p["runs"]["b_bs"]["batch_size"] = 512
    p["runs"]["a"]["replicate_seeds"] = p["runs"]["b"]["replicate_seeds"] = [1, 2]
    p["grids"] = {
        "rem": {
            "runs": ["a", "b"],
            "variants": {
                "weak": {"remedy": "focal"},
                "fix": {"remedy": "oversample"},
                "bal": {"split": "balanced"},
            },
        }
    }
    p["study"] = {
        "mobilenet": "a",
        "plain": "b",
        "block_counts": ["a", "same"],
        "double_softmax": "soft",
        "sweeps": {"batch_size": [["a", "b"], ["a_bs", "b_bs"]]},
        "alpha": 0.05,
        "remedies": {"grid": "rem", "upper_bound": "bal"},
    }
    return bbp.validate(p)


def fabricate(root, params):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), N_TEST // 10)
    minority = params["split"]["minority_classes"]
    is_minority = np.isin(y, minority)
    for split in params["splits"]:
        counts = {
            "config": bbp.split_config(params, split),
            "sizes": {"train": 900, "val": 225, "test": N_TEST},
            "class_counts": {
                k: {str(c): 100 for c in range(10)}
                for k in ("official_train", "train", "val", "test")
            },
            "train_test_ratio": {"achieved": 0.56},
        }
        write_json(root / paths.split_counts(split), counts)
        figures.class_distribution(counts, root / paths.split_figure(split), "classes")
    base_right = rng.random(N_TEST)
    entries = bbp.expand_runs(params)
    for name in bbp.run_names(params):
        logical = entries[name].logical
        base, _, variant = (
            logical.partition("_")
            if logical.split("_")[0] in ("a", "b") and logical not in RUNS
            else (logical, "", "none")
        )
        n_conv, n_mob, share = RUNS[base]
        cfg = bbp.run_config(params, name)
        draw = rng.random(N_TEST) if logical == "same" else base_right
        if entries[name].seed is not None:  # a replicate: the same rates, other images
            draw = rng.random(N_TEST)
        minority_share = FIX_B if (base, variant) == ("b", "fix") else MINORITY_RIGHT[variant]
        right = np.where(is_minority, draw < minority_share, draw < share)
        pred = np.where(right, y, (y + 1) % 10)
        proba = np.full((N_TEST, 10), 0.01, dtype=np.float32)
        proba[np.arange(N_TEST), pred] = 0.91
        m = evaluation.compute_metrics(y, pred, proba, minority, bootstrap_samples=50)
        write_json(root / paths.metrics(name), m)
        pd.DataFrame({"actual": y, "predicted": pred}).to_csv(
            root / paths.confusion(name), index=False
        )
        hist = pd.DataFrame(
            {
                "epoch": [1, 2],
                "train_loss": [1.0, 0.5],
                "val_loss": [1.1, 0.6],
                "train_acc": [0.6, 0.9],
                "val_acc": [0.6, 0.85],
                "seconds": [1.0, 1.0],
            }
        )
        paths.run_dir(name).mkdir(parents=True, exist_ok=True)
        hist.to_csv(root / paths.history(name), index=False)
        write_json(
            root / paths.train_info(name),
            {
                "parameters": 1000 * (n_conv + 1),
                "macs_per_image": 10000 * (n_conv + 1),
                "seconds_per_epoch": 1.0 + n_conv,
                "selected_epoch": 2,
                "selected": {"val_loss": 0.6, "val_acc": 0.85},
                "n_train": 900,
                "dataset": "digits",
                "device": "cpu",
                "threads": 1,
                "remedy": describe(cfg),
                "inference": {"seconds_per_image": 1e-5 * (n_conv + 1)},
            },
        )
        if entries[name].seed is None:  # the report draws the first seed's figures
            for fig in (
                "loss",
                "accuracy",
                "confusion",
                "roc",
                "tsne",
                "per_class",
                "correct",
                "wrong",
            ):
                figures.loss_curves(hist, root / paths.run_figures(name, cfg)[fig], f"{name} {fig}")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("report")
    params = study_params()
    old = os.getcwd()
    os.chdir(root)  # run files are addressed relative to the repository root
    try:
        fabricate(root, params)
        report.aggregate(params, root=root)
    finally:
        os.chdir(old)
    return root, params


def test_pair_verdicts_follow_the_paired_test(built):
    root, _ = built
    summary = json.loads((root / report.SUMMARY_JSON).read_text())
    assert summary["pairs"]["a vs b"]["significant"] is True  # 95% vs 80% over 3 seeds
    assert summary["pairs"]["a vs same"]["significant"] is False  # same rate, other images
    assert summary["pairs"]["a vs b"]["difference_pp"] == pytest.approx(
        100 * (summary["runs"]["a"]["accuracy"] - summary["runs"]["b"]["accuracy"])
    )
    pairs = pd.read_csv(root / report.TABLES / "pairs.csv")
    row = pairs[(pairs["a"] == "a") & (pairs["b"] == "b")].iloc[0]
    assert row["verdict"] == "significant"
    assert row["test"] == "exact McNemar, pooled over 3 seeds" and row["seeds"] == 3

    def correct(run):
        pred = pd.read_csv(root / paths.confusion(run))
        return (pred["actual"] == pred["predicted"]).to_numpy()

    pooled = [
        mcnemar(correct(x), correct(y)) for x, y in (("a", "b"), ("a_s1", "b_s1"), ("a_s2", "b_s2"))
    ]
    assert row["only a right"] == sum(t["only_a_correct"] for t in pooled)
    assert float(row["paired t-test p (seeds)"]) < 0.05
    assert pairs[(pairs["a"] == "a") & (pairs["b"] == "same")].iloc[0]["test"] == "exact McNemar"
    assert (
        pairs[(pairs["a"] == "a") & (pairs["b"] == "same")].iloc[0]["verdict"] == "not significant"
    )


def test_summary_words_match_the_numbers(built):
    root, _ = built
    text = (root / report.SUMMARY).read_text()
    assert "a is significantly more accurate than b" in text
    assert "no significant difference in accuracy between a and same" in text
    assert "a has 2,000 parameters, 2.50x fewer than b" in text
    for n in range(1, 10):
        assert f"## {n}." in text
    assert "](runs/a/figures/confusion.png)" in text  # relative links


def test_tables_hold_the_run_numbers(built):
    root, params = built
    arch = pd.read_csv(root / report.TABLES / "1_architectures.csv")
    accs = [
        json.loads((root / paths.metrics(n)).read_text())["accuracy"] for n in ("a", "a_s1", "a_s2")
    ]
    row = arch[arch["run"] == "a"].iloc[0]
    assert row["seeds"] == 3
    assert (
        row["test accuracy (mean ± std)"]
        == f"{100 * np.mean(accs):.2f}% ± {100 * np.std(accs, ddof=1):.2f}"
    )
    blocks = pd.read_csv(
        root / report.TABLES / "2_block_counts.csv"
    )  # 3 seeds and 1 seed side by side
    acc_same = json.loads((root / paths.metrics("same")).read_text())["accuracy"]
    assert list(blocks["seeds"]) == [3, 1]
    assert (
        blocks.loc[blocks["run"] == "same", "test accuracy"]
        .iloc[0]
        .startswith(f"{100 * acc_same:.2f}% [")
    )
    sweep = pd.read_csv(root / report.TABLES / "8_batch_size.csv")
    assert list(sweep.columns) == ["architecture", "batch_size = 256", "batch_size = 512"]
    cost = pd.read_csv(root / report.TABLES / "1_cost_ratio.csv")
    assert len(cost) == 3  # one row per MobileNet block of "a"
    for _, row in cost.iterrows():
        assert row["measured ratio"] == pytest.approx(row["1/N + 1/9"], rel=0.05)


def test_remedy_section_names_the_best_remedy_and_the_gap_to_the_bound(built):
    root, _ = built
    summary = json.loads((root / report.SUMMARY_JSON).read_text())
    assert summary["remedies"]["a"]["best"] == summary["remedies"]["b"]["best"] == "fix"
    assert (
        summary["remedies"]["a"]["gap_to_upper_bound_pp"]
        < 1.0
        < summary["remedies"]["b"]["gap_to_upper_bound_pp"]
    )
    assert summary["pairs"]["a_fix vs a (the minority-class images)"]["significant"] is True
    table = pd.read_csv(root / report.TABLES / "9_remedies_a.csv")
    assert list(table["remedy"]) == ["none", "focal (gamma 2)", "oversample", "upper bound: bal"]
    assert list(table["seeds"]) == [3, 3, 3, 3]
    recall = [
        json.loads((root / paths.metrics(n)).read_text())["minority_recall_mean"]
        for n in ("a_fix", "a_fix_s1", "a_fix_s2")
    ]
    assert table.loc[table["run"] == "a_fix", "minority recall (mean)"].iloc[0] == (
        f"{np.mean(recall):.3f} ± {np.std(recall, ddof=1):.3f}"
    )
    text = (root / report.SUMMARY).read_text()
    assert "within 1 percentage point." in text and "**not** within 1 percentage point" in text
    assert "### What undoes it" in text
    assert (root / report.FIGURES / "remedy_minority_recall.png").stat().st_size > 0


def test_mcnemar_counts_discordant_pairs():
    a = np.array([1, 1, 1, 0, 0, 1], bool)
    b = np.array([1, 0, 0, 0, 1, 1], bool)
    t = mcnemar(a, b)
    assert (t["only_a_correct"], t["only_b_correct"]) == (2, 1)
    assert mcnemar(a, a)["p_value"] == 1.0


def test_mcnemar_is_the_exact_two_sided_test():
    """10 discordant images all going one way: exact two-sided p = 2 * 0.5**10 = 0.00195; a
    continuity-corrected chi-square would give 0.0044 and a one-sided test 0.00098."""
    a = np.array([True] * 10 + [True] * 5 + [False] * 5)
    b = np.array([False] * 10 + [True] * 5 + [False] * 5)
    t = mcnemar(a, b)
    assert (t["only_a_correct"], t["only_b_correct"]) == (10, 0)
    assert t["p_value"] == pytest.approx(2 * 0.5**10)
    assert mcnemar(b, a)["p_value"] == pytest.approx(2 * 0.5**10)  # symmetric
    # 7 vs 3: exact two-sided p = 2 * P(X <= 3 | n=10) = 2 * 176 / 1024
    c = np.array([True] * 7 + [False] * 3)
    assert mcnemar(c, ~c)["p_value"] == pytest.approx(2 * 176 / 1024)
