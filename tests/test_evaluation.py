import numpy as np
import pytest
from sklearn import metrics as skm

from blockbench import evaluation


def hand_made(n_per_class=30, n_classes=10, seed=0):
    """Labels, noisy predictions and probabilities for a small 10-class problem."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    logits = rng.normal(size=(len(y), n_classes))
    logits[np.arange(len(y)), y] += 1.5
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, proba.argmax(1), proba


def test_metrics_equal_scikit_learn_on_a_hand_made_case():
    y = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    pred = np.array([0, 1, 1, 1, 2, 0, 2, 0])
    proba = np.full((8, 3), 0.1)
    proba[np.arange(8), pred] = 0.8
    m = evaluation.compute_metrics(y, pred, proba, minority=[0], bootstrap_samples=50)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert m["macro_avg"]["f1-score"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["weighted_avg"]["precision"] == pytest.approx(
        skm.precision_score(y, pred, average="weighted")
    )
    assert m["per_class"]["1"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["1"]["recall"] == pytest.approx(1.0)
    assert m["per_class"]["2"]["support"] == 3
    assert m["roc_auc_macro_ovr"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    assert m["minority_recall"] == {"0": pytest.approx(2 / 3)}
    assert m["minority_recall_mean"] == pytest.approx(2 / 3)
    assert m["majority_recall_mean"] == pytest.approx((1 + 2 / 3) / 2)


def test_vectorised_macro_f1_matches_scikit_learn_even_with_absent_classes():
    y, pred, _ = hand_made()
    pred[pred == 3] = 4  # class 3 never predicted
    cm = skm.confusion_matrix(y, pred, labels=range(10))
    assert evaluation.macro_f1_from_confusion(cm) == pytest.approx(
        skm.f1_score(y, pred, average="macro", labels=range(10), zero_division=0)
    )


def test_bootstrap_ci_contains_the_estimate_and_narrows_with_more_samples():
    widths = []
    for n in (20, 200):
        y, pred, _ = hand_made(n_per_class=n)
        ci = evaluation.bootstrap_ci(y, pred, samples=300, seed=0)
        acc = np.mean(y == pred)
        f1 = skm.f1_score(y, pred, average="macro")
        assert ci["accuracy"][0] <= acc <= ci["accuracy"][1]
        assert ci["macro_f1"][0] <= f1 <= ci["macro_f1"][1]
        widths.append(ci["accuracy"][1] - ci["accuracy"][0])
    assert widths[1] < widths[0] / 2  # 10x the images: about 1/sqrt(10) of the width


def test_bootstrap_is_seeded():
    y, pred, _ = hand_made()
    assert evaluation.bootstrap_ci(y, pred, 100, seed=3) == evaluation.bootstrap_ci(
        y, pred, 100, seed=3
    )
    assert evaluation.bootstrap_ci(y, pred, 100, seed=3) != evaluation.bootstrap_ci(
        y, pred, 100, seed=4
    )


def test_roc_table_has_every_class_and_the_micro_average():
    y, _, proba = hand_made(n_per_class=10)
    rows = evaluation.roc_table(y, proba)
    assert {r["class"] for r in rows} == {str(c) for c in range(10)} | {"micro"}
    for r in rows:
        assert 0 <= r["fpr"] <= 1 and 0 <= r["tpr"] <= 1


def test_roc_table_columns_are_not_swapped():
    """A hand case: class 0 is scored 0.9 on its 2 images and on 1 of the 2 others.
    At the threshold that takes the three 0.9s, tpr = 2/2 and fpr = 1/2 (swapped: 0.5 and 1)."""
    y = np.array([0, 0, 1, 1])
    proba = np.zeros((4, 10))
    proba[:, 0] = [0.9, 0.9, 0.9, 0.1]
    proba[:, 1] = 1 - proba[:, 0]
    rows = [(r["fpr"], r["tpr"]) for r in evaluation.roc_table(y, proba) if r["class"] == "0"]
    assert (0.5, 1.0) in rows and (0.0, 0.0) in rows
    assert (1.0, 0.5) not in rows
    assert all(t >= f for f, t in rows)  # a good scorer: tpr at or above fpr everywhere


def test_ece_and_reliability_bins_on_a_known_case():
    # 10 images, top-class confidence 0.9 each, 8 right: one bin, |0.8 - 0.9| = 0.1
    y = np.arange(10) % 3
    proba = np.full((10, 3), 0.05)
    proba[np.arange(10), y] = 0.9
    proba[[0, 1], :] = [[0.05, 0.9, 0.05], [0.05, 0.05, 0.9]]  # images 0 and 1 predicted wrong
    assert evaluation.expected_calibration_error(y, proba) == pytest.approx(0.1)
    bins = evaluation.reliability_bins(y, proba)
    full = [b for b in bins if b["images"]]
    assert len(bins) == evaluation.ECE_BINS and len(full) == 1
    assert (full[0]["images"], full[0]["confidence"], full[0]["accuracy"]) == pytest.approx(
        (10, 0.9, 0.8)
    )
    assert full[0]["lower"] < 0.9 <= full[0]["upper"]
    perfect = np.eye(3)[y]  # confidence 1 and always right: calibrated
    assert evaluation.expected_calibration_error(y, perfect) == 0.0


def test_average_precision_per_class_and_macro():
    y, _, proba = hand_made()
    ap = evaluation.average_precision(y, proba)
    onehot = np.eye(10)[y]
    for c in range(10):
        assert ap["per_class"][str(c)] == pytest.approx(
            skm.average_precision_score(onehot[:, c], proba[:, c])
        )
    assert ap["macro"] == pytest.approx(np.mean(list(ap["per_class"].values())))
    ranked = np.eye(10)[y] * 0.5 + 0.05  # every true class ranked first: AP 1
    assert evaluation.average_precision(y, ranked)["macro"] == pytest.approx(1.0)
    auc = evaluation.per_class_auc(y, proba)
    assert auc[3] == pytest.approx(skm.roc_auc_score(onehot[:, 3], proba[:, 3]))


def test_pr_table_runs_from_full_recall_to_the_top_ranked_image():
    y, _, proba = hand_made()
    pr = evaluation.pr_table(y, proba)
    rows = [r for r in pr if r["class"] == "4"]
    recalls = [r["recall"] for r in rows]
    assert recalls[0] == 1.0 and recalls[-1] == 0.0 and recalls == sorted(recalls, reverse=True)
    assert rows[0]["precision"] == pytest.approx(0.1)  # everything called 4: 30 of 300


def test_validation_metrics_and_shift_rates():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    v = evaluation.validation_metrics(y, pred, minority=[1])
    assert v["accuracy"] == pytest.approx(6 / 8)
    assert v["balanced_accuracy"] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    assert v["minority_recall_mean"] == pytest.approx(1 / 2)
    r = evaluation.shift_rates(y, pred, minority=[1])
    # majority images (classes 0, 2): one of six predicted as the minority class 1
    assert r["majority_as_minority"] == pytest.approx(1 / 6)
    assert r["minority_recall_mean"] == pytest.approx(1 / 2)
