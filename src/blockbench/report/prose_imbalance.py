"""Sections on the data: hyperparameter sweeps, the imbalance and its remedies, every comparison,
and the headline (written last, shown first). Every number in a sentence is read from a table
the section writes."""

from __future__ import annotations

import math

import pandas as pd

from .. import paths, study_figures
from ..params import split_config
from .runs import (
    accuracy,
    balanced_accuracy,
    class_auc,
    ece,
    majority_recall,
    minority_ap,
    minority_precision,
    minority_recall,
    probe,
    seconds_per_epoch,
    val_loss_jump,
)
from .tables import image, num, pct, rate, summary_columns, text


def sweep_value(study, key: str, run: str) -> str:
    g = study.groups[run]
    if key == "train_over_test":
        return f"{g.first.split['train_over_test']['achieved']:.2f}"
    cfg = g.cfg
    return str(cfg[key] if key in cfg else split_config(study.params, cfg["split"])[key])


def section_sweeps(study) -> list[str]:
    lines = ["## 7. Hyperparameters: batch size, learning rate, train/test ratio", ""]
    for key, pairs in study.study["sweeps"].items():
        rows, notes = [], []
        for pair in pairs:
            for run in pair:
                g = study.groups[run]
                r = g.first
                steps = math.ceil(r.train["n_train"] / g.cfg["batch_size"]) * g.cfg["epochs"]
                jumps = g.mean(val_loss_jump)
                rows.append(
                    {
                        key: sweep_value(study, key, run),
                        "run": run,
                        "blocks": g.blocks,
                        "seeds": g.n,
                        **summary_columns("accuracy %", g, accuracy),
                        **summary_columns("minority recall %", g, minority_recall),
                        "training images": int(r.train["n_train"]),
                        "optimizer steps": steps,
                        "best val loss": num(g.mean(lambda r: r.train["selected"]["val_loss"]), 4),
                        "val loss jump (2nd half)": num(jumps, 4),
                    }
                )
        for col in (0, 1):
            for pair in pairs[1:]:
                k = study.cmp_key(pair[col], pairs[0][col], "accuracy")
                if k:
                    notes.append(f"- {study.verdict_words(study.family[k])}.")
        if key == "lr":
            k = study.cmp_key(pairs[-1][0], pairs[-1][1], "accuracy")
            if k:
                notes.append(
                    f"- At the higher learning rate: {study.verdict_words(study.family[k])}."
                )
        lines += [
            f"### {key}",
            "",
            study.tables(pd.DataFrame(rows), f"7_{key}"),
            *notes,
            "",
        ]
    lines += [study.comparisons_table("7 ", "7_comparisons"), ""]
    if "train_over_test" in study.study["sweeps"]:
        lines += [
            "`train_over_test` is the original's ratio: training images after the validation "
            "hold-out per test image (column `train_over_test` of each split's "
            "`results/splits/<split>/counts.json`).",
            "",
        ]
    return lines


def remedy_rows(study, base: str) -> pd.DataFrame:
    rows = []
    variants = {"none": base, **study.remedies[base]}
    for variant, run in variants.items():
        g = study.groups[run]
        rows.append(
            {
                "variant": variant if variant != study.reference else f"{variant} (reference)",
                "run": run,
                "seeds": g.n,
                # the choice's number: over the seeds every candidate has (selection seeds)
                "validation balanced accuracy %": pct(study.selection_score(run, base)),
                **summary_columns("test accuracy %", g, accuracy),
                "balanced accuracy %": pct(g.mean(balanced_accuracy)),
                **summary_columns("minority recall %", g, minority_recall),
                "minority precision %": pct(g.mean(minority_precision)),
                "majority recall %": pct(g.mean(majority_recall)),
                "minority AP": rate(g.mean(minority_ap)),
                "ECE": rate(g.mean(ece), 4),
                "s/epoch": num(g.mean(seconds_per_epoch)),
            }
        )
    return pd.DataFrame(rows)


def probe_rows(study, base: str) -> pd.DataFrame:
    rows = []
    for variant, run in {"none": base, **study.remedies[base]}.items():
        g = study.groups[run]
        if variant == study.reference or not (
            variant in ("none", "oversample") or g.cfg.get("remedy") == "augment"
        ):
            continue
        rows.append(
            {
                "run": run,
                "seeds": g.n,
                "minority recall %, clean": pct(
                    g.mean(probe("clean_test", "minority_recall_mean"))
                ),
                "minority recall %, transformed": pct(
                    g.mean(probe("transformed_test", "minority_recall_mean"))
                ),
                "majority called minority %, clean": pct(
                    g.mean(probe("clean_test", "majority_as_minority"))
                ),
                "majority called minority %, transformed": pct(
                    g.mean(probe("transformed_test", "majority_as_minority"))
                ),
            }
        )
        rows[-1]["shift (points)"] = round(
            rows[-1]["majority called minority %, transformed"]
            - rows[-1]["majority called minority %, clean"],
            2,
        )
    return pd.DataFrame(rows)


def probe_text(probe_df: pd.DataFrame, lit: str) -> list[str]:
    """What the transform probe says about the run that augments only the repeated classes,
    against the runs trained without a transform or with every class transformed: a transform
    cue shows as many more majority images called minority once the test set is transformed."""
    p = probe_df.set_index("run")
    shift = p["shift (points)"]
    others = shift.drop(lit)
    cue = (
        len(others) > 0
        and shift[lit] > 2 * max(others.max(), 0)
        and (p.loc[lit, "minority recall %, transformed"] > p.loc[lit, "minority recall %, clean"])
    )
    called = p.loc[lit, "majority called minority %, transformed"]
    called_clean = p.loc[lit, "majority called minority %, clean"]
    facts = (
        f"on the test set passed through the same random transform, {lit} finds the minority "
        f"classes with recall {text(p.loc[lit, 'minority recall %, transformed'], 2)}% (clean: "
        f"{text(p.loc[lit, 'minority recall %, clean'], 2)}%) and calls {text(called, 2)}% of the "
        f"majority images minority (clean: {text(called_clean, 2)}%)"
    )
    if cue:
        return [
            f"- Why augmenting only the rare classes hurts: {facts}; every other run in the "
            f"table shifts that share by at most {text(max(others.max(), 0), 2)} points. In its "
            "training only the repeated minority draws were transformed, so it learned "
            '"transformed" as a sign of the rare classes, a sign the clean test images lack.'
        ]
    return [
        f"- Augmenting only the rare classes: {facts}; the probe shows no transform cue beyond "
        "the other runs' (table)."
    ]


def section_remedies(study) -> list[str]:
    if not study.remedies:
        return []
    ref = study.reference
    lines = [
        "## 8. What helps against the imbalance",
        "",
        "Each remedy retrains the architecture on the same imbalanced split with one change "
        "(`src/blockbench/remedies.py`). The remedy is **chosen on validation**: the highest mean "
        "validation balanced accuracy (the mean per-class recall on the imbalanced hold-out, an "
        "estimate of accuracy on a balanced test set); the test set only reports it. "
        f"`{ref}` is the **balanced reference**: the same network trained without the imbalance.",
        "",
    ]
    bars, ref_lines, pr, rel, auc_rows = {}, {}, {}, {}, []
    for base in study.remedies:
        df = remedy_rows(study, base)
        best = study.selected_remedy(base)
        refrun = study.remedies[base][ref]
        row = df.set_index("run")
        lines += [f"### {study.groups[base].label}", "", study.tables(df, f"8_remedies_{base}")]
        lines += [
            f"- Chosen on validation: **{best}** (validation balanced accuracy "
            f"{text(row.loc[best, 'validation balanced accuracy %'], 2)}%, the mean over the "
            f"selection seeds every remedy has, {_seed_list(study.selection_seeds(base))}, as the "
            "table's validation column; its test columns are means over each run's own seeds, "
            "the comparisons below over the seeds both runs share).",
        ]
        for other, label in ((base, "no remedy"), (refrun, "the balanced reference")):
            for metric in ("minority recall", "accuracy"):
                k = study.cmp_key(best, other, metric)
                if k:
                    c = study.family[k]
                    lines.append(
                        f"- Against {label}, {metric} ({c.family}): {study.verdict_words(c)}."
                    )
        lines.append("")
        bars[study.groups[base].label] = {
            v: (
                row.loc[r, "minority recall %"],
                row.loc[r, "minority recall % lo"],
                row.loc[r, "minority recall % hi"],
            )
            for v, r in {"none": base, **study.remedy_candidates(base)}.items()
        }
        ref_lines[study.groups[base].label] = (
            f"{ref} (reference)",
            row.loc[refrun, "minority recall %"],
        )
        shown = {"none": base, **study.remedies[base]}
        pr[study.groups[base].label] = {
            v: pd.read_csv(study.root / paths.pr(study.groups[r].first.name))
            for v, r in shown.items()
        }
        rel[study.groups[base].label] = {
            v: pd.read_csv(study.root / paths.reliability(study.groups[r].first.name))
            for v, r in shown.items()
        }
        for v, r in shown.items():
            g = study.groups[r]
            auc_rows.append(
                {
                    "run": r,
                    "seeds": g.n,
                    **{
                        f"class {c}" + ("*" if c in g.first.minority else ""): rate(
                            g.mean(class_auc(c)), 4
                        )
                        for c in range(10)
                    },
                }
            )
        probe_df = probe_rows(study, base)
        lit = study.literal_augment_run(base)
        if lit and len(probe_df):
            lines += [
                study.tables(probe_df, f"8_transform_probe_{base}"),
                *probe_text(probe_df, lit),
                "",
            ]
    auc_df = pd.DataFrame(auc_rows)
    study_figures.bars(
        bars,
        study.figure("remedy_minority_recall"),
        "minority classes' mean test recall by remedy (mean, 95% CI over seeds)",
        "mean recall of the minority classes (%)",
        reference=ref_lines,
    )
    minority = next(iter(study.groups.values())).first.minority
    study_figures.pr_curves(
        pr,
        minority,
        study.figure("remedy_pr"),
        "precision-recall of the minority classes by remedy (first seed)",
    )
    study_figures.reliability(
        rel,
        study.figure("remedy_reliability"),
        f"reliability by remedy (test set, first seed; bins of at least "
        f"{study_figures.MIN_BIN_IMAGES} images)",
    )
    lines += [
        study.comparisons_table("8 ", "8_comparisons"),
        image(study.figure("remedy_minority_recall"), "minority recall by remedy"),
        "",
        "Per-class one-vs-rest ROC AUC (mean over seeds; * marks a minority class):",
        "",
        study.tables(auc_df, "8_per_class_auc"),
        image(study.figure("remedy_pr"), "precision-recall curves"),
        image(study.figure("remedy_reliability"), "reliability diagrams"),
        "",
    ]
    return lines


def _seed_list(seeds) -> str:
    """'seeds 0-2' for a run of consecutive seeds, else 'seeds 0, 2, 5'."""
    s = sorted(seeds)
    if not s:
        return "no seeds"
    if s == list(range(s[0], s[-1] + 1)) and len(s) > 2:
        return f"seeds {s[0]}–{s[-1]}"
    return "seed" + ("s " if len(s) > 1 else " ") + ", ".join(map(str, s))
