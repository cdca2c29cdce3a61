"""The aggregate stage: tables, comparison figures and results/summary.md, all derived from run files.

Every comparative word in the report comes from a number beside it: accuracy differences from a
paired McNemar test on the per-image predictions (significant or not at `study.alpha`), sizes and
speeds from measured ratios. Nothing is typed in by hand.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import paths, study_figures
from .models import BlockSpec, block_plan, conv_block, mobilenet_block
from .params import run_config, split_config, study_runs
from .stats import mcnemar
from .storage import atomic_path, load_npz, read_json, write_json, write_text

SUMMARY = paths.RESULTS / "summary.md"
SUMMARY_JSON = paths.RESULTS / "summary.json"
TABLES = paths.RESULTS / "tables"
FIGURES = paths.RESULTS / "figures"
LOSS_EPOCHS_EVERY = 5


# ----------------------------------------------------------------------------------------- data
@dataclass
class Run:
    name: str
    cfg: dict
    train: dict
    metrics: dict
    history: pd.DataFrame
    y_true: np.ndarray  # per test image: the actual class
    correct: np.ndarray  # per test image: predicted == actual
    split: dict  # the split's counts.json

    @property
    def label(self) -> str:
        return f"{self.name} (C{self.cfg['n_conv']}+M{self.cfg['n_mobilenet']})"

    @property
    def acc(self) -> float:
        return self.metrics["accuracy"]


def load_run(params: dict, name: str, root: Path) -> Run:
    cfg = run_config(params, name)
    pred = load_npz(root / paths.predictions(name), required=("y_true", "y_pred"))
    return Run(name, cfg, read_json(root / paths.train_info(name)), read_json(root / paths.metrics(name)),
               pd.read_csv(root / paths.history(name)), pred["y_true"], pred["y_true"] == pred["y_pred"],
               read_json(root / paths.split_counts(cfg["split"])))


# ------------------------------------------------------------------------------------ formatting
def pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}%"


def ci_text(run: Run, key: str = "accuracy") -> str:
    value = run.metrics[key] if key == "accuracy" else run.metrics["macro_avg"]["f1-score"]
    lo, hi = run.metrics["ci95"][key]
    return f"{pct(value)} [{pct(lo)}, {pct(hi)}]"


def pvalue(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else "< 1e-4"


def p_equals(p: float) -> str:
    return f"p = {p:.2g}" if p >= 1e-4 else "p < 1e-4"


def md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v) for v in row.values) + " |")
    return "\n".join(lines)


def ratio_words(a: float, b: float, less: str, more: str) -> str:
    """'2.3x fewer' style words for a relative to b (a < b gives `less`)."""
    if math.isclose(a, b, rel_tol=0.02):
        return f"about the same as (ratio {a / b:.2f})"
    return f"{b / a:.2f}x {less} than" if a < b else f"{a / b:.2f}x {more} than"


def paired_verdict(a: Run, b: Run, alpha: float) -> dict:
    """Accuracy difference a - b with its McNemar test and the words that fit it."""
    test = mcnemar(a.correct, b.correct)
    diff = a.acc - b.acc
    significant = test["p_value"] < alpha
    if significant:
        words = f"{a.name} is significantly {'more' if diff > 0 else 'less'} accurate than {b.name}"
    else:
        words = f"no significant difference in accuracy between {a.name} and {b.name}"
    return {"a": a.name, "b": b.name, "accuracy_a": a.acc, "accuracy_b": b.acc, "difference_pp": 100 * diff,
            **test, "alpha": alpha, "significant": significant, "verdict": words}


def verdict_text(v: dict) -> str:
    return (f"{v['verdict']} ({v['difference_pp']:+.2f} percentage points; McNemar: "
            f"{v['only_a_correct']} images only {v['a']} gets right, {v['only_b_correct']} only {v['b']}, "
            f"{p_equals(v['p_value'])}, α = {v['alpha']})")


def rel(path: Path) -> str:
    """A link relative to results/summary.md, so the Markdown renders on a code host."""
    return os.path.relpath(path, paths.RESULTS).replace(os.sep, "/")


def image(path: Path, alt: str) -> str:
    return f"![{alt}]({rel(path)})"


# ------------------------------------------------------------------------------------ the study
class Study:
    def __init__(self, params: dict, root: Path):
        self.params, self.root, self.study = params, root, params["study"]
        self.alpha = self.study["alpha"]
        names = dict.fromkeys(r for _, r in study_runs(params))
        self.runs = {n: load_run(params, n, root) for n in names}
        self.pairs: list[dict] = []
        self.md: list[str] = []
        (root / TABLES).mkdir(parents=True, exist_ok=True)

    def table(self, df: pd.DataFrame, name: str) -> str:
        with atomic_path(self.root / TABLES / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False)
        return md_table(df) + f"\n\n<sub>Table: [`tables/{name}.csv`](tables/{name}.csv)</sub>\n"

    def pair(self, a: str, b: str) -> dict:
        v = paired_verdict(self.runs[a], self.runs[b], self.alpha)
        if not any(p["a"] == a and p["b"] == b for p in self.pairs):
            self.pairs.append(v)
        return v

    def figure_path(self, name: str) -> Path:
        return self.root / FIGURES / f"{name}.png"

    def run_figure(self, run: str, name: str) -> Path:
        return self.root / paths.run_figures(run, self.runs[run].cfg)[name]

    def overview_row(self, r: Run) -> dict:
        return {"run": r.name, "blocks": f"C{r.cfg['n_conv']}+M{r.cfg['n_mobilenet']}",
                "test accuracy [95% CI]": ci_text(r), "macro-F1 [95% CI]": ci_text(r, "macro_f1"),
                "parameters": f"{r.train['parameters']:,}", "MACs/image": f"{r.train['macs_per_image']:,}",
                "s/epoch": f"{r.train['seconds_per_epoch']:.2f}",
                "inference µs/image": f"{1e6 * r.metrics['inference']['seconds_per_image']:.1f}",
                "selected epoch": f"{r.train['selected_epoch']}/{r.cfg['epochs']}"}

    # ------------------------------------------------------------------------------- sections
    def header(self) -> None:
        a = self.runs[self.study["mobilenet"]]
        counts = a.split
        minority = counts["config"]["minority_classes"]
        kept = ", ".join(f"{c}: {counts['class_counts']['train'][str(c)] + counts['class_counts']['val'][str(c)]:,}"
                         f" of {counts['class_counts']['official_train'][str(c)]:,}" for c in minority)
        self.md += [
            "# blockbench: MobileNet blocks vs plain convolution blocks on imbalanced data",
            "",
            f"Generated by the aggregate stage from the run files under `results/runs/` "
            f"(`dvc repro` or `snakemake --cores 4 results/summary.md`); every number and every comparative "
            f"word below is computed, none typed in. Dataset: **{a.train['dataset']}**, split "
            f"`{a.cfg['split']}`: minority classes {minority} keep {kept} training images "
            f"(keep fraction {counts['config']['keep_fraction']}); {counts['sizes']['train']:,} train, "
            f"{counts['sizes']['val']:,} validation, {counts['sizes']['test']:,} test images (the official test set, "
            f"balanced). Intervals are 95% percentile bootstrap intervals over test images "
            f"({a.metrics['ci95']['samples']} resamples); paired tests are exact McNemar tests on the per-image "
            f"predictions at α = {self.alpha}. Times were measured once each on {a.train['device']} with "
            f"{a.train['threads']} threads.",
            "",
            image(self.root / paths.split_figure(a.cfg["split"]), "class distribution"),
            "",
        ]

    def section_architectures(self) -> None:
        a, b = self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]
        every = sorted(set([1] + list(range(LOSS_EPOCHS_EVERY, len(a.history) + 1, LOSS_EPOCHS_EVERY))
                           + [len(a.history)]))
        loss = pd.DataFrame({"epoch": every})
        for r in (a, b):
            h = r.history.set_index("epoch")
            loss[f"{r.name} train loss"] = [f"{h.loc[e, 'train_loss']:.4f}" if e in h.index else "" for e in every]
            loss[f"{r.name} val loss"] = [f"{h.loc[e, 'val_loss']:.4f}" if e in h.index else "" for e in every]
        study_figures.overlay_curves({a.label: a.history, b.label: b.history}, self.figure_path("arch_curves"),
                                     f"{a.name} vs {b.name}: loss and accuracy per epoch")
        v = self.pair(a.name, b.name)
        cost = self.cost_table(a)
        ta, tb = a.train["seconds_per_epoch"], b.train["seconds_per_epoch"]
        ia, ib = a.metrics["inference"]["seconds_per_image"], b.metrics["inference"]["seconds_per_image"]
        mac_ratio = a.train["macs_per_image"] / b.train["macs_per_image"]
        self.md += [
            f"## 1. MobileNet blocks vs plain blocks: {a.label} vs {b.label}",
            "",
            "Loss per epoch (every 5 epochs):",
            "",
            self.table(loss, "1_loss_per_epoch"),
            image(self.figure_path("arch_curves"), "loss and accuracy curves"),
            "",
            self.table(pd.DataFrame([self.overview_row(a), self.overview_row(b)]), "1_architectures"),
            f"- Accuracy: {verdict_text(v)}.",
            f"- Size: {a.name} has {a.train['parameters']:,} parameters, "
            f"{ratio_words(a.train['parameters'], b.train['parameters'], 'fewer', 'more')} {b.name} "
            f"({b.train['parameters']:,}); {a.train['macs_per_image']:,} multiply-accumulates per image, "
            f"{ratio_words(a.train['macs_per_image'], b.train['macs_per_image'], 'fewer', 'more')} {b.name}.",
            f"- Time: {a.name} trains at {ta:.2f} s per epoch, {ratio_words(ta, tb, 'faster', 'slower')} "
            f"{b.name} ({tb:.2f} s); inference takes {1e6 * ia:.1f} µs per image, "
            f"{ratio_words(ia, ib, 'faster', 'slower')} {b.name} ({1e6 * ib:.1f} µs).",
            f"- Validation vs test: selected validation accuracy (imbalanced hold-out) {pct(a.train['selected']['val_acc'])} "
            f"for {a.name} and {pct(b.train['selected']['val_acc'])} for {b.name}, against balanced test accuracy "
            f"{pct(a.acc)} and {pct(b.acc)}: the hold-out, like the training set, is dominated by the majority "
            f"classes, so it {'overstates' if a.train['selected']['val_acc'] > a.acc else 'does not overstate'} "
            f"what the model does on a balanced set.",
            "",
            "**Why.** A standard 3×3 convolution from M to N channels costs H·W·9·M·N multiply-accumulates; "
            "the depthwise-separable one (depthwise 3×3, then pointwise 1×1) costs H·W·9·M + H·W·M·N, a ratio of "
            "1/N + 1/9 (MobileNet paper, eq. 5). Measured with torch's flop counter on each MobileNet block of "
            f"{a.name} against the plain block with the same channels and stride:",
            "",
            self.table(cost, "1_cost_ratio"),
            f"The whole network's MAC ratio is {mac_ratio:.3f} (the plain first block and the classifier are "
            f"shared), its time-per-epoch ratio {ta / tb:.3f}: "
            + ("time falls about as much as the arithmetic."
               if abs(ta / tb - mac_ratio) < 0.1 else
               f"time falls {'less' if ta / tb > mac_ratio else 'more'} than the arithmetic. "
               + ("A likely reason (not measured here): depthwise convolutions and the extra BatchNorm/ReLU "
                  "layers of the separable blocks do little arithmetic per byte moved, so they are limited by "
                  "memory traffic rather than by multiply-adds." if ta / tb > mac_ratio else "")),
            "",
        ]

    def cost_table(self, run: Run) -> pd.DataFrame:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        plan = block_plan(run.cfg["n_conv"], run.cfg["n_mobilenet"], run.cfg["base_width"], run.cfg["max_width"])
        rows, size = [], 28
        for i, spec in enumerate(plan):
            out_size = math.ceil(size / spec.stride)
            if spec.kind == "mobilenet":
                macs = {}
                for kind, block in (("plain", conv_block(spec)), ("separable", mobilenet_block(spec))):
                    block.eval()
                    with FlopCounterMode(display=False) as counter, torch.inference_mode():
                        block(torch.zeros(1, spec.in_channels, size, size))
                    macs[kind] = counter.get_total_flops() // 2
                n = spec.out_channels
                rows.append({"block": i, "M→N channels": f"{spec.in_channels}→{n}",
                             "output size": f"{out_size}×{out_size}", "plain MACs": f"{macs['plain']:,}",
                             "separable MACs": f"{macs['separable']:,}",
                             "measured ratio": f"{macs['separable'] / macs['plain']:.4f}",
                             "1/N + 1/9": f"{1 / n + 1 / 9:.4f}"})
            size = out_size
        return pd.DataFrame(rows)

    def section_block_counts(self) -> None:
        names = self.study["block_counts"]
        runs = [self.runs[n] for n in names]
        study_figures.overlay_curves({r.label: r.history for r in runs}, self.figure_path("block_counts_curves"),
                                     "block counts: loss and accuracy per epoch")
        lines = [f"- {verdict_text(self.pair(names[0], n))}." for n in names[1:]]
        best = max(runs, key=lambda r: r.acc)
        cheapest = min(runs, key=lambda r: r.train["parameters"])
        self.md += [
            "## 2. Block counts",
            "",
            self.table(pd.DataFrame([self.overview_row(r) for r in runs]), "2_block_counts"),
            image(self.figure_path("block_counts_curves"), "block count curves"),
            "",
            *lines,
            f"- Highest test accuracy: {best.name} ({pct(best.acc)}); fewest parameters: {cheapest.name} "
            f"({cheapest.train['parameters']:,}).",
            "",
        ]

    def section_confusion(self) -> None:
        a, b = self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]
        rows = []
        for c in sorted(a.metrics["per_class"], key=int):
            row = {"class": c + ("*" if int(c) in a.metrics["minority_classes"] else "")}
            for r in (a, b):
                m = r.metrics["per_class"][c]
                row.update({f"{r.name} precision": f"{m['precision']:.3f}", f"{r.name} recall": f"{m['recall']:.3f}",
                            f"{r.name} F1": f"{m['f1-score']:.3f}"})
            row["support"] = int(a.metrics["per_class"][c]["support"])
            rows.append(row)
        self.md += [
            "## 3. Confusion matrix and per-class precision, recall, F1 (test set)",
            "",
            f"Test accuracy: {a.name} {ci_text(a)}, {b.name} {ci_text(b)}; balanced accuracy "
            f"{pct(a.metrics['balanced_accuracy'])} and {pct(b.metrics['balanced_accuracy'])}. "
            "Classes marked * are the minority classes.",
            "",
            self.table(pd.DataFrame(rows), "3_per_class"),
            f"| {a.name} | {b.name} |\n|---|---|\n"
            f"| {image(self.run_figure(a.name, 'confusion'), 'confusion ' + a.name)} "
            f"| {image(self.run_figure(b.name, 'confusion'), 'confusion ' + b.name)} |\n"
            f"| {image(self.run_figure(a.name, 'per_class'), 'per-class ' + a.name)} "
            f"| {image(self.run_figure(b.name, 'per_class'), 'per-class ' + b.name)} |",
            "",
        ]

    def section_examples(self) -> None:
        a, b = self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]
        wrong = {r.name: np.bincount(r.y_true[~r.correct], minlength=10) for r in (a, b)}
        table = pd.DataFrame({"true class": [str(c) for c in range(10)],
                              **{f"{n} misclassified": w for n, w in wrong.items()}})
        self.md += [
            "## 4. Correct and wrong predictions",
            "",
            "Each tile reads `true → predicted (probability of the predicted class)`; the wrong ones are drawn "
            "from every class that has any.",
            "",
            self.table(table, "4_misclassified_per_class"),
            *[f"**{r.name}**: correct {image(self.run_figure(r.name, 'correct'), 'correct ' + r.name)} "
              f"wrong {image(self.run_figure(r.name, 'wrong'), 'wrong ' + r.name)}\n" for r in (a, b)],
        ]

    def section_filters(self) -> None:
        lines = ["## 5. Learned filters of the last convolution layer", ""]
        for name in (self.study["mobilenet"], self.study["plain"]):
            r = self.runs[name]
            spec: BlockSpec = block_plan(r.cfg["n_conv"], r.cfg["n_mobilenet"], r.cfg["base_width"],
                                         r.cfg["max_width"])[-1]
            if spec.kind == "mobilenet":
                lines.append(f"**{name}**, last block: depthwise [{spec.in_channels}, 1, 3, 3] and pointwise "
                             f"[{spec.out_channels}, {spec.in_channels}, 1, 1] filters.")
                kinds = ("depthwise", "pointwise")
            else:
                lines.append(f"**{name}**, last block: 3×3 convolution [{spec.out_channels}, {spec.in_channels}, 3, 3] "
                             "(each tile is a filter's 3×3 kernel averaged over its input channels).")
                kinds = ("conv",)
            lines += ["", *[image(self.run_figure(name, f"filters_{k}"), f"{k} filters {name}") for k in kinds], ""]
        self.md += lines

    def section_side_by_side(self) -> None:
        a, b = self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]
        self.md += ["## 6. With vs without MobileNet blocks, side by side", ""]
        for kind, title in (("roc", "ROC curves"), ("loss", "Loss curves"), ("accuracy", "Accuracy curves"),
                            ("confusion", "Confusion matrices"), ("tsne", "t-SNE of the penultimate features")):
            out = self.figure_path(f"side_by_side_{kind}")
            study_figures.side_by_side({r.label: self.run_figure(r.name, kind) for r in (a, b)}, out,
                                       f"{title}: with ({a.name}) vs without ({b.name}) MobileNet blocks")
            auc = (f" Macro ROC AUC: {a.name} {a.metrics['roc_auc_macro_ovr']:.4f}, "
                   f"{b.name} {b.metrics['roc_auc_macro_ovr']:.4f}." if kind == "roc" else "")
            self.md += [f"**{title}.**{auc}", "", image(out, title), ""]

    def section_analysis(self) -> None:
        a = self.runs[self.study["mobilenet"]]
        minority = a.metrics["minority_classes"]
        rows, recalls = [], {}
        for r in self.runs.values():
            m = r.metrics
            gap = m["majority_recall_mean"] - m["minority_recall_mean"]
            rows.append({"run": r.name, **{f"recall {c}*": f"{m['minority_recall'][str(c)]:.3f}" for c in minority},
                         "minority mean": f"{m['minority_recall_mean']:.3f}",
                         "majority mean": f"{m['majority_recall_mean']:.3f}", "gap (pp)": f"{100 * gap:.2f}"})
            recalls[r.name] = {**{str(c): m["minority_recall"][str(c)] for c in minority},
                               "majority mean": m["majority_recall_mean"]}
        study_figures.recall_by_run(pd.DataFrame(recalls).T, self.figure_path("minority_recall"),
                                    "test recall of the minority classes vs the majority mean, per run", minority)
        below = [r.name for r in self.runs.values()
                 if r.metrics["minority_recall_mean"] < r.metrics["majority_recall_mean"]]
        arch = [self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]]
        arch_gap = [r.metrics["majority_recall_mean"] - r.metrics["minority_recall_mean"] for r in arch]
        smaller = arch[int(np.argmin(arch_gap))]
        self.md += [
            "## 7. Analysis",
            "",
            "### What the imbalance did",
            "",
            self.table(pd.DataFrame(rows), "7_minority_recall"),
            image(self.figure_path("minority_recall"), "minority recall by run"),
            "",
            f"In {len(below)} of {len(self.runs)} runs the minority classes' mean recall is below the majority "
            f"classes' mean ({', '.join(below) if below else 'none'}). Between the two architectures the gap "
            f"is {100 * arch_gap[0]:.2f} percentage points for {arch[0].name} and {100 * arch_gap[1]:.2f} for "
            f"{arch[1].name}: smaller for {smaller.name}.",
            "",
        ]
        ds = self.study.get("double_softmax")
        if ds:
            s = self.runs[ds]
            v = self.pair(a.name, ds)
            floor = math.log(1 + 9 / math.e)
            study_figures.overlay_curves({a.label + " logits": a.history, s.label + " softmax": s.history},
                                         self.figure_path("double_softmax_curves"),
                                         "CrossEntropyLoss on logits vs on softmax probabilities")
            self.md += [
                "### The double-softmax ablation",
                "",
                f"{ds} feeds softmax probabilities into CrossEntropyLoss, which applies log-softmax again. Its "
                f"inputs lie in [0, 1], so the loss of a perfectly confident correct prediction is "
                f"log(1 + 9/e) = {floor:.3f}, not 0, and the gradients shrink as predictions sharpen. Its final "
                f"train loss is {s.history['train_loss'].iloc[-1]:.4f} (floor {floor:.3f}) against "
                f"{a.history['train_loss'].iloc[-1]:.4f} for {a.name}; test accuracy {ci_text(s)} vs {ci_text(a)}: "
                f"{verdict_text(v)}.",
                "",
                image(self.figure_path("double_softmax_curves"), "double softmax curves"),
                "",
            ]

    def section_sweeps(self) -> None:
        self.md += ["## 8. Hyperparameters", ""]
        for key, pairs in self.study["sweeps"].items():
            values = [self.sweep_value(key, p[0]) for p in pairs]
            rows, notes = [], []
            for col, arch in enumerate(("MobileNet", "plain")):
                row = {"architecture": arch}
                for value, pair in zip(values, pairs):
                    row[f"{key} = {value}"] = f"{pair[col]}: {ci_text(self.runs[pair[col]])}"
                rows.append(row)
                base = self.runs[pairs[0][col]]
                for value, pair in zip(values[1:], pairs[1:]):
                    other = self.runs[pair[col]]
                    v = self.pair(other.name, base.name)
                    notes.append(f"- {arch}, {key} {values[0]} → {value}: {verdict_text(v)}; "
                                 f"{self.sweep_mechanism(key, base, other)}")
            self.md += [f"### {key}", "", self.table(pd.DataFrame(rows), f"8_{key}"), *notes, ""]

    def sweep_value(self, key: str, run: str) -> str:
        r = self.runs[run]
        if key == "train_test_ratio":
            return f"{r.split['train_test_ratio']['achieved']:.2f}"
        value = r.cfg[key] if key in r.cfg else split_config(self.params, r.cfg["split"])[key]
        return str(value)

    @staticmethod
    def sweep_mechanism(key: str, base: Run, other: Run) -> str:
        """What changed in the training, measured, that explains the difference."""
        def steps(r: Run) -> int:
            return math.ceil(r.train["n_train"] / r.cfg["batch_size"]) * r.cfg["epochs"]

        def noise(r: Run) -> float:  # how much validation loss jumps from epoch to epoch, second half
            v = r.history["val_loss"].to_numpy()
            return float(np.median(np.abs(np.diff(v[len(v) // 2:]))))

        if key == "batch_size":
            return (f"optimizer steps {steps(base)} → {steps(other)}; seconds per epoch "
                    f"{base.train['seconds_per_epoch']:.2f} → {other.train['seconds_per_epoch']:.2f}; "
                    f"best validation loss {base.train['selected']['val_loss']:.4f} → "
                    f"{other.train['selected']['val_loss']:.4f}.")
        if key == "lr":
            return (f"median epoch-to-epoch jump of the validation loss (second half) {noise(base):.4f} → "
                    f"{noise(other):.4f}; best validation loss {base.train['selected']['val_loss']:.4f} → "
                    f"{other.train['selected']['val_loss']:.4f}.")
        if key == "train_test_ratio":
            return (f"training images {base.train['n_train']:,} → {other.train['n_train']:,}; minority recall "
                    f"{base.metrics['minority_recall_mean']:.3f} → {other.metrics['minority_recall_mean']:.3f}.")
        return (f"best validation loss {base.train['selected']['val_loss']:.4f} → "
                f"{other.train['selected']['val_loss']:.4f}.")

    def section_pairs(self) -> None:
        table = pd.DataFrame([{"a": p["a"], "b": p["b"], "accuracy a": pct(p["accuracy_a"]),
                               "accuracy b": pct(p["accuracy_b"]), "a − b (pp)": f"{p['difference_pp']:+.2f}",
                               "only a right": p["only_a_correct"], "only b right": p["only_b_correct"],
                               "McNemar p": pvalue(p["p_value"]),
                               "verdict": "significant" if p["significant"] else "not significant"}
                              for p in self.pairs])
        self.md += ["## Every paired comparison", "",
                    f"All pairs compared above, exact McNemar test at α = {self.alpha}:", "",
                    self.table(table, "pairs")]

    def build(self) -> tuple[str, dict]:
        self.header()
        self.section_architectures()
        self.section_block_counts()
        self.section_confusion()
        self.section_examples()
        self.section_filters()
        self.section_side_by_side()
        self.section_analysis()
        self.section_sweeps()
        self.section_pairs()
        summary = {
            "runs": {r.name: {"accuracy": r.acc, "balanced_accuracy": r.metrics["balanced_accuracy"],
                              "macro_f1": r.metrics["macro_avg"]["f1-score"],
                              "minority_recall_mean": r.metrics["minority_recall_mean"],
                              "roc_auc_macro_ovr": r.metrics["roc_auc_macro_ovr"],
                              "parameters": r.train["parameters"], "macs_per_image": r.train["macs_per_image"],
                              "seconds_per_epoch": r.train["seconds_per_epoch"]} for r in self.runs.values()},
            "pairs": {f"{p['a']} vs {p['b']}": {"difference_pp": p["difference_pp"], "p_value": p["p_value"],
                                                "significant": p["significant"]} for p in self.pairs},
        }
        return "\n".join(self.md) + "\n", summary


def aggregate(params: dict, root: Path = Path(".")) -> None:
    text, summary = Study(params, root).build()
    write_json(root / SUMMARY_JSON, summary)
    write_text(root / SUMMARY, text)
    print(f"aggregate: wrote {SUMMARY}, {SUMMARY_JSON} and {len(list((root / TABLES).glob('*.csv')))} tables")
