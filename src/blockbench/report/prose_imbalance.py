"""Sections on the data: hyperparameter sweeps, the imbalance and its remedies, every comparison,
and the headline (written last, shown first). Every number in a sentence is read from a table
the section writes."""

from __future__ import annotations

import math

import pandas as pd

from .. import paths, study_figures
from ..params import split_config
from . import claims
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
    val_balanced_accuracy,
    val_loss_jump,
)
from .tables import image, link_to, num, pct, rate, seeds_text, summary_columns, text


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
                        **summary_columns("accuracy %", g.values(accuracy)),
                        **summary_columns("minority recall", g.values(minority_recall), "rate"),
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
                "validation balanced accuracy %": pct(g.mean(val_balanced_accuracy)),
                **summary_columns("test accuracy %", g.values(accuracy)),
                "balanced accuracy %": pct(g.mean(balanced_accuracy)),
                **summary_columns("minority recall", g.values(minority_recall), "rate"),
                "minority precision": rate(g.mean(minority_precision)),
                "majority recall": rate(g.mean(majority_recall)),
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
                "minority recall, clean": rate(g.mean(probe("clean_test", "minority_recall_mean"))),
                "minority recall, transformed": rate(
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
        and (p.loc[lit, "minority recall, transformed"] > p.loc[lit, "minority recall, clean"])
    )
    called = p.loc[lit, "majority called minority %, transformed"]
    called_clean = p.loc[lit, "majority called minority %, clean"]
    facts = (
        f"on the test set passed through the same random transform, {lit} finds the minority "
        f"classes with recall {text(p.loc[lit, 'minority recall, transformed'], 3)} (clean: "
        f"{text(p.loc[lit, 'minority recall, clean'], 3)}) and calls {text(called, 2)}% of the "
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
        k_none = study.cmp_key(best, base, "accuracy")
        k_ref = study.cmp_key(best, refrun, "accuracy")
        c_ref = study.family[k_ref]
        if c_ref.result["p"] is None:
            reach = "cannot be compared with the balanced reference over seeds"
        elif c_ref.result["diff"] >= 0:
            reach = "reaches or passes the balanced reference"
        elif not c_ref.significant:
            reach = "is not distinguishable from the balanced reference"
        else:
            reach = "stays below the balanced reference"
        lines += [
            f"- Chosen on validation: **{best}** (validation balanced accuracy "
            f"{text(row.loc[best, 'validation balanced accuracy %'], 2)}%); on test its accuracy "
            f"is {text(row.loc[best, 'test accuracy %'], 2)}% against "
            f"{text(row.loc[base, 'test accuracy %'], 2)}% without a remedy and "
            f"{text(row.loc[refrun, 'test accuracy %'], 2)}% for the balanced reference.",
            f"- Against no remedy: {study.verdict_words(study.family[k_none])}.",
            f"- Against the balanced reference: {study.verdict_words(c_ref)}: {best} {reach}.",
            "",
        ]
        bars[study.groups[base].label] = {
            v: (
                row.loc[r, "minority recall"],
                row.loc[r, "minority recall lo"],
                row.loc[r, "minority recall hi"],
            )
            for v, r in {"none": base, **study.remedy_candidates(base)}.items()
        }
        ref_lines[study.groups[base].label] = (
            f"{ref} (reference)",
            row.loc[refrun, "minority recall"],
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
        "mean recall of the minority classes",
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


def section_comparisons(study) -> list[str]:
    rows = [study.comparison_row(k) for k in study.family.items]
    return [
        "## Every comparison (the family)",
        "",
        f"Paired t-tests over the training seeds two configurations share (same seed: same split "
        f"and initialisation order), 95% t-intervals of the mean difference, and "
        f"Holm–Bonferroni over these {study.family.size} tests at α = {study.alpha}: "
        '"significant" means a Holm-adjusted p below α. Test-set tests (McNemar) are not used: '
        "they measure test-set noise, not training noise.",
        "",
        study.tables(pd.DataFrame(rows), "comparisons"),
    ]


def headline(study, claims_df: pd.DataFrame) -> list[str]:
    s = study.study
    a, b = s["mobilenet"], s["plain"]
    arch = pd.read_csv(study.root / paths.TABLES / "1_architectures.csv").set_index("run")
    ratios = pd.read_csv(study.root / paths.TABLES / "1_ratios.csv").iloc[0]
    k = study.cmp_key(a, b, "accuracy")
    c = study.family[k]
    verdict, _ = study.time_verdict(study.groups[a], study.groups[b])
    speed = (
        "no measurable difference in training time per epoch"
        if verdict.startswith("cannot")
        else f"{a} trains {'faster' if verdict == 'holds' else 'slower'} per epoch on every seed"
    )
    counts = claims.counts(claims_df)
    split = study.groups[a].first.split
    data = pd.DataFrame(
        [
            {
                "dataset": study.groups[a].first.train["dataset"],
                "split": study.groups[a].cfg["split"],
                "minority classes": " ".join(map(str, study.groups[a].first.minority)),
                "keep fraction": split["config"]["keep_fraction"],
                "train images": split["sizes"]["train"],
                "validation images": split["sizes"]["val"],
                "test images": split["sizes"]["test"],
                "train/test": round(split["train_over_test"]["achieved"], 2),
            }
        ]
    )
    study.tables(data, "0_data")
    lines = [
        "# blockbench: MobileNet blocks vs plain convolution blocks on imbalanced data",
        "",
        "## Headline",
        "",
        f"1. **{a}** ({study.groups[a].blocks}, MobileNet blocks) reaches "
        f"{text(arch.loc[a, 'accuracy %'], 2)}% test accuracy and **{b}** "
        f"({study.groups[b].blocks}, plain) {text(arch.loc[b, 'accuracy %'], 2)}% "
        f"({seeds_text(study.groups[a].n)} and {seeds_text(study.groups[b].n)}); the "
        f"difference is {study.holm_text(c)}.",
        f"2. {b} has {text(ratios['parameters b / a'], 2)}× the parameters and "
        f"{text(ratios['MACs b / a'], 2)}× the multiply-accumulates of {a}; {speed}.",
        f"3. Data: {study.groups[a].first.train['dataset']}, classes "
        f"{', '.join(map(str, study.groups[a].first.minority))} keep "
        f"{split['config']['keep_fraction']} of their training images; "
        f"train/test = {text(data.loc[0, 'train/test'], 2)} (training images after the "
        "validation hold-out per test image).",
    ]
    for base in list(study.remedies)[:2]:
        best = study.selected_remedy(base)
        df = pd.read_csv(study.root / paths.TABLES / f"8_remedies_{base}.csv").set_index("run")
        before, after = df.loc[base, "minority recall"], df.loc[best, "minority recall"]
        k = study.cmp_key(best, base, "minority recall")
        c = study.family[k]
        lines.append(
            f"{len(lines) - 3}. Against the imbalance ({base}): {best}, chosen on validation, "
            f"{'raises' if after > before else 'lowers'} minority recall from "
            f"{text(before, 3)} to {text(after, 3)} ({study.holm_text(c)}; balanced reference: "
            f"{text(df.loc[study.remedies[base][study.reference], 'minority recall'], 3)})."
        )
    col = "original inside twin's 95% prediction interval"
    inside = int((claims_df[col] == "yes").sum())
    tested = int((claims_df[col] != "n/a").sum())
    lines += [
        f"{len(lines) - 3}. The original's claims: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + f"; its number lies inside the 95% prediction interval of its faithful twin (softmax "
        f"into the loss, last epoch) in {inside} of {tested} rows (table below).",
        f"{len(lines) - 2}. Statistics: seeds are the replicates; paired t-tests, Holm–Bonferroni "
        f"over {study.family.size} comparisons at α = {study.alpha}.",
        "",
        "<sub>Numbers from "
        + ", ".join(
            f"[`tables/{n}.csv`]({link_to(paths.TABLES / f'{n}.csv')})"
            for n in [
                "0_data",
                "1_architectures",
                "1_ratios",
                "claims",
                "comparisons",
                *[f"8_remedies_{b}" for b in list(study.remedies)[:2]],
            ]
        )
        + "</sub>",
        "",
    ]
    return lines
