"""Hand-computed, asymmetric oracles for the core numbers (issue "Tests that fail when the code is
wrong"): cases where accuracy differs from balanced accuracy and recall from precision, so that a
swapped column or a plain accuracy in place of a balanced one fails a test."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from conftest import digits_params
from scipy import stats as sps

from blockbench import evaluation, keys
from blockbench import params as bbp
from blockbench.report import statistics
from blockbench.split import _keep_minority
from blockbench.storage import write_text, write_text_if_changed


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


def test_verdicts_are_three_way_and_directional_from_adjusted_ps():
    assert statistics.verdict("difference", 0.01, 0.9, 0.05) == statistics.DIFFERENT
    assert statistics.verdict("difference", 0.2, 0.01, 0.05) == statistics.EQUIVALENT
    assert statistics.verdict("difference", 0.2, 0.3, 0.05) == statistics.INCONCLUSIVE
    assert statistics.verdict("equivalence", 0.01, 0.01, 0.05) == statistics.EQUIVALENT
    assert statistics.verdict("difference", 0.01, 0.01, 0.05) == statistics.DIFFERENT
    assert statistics.verdict("difference", 0.05, None, 0.05) == statistics.INCONCLUSIVE


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
