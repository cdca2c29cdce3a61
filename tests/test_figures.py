"""Figures: every function writes a valid PNG; key ones are byte-deterministic; counts are right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from blockbench import figures


def assert_png(path, min_side=200):
    assert path.stat().st_size > 0
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert min(im.size) >= min_side


@pytest.fixture(scope="module")
def history():
    epochs = np.arange(1, 9)
    return pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": 1 / epochs,
            "val_loss": 1.1 / epochs + 0.05,
            "train_acc": 1 - 0.5 / epochs,
            "val_acc": 0.98 - 0.5 / epochs,
            "seconds": 1.5,
        }
    )


@pytest.fixture(scope="module")
def predictions():
    """Labels, noisy but informative class probabilities, predictions and 28x28 uint8 images."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    logits = rng.normal(size=(len(y), 10)) + 3.0 * np.eye(10)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    images = rng.integers(0, 256, size=(len(y), 28, 28), dtype=np.uint8)
    return y, proba, proba.argmax(axis=1), images


@pytest.mark.parametrize("fn", [figures.loss_curves, figures.accuracy_curves])
def test_curves_are_valid_and_deterministic(tmp_path, history, fn):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    fn(history, a, "run: curves", selected_epoch=5)
    fn(history, b, "run: curves", selected_epoch=5)
    assert_png(a)
    assert a.read_bytes() == b.read_bytes()
    fn(history, tmp_path / "c.png", "run: curves")  # no selected epoch
    assert_png(tmp_path / "c.png")


def test_confusion_matrix_is_valid_and_deterministic(tmp_path, predictions):
    y, _, pred, _ = predictions
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (y, pred), 1)
    counts[3] = 0  # a class with no examples must not break the row shares
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    figures.confusion_matrix(counts, a, "run: confusion")
    figures.confusion_matrix(counts, b, "run: confusion")
    assert_png(a)
    assert a.read_bytes() == b.read_bytes()


def test_per_class_bars(tmp_path, predictions):
    from sklearn.metrics import classification_report

    y, _, pred, _ = predictions
    report = classification_report(y, pred, output_dict=True, zero_division=0)
    figures.per_class_bars(report, tmp_path / "bars.png", "run: per class", minority=(0, 1))
    assert_png(tmp_path / "bars.png")


@pytest.mark.filterwarnings("error")
def test_roc_curves_including_a_class_absent_from_y_true(tmp_path, predictions):
    y, proba, _, _ = predictions
    figures.roc_curves(y, proba, tmp_path / "roc.png", "run: ROC")
    assert_png(tmp_path / "roc.png")
    noisy = 0.3 * proba + 0.7 * np.random.default_rng(2).dirichlet(np.ones(10), size=len(y))
    figures.roc_curves(y, noisy, tmp_path / "roc.png", "run: ROC")  # weak: no zoom inset
    assert_png(tmp_path / "roc.png")
    keep = y != 9  # class 9 has no positives: it gets no curve, and no warning
    figures.roc_curves(y[keep], proba[keep], tmp_path / "roc9.png", "run: ROC")
    assert_png(tmp_path / "roc9.png")


@pytest.mark.parametrize("n, max_points", [(150, 100), (60, 2000)])
def test_tsne_subsamples_and_handles_small_n(tmp_path, n, max_points):
    rng = np.random.default_rng(1)
    labels = np.arange(n) % 10
    features = rng.normal(size=(n, 16)) + 4.0 * np.eye(16)[labels]
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert figures.tsne(features, labels, a, "run: t-SNE", max_points=max_points) == min(
        max_points, n
    )
    figures.tsne(features, labels, b, "run: t-SNE", max_points=max_points)
    assert_png(a)
    assert a.read_bytes() == b.read_bytes()


def test_example_grid_wrong_covers_every_class_with_a_mistake(tmp_path, predictions):
    y, proba, pred, images = predictions
    wrong_classes = set(np.unique(y[y != pred]).tolist())
    assert len(wrong_classes) >= 3  # the fixture must exercise several classes
    n = len(wrong_classes) + 2
    shown = figures.example_grid(
        images,
        y,
        pred,
        proba.max(axis=1),
        tmp_path / "wrong.png",
        "run: misclassified",
        correct=False,
        n=n,
    )
    assert len(shown) == min(n, int(np.sum(y != pred)))
    assert len(set(shown)) == len(shown)
    assert all(y[i] != pred[i] for i in shown)
    assert {int(y[i]) for i in shown} == wrong_classes
    assert_png(tmp_path / "wrong.png")


def test_example_grid_correct_is_seeded_round_robin(tmp_path, predictions):
    y, proba, pred, images = predictions
    args = images, y, pred, proba.max(axis=1)
    shown = figures.example_grid(*args, tmp_path / "a.png", "run: correct", correct=True, n=10)
    again = figures.example_grid(*args, tmp_path / "b.png", "run: correct", correct=True, n=10)
    assert shown == again
    assert all(y[i] == pred[i] for i in shown)
    assert {int(y[i]) for i in shown} == set(np.unique(y[y == pred]).tolist())
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert_png(tmp_path / "a.png")


def test_example_grid_without_candidates_still_writes_a_figure(tmp_path, predictions):
    y, proba, _, images = predictions
    shown = figures.example_grid(
        images, y, y, proba.max(axis=1), tmp_path / "none.png", "run: misclassified", correct=False
    )
    assert shown == []
    assert_png(tmp_path / "none.png", min_side=100)


@pytest.mark.parametrize(
    "shape, kind",
    [
        ((64, 1, 3, 3), "depthwise"),
        ((128, 64, 1, 1), "pointwise"),
        ((128, 64, 3, 3), "conv"),
        ((10, 1, 3, 3), "depthwise"),
        ((10, 10, 1, 1), "pointwise"),
        ((10, 3, 3, 3), "conv"),
    ],
)
def test_filters_draws_one_tile_per_filter(tmp_path, shape, kind):
    weights = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    assert figures.filters(weights, tmp_path / "f.png", f"run: {kind} filters", kind) == shape[0]
    assert_png(tmp_path / "f.png")


def test_filters_rejects_a_shape_that_does_not_fit_the_kind(tmp_path):
    with pytest.raises(ValueError):
        figures.filters(np.zeros((8, 4, 3, 3)), tmp_path / "f.png", "run", "depthwise")
