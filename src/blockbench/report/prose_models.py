"""Sections on the models: the original's claims, architectures, block counts, per-class metrics,
examples, filters, and the two architectures side by side. Each returns Markdown lines; every
number in a sentence is read from the table the section writes just before it."""

from __future__ import annotations

import pandas as pd

from .. import architecture, paths, study_figures
from . import claims, prose_answers
from .runs import (
    Group,
    accuracy,
    auc_macro,
    class_ap,
    class_auc,
    class_metric,
    inference_us,
    macro_f1,
    minority_recall,
    seconds_per_epoch,
)
from .tables import image, link_to, num, pct, rate, seeds_text, summary_columns, text


def config_rows(study, names: list[str]) -> pd.DataFrame:
    rows = []
    for name in names:
        g: Group = study.groups[name]
        t = g.values(seconds_per_epoch)
        rows.append(
            {
                "run": name,
                "blocks": g.blocks,
                "seeds": g.n,
                **summary_columns("accuracy %", g, accuracy),
                **summary_columns("macro-F1 %", g, macro_f1),
                **summary_columns("minority recall %", g, minority_recall),
                "parameters": int(g.first.train["parameters"]),
                "MACs/image": int(g.first.train["macs_per_image"]),
                "s/epoch": num(t.mean()),
                "s/epoch min": num(t.min()),
                "s/epoch max": num(t.max()),
                "inference µs/image": num(g.values(inference_us).mean(), 1),
            }
        )
    return pd.DataFrame(rows)


def section_claims(study) -> tuple[list[str], pd.DataFrame]:
    df = claims.build(study)
    twins = []
    for base, twin in study.twins.items():
        gb, gt = study.groups[base], study.groups[twin]
        twins.append(
            {
                "configuration": base,
                "original %": claims.original_numbers(study.study).get(base),
                "seeds": gb.n,
                **summary_columns("ours %", gb, accuracy),
                "twin": twin,
                "twin seeds": gt.n,
                **summary_columns("twin %", gt, accuracy),
                **summary_columns("twin minority recall %", gt, minority_recall),
            }
        )
    twins_df = pd.DataFrame(twins)
    lines = [
        "## The original report, claim by claim",
        "",
        "Our number is the mean over seeds with its 95% t-interval; the twin is the same "
        "configuration in the original's pipeline (softmax fed into CrossEntropyLoss, the last "
        "epoch's model). Two questions per claim: is the original's number **reproduced by the "
        "twin** (inside the twin's 95% prediction interval for one run, whose width is shown; "
        "where every twin seed gives the same value, the exact interval of its pooled counts), and "
        "does the claim **hold in a correct pipeline** (our runs; a sameness claim holds only "
        "after an equivalence test passes, and a difference the tests cannot tell is "
        "inconclusive). The original's small differences are also tested twin against twin. "
        f"The twin's rule, in every row where it applies: {claims.TWIN_RULE}.",
        "",
        study.tables(df, "claims", shown=[c for c in df.columns if c != "rule (twin)"]),
    ]
    if len(twins_df):
        floor = claims.softmax_ce_floor()
        study_figures.bars(
            {
                "ours (logits into the loss, best epoch)": {
                    r["configuration"]: (r["ours %"], r["ours % lo"], r["ours % hi"])
                    for _, r in twins_df.iterrows()
                },
                "twins (softmax into the loss, last epoch)": {
                    r["configuration"]: (r["twin %"], r["twin % lo"], r["twin % hi"])
                    for _, r in twins_df.iterrows()
                },
            },
            study.figure("twins"),
            "test accuracy per configuration: this study's pipeline and the original's",
            "test accuracy % (mean, 95% CI over seeds)",
            markers={
                "twins (softmax into the loss, last epoch)": {
                    r["configuration"]: r["original %"]
                    for _, r in twins_df.iterrows()
                    if pd.notna(r["original %"])
                }
            },
        )
        inside = df[df["reproduced by the twin"] == "yes"]
        tested = df[df["reproduced by the twin"].isin(["yes", "no"])]
        lines += [
            "Every configuration the original reported, in both pipelines:",
            "",
            study.tables(twins_df, "twins"),
            image(study.figure("twins"), "ours vs the twins, with the original's numbers"),
            "",
            *(
                [
                    f"The confusion matrix of {study.twin_of(study.study['mobilenet'])} (first "
                    "seed), the original's pipeline:",
                    "",
                    image(
                        study.run_figure(study.twin_of(study.study["mobilenet"]), "confusion"),
                        "confusion matrix of the twin",
                    ),
                    "",
                ]
                if study.twin_of(study.study["mobilenet"])
                else []
            ),
            f"- The original's number lies inside the twin's 95% prediction interval in "
            f"{len(inside)} of {len(tested)} claim rows with a twin (table above).",
            f"- Softmax fed into CrossEntropyLoss cannot bring the loss below "
            f"log(1 + 9/e) = {floor:.3f}; a uniform prediction costs log 10 = "
            f"{claims.uniform_loss():.3f} (claim 3's rows).",
            "",
        ]
    return lines, df


def section_architectures(study) -> list[str]:
    s = study.study
    a, b = s["mobilenet"], s["plain"]
    ga, gb = study.groups[a], study.groups[b]
    df = config_rows(study, [a, b])
    study_figures.mean_curves(
        {ga.label: [r.history for r in ga.runs], gb.label: [r.history for r in gb.runs]},
        study.figure("arch_curves"),
        f"{a} vs {b}: loss and accuracy per epoch (mean over seeds, range shaded)",
    )
    plan = architecture.plan_of(ga.cfg)
    blocks = architecture.block_costs(plan)
    cost = pd.DataFrame(
        [
            {
                "block": r["block"],
                "M→N channels": f"{r['in_channels']}→{r['out_channels']}",
                "output size": f"{r['output_size']}×{r['output_size']}",
                "plain MACs": r["plain_macs"],
                "separable MACs": r["separable_macs"],
                "ratio": rate(r["separable_macs"] / r["plain_macs"], 4),
                "1/N + 1/9": rate(1 / r["out_channels"] + 1 / 9, 4),
            }
            for r in blocks
            if r["kind"] == "mobilenet"
        ]
    )
    pa, pb = ga.first.train["parameters"], gb.first.train["parameters"]
    ma, mb = ga.first.train["macs_per_image"], gb.first.train["macs_per_image"]
    ratios = pd.DataFrame(
        [
            {
                "a": a,
                "b": b,
                "parameters b / a": num(pb / pa),
                "MACs b / a": num(mb / ma),
                "s/epoch a / b": num(ga.mean(seconds_per_epoch) / gb.mean(seconds_per_epoch)),
            }
        ]
    )
    speed_df = prose_answers.speed_table(study)
    speed = prose_answers.speed_words(speed_df, a, b)
    key = study.cmp_key(a, b, "accuracy")
    curves = study.cmp_key(a, b, "validation loss, last epoch")
    return [
        f"## 1. MobileNet blocks vs plain blocks: {ga.label} vs {gb.label}",
        "",
        study.tables(df, "1_architectures"),
        image(study.figure("arch_curves"), "loss and accuracy curves"),
        "",
        study.comparisons_table("1 ", "1_comparisons"),
        f"- Accuracy: {study.verdict_words(study.family[key])}." if key else "",
        f"- Curves: {study.verdict_words(study.family[curves])}." if curves else "",
        f"- Size: {a} has {pa:,} parameters and {ma:,} multiply-accumulates (MACs) per image; "
        f"{b} has {text(num(pb / pa), 2)}× the parameters and {text(num(mb / ma), 2)}× the MACs.",
        f"- Speed: {speed}. The table's seconds per epoch come from the training runs, which "
        "shared the cores with other work: provenance, not evidence.",
        "",
        study.tables(speed_df, "speed") if len(speed_df) else "",
        "",
        study.tables(ratios, "1_ratios"),
        "**Why.** A 3×3 convolution from M to N channels costs H·W·9·M·N MACs; the "
        "depthwise-separable block (depthwise 3×3, then pointwise 1×1) costs H·W·(9·M + M·N), "
        "a share of 1/N + 1/9 (MobileNet v1, eq. 5). Per MobileNet block of "
        f"{a} against a plain block with the same channels and stride (closed form, checked "
        "against torch's flop counter by the tests):",
        "",
        study.tables(cost, "1_block_costs"),
        *_time_at_equal_macs(study),
    ]


def _time_at_equal_macs(study) -> list[str]:
    """The measured time ratio of the MAC-matched pairs (section 'Block type at equal cost'):
    fewer MACs need not mean less time."""
    from . import capacity

    if not capacity.spec(study):
        return []
    df = capacity.match_table(study)
    df = df[(df["matched on"] == capacity.COSTS["macs"]) & df["step time a / b"].notna()]
    matching = paths.TABLES / "capacity_matching.csv"  # written by the capacity section
    if not len(df):
        return []
    return [
        f"- At equal MACs ({r['a']} vs {r['b']}: {r['MACs a / b']}× the MACs) a training step "
        f"of {r['a']} takes {r['step time a / b']}× the time of {r['b']} (benchmark stage, "
        "median of its repeats): MACs do not set the time (a depthwise convolution does little "
        "arithmetic per byte it moves, a likely cause this study does not measure)."
        for _, r in df.iterrows()
    ] + ["", f"<sub>Numbers from [`tables/capacity_matching.csv`]({link_to(matching)})</sub>", ""]


def section_block_counts(study) -> list[str]:
    names = study.study["block_counts"]
    groups = [study.groups[n] for n in names]
    df = config_rows(study, names)
    study_figures.mean_curves(
        {g.label: [r.history for r in g.runs] for g in groups},
        study.figure("block_counts_curves"),
        "block counts: loss and accuracy per epoch (mean over seeds, range shaded)",
    )
    base = names[0]
    lines = [
        f"- {study.verdict_words(study.family[k])}."
        for n in names[1:]
        if (k := study.cmp_key(n, base, "accuracy"))
    ]
    return [
        "## 2. Block counts",
        "",
        study.tables(df, "2_block_counts"),
        image(study.figure("block_counts_curves"), "block count curves"),
        "",
        study.comparisons_table("2 ", "2_comparisons"),
        *lines,
        "",
    ]


def section_confusion(study) -> list[str]:
    s = study.study
    ga, gb = study.groups[s["mobilenet"]], study.groups[s["plain"]]
    minority = ga.first.minority
    rows = []
    for c in sorted(ga.first.metrics["per_class"], key=int):
        row = {"class": c + ("*" if int(c) in minority else "")}
        for g in (ga, gb):
            for key, col in (("precision", "precision"), ("recall", "recall"), ("f1-score", "F1")):
                row[f"{g.name} {col} %"] = pct(g.mean(class_metric(c, key)))
            row[f"{g.name} AP"] = rate(g.mean(class_ap(c)))
            row[f"{g.name} ROC AUC"] = rate(g.mean(class_auc(c)), 4)
        row["test images"] = int(ga.first.metrics["per_class"][c]["support"])
        rows.append(row)
    figs = " | ".join(
        image(study.run_figure(g.name, "confusion"), f"confusion {g.name}") for g in (ga, gb)
    )
    return [
        "## 3. Confusion matrix and per-class precision, recall, F1 (test set)",
        "",
        f"Means over {seeds_text(ga.n)} ({ga.name}) and {seeds_text(gb.n)} ({gb.name}); * marks "
        "a minority class; precision, recall and F1 in %; AP is the average precision (area under "
        "the class's precision-recall curve) and ROC AUC the area under the ROC curve, both as "
        "fractions. The matrices show the first seed.",
        "",
        study.tables(pd.DataFrame(rows), "3_per_class"),
        f"| {ga.name} | {gb.name} |\n|---|---|\n| {figs} |",
        "",
    ]


def section_examples(study) -> list[str]:
    s = study.study
    groups = [study.groups[s["mobilenet"]], study.groups[s["plain"]]]
    cols = {}
    for g in groups:
        wrong = [
            pd.Series(r.y_true[~r.correct]).value_counts().reindex(range(10), fill_value=0)
            for r in g.runs
        ]
        cols[f"{g.name} misclassified (mean over {seeds_text(g.n)})"] = [
            num(sum(w[c] for w in wrong) / g.n, 1) for c in range(10)
        ]
    table = pd.DataFrame({"true class": [str(c) for c in range(10)], **cols})
    return [
        "## 4. Correct and wrong predictions",
        "",
        "Each tile reads `true → predicted (probability of the predicted class)`; first seed.",
        "",
        study.tables(table, "4_misclassified_per_class"),
        *[
            f"**{g.name}**: correct {image(study.run_figure(g.name, 'correct'), 'correct')} "
            f"wrong {image(study.run_figure(g.name, 'wrong'), 'wrong')}\n"
            for g in groups
        ],
    ]


def section_filters(study) -> list[str]:
    lines = ["## 5. Learned filters of the last convolution layer", ""]
    for name in (study.study["mobilenet"], study.study["plain"]):
        spec = architecture.plan_of(study.groups[name].cfg)[-1]
        if spec.kind == "mobilenet":
            lines.append(
                f"**{name}**, last block: depthwise [{spec.in_channels}, 1, 3, 3] and pointwise "
                f"[{spec.out_channels}, {spec.in_channels}, 1, 1] filters (first seed)."
            )
            kinds = ("depthwise", "pointwise")
        else:
            lines.append(
                f"**{name}**, last block: 3×3 convolution [{spec.out_channels}, "
                f"{spec.in_channels}, 3, 3]; each tile is a filter's kernel averaged over its "
                "input channels (first seed)."
            )
            kinds = ("conv",)
        lines += [
            "",
            *[image(study.run_figure(name, f"filters_{k}"), f"{k} filters") for k in kinds],
            "",
        ]
    return lines


def section_side_by_side(study) -> list[str]:
    s = study.study
    ga, gb = study.groups[s["mobilenet"]], study.groups[s["plain"]]
    auc = pd.DataFrame(
        [
            {
                "run": g.name,
                "seeds": g.n,
                **summary_columns("macro ROC AUC", g, auc_macro, "rate"),
            }
            for g in (ga, gb)
        ]
    )
    lines = [
        "## 6. With vs without MobileNet blocks, side by side",
        "",
        study.tables(auc, "6_roc_auc"),
    ]
    for kind, title in (
        ("roc", "ROC curves"),
        ("loss", "Loss curves"),
        ("accuracy", "Accuracy curves"),
        ("confusion", "Confusion matrices"),
        ("tsne", "t-SNE of the penultimate features"),
    ):
        out = study.figure(f"side_by_side_{kind}")
        study_figures.side_by_side(
            {g.label: study.run_figure(g.name, kind) for g in (ga, gb)},
            out,
            f"{title}: with ({ga.name}, left) vs without ({gb.name}, right) MobileNet blocks",
        )
        lines += [f"**{title}** (first seed).", "", image(out, title), ""]
    return lines
