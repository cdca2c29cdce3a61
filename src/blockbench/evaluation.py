"""Evaluation on the balanced test set: predictions, metrics (scikit-learn), bootstrap intervals."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from . import N_CLASSES

BOOTSTRAP_SAMPLES = 1000
CI_LEVEL = 0.95


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
        "minority_classes": list(minority),
        "minority_recall": {str(c): recall[c] for c in minority},
        "minority_recall_mean": float(np.mean([recall[c] for c in minority])) if minority else None,
        "majority_recall_mean": float(np.mean([recall[c] for c in labels if c not in minority])),
        "ci95": bootstrap_ci(y_true, y_pred, bootstrap_samples, seed, n_classes=len(labels)),
    }
    return out


def roc_table(y_true: np.ndarray, proba: np.ndarray) -> list[dict]:
    """Rows (class, fpr, tpr) of the one-vs-rest ROC of every class and the micro average."""
    rows = []
    onehot = np.eye(proba.shape[1], dtype=int)[y_true]
    for c in range(proba.shape[1]):
        fpr, tpr, _ = skm.roc_curve(onehot[:, c], proba[:, c])
        rows += [{"class": str(c), "fpr": f, "tpr": t} for f, t in zip(fpr, tpr)]
    fpr, tpr, _ = skm.roc_curve(onehot.ravel(), proba.ravel())
    rows += [{"class": "micro", "fpr": f, "tpr": t} for f, t in zip(fpr, tpr)]
    return rows


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
