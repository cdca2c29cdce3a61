"""Evaluation on the balanced test set: predictions, metrics (scikit-learn), bootstrap intervals."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from . import N_CLASSES

BOOTSTRAP_SAMPLES = 1000
CI_LEVEL = 0.95
ECE_BINS = 15  # equal-width confidence bins of the expected calibration error


def macro_f1_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Macro F1 from confusion matrices (..., K, K), rows actual; classes absent from both score 0
    (scikit-learn's zero_division=0), and every class in `labels` counts."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    pred = cm.sum(axis=-2)
    actual = cm.sum(axis=-1)
    denom = pred + actual
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return f1.mean(axis=-1)


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
    level: float = CI_LEVEL,
    n_classes: int = N_CLASSES,
) -> dict:
    """Percentile bootstrap intervals for accuracy and macro-F1 (test images drawn with return)."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    codes = y_true * n_classes + y_pred
    acc = np.empty(samples)
    f1 = np.empty(samples)
    for b in range(samples):
        idx = rng.integers(0, n, n)
        cm = np.bincount(codes[idx], minlength=n_classes * n_classes).reshape(n_classes, n_classes)
        acc[b] = np.trace(cm) / n
        f1[b] = macro_f1_from_confusion(cm)
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    return {
        "level": level,
        "samples": samples,
        "seed": seed,
        "method": "percentile bootstrap over test images",
        "accuracy": [float(np.percentile(acc, lo)), float(np.percentile(acc, hi))],
        "macro_f1": [float(np.percentile(f1, lo)), float(np.percentile(f1, hi))],
    }


def compute_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray,
    minority: list[int],
    bootstrap_samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> dict:
    """Every test-set metric of the report, from scikit-learn, plus bootstrap intervals."""
    labels = list(range(proba.shape[1]))
    report = skm.classification_report(
        y_true, y_pred, labels=labels, output_dict=True, zero_division=0
    )
    per_class = {str(c): report[str(c)] for c in labels}
    recall = {c: per_class[str(c)]["recall"] for c in labels}
    out = {
        "n_test": int(len(y_true)),
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "macro_avg": report["macro avg"],
        "weighted_avg": report["weighted avg"],
        "per_class": per_class,
        "roc_auc_macro_ovr": skm.roc_auc_score(
            y_true, proba, multi_class="ovr", average="macro", labels=labels
        ),
        "roc_auc": {str(c): float(v) for c, v in zip(labels, per_class_auc(y_true, proba))},
        "average_precision": average_precision(y_true, proba),
        "ece": expected_calibration_error(y_true, proba),
        "minority_classes": list(minority),
        "minority_recall": {str(c): recall[c] for c in minority},
        "minority_recall_mean": float(np.mean([recall[c] for c in minority])) if minority else None,
        "majority_recall_mean": float(np.mean([recall[c] for c in labels if c not in minority])),
        "ci95": bootstrap_ci(y_true, y_pred, bootstrap_samples, seed, n_classes=len(labels)),
    }
    return out


def _onehot(y_true: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=int)[y_true]


def per_class_auc(y_true: np.ndarray, proba: np.ndarray) -> list[float]:
    """One-vs-rest ROC AUC of every class."""
    onehot = _onehot(y_true, proba.shape[1])
    return [skm.roc_auc_score(onehot[:, c], proba[:, c]) for c in range(proba.shape[1])]


def average_precision(y_true: np.ndarray, proba: np.ndarray) -> dict:
    """Average precision (area under the one-vs-rest precision-recall curve): per class and the
    macro mean. Under imbalance it shows what ROC AUC hides: how many false alarms a class's
    detections carry."""
    onehot = _onehot(y_true, proba.shape[1])
    per = [skm.average_precision_score(onehot[:, c], proba[:, c]) for c in range(proba.shape[1])]
    return {
        "macro": float(np.mean(per)),
        "per_class": {str(c): float(v) for c, v in enumerate(per)},
    }


def reliability_bins(y_true: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per equal-width bin of the top-class confidence: images, mean confidence, accuracy."""
    conf = proba.max(1)
    correct = proba.argmax(1) == y_true
    # bin b holds confidences in (b/bins, (b+1)/bins]; confidence 0 joins the first bin
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = idx == b
        n = int(inside.sum())
        rows.append(
            {
                "bin": b,
                "lower": b / bins,
                "upper": (b + 1) / bins,
                "images": n,
                "confidence": float(conf[inside].mean()) if n else float("nan"),
                "accuracy": float(correct[inside].mean()) if n else float("nan"),
            }
        )
    return rows


def expected_calibration_error(
    y_true: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE: the image-weighted mean gap |accuracy - confidence| over equal-width confidence bins."""
    n = len(y_true)
    return float(
        sum(
            r["images"] / n * abs(r["accuracy"] - r["confidence"])
            for r in reliability_bins(y_true, proba, bins)
            if r["images"]
        )
    )


def pr_table(y_true: np.ndarray, proba: np.ndarray) -> list[dict]:
    """Rows (class, recall, precision) of every class's one-vs-rest precision-recall curve."""
    rows = []
    onehot = _onehot(y_true, proba.shape[1])
    for c in range(proba.shape[1]):
        precision, recall, _ = skm.precision_recall_curve(
            onehot[:, c], proba[:, c], drop_intermediate=True
        )
        rows += [{"class": str(c), "recall": r, "precision": p} for r, p in zip(recall, precision)]
    return rows


def validation_metrics(y_val: np.ndarray, y_pred: np.ndarray, minority: list[int]) -> dict:
    """What the study may choose by: accuracy, balanced accuracy (the mean per-class recall, which
    estimates accuracy on a balanced test set) and the minority classes' mean recall, on the
    validation images (imbalanced, like training)."""
    present = np.unique(y_val)
    recall = skm.recall_score(y_val, y_pred, labels=present, average=None, zero_division=0)
    by_class = dict(zip(present.tolist(), recall.tolist()))
    rare = [by_class[c] for c in minority if c in by_class]
    return {
        "n_val": int(len(y_val)),
        "accuracy": float(skm.accuracy_score(y_val, y_pred)),
        "balanced_accuracy": float(np.mean(recall)),
        "minority_recall_mean": float(np.mean(rare)) if rare else None,
    }


def roc_table(y_true: np.ndarray, proba: np.ndarray) -> list[dict]:
    """Rows (class, fpr, tpr) of the one-vs-rest ROC of every class and the micro average."""
    rows = []
    onehot = _onehot(y_true, proba.shape[1])
    for c in range(proba.shape[1]):
        fpr, tpr, _ = skm.roc_curve(onehot[:, c], proba[:, c])
        rows += [{"class": str(c), "fpr": f, "tpr": t} for f, t in zip(fpr, tpr)]
    fpr, tpr, _ = skm.roc_curve(onehot.ravel(), proba.ravel())
    rows += [{"class": "micro", "fpr": f, "tpr": t} for f, t in zip(fpr, tpr)]
    return rows


def transform_probe(
    model, images: np.ndarray, y_true: np.ndarray, mean: float, std: float, cfg: dict, minority
) -> dict:
    """The test set once more, every image through the `augment` remedy's random affine transform
    (the run's own transform parameters, else the defaults; seeded by the run's seed).

    It asks whether a model learned "transformed" as a cue for the minority classes: such a model
    calls more majority images minority once they are transformed (`majority_as_minority`), and
    finds more minority images (`minority_recall_mean`), than on the clean test set."""
    import torch

    from .remedies import AUGMENT_GROUP, augment_batch, make_augmenter
    from .tensors import EVAL_BATCH, to_tensors

    data = to_tensors(images, y_true, mean, std, torch.device("cpu"))
    torch.manual_seed(cfg["seed"])
    augmenter = make_augmenter(cfg, fill=(0.0 - mean) / std)
    x = augment_batch(data.x, torch.ones(len(data.x), dtype=torch.bool), augmenter, AUGMENT_GROUP)
    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])
    y_pred = logits.argmax(1).numpy()
    return shift_rates(y_true, y_pred, minority)


def shift_rates(y_true: np.ndarray, y_pred: np.ndarray, minority) -> dict:
    """Accuracy, minority classes' mean recall, and the share of majority-class images predicted
    as a minority class."""
    rare = np.isin(y_true, minority)
    recall = [float(np.mean(y_pred[y_true == c] == c)) for c in minority if np.any(y_true == c)]
    return {
        "accuracy": float(np.mean(y_pred == y_true)),
        "minority_recall_mean": float(np.mean(recall)) if recall else None,
        "majority_as_minority": float(np.mean(np.isin(y_pred[~rare], minority)))
        if np.any(~rare)
        else None,
    }


def predict(model, images: np.ndarray, mean: float, std: float) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and penultimate features of `images` (uint8 N x 28 x 28), batched."""
    import torch

    from .tensors import EVAL_BATCH, to_tensors

    data = to_tensors(images, np.zeros(len(images), dtype=np.int64), mean, std, torch.device("cpu"))
    model.eval()
    probs, feats = [], []
    with torch.inference_mode():
        for i in range(0, len(data.x), EVAL_BATCH):
            f = model.embed(data.x[i : i + EVAL_BATCH])
            probs.append(torch.softmax(model.classifier(f), dim=1))
            feats.append(f)
    return torch.cat(probs).numpy().astype(np.float32), torch.cat(feats).numpy().astype(np.float32)
