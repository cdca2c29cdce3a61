import warnings

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


# ------------------------------------- every key, every edge (issue 23's oracles, asymmetric cases)
def test_bootstrap_record_says_how_it_was_made_and_takes_the_level():
    y, pred, _ = hand_made(n_per_class=20)
    ci = evaluation.bootstrap_ci(y, pred, samples=400, seed=5, level=0.5)
    assert (ci["level"], ci["samples"], ci["seed"]) == (0.5, 400, 5)
    assert ci["method"] == "percentile bootstrap over test images"
    rng = np.random.default_rng(5)  # the same resamples, the 25th and 75th percentiles
    accs, f1s = [], []
    for _ in range(400):
        i = rng.integers(0, len(y), len(y))
        accs.append(np.mean(y[i] == pred[i]))
        f1s.append(skm.f1_score(y[i], pred[i], average="macro", labels=range(10), zero_division=0))
    assert ci["accuracy"] == pytest.approx(list(np.percentile(accs, [25, 75])))
    assert ci["macro_f1"] == pytest.approx(list(np.percentile(f1s, [25, 75])))
    default = evaluation.bootstrap_ci(y, pred, samples=10)
    assert (default["level"], default["seed"]) == (0.95, 0)


def test_macro_f1_of_a_stack_of_confusion_matrices():
    a = np.array([[3, 1], [0, 2]])  # F1: 6/7 and 4/5
    b = np.array([[0, 0], [2, 4]])  # class 0 never right: 0; class 1: 8/10
    got = evaluation.macro_f1_from_confusion(np.stack([a, b]))
    assert got == pytest.approx([(6 / 7 + 4 / 5) / 2, (0 + 8 / 10) / 2])


def test_a_class_absent_from_a_confusion_matrix_scores_f1_zero():
    """Class 2 neither actual nor predicted: its F1 is 0 (0/0 decided, not NaN, not whatever memory
    an unfilled output holds), over a stack of 50 such matrices (a bootstrap's batch)."""
    cm = np.array([[2, 1, 0], [0, 3, 0], [0, 0, 0]])  # F1 0.8, 6/7 and 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = evaluation.macro_f1_from_confusion(np.stack([cm] * 50))
    assert got.tolist() == pytest.approx([(0.8 + 6 / 7 + 0) / 3] * 50)


def test_compute_metrics_records_every_part():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 0, 1, 0, 1, 0, 2, 2, 1])
    proba = np.full((9, 3), 0.2)
    proba[np.arange(9), pred] = 0.6
    proba[0] = [0.9, 0.05, 0.05]
    m = evaluation.compute_metrics(y, pred, proba, minority=[1, 2], bootstrap_samples=30, seed=4)
    assert m["n_test"] == 9 and m["minority_classes"] == [1, 2]
    onehot = np.eye(3)[y]
    assert m["roc_auc"] == {
        str(c): pytest.approx(skm.roc_auc_score(onehot[:, c], proba[:, c])) for c in range(3)
    }
    assert m["average_precision"] == evaluation.average_precision(y, proba)
    assert m["ece"] == pytest.approx(evaluation.expected_calibration_error(y, proba))
    assert m["minority_recall"] == {"1": 0.5, "2": pytest.approx(2 / 3)}
    assert m["majority_recall_mean"] == 0.75
    assert m["ci95"] == evaluation.bootstrap_ci(y, pred, 30, 4, n_classes=3)
    assert m["macro_avg"]["recall"] == pytest.approx((0.75 + 0.5 + 2 / 3) / 3)
    assert m["weighted_avg"]["recall"] == pytest.approx(6 / 9)
    none = evaluation.compute_metrics(y, pred, proba, minority=[], bootstrap_samples=5)
    assert none["minority_recall"] == {} and none["minority_recall_mean"] is None
    assert none["majority_recall_mean"] == pytest.approx((0.75 + 0.5 + 2 / 3) / 3)
    assert none["ci95"]["seed"] == 0  # the default seed


def test_a_class_never_predicted_or_absent_scores_zero_without_warnings():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 1, 1, 1, 1])  # class 2 never predicted: precision 0 by definition
    proba = np.full((6, 3), 0.1)
    proba[np.arange(6), pred] = 0.8
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division is decided, not warned about
        m = evaluation.compute_metrics(y, pred, proba, minority=[2], bootstrap_samples=5)
        v = evaluation.validation_metrics(y, pred, minority=[2])
    assert m["per_class"]["2"]["precision"] == 0.0 and m["per_class"]["2"]["f1-score"] == 0.0
    assert v["balanced_accuracy"] == pytest.approx(2 / 3)
    # a class the test set lacks (a third column of probabilities) is still reported
    y2, pred2 = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ROC AUC is undefined for the absent class
        m2 = evaluation.compute_metrics(y2, pred2, proba[:4], minority=[1], bootstrap_samples=5)
    assert m2["per_class"]["2"]["support"] == 0 and set(m2["roc_auc"]) == {"0", "1", "2"}


def test_reliability_bins_edges_and_empty_bins():
    y = np.array([0, 1, 1, 1])
    proba = np.array([[0.5, 0.5], [0.3, 0.7], [0.75, 0.25], [1.0, 0.0]])
    bins = evaluation.reliability_bins(y, proba, bins=4)
    assert [(b["bin"], b["lower"], b["upper"]) for b in bins] == [
        (0, 0.0, 0.25),
        (1, 0.25, 0.5),
        (2, 0.5, 0.75),
        (3, 0.75, 1.0),
    ]
    # 0.5 lies in (0.25, 0.5]; 0.7 and 0.75 in (0.5, 0.75]; 1.0 in the last bin
    assert [b["images"] for b in bins] == [0, 1, 2, 1]
    assert np.isnan(bins[0]["confidence"]) and np.isnan(bins[0]["accuracy"])
    assert bins[1]["confidence"] == 0.5 and bins[1]["accuracy"] == 1.0  # argmax ties: class 0
    assert bins[2]["confidence"] == pytest.approx(0.725) and bins[2]["accuracy"] == 0.5
    assert bins[3]["accuracy"] == 0.0
    # ECE = 1/4 |1 - 0.5| + 2/4 |0.5 - 0.725| + 1/4 |0 - 1| (15 bins would split 0.7 and 0.75)
    ece = evaluation.expected_calibration_error(y, proba, bins=4)
    assert ece == pytest.approx(0.125 + 0.1125 + 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty bin is NaN without a mean of nothing
        assert len(evaluation.reliability_bins(y, proba, bins=4)) == 4
    zero = evaluation.reliability_bins(np.array([0]), np.array([[0.0, 0.0]]), bins=4)
    assert zero[0]["images"] == 1  # confidence 0 joins the first bin


def test_curve_tables_are_scikit_learns_curves_row_for_row():
    y, _, proba = hand_made(n_per_class=8, n_classes=4)
    onehot = np.eye(4)[y]
    pr = [r for r in evaluation.pr_table(y, proba) if r["class"] == "2"]
    precision, recall, _ = skm.precision_recall_curve(
        onehot[:, 2], proba[:, 2], drop_intermediate=True
    )
    assert [(r["recall"], r["precision"]) for r in pr] == list(zip(recall, precision))
    every = skm.precision_recall_curve(onehot[:, 2], proba[:, 2])[0]
    assert len(pr) < len(every)  # the intermediate points that change no step are dropped
    roc = evaluation.roc_table(y, proba)
    fpr, tpr, _ = skm.roc_curve(onehot.ravel(), proba.ravel())
    micro = [(r["fpr"], r["tpr"]) for r in roc if r["class"] == "micro"]
    assert micro == list(zip(fpr, tpr))
    fpr, tpr, _ = skm.roc_curve(onehot[:, 1], proba[:, 1])
    assert [(r["fpr"], r["tpr"]) for r in roc if r["class"] == "1"] == list(zip(fpr, tpr))


def test_validation_and_shift_rates_when_a_class_is_missing():
    y = np.array([0, 0, 0, 2, 2])  # minority class 1 absent from validation
    pred = np.array([0, 1, 0, 2, 0])
    v = evaluation.validation_metrics(y, pred, minority=[1])
    assert v == {
        "n_val": 5,
        "accuracy": 0.6,
        "balanced_accuracy": pytest.approx((2 / 3 + 1 / 2) / 2),  # over the classes present
        "minority_recall_mean": None,
    }
    assert evaluation.validation_metrics(y, pred, minority=[1, 2])["minority_recall_mean"] == 0.5
    r = evaluation.shift_rates(y, pred, minority=[1])
    assert r == {"accuracy": 0.6, "minority_recall_mean": None, "majority_as_minority": 0.2}
    only_rare = evaluation.shift_rates(np.array([1, 1]), np.array([1, 0]), minority=[1])
    assert only_rare == {"accuracy": 0.5, "minority_recall_mean": 0.5, "majority_as_minority": None}
    two = evaluation.shift_rates(np.array([1, 1, 2, 0]), np.array([1, 0, 2, 2]), minority=[1, 2])
    assert two["minority_recall_mean"] == 0.75 and two["majority_as_minority"] == 1.0
