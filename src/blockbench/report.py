"""The aggregate stage: tables, comparison figures and results/summary.md, all derived from
run files.

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
from .models import BlockSpec, conv_block, mobilenet_block, plan_of
from .params import remedy_table, replicates, run_config, split_config, study_runs
from .stats import mcnemar
from .storage import atomic_path, read_json, write_json, write_text

SUMMARY, SUMMARY_JSON, TABLES, FIGURES = (
    paths.SUMMARY,
    paths.SUMMARY_JSON,
    paths.TABLES,
    paths.FIGURES,
)
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

    @property
    def seed(self) -> int:
        return self.cfg["seed"]


def load_run(params: dict, name: str, root: Path) -> Run:
    cfg = run_config(params, name)
    pred = pd.read_csv(root / paths.confusion(name))  # one row per test image: actual, predicted
    y_true, y_pred = pred["actual"].to_numpy(), pred["predicted"].to_numpy()
    return Run(
        name,
        cfg,
        read_json(root / paths.train_info(name)),
        read_json(root / paths.metrics(name)),
        pd.read_csv(root / paths.history(name)),
        y_true,
        y_true == y_pred,
        read_json(root / paths.split_counts(cfg["split"])),
    )


class Group:
    """A named run and its seed replicates: tables show mean ± std over them, figures the first."""

    def __init__(self, name: str, runs: list[Run]):
        self.name, self.runs = name, runs

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def cfg(self) -> dict:
        return self.first.cfg

    @property
    def label(self) -> str:
        return self.first.label  # the first run carries the group's name

    @property
    def by_seed(self) -> dict[int, Run]:
        return {r.seed: r for r in self.runs}

    def values(self, get) -> np.ndarray:
        return np.array([get(r) for r in self.runs], dtype=float)

    def mean(self, get) -> float:
        return float(self.values(get).mean())

    @property
    def acc(self) -> float:
        return self.mean(lambda r: r.acc)


# ------------------------------------------------------------------------------------ formatting
def pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}%"


def seeds_text(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def spread(values: np.ndarray, style: str = "pct", digits: int = 2) -> str:
    """One value as is; several as mean ± sample standard deviation ('pct': in percent)."""
    values = np.asarray(values, dtype=float)
    scale, unit = (100.0, "%") if style == "pct" else (1.0, "")
    m = scale * values.mean()
    if len(values) == 1:
        return f"{m:.{digits}f}{unit}"
    return f"{m:.{digits}f}{unit} ± {scale * values.std(ddof=1):.{digits}f}"


def metric_text(g: Group, key: str = "accuracy", with_seeds: bool = False) -> str:
    """Accuracy or macro-F1: with its bootstrap 95% interval for one seed, mean ± std for
    several."""
    get = (lambda r: r.acc) if key == "accuracy" else (lambda r: r.metrics["macro_avg"]["f1-score"])
    if g.n == 1:
        lo, hi = g.first.metrics["ci95"][key]
        text = f"{pct(get(g.first))} [{pct(lo)}, {pct(hi)}]"
    else:
        text = spread(g.values(get))
    return text + (f" ({seeds_text(g.n)})" if with_seeds else "")


def pvalue(p: float, label: bool = False) -> str:
    """A p-value as text: '0.031' or '< 1e-4'; with `label`, 'p = 0.031' or 'p < 1e-4'."""
    if p >= 1e-4:
        return f"p = {p:.2g}" if label else f"{p:.2g}"
    return "p < 1e-4" if label else "< 1e-4"


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


def paired_verdict(
    a: Group, b: Group, alpha: float, subset: np.ndarray | None = None, what: str = "accuracy"
) -> dict:
    """Difference a - b in accuracy (on `subset` of the test images if given) with its paired test.

    The verdict comes from an exact McNemar test on the per-image predictions of the seeds both
    groups share (each group's first run if they share none). With several shared seeds the
    discordant images are pooled over the seed pairs (the runs of one seed are compared with each
    other, so every discordant image is still a fair coin under the null hypothesis), and a paired
    t-test over the seeds' accuracies is reported beside it: it asks whether the difference holds
    across training seeds, but with two or three seeds it has little power."""

    def correct(r: Run) -> np.ndarray:
        return r.correct if subset is None else r.correct[subset]

    shared = sorted(set(a.by_seed) & set(b.by_seed))
    pairs = [(a.by_seed[s], b.by_seed[s]) for s in shared] or [(a.first, b.first)]
    ca = np.concatenate([correct(ra) for ra, _ in pairs])
    cb = np.concatenate([correct(rb) for _, rb in pairs])
    test = mcnemar(ca, cb)
    da = np.array([correct(ra).mean() for ra, _ in pairs])
    db = np.array([correct(rb).mean() for _, rb in pairs])
    out = {
        "a": a.name,
        "b": b.name,
        "what": what,
        "alpha": alpha,
        "seeds": len(pairs),
        "accuracy_a": float(da.mean()),
        "accuracy_b": float(db.mean()),
        **test,
        "test": "exact McNemar" + (f", pooled over {len(pairs)} seeds" if len(pairs) > 1 else ""),
        "t_test_p": paired_t(da - db) if len(pairs) > 1 else None,
    }
    diff = out["accuracy_a"] - out["accuracy_b"]
    significant = out["p_value"] < alpha
    noun = "accurate" if what == "accuracy" else f"accurate on {what}"
    if significant:
        words = f"{a.name} is significantly {'more' if diff > 0 else 'less'} {noun} than {b.name}"
    else:
        words = f"no significant difference in {what} between {a.name} and {b.name}"
    out.update(difference_pp=100 * diff, significant=significant, verdict=words)
    return out


def paired_t(diffs: np.ndarray) -> float:
    """Two-sided p of a paired t-test on per-seed differences (all equal: 1 if zero, else 0)."""
    from scipy.stats import ttest_1samp

    if np.allclose(diffs, diffs[0]):
        return 1.0 if math.isclose(float(diffs[0]), 0.0, abs_tol=1e-12) else 0.0
    return float(ttest_1samp(diffs, 0.0).pvalue)


def verdict_text(v: dict) -> str:
    where = "images" if v["seeds"] == 1 else f"image × seed pairs over {v['seeds']} seeds"
    detail = (
        f"McNemar: {v['only_a_correct']} {where} only {v['a']} gets right, "
        f"{v['only_b_correct']} only {v['b']}, {pvalue(v['p_value'], label=True)}"
    )
    if v["t_test_p"] is not None:
        detail += f"; paired t-test over the seeds' accuracies {pvalue(v['t_test_p'], label=True)}"
    return (
        f"{v['verdict']} ({v['difference_pp']:+.2f} percentage points; {detail}, α = {v['alpha']})"
    )


def rel(path: Path) -> str:
    """A link relative to results/summary.md, so the Markdown renders on a code host."""
    return os.path.relpath(path, paths.RESULTS).replace(os.sep, "/")


def image(path: Path, alt: str) -> str:
    return f"![{alt}]({rel(path)})"


# ------------------------------------------------------------------------------------ the study
def _lookup(record: str, keys: tuple[str, ...]):
    def get(r: Run):
        v = getattr(r, record)
        for k in keys:
            v = v[k]
        return v

    return get


def _train(*keys: str):
    """A value of the run's train.json (timings live there, apart from the test metrics)."""
    return _lookup("train", keys)


def _metric(*keys: str):
    """A value of the run's metrics.json."""
    return _lookup("metrics", keys)


class Study:
    def __init__(self, params: dict, root: Path):
        self.params, self.root, self.study = params, root, params["study"]
        self.alpha = self.study["alpha"]
        names = dict.fromkeys(r for _, r in study_runs(params))
        self.runs = {
            n: Group(n, [load_run(params, rep, root) for rep in replicates(params, n)])
            for n in names
        }
        self.pairs: list[dict] = []
        self.md: list[str] = []
        self.remedy_results: dict[str, dict] = {}
        (root / TABLES).mkdir(parents=True, exist_ok=True)

    def table(self, df: pd.DataFrame, name: str) -> str:
        with atomic_path(self.root / TABLES / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False)
        return md_table(df) + f"\n\n<sub>Table: [`tables/{name}.csv`](tables/{name}.csv)</sub>\n"

    def pair(
        self, a: str, b: str, subset: np.ndarray | None = None, what: str = "accuracy"
    ) -> dict:
        v = paired_verdict(self.runs[a], self.runs[b], self.alpha, subset, what)
        if not any(p["a"] == a and p["b"] == b and p["what"] == what for p in self.pairs):
            self.pairs.append(v)
        return v

    def figure_path(self, name: str) -> Path:
        return self.root / FIGURES / f"{name}.png"

    def run_figure(self, run: str, name: str) -> Path:
        """A per-run figure of the group's first run."""
        first = self.runs[run].first
        return self.root / paths.run_figures(first.name, first.cfg)[name]

    def overview_row(self, g: Group) -> dict:
        return {
            "run": g.name,
            "seeds": g.n,
            "blocks": f"C{g.cfg['n_conv']}+M{g.cfg['n_mobilenet']}",
            "test accuracy [95% CI]" if g.n == 1 else "test accuracy (mean ± std)": metric_text(g),
            "macro-F1 [95% CI]" if g.n == 1 else "macro-F1 (mean ± std)": metric_text(
                g, "macro_f1"
            ),
            "parameters": f"{g.first.train['parameters']:,}",
            "MACs/image": f"{g.first.train['macs_per_image']:,}",
            "s/epoch": spread(g.values(_train("seconds_per_epoch")), "num"),
            "inference µs/image": spread(
                1e6 * g.values(_train("inference", "seconds_per_image")), "num", 1
            ),
            "selected epoch": "/".join(str(r.train["selected_epoch"]) for r in g.runs)
            + f" of {g.cfg['epochs']}",
        }

    def overview(self, groups: list[Group], name: str) -> str:
        """A table of groups; with mixed seed counts the metric columns say 'value' (CI or ± std
        per row)."""
        rows = [self.overview_row(g) for g in groups]
        if len({g.n == 1 for g in groups}) > 1:
            rows = [
                {
                    (
                        "test accuracy"
                        if k.startswith("test accuracy")
                        else "macro-F1"
                        if k.startswith("macro-F1")
                        else k
                    ): v
                    for k, v in row.items()
                }
                for row in rows
            ]
        return self.table(pd.DataFrame(rows), name)

    # ------------------------------------------------------------------------------- sections
    def header(self) -> None:
        a = self.runs[self.study["mobilenet"]].first
        counts = a.split
        minority = counts["config"]["minority_classes"]
        cc = counts["class_counts"]
        kept = ", ".join(
            f"{c}: {cc['train'][str(c)] + cc['val'][str(c)]:,} of {cc['official_train'][str(c)]:,}"
            for c in minority
        )
        seeds = sorted({g.n for g in self.runs.values()})
        self.md += [
            "# blockbench: MobileNet blocks vs plain convolution blocks on imbalanced data",
            "",
            f"Generated by the aggregate stage from the run files under `results/runs/` "
            f"(`dvc repro` or `snakemake --cores 4 results/summary.md`); every number and every "
            f"comparative word below is computed, none typed in. Dataset: "
            f"**{a.train['dataset']}**, split `{a.cfg['split']}`: minority classes {minority} keep "
            f"{kept} training images (keep fraction {counts['config']['keep_fraction']}); "
            f"{counts['sizes']['train']:,} train, {counts['sizes']['val']:,} validation, "
            f"{counts['sizes']['test']:,} test images (the official test set, balanced). For a run "
            f"with one seed, intervals are 95% percentile bootstrap intervals over test images "
            f"({a.metrics['ci95']['samples']} resamples) and paired tests are exact McNemar tests "
            f"on the per-image predictions; for a run repeated over several seeds "
            f"(`replicate_seeds`), numbers are mean ± sample standard deviation over the seeds, "
            f"the McNemar test pools the discordant images over "
            f"the seeds two runs share, and a paired t-test over the seeds' accuracies is given "
            f"beside it; the number of seeds is given beside each number (this study: "
            f"{', '.join(seeds_text(n) for n in seeds)} per run). α = {self.alpha}. Times were "
            f"measured once per run on {a.train['device']} with {a.train['threads']} threads.",
            "",
            image(self.root / paths.split_figure(a.cfg["split"]), "class distribution"),
            "",
        ]

    def section_architectures(self) -> None:
        ga, gb = self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]
        a, b = ga.first, gb.first
        every = sorted(
            set(
                [1]
                + list(range(LOSS_EPOCHS_EVERY, len(a.history) + 1, LOSS_EPOCHS_EVERY))
                + [len(a.history)]
            )
        )
        loss = pd.DataFrame({"epoch": every})
        for g in (ga, gb):
            for col in ("train_loss", "val_loss"):
                cells = []
                for e in every:
                    vals = [
                        float(r.history.set_index("epoch").loc[e, col])
                        for r in g.runs
                        if e in r.history["epoch"].values
                    ]
                    cells.append(spread(np.array(vals), "num", 4) if vals else "")
                loss[f"{g.name} {col.replace('_', ' ')} ({seeds_text(g.n)})"] = cells
        study_figures.overlay_curves(
            {a.label: a.history, b.label: b.history},
            self.figure_path("arch_curves"),
            f"{a.name} vs {b.name}: loss and accuracy per epoch (seed {a.seed})",
        )
        v = self.pair(ga.name, gb.name)
        cost = self.cost_table(a)
        ta, tb = ga.mean(_train("seconds_per_epoch")), gb.mean(_train("seconds_per_epoch"))
        get_inf = _train("inference", "seconds_per_image")
        ia, ib = ga.mean(get_inf), gb.mean(get_inf)
        mac_ratio = a.train["macs_per_image"] / b.train["macs_per_image"]
        val_a, val_b = (
            ga.mean(lambda r: r.train["selected"]["val_acc"]),
            gb.mean(lambda r: r.train["selected"]["val_acc"]),
        )
        self.md += [
            f"## 1. MobileNet blocks vs plain blocks: {ga.label} vs {gb.label}",
            "",
            "Loss per epoch (every 5 epochs):",
            "",
            self.table(loss, "1_loss_per_epoch"),
            image(self.figure_path("arch_curves"), "loss and accuracy curves"),
            "",
            self.overview([ga, gb], "1_architectures"),
            f"- Accuracy: {verdict_text(v)}.",
            f"- Size: {a.name} has {a.train['parameters']:,} parameters, "
            f"{ratio_words(a.train['parameters'], b.train['parameters'], 'fewer', 'more')} "
            f"{b.name} ({b.train['parameters']:,}); {a.train['macs_per_image']:,} "
            f"multiply-accumulates per image, "
            f"{ratio_words(a.train['macs_per_image'], b.train['macs_per_image'], 'fewer', 'more')} "
            f"{b.name}.",
            f"- Time: {a.name} trains at {ta:.2f} s per epoch, "
            f"{ratio_words(ta, tb, 'faster', 'slower')} {b.name} ({tb:.2f} s); inference takes "
            f"{1e6 * ia:.1f} µs per image, {ratio_words(ia, ib, 'faster', 'slower')} {b.name} "
            f"({1e6 * ib:.1f} µs; timed by the train stage on the validation images) "
            f"(means over {seeds_text(ga.n)} and {seeds_text(gb.n)}).",
            f"- Validation vs test: selected validation accuracy (imbalanced hold-out) "
            f"{pct(val_a)} for {a.name} and {pct(val_b)} for {b.name}, against balanced test "
            f"accuracy {pct(ga.acc)} and {pct(gb.acc)} ({seeds_text(ga.n)} and "
            f"{seeds_text(gb.n)}): the hold-out, like the training set, is dominated by the "
            f"majority classes, so it "
            f"{'overstates' if val_a > ga.acc else 'does not overstate'} what the model does "
            f"on a balanced set.",
            "",
            "**Why.** A standard 3×3 convolution from M to N channels costs H·W·9·M·N "
            "multiply-accumulates; the depthwise-separable one (depthwise 3×3, then pointwise 1×1) "
            "costs H·W·9·M + H·W·M·N, a ratio of 1/N + 1/9 (MobileNet paper, eq. 5). Measured "
            "with torch's flop counter on each MobileNet block of "
            f"{a.name} against the plain block with the same channels and stride:",
            "",
            self.table(cost, "1_cost_ratio"),
            f"The whole network's MAC ratio is {mac_ratio:.3f} (the plain first block and the "
            f"classifier are shared), its time-per-epoch ratio {ta / tb:.3f}: "
            + (
                "time falls about as much as the arithmetic."
                if abs(ta / tb - mac_ratio) < 0.1
                else f"time falls {'less' if ta / tb > mac_ratio else 'more'} than the arithmetic. "
                + (
                    "A likely reason (not measured here): depthwise convolutions and the extra "
                    "BatchNorm/ReLU layers of the separable blocks do little arithmetic per byte "
                    "moved, so they are limited by memory traffic rather than by multiply-adds."
                    if ta / tb > mac_ratio
                    else ""
                )
            ),
            "",
        ]

    def cost_table(self, run: Run) -> pd.DataFrame:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        plan = plan_of(run.cfg)
        rows, size = [], 28
        for i, spec in enumerate(plan):
            out_size = math.ceil(size / spec.stride)
            if spec.kind == "mobilenet":
                macs = {}
                for kind, block in (
                    ("plain", conv_block(spec)),
                    ("separable", mobilenet_block(spec)),
                ):
                    block.eval()
                    with FlopCounterMode(display=False) as counter, torch.inference_mode():
                        block(torch.zeros(1, spec.in_channels, size, size))
                    macs[kind] = counter.get_total_flops() // 2
                n = spec.out_channels
                rows.append(
                    {
                        "block": i,
                        "M→N channels": f"{spec.in_channels}→{n}",
                        "output size": f"{out_size}×{out_size}",
                        "plain MACs": f"{macs['plain']:,}",
                        "separable MACs": f"{macs['separable']:,}",
                        "measured ratio": f"{macs['separable'] / macs['plain']:.4f}",
                        "1/N + 1/9": f"{1 / n + 1 / 9:.4f}",
                    }
                )
            size = out_size
        return pd.DataFrame(rows)

    def section_block_counts(self) -> None:
        names = self.study["block_counts"]
        groups = [self.runs[n] for n in names]
        study_figures.overlay_curves(
            {g.label: g.first.history for g in groups},
            self.figure_path("block_counts_curves"),
            "block counts: loss and accuracy per epoch (first seed of each)",
        )
        lines = [f"- {verdict_text(self.pair(names[0], n))}." for n in names[1:]]
        best = max(groups, key=lambda g: g.acc)
        cheapest = min(groups, key=lambda g: g.first.train["parameters"])
        self.md += [
            "## 2. Block counts",
            "",
            self.overview(groups, "2_block_counts"),
            image(self.figure_path("block_counts_curves"), "block count curves"),
            "",
            *lines,
            f"- Highest test accuracy: {best.name} ({pct(best.acc)}, {seeds_text(best.n)}); "
            f"fewest parameters: {cheapest.name} ({cheapest.first.train['parameters']:,}).",
            "",
        ]

    def section_confusion(self) -> None:
        ga, gb = self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]
        minority = ga.first.metrics["minority_classes"]
        rows = []
        for c in sorted(ga.first.metrics["per_class"], key=int):
            row = {"class": c + ("*" if int(c) in minority else "")}
            for g in (ga, gb):
                for key, col in (
                    ("precision", "precision"),
                    ("recall", "recall"),
                    ("f1-score", "F1"),
                ):
                    row[f"{g.name} {col} ({seeds_text(g.n)})"] = spread(
                        g.values(_metric("per_class", c, key)), "num", 3
                    )
            row["support"] = int(ga.first.metrics["per_class"][c]["support"])
            rows.append(row)
        bal = _metric("balanced_accuracy")
        self.md += [
            "## 3. Confusion matrix and per-class precision, recall, F1 (test set)",
            "",
            f"Test accuracy: {ga.name} {metric_text(ga, with_seeds=True)}, {gb.name} "
            f"{metric_text(gb, with_seeds=True)}; balanced accuracy {spread(ga.values(bal))} and "
            f"{spread(gb.values(bal))}. Classes marked * are the minority classes. "
            "The matrices show the first seed.",
            "",
            self.table(pd.DataFrame(rows), "3_per_class"),
            f"| {ga.name} | {gb.name} |\n|---|---|\n"
            f"| {image(self.run_figure(ga.name, 'confusion'), 'confusion ' + ga.name)} "
            f"| {image(self.run_figure(gb.name, 'confusion'), 'confusion ' + gb.name)} |\n"
            f"| {image(self.run_figure(ga.name, 'per_class'), 'per-class ' + ga.name)} "
            f"| {image(self.run_figure(gb.name, 'per_class'), 'per-class ' + gb.name)} |",
            "",
        ]

    def section_examples(self) -> None:
        ga, gb = self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]
        cols = {}
        for g in (ga, gb):
            wrong = np.array(
                [np.bincount(r.y_true[~r.correct], minlength=10) for r in g.runs], dtype=float
            )
            cols[f"{g.name} misclassified ({seeds_text(g.n)})"] = [
                spread(wrong[:, c], "num", 1 if g.n > 1 else 0) for c in range(10)
            ]
        table = pd.DataFrame({"true class": [str(c) for c in range(10)], **cols})
        self.md += [
            "## 4. Correct and wrong predictions",
            "",
            "Each tile reads `true → predicted (probability of the predicted class)`; the wrong "
            "ones are drawn from every class that has any (first seed).",
            "",
            self.table(table, "4_misclassified_per_class"),
            *[
                f"**{g.name}**: correct "
                f"{image(self.run_figure(g.name, 'correct'), 'correct ' + g.name)} "
                f"wrong {image(self.run_figure(g.name, 'wrong'), 'wrong ' + g.name)}\n"
                for g in (ga, gb)
            ],
        ]

    def section_filters(self) -> None:
        lines = ["## 5. Learned filters of the last convolution layer", ""]
        for name in (self.study["mobilenet"], self.study["plain"]):
            cfg = self.runs[name].cfg
            spec: BlockSpec = plan_of(cfg)[-1]
            if spec.kind == "mobilenet":
                lines.append(
                    f"**{name}**, last block: depthwise [{spec.in_channels}, 1, 3, 3] and "
                    f"pointwise [{spec.out_channels}, {spec.in_channels}, 1, 1] filters."
                )
                kinds = ("depthwise", "pointwise")
            else:
                lines.append(
                    f"**{name}**, last block: 3×3 convolution "
                    f"[{spec.out_channels}, {spec.in_channels}, 3, 3] "
                    "(each tile is a filter's 3×3 kernel averaged over its input channels)."
                )
                kinds = ("conv",)
            lines += [
                "",
                *[
                    image(self.run_figure(name, f"filters_{k}"), f"{k} filters {name}")
                    for k in kinds
                ],
                "",
            ]
        self.md += lines

    def section_side_by_side(self) -> None:
        ga, gb = self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]
        self.md += ["## 6. With vs without MobileNet blocks, side by side", ""]
        auc = _metric("roc_auc_macro_ovr")
        for kind, title in (
            ("roc", "ROC curves"),
            ("loss", "Loss curves"),
            ("accuracy", "Accuracy curves"),
            ("confusion", "Confusion matrices"),
            ("tsne", "t-SNE of the penultimate features"),
        ):
            out = self.figure_path(f"side_by_side_{kind}")
            study_figures.side_by_side(
                {g.label: self.run_figure(g.name, kind) for g in (ga, gb)},
                out,
                f"{title}: with ({ga.name}) vs without ({gb.name}) MobileNet blocks",
            )
            note = (
                f" Macro ROC AUC: {ga.name} {spread(ga.values(auc), 'num', 4)} "
                f"({seeds_text(ga.n)}), {gb.name} {spread(gb.values(auc), 'num', 4)} "
                f"({seeds_text(gb.n)})."
                if kind == "roc"
                else ""
            )
            self.md += [f"**{title}.**{note}", "", image(out, title), ""]

    @staticmethod
    def minority_mean(r: Run) -> float:
        return r.metrics["minority_recall_mean"]

    def gap(self, g: Group) -> float:
        return g.mean(
            lambda r: r.metrics["majority_recall_mean"] - r.metrics["minority_recall_mean"]
        )

    def section_analysis(self) -> None:
        ga = self.runs[self.study["mobilenet"]]
        minority = ga.first.metrics["minority_classes"]
        rows, recalls = [], {}
        for g in self.runs.values():
            rows.append(
                {
                    "run": g.name,
                    "seeds": g.n,
                    **{
                        f"recall {c}*": spread(
                            g.values(_metric("minority_recall", str(c))), "num", 3
                        )
                        for c in minority
                    },
                    "minority mean": spread(g.values(self.minority_mean), "num", 3),
                    "majority mean": spread(g.values(_metric("majority_recall_mean")), "num", 3),
                    "gap (pp)": spread(
                        100
                        * g.values(
                            lambda r: (
                                r.metrics["majority_recall_mean"]
                                - r.metrics["minority_recall_mean"]
                            )
                        ),
                        "num",
                    ),
                }
            )
            recalls[g.name] = {
                **{str(c): g.mean(_metric("minority_recall", str(c))) for c in minority},
                "majority mean": g.mean(_metric("majority_recall_mean")),
            }
        study_figures.recall_by_run(
            pd.DataFrame(recalls).T,
            self.figure_path("minority_recall"),
            "test recall of the minority classes vs the majority mean, per run (mean over seeds)",
            minority,
        )
        below = [g.name for g in self.runs.values() if self.gap(g) > 0]
        arch = [self.runs[self.study["mobilenet"]], self.runs[self.study["plain"]]]
        arch_gap = [self.gap(g) for g in arch]
        smaller = arch[int(np.argmin(arch_gap))]
        self.md += [
            "## 7. Analysis",
            "",
            "### What the imbalance did",
            "",
            self.table(pd.DataFrame(rows), "7_minority_recall"),
            image(self.figure_path("minority_recall"), "minority recall by run"),
            "",
            f"In {len(below)} of {len(self.runs)} runs the minority classes' mean recall is below "
            f"the majority classes' mean ({', '.join(below) if below else 'none'}). Between the "
            f"two architectures the gap is {100 * arch_gap[0]:.2f} percentage points for "
            f"{arch[0].name} and {100 * arch_gap[1]:.2f} for {arch[1].name} (means over "
            f"{seeds_text(arch[0].n)} and {seeds_text(arch[1].n)}): smaller for {smaller.name}.",
            "",
        ]
        if self.remedy_results:
            self.md += ["### What undoes it", "", *self.remedy_conclusions(), ""]
        ds = self.study.get("double_softmax")
        if ds:
            gs = self.runs[ds]
            a, s = ga.first, gs.first
            v = self.pair(ga.name, ds)
            floor = math.log(1 + 9 / math.e)

            def last_loss(r: Run) -> float:
                return r.history["train_loss"].iloc[-1]

            study_figures.overlay_curves(
                {a.label + " logits": a.history, s.label + " softmax": s.history},
                self.figure_path("double_softmax_curves"),
                "CrossEntropyLoss on logits vs on softmax probabilities",
            )
            self.md += [
                "### The double-softmax ablation",
                "",
                f"{ds} feeds softmax probabilities into CrossEntropyLoss, which applies "
                f"log-softmax again. Its inputs lie in [0, 1], so the loss of a perfectly "
                f"confident correct prediction is log(1 + 9/e) = {floor:.3f}, not 0, and the "
                f"gradients shrink as predictions sharpen. Its final train loss is "
                f"{spread(gs.values(last_loss), 'num', 4)} (floor {floor:.3f}) against "
                f"{spread(ga.values(last_loss), 'num', 4)} for {ga.name}; test accuracy "
                f"{metric_text(gs, with_seeds=True)} vs {metric_text(ga, with_seeds=True)}: "
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
                    row[f"{key} = {value}"] = (
                        f"{pair[col]}: {metric_text(self.runs[pair[col]], with_seeds=True)}"
                    )
                rows.append(row)
                base = self.runs[pairs[0][col]]
                for value, pair in zip(values[1:], pairs[1:]):
                    other = self.runs[pair[col]]
                    v = self.pair(other.name, base.name)
                    notes.append(
                        f"- {arch}, {key} {values[0]} → {value}: {verdict_text(v)}; "
                        f"{self.sweep_mechanism(key, base.first, other.first)}"
                    )
            self.md += [f"### {key}", "", self.table(pd.DataFrame(rows), f"8_{key}"), *notes, ""]

    def sweep_value(self, key: str, run: str) -> str:
        r = self.runs[run].first
        if key == "train_test_ratio":
            return f"{r.split['train_test_ratio']['achieved']:.2f}"
        value = r.cfg[key] if key in r.cfg else split_config(self.params, r.cfg["split"])[key]
        return str(value)

    @staticmethod
    def sweep_mechanism(key: str, base: Run, other: Run) -> str:
        """What changed in the training, measured, that explains the difference (first seed of
        each)."""

        def steps(r: Run) -> int:
            return math.ceil(r.train["n_train"] / r.cfg["batch_size"]) * r.cfg["epochs"]

        def noise(
            r: Run,
        ) -> float:  # how much validation loss jumps from epoch to epoch, second half
            v = r.history["val_loss"].to_numpy()
            return float(np.median(np.abs(np.diff(v[len(v) // 2 :]))))

        if key == "batch_size":
            return (
                f"optimizer steps {steps(base)} → {steps(other)}; seconds per epoch "
                f"{base.train['seconds_per_epoch']:.2f} → {other.train['seconds_per_epoch']:.2f}; "
                f"best validation loss {base.train['selected']['val_loss']:.4f} → "
                f"{other.train['selected']['val_loss']:.4f}."
            )
        if key == "lr":
            return (
                f"median epoch-to-epoch jump of the validation loss (second half) "
                f"{noise(base):.4f} → {noise(other):.4f}; best validation loss "
                f"{base.train['selected']['val_loss']:.4f} → "
                f"{other.train['selected']['val_loss']:.4f}."
            )
        if key == "train_test_ratio":
            return (
                f"training images {base.train['n_train']:,} → {other.train['n_train']:,}; "
                f"minority recall {base.metrics['minority_recall_mean']:.3f} → "
                f"{other.metrics['minority_recall_mean']:.3f}."
            )
        return (
            f"best validation loss {base.train['selected']['val_loss']:.4f} → "
            f"{other.train['selected']['val_loss']:.4f}."
        )

    # ------------------------------------------------------------------------------- remedies
    def analyse_remedies(self) -> None:
        """Per base run of the remedies grid: the table rows, the best remedy and its tests
        (section 9)."""
        upper = self.study["remedies"]["upper_bound"] if self.study.get("remedies") else None
        for base, variants in remedy_table(self.params).items():
            g_none = self.runs[base]
            minority = g_none.first.metrics["minority_classes"]
            remedies = {
                "none": g_none,
                **{v: self.runs[n] for v, n in variants.items() if v != upper},
            }
            bound = self.runs[variants[upper]]
            best_v = max(
                (v for v in remedies if v != "none"),
                key=lambda v: remedies[v].mean(self.minority_mean),
            )
            best = remedies[best_v]
            y = g_none.first.y_true
            minority_images = np.isin(y, minority)
            self.remedy_results[base] = {
                "remedies": remedies,
                "bound": bound,
                "best": best_v,
                "minority": minority,
                "vs_none": self.pair(best.name, base),
                "vs_none_minority": self.pair(
                    best.name, base, minority_images, "the minority-class images"
                ),
                "gap_pp": 100 * (bound.mean(self.minority_mean) - best.mean(self.minority_mean)),
            }

    def remedy_row(self, label: str, g: Group, minority: list[int]) -> dict:
        return {
            "remedy": label,
            "run": g.name,
            "seeds": g.n,
            "accuracy": spread(g.values(lambda r: r.acc)),
            "balanced accuracy": spread(g.values(_metric("balanced_accuracy"))),
            "macro-F1": spread(g.values(_metric("macro_avg", "f1-score"))),
            **{
                f"recall {c}*": spread(g.values(_metric("minority_recall", str(c))), "num", 3)
                for c in minority
            },
            "minority recall (mean)": spread(g.values(self.minority_mean), "num", 3),
            "macro ROC AUC": spread(g.values(_metric("roc_auc_macro_ovr")), "num", 4),
            "s/epoch": spread(g.values(_train("seconds_per_epoch")), "num"),
        }

    def section_remedies(self) -> None:
        if not self.remedy_results:
            return
        upper = self.study["remedies"]["upper_bound"]
        self.md += [
            "## 9. Imbalance remedies",
            "",
            "Each remedy retrains the architecture on the same imbalanced split with one change "
            "(see `src/blockbench/remedies.py`); the last row trains on the split without the "
            f"imbalance (`{upper}`: every class keeps all its images, the same 20% validation "
            "hold-out) as the upper bound. Best remedy: the highest mean minority-class test "
            "recall.",
            "",
        ]
        recall_rows = {}
        for base, res in self.remedy_results.items():
            minority = res["minority"]
            rows = [
                self.remedy_row(self.remedy_label(v, g), g, minority)
                for v, g in res["remedies"].items()
            ]
            rows.append(self.remedy_row(f"upper bound: {upper}", res["bound"], minority))
            counts = res["bound"].first.split["class_counts"]["train"]
            imb = res["remedies"]["none"].first.split["class_counts"]["train"]
            best, bound = res["remedies"][res["best"]], res["bound"]
            v, vm = res["vs_none"], res["vs_none_minority"]
            within = res["gap_pp"] <= 1.0
            self.md += [
                f"### {self.runs[base].label}",
                "",
                self.table(pd.DataFrame(rows), f"9_remedies_{base}"),
                f"- Best remedy: **{res['best']}** ({best.name}), mean minority recall "
                f"{spread(best.values(self.minority_mean), 'num', 3)} against "
                f"{spread(self.runs[base].values(self.minority_mean), 'num', 3)} with none "
                f"({seeds_text(best.n)} and {seeds_text(self.runs[base].n)}).",
                f"- Against none, on all test images: {verdict_text(v)}.",
                f"- Against none, on the minority-class test images only: {verdict_text(vm)}.",
                f"- Upper bound: {bound.name} reaches "
                f"{spread(bound.values(self.minority_mean), 'num', 3)} mean minority recall; the "
                f"best remedy is {abs(res['gap_pp']):.2f} percentage points "
                f"{'below' if res['gap_pp'] > 0 else 'above'} it: "
                + (
                    "within 1 percentage point."
                    if within
                    else f"**not** within 1 percentage point. {self.why_not(res, imb, counts)}"
                ),
                "",
            ]
            recall_rows[base] = {
                self.remedy_label(v, g, short=True): g.mean(self.minority_mean)
                for v, g in res["remedies"].items()
            }
            recall_rows[base][f"{upper} (bound)"] = bound.mean(self.minority_mean)
        study_figures.remedy_recall(
            recall_rows,
            self.figure_path("remedy_minority_recall"),
            "mean test recall of the minority classes by remedy (mean over seeds)",
        )
        self.md += [
            image(self.figure_path("remedy_minority_recall"), "minority recall by remedy"),
            "",
        ]

    def remedy_label(self, variant: str, g: Group, short: bool = False) -> str:
        return variant if short or variant == "none" else g.first.train.get("remedy", variant)

    def why_not(self, res: dict, imbalanced: dict, balanced: dict) -> str:
        """Numbers that say why re-weighting the data it has cannot reach the balanced bound."""
        minority = res["minority"]
        seen = ", ".join(f"{c}: {imbalanced[str(c)]:,} vs {balanced[str(c)]:,}" for c in minority)
        best = res["remedies"][res["best"]]
        none = res["remedies"]["none"]

        def prec(r: Run) -> float:
            return float(np.mean([r.metrics["per_class"][str(c)]["precision"] for c in minority]))

        maj = _metric("majority_recall_mean")
        return (
            f"Every remedy re-weights or re-draws the same few minority training images (train "
            f"images per minority class, imbalanced vs balanced split: {seen}); they shift the "
            f"decision boundary towards the rare classes but add no new examples of them. The "
            f"shift has a price: with {res['best']} the minority classes' mean precision is "
            f"{spread(best.values(prec), 'num', 3)} (none: "
            f"{spread(none.values(prec), 'num', 3)}) and the majority classes' mean recall "
            f"{spread(best.values(maj), 'num', 3)} (none: {spread(none.values(maj), 'num', 3)})."
        )

    def remedy_conclusions(self) -> list[str]:
        lines = []
        for base, res in self.remedy_results.items():
            best = res["remedies"][res["best"]]
            v = res["vs_none_minority"]
            lines.append(
                f"- {self.runs[base].label}: the best remedy is {res['best']}, mean minority "
                f"recall {pct(best.mean(self.minority_mean))} vs "
                f"{pct(self.runs[base].mean(self.minority_mean))} without one "
                f"({'significant' if v['significant'] else 'not significant'} on the "
                f"minority-class test images, {pvalue(v['p_value'], label=True)}); it is "
                f"{res['gap_pp']:.2f} percentage points from the balanced upper "
                f"bound ({pct(res['bound'].mean(self.minority_mean))}), "
                f"{'within' if res['gap_pp'] <= 1.0 else 'not within'} 1 point (section 9)."
            )
        return lines

    def section_pairs(self) -> None:
        table = pd.DataFrame(
            [
                {
                    "a": p["a"],
                    "b": p["b"],
                    "on": p["what"],
                    "seeds": p["seeds"],
                    "accuracy a": pct(p["accuracy_a"]),
                    "accuracy b": pct(p["accuracy_b"]),
                    "a − b (pp)": f"{p['difference_pp']:+.2f}",
                    "only a right": p["only_a_correct"],
                    "only b right": p["only_b_correct"],
                    "test": p["test"],
                    "p": pvalue(p["p_value"]),
                    "paired t-test p (seeds)": ""
                    if p["t_test_p"] is None
                    else pvalue(p["t_test_p"]),
                    "verdict": "significant" if p["significant"] else "not significant",
                }
                for p in self.pairs
            ]
        )
        self.md += [
            "## Every paired comparison",
            "",
            f"All pairs compared above at α = {self.alpha}: exact McNemar test on the per-image "
            "predictions (discordant images pooled over the seeds two runs share), and with "
            "several seeds a paired t-test over the seeds' accuracies beside it:",
            "",
            self.table(table, "pairs"),
        ]

    def build(self) -> tuple[str, dict]:
        self.analyse_remedies()
        self.header()
        self.section_architectures()
        self.section_block_counts()
        self.section_confusion()
        self.section_examples()
        self.section_filters()
        self.section_side_by_side()
        self.section_analysis()
        self.section_sweeps()
        self.section_remedies()
        self.section_pairs()
        keys = {
            "accuracy": lambda r: r.acc,
            "balanced_accuracy": _metric("balanced_accuracy"),
            "macro_f1": _metric("macro_avg", "f1-score"),
            "minority_recall_mean": self.minority_mean,
            "roc_auc_macro_ovr": _metric("roc_auc_macro_ovr"),
            "seconds_per_epoch": _train("seconds_per_epoch"),
        }
        summary = {
            "runs": {
                g.name: {
                    **{k: g.mean(get) for k, get in keys.items()},
                    "seeds": g.n,
                    "parameters": g.first.train["parameters"],
                    "macs_per_image": g.first.train["macs_per_image"],
                }
                for g in self.runs.values()
            },
            "pairs": {
                f"{p['a']} vs {p['b']}" + ("" if p["what"] == "accuracy" else f" ({p['what']})"): {
                    "difference_pp": p["difference_pp"],
                    "p_value": p["p_value"],
                    "significant": p["significant"],
                }
                for p in self.pairs
            },
            "remedies": {
                base: {
                    "best": res["best"],
                    "gap_to_upper_bound_pp": res["gap_pp"],
                    "best_vs_none_minority_p": res["vs_none_minority"]["p_value"],
                }
                for base, res in self.remedy_results.items()
            },
        }
        return "\n".join(self.md) + "\n", summary


def aggregate(params: dict, root: Path = Path(".")) -> None:
    text, summary = Study(params, root).build()
    write_json(root / SUMMARY_JSON, summary)
    write_text(root / SUMMARY, text)
    print(
        f"aggregate: wrote {SUMMARY}, {SUMMARY_JSON} and "
        f"{len(list((root / TABLES).glob('*.csv')))} tables"
    )
