"""The answers page: results/summary.md opens with the headline, then one short answer per question
of the study (at most two sentences, one table of at most eight columns, at most one figure and a
link to the appendix section that holds every table behind it), then the original's claims in one
small table. The sections the report wrote before (`prose_models`, `capacity`, ...) follow as the
appendix.

Every answer reads the tables those sections wrote this run (results/tables/*.csv) or the
corrected comparisons of `study.family`: nothing is computed twice, so an answer cannot disagree
with its appendix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from .. import paths
from . import capacity, claims, statistics
from .tables import image, link_to, text

ANSWERS = "## Answers"
APPENDIX = "## Appendix: every table and figure"
MAX_COLUMNS = 8  # an answer's table: readable on a phone-width page
MAX_SENTENCES = 2


@dataclass
class Answer:
    anchor: str  # the answer's id; its appendix section's is "a-" + anchor
    title: str
    words: str  # at most two sentences
    table: str = ""  # Markdown, at most MAX_COLUMNS columns
    figure: str = ""  # Markdown image
    sources: tuple = ()  # the tables (results/tables/<name>.csv) its sentence quotes beside its own


def _csv(study, name: str, text_first: bool = False, as_written: bool = False) -> pd.DataFrame:
    """A table a section wrote this run (empty where it wrote none); `text_first`: the first
    column is a label (a class), read as written; `as_written`: every cell as the text written
    (a p value as printed)."""
    path = study.root / paths.TABLES / f"{name}.csv"
    if not path.exists():
        return pd.DataFrame()
    if as_written:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    df = pd.read_csv(path)
    return pd.read_csv(path, dtype={df.columns[0]: str}) if text_first else df


def _diff_cell(study, c: statistics.Comparison) -> str:
    unit, scale, digits = study.units(c)
    r = c.result
    if r.get("p") is None:
        return "not tested"
    return (
        f"{scale * r['diff']:+.{digits}f} [{scale * r['lo']:+.{digits}f}, "
        f"{scale * r['hi']:+.{digits}f}] {unit}"
    )


def _simultaneous_cell(study, c: statistics.Comparison) -> str:
    """The Bonferroni-simultaneous 95% interval over the comparison's family, the one its
    Holm-corrected verdict agrees with (Bonferroni's intervals contain Holm's)."""
    unit, scale, digits = study.units(c)
    if c.simultaneous is None:
        return "n/a"
    lo, hi = c.simultaneous
    return f"[{scale * lo:+.{digits}f}, {scale * hi:+.{digits}f}] {unit}"


def comparison_table(study, comparisons: list[statistics.Comparison], name: str) -> str:
    """Eight columns: the comparison, the metric, its seeds, both means, the difference with its
    95% interval, its family's simultaneous 95% interval and the verdict (Holm-corrected within
    its family)."""
    rows = []
    for c in comparisons:
        unit, scale, digits = study.units(c)
        r = c.result
        rows.append(
            {
                "a − b": f"{c.a} − {c.b}",
                "metric": c.metric,
                "seeds": r["n"],
                "a": None if r.get("mean_a") is None else round(scale * r["mean_a"], digits),
                "b": None if r.get("mean_b") is None else round(scale * r["mean_b"], digits),
                "a − b [95% CI]": _diff_cell(study, c),
                "simultaneous 95% CI (family)": _simultaneous_cell(study, c),
                "verdict": study.verdict_label(c),
            }
        )
    return study.tables(pd.DataFrame(rows), name) if rows else ""


def _of_question(study, prefix: str, metric: str | None = None) -> list[statistics.Comparison]:
    return [
        c
        for c in study.family.items.values()
        if c.question.startswith(prefix) and (metric is None or c.metric == metric)
    ]


def _verdict_counts(comparisons: list[statistics.Comparison], study) -> str:
    """'2 different (1 higher, 1 lower), 0 equivalent and 3 inconclusive' over the rows."""
    labels = [study.verdict_label(c) for c in comparisons]
    higher = sum(lbl.startswith("different") and lbl.endswith("(higher)") for lbl in labels)
    lower = sum(lbl.startswith("different") and lbl.endswith("(lower)") for lbl in labels)
    same = sum(lbl == statistics.EQUIVALENT for lbl in labels)
    rest = len(labels) - higher - lower - same
    return (
        f"{higher} higher, {lower} lower, {same} equivalent and {rest} inconclusive "
        "(Holm-corrected verdicts in the table)"
    )


# ------------------------------------------------------------------------------ the questions
def q_architectures(study) -> Answer | None:
    s = study.study
    a, b = s["mobilenet"], s["plain"]
    key = study.cmp_key(a, b, "accuracy")
    arch = _csv(study, "1_architectures")
    if key is None or arch.empty:
        return None
    c = study.family[key]
    speed = _csv(study, "speed")
    step = {}
    for run in (a, b):
        sec = capacity.step_seconds(study, run)
        step[run] = None if sec is None else round(sec, 3)
    df = arch[["run", "blocks", "seeds", "accuracy %", "accuracy % lo", "accuracy % hi"]].copy()
    df["minority recall %"] = arch["minority recall %"]
    df["minority recall % lo"], df["minority recall % hi"] = (
        arch["minority recall % lo"],
        arch["minority recall % hi"],
    )
    df["parameters"] = arch["parameters"]
    df["MACs/image"] = arch["MACs/image"]
    df["s per training step (benchmark)"] = [step.get(r) for r in arch["run"]]
    ratios = _csv(study, "1_ratios")
    second = ""
    if len(ratios) and "parameters b / a" in ratios.columns:
        second = f" {b} has {text(ratios.iloc[0]['parameters b / a'], 2)}× the parameters of {a}"
    if len(speed):
        tr = speed[speed["quantity"] == "training step time"]
        if len(tr):
            r = tr.iloc[0]
            second += (
                f"; {r['a']} trains {text(r['a speed-up'], 3)}× [{text(r['a speed-up lo'], 3)}, "
                f"{text(r['a speed-up hi'], 3)}] as fast (benchmark stage)"
            )
    if second:
        later = (
            "the next answer"
            if capacity.spec(study) and study.family.members(capacity.FAMILY)
            else "the pre-registered equal-cost study once trained"
        )
        second += f": the pair differs in size, so the block type itself is answered by {later}."
    return Answer(
        "q-architectures",
        f"MobileNet blocks against plain blocks: {a} vs {b}",
        f"{study.verdict_words(c)}.{second}",
        study.tables(df, "answer_architectures"),
        image(study.figure("arch_curves"), "loss and accuracy curves"),
        ("comparisons", "1_ratios", "speed"),
    )


def q_equal_cost(study) -> Answer | None:
    words = capacity.headline(study)
    if not words:
        return None
    pairs = capacity.pair_rows(study)
    cols = [
        c
        for c in (
            "pair",
            "metric",
            "seeds",
            "a − b (pp)",
            "a − b (pp) lo",
            "a − b (pp) hi",
            "verdict",
            "TOST power",
        )
        if c in pairs.columns
    ]
    return Answer(
        "q-equal-cost",
        "Block type at equal cost (pre-registered)",
        words.replace("**", ""),
        study.tables(pairs[cols], "answer_equal_cost"),
        image(study.figure("capacity_pareto"), "accuracy and minority recall against cost"),
        ("capacity_pairs", "capacity_matching"),
    )


def q_block_counts(study) -> Answer | None:
    rows = _of_question(study, "2 block counts")
    if not rows:
        return None
    base = study.study["block_counts"][0]
    return Answer(
        "q-block-counts",
        "Block counts",
        f"Against {base}, {len(rows)} other block count{'s' if len(rows) != 1 else ''}: "
        f"{_verdict_counts(rows, study)} "
        "(test accuracy; the larger networks also have more parameters, table in the appendix).",
        comparison_table(study, rows, "answer_block_counts"),
        image(study.figure("block_counts_curves"), "block count curves"),
    )


def q_per_class(study) -> Answer | None:
    df = _csv(study, "3_per_class")
    if df.empty:
        return None
    a, b = study.study["mobilenet"], study.study["plain"]
    keep = ["class", f"{a} recall %", f"{a} F1 %", f"{b} recall %", f"{b} F1 %", "test images"]
    small = df[[c for c in keep if c in df.columns]]
    worst = {run: small.loc[small[f"{run} recall %"].idxmin()] for run in (a, b)}
    words = "; ".join(
        f"{run}'s lowest recall is class {r['class']} ({text(r[f'{run} recall %'], 2)}%)"
        for run, r in worst.items()
    )
    return Answer(
        "q-per-class",
        "Confusion matrix and per-class precision, recall, F1",
        f"Means over seeds, * marks a minority class: {words}.",
        study.tables(small, "answer_per_class"),
        image(study.run_figure(a, "confusion"), f"confusion matrix of {a}"),
    )


def q_examples(study) -> Answer | None:
    df = _csv(study, "4_misclassified_per_class", text_first=True)
    if df.empty:
        return None
    cols = list(df.columns[1:])
    words = "; ".join(
        f"{c.split(' misclassified')[0]} misclassifies class "
        f"{df.loc[df[c].idxmax(), df.columns[0]]} most often ({text(df[c].max(), 1)} test images)"
        for c in cols
    )
    a = study.study["mobilenet"]
    return Answer(
        "q-examples",
        "Correct and wrong predictions",
        f"Mean over seeds: {words}.",
        study.tables(df, "answer_examples"),
        image(study.run_figure(a, "wrong"), f"wrong predictions of {a}"),
    )


def q_filters(study) -> Answer | None:
    from .. import architecture

    rows = []
    for run in (study.study["mobilenet"], study.study["plain"]):
        if run not in study.groups:
            continue
        spec = architecture.plan_of(study.groups[run].cfg)[-1]
        if spec.kind == "mobilenet":
            shapes = {
                "depthwise filters": f"[{spec.in_channels}, 1, 3, 3]",
                "pointwise filters": f"[{spec.out_channels}, {spec.in_channels}, 1, 1]",
            }
        else:
            shapes = {"3×3 filters": f"[{spec.out_channels}, {spec.in_channels}, 3, 3]"}
        rows.append({"run": run, "last block": spec.kind, **shapes})
    if not rows:
        return None
    a = study.study["mobilenet"]
    return Answer(
        "q-filters",
        "Learned filters of the last convolution layer",
        "Shown, not tested: the last block's filters of one seed per architecture (the "
        "appendix has every kind of both).",
        study.tables(pd.DataFrame(rows), "answer_filters"),
        image(study.run_figure(a, "filters_depthwise"), f"depthwise filters of {a}")
        if "depthwise filters" in rows[0]
        else "",
    )


def q_side_by_side(study) -> Answer | None:
    df = _csv(study, "6_roc_auc")
    if df.empty:
        return None
    words = "; ".join(
        f"{r['run']} {text(r['macro ROC AUC'], 3)} [{text(r['macro ROC AUC lo'], 3)}, "
        f"{text(r['macro ROC AUC hi'], 3)}] over {int(r['seeds'])} seeds"
        for _, r in df.iterrows()
    )
    return Answer(
        "q-side-by-side",
        "With vs without MobileNet blocks: ROC, curves, confusion, t-SNE",
        f"Macro ROC AUC on the test set: {words}.",
        study.tables(df, "answer_roc_auc"),
        image(study.figure("side_by_side_roc"), "ROC curves side by side"),
    )


def q_sweeps(study) -> Answer | None:
    rows = _of_question(study, "7 ")
    if not rows:
        return None
    keys = sorted({c.question[2:] for c in rows})
    return Answer(
        "q-sweeps",
        "Hyperparameters: " + ", ".join(keys),
        f"Each setting against the default, test accuracy: {_verdict_counts(rows, study)} "
        f"of {len(rows)} comparisons.",
        comparison_table(study, rows, "answer_sweeps"),
    )


def q_remedies(study) -> Answer | None:
    rows = [c for c in _of_question(study, "8 remedies") if c.family == "primary"]
    if not rows:
        return None
    chosen = [study.selected_remedy(b) for b in study.remedies]
    chosen = [c for c in chosen if c]
    return Answer(
        "q-remedies",
        "What helps against the imbalance",
        f"Chosen on validation: {', '.join(chosen)}; each against no remedy and against the "
        f"network trained on balanced data (primary comparisons): "
        f"{_verdict_counts(rows, study)}.",
        comparison_table(study, rows, "answer_remedies"),
        image(study.figure("remedy_minority_recall"), "minority recall by remedy"),
    )


def _severity_gaps(study, term: str) -> dict[str, tuple[str, str]]:
    """Per arm, what the pooled model's Holm-adjusted interaction says, with its Holm p."""
    pooled = _csv(study, "severity_pooled_model", as_written=True)
    if "gap with rho" not in pooled.columns:
        return {}
    rows = pooled[pooled["term"] == term]
    return {r["arm"]: (r["gap with rho"], r["Holm p"]) for _, r in rows.iterrows()}


def q_severity(study) -> Answer | None:
    ratios = _csv(study, "severity_threshold_ratio")
    if len(ratios):
        a, b = study.study["mobilenet"], study.study["plain"]
        cols = [
            "arm",
            "remedies",
            "seeds",
            "threshold ratio",
            "threshold ratio lo",
            "threshold ratio hi",
            "width ×",
            "verdict",
        ]
        shown = ratios[[c for c in cols if c in ratios.columns]].copy()
        gap = _severity_gaps(study, f"{a} − {b} per tenfold rho")
        as_written = _csv(study, "severity_threshold_ratio", as_written=True)  # p values as printed
        holm = dict(zip(as_written["arm"], as_written["p (Holm)"])) if "p (Holm)" in ratios else {}
        if gap:  # issue 36 item 5b: whether the gap grows with ρ, from the pooled model
            shown["gap with ρ (Holm p)"] = [
                f"{gap[arm][0]} ({gap[arm][1]})" if arm in gap else "" for arm in shown["arm"]
            ]
        words = "; ".join(
            f"{r['arm']} {text(r['threshold ratio'], 2)} [{text(r['threshold ratio lo'], 2)}, "
            f"{text(r['threshold ratio hi'], 2)}] ({r['verdict']}"
            + (f", Holm p {holm[r['arm']]}" if r["arm"] in holm else "")
            + (
                f"; gap with ρ {gap[r['arm']][0]}, Holm p {gap[r['arm']][1]}"
                if r["arm"] in gap
                else ""
            )
            + ")"
            for _, r in shown.iterrows()
        )
        below = (
            f"{float(ratios['threshold %'].iloc[0]):g}%"
            if "threshold %" in ratios.columns
            else "the threshold"
        )
        pooled = (
            f" The gap with ρ is the {a} − {b} interaction of the pooled model over every level, "
            "Holm-adjusted over the arms."
            if gap
            else ""
        )
        return Answer(
            "q-severity",
            "How much imbalance each block type tolerates",
            f"The imbalance ρ at which minority recall falls below {below}, {a} over {b} "
            f"paired by seed (above 1: {a} tolerates more; the same-remedy arm says whether one "
            f"remedy closes the gap): {words}.{pooled}",
            study.tables(shown, "answer_severity"),
            image(study.figure("severity"), "minority recall against imbalance"),
            sources=("severity_threshold_ratio",) + (("severity_pooled_model",) if gap else ()),
        )
    df = _csv(study, "severity_threshold")
    if df.empty:
        return None
    cols = [
        c
        for c in (
            "architecture",
            "remedy",
            "threshold %",
            "seeds",
            "rho at threshold",
            "rho at threshold lo",
            "rho at threshold hi",
        )
        if c in df.columns
    ]
    words = "; ".join(
        f"{r['architecture']} ({r['remedy']}) {text(r['rho at threshold'], 1)} "
        f"[{text(r['rho at threshold lo'], 1)}, {text(r['rho at threshold hi'], 1)}]"
        for _, r in df.iterrows()
    )
    return Answer(
        "q-severity",
        "How much imbalance each block type tolerates",
        f"The imbalance ρ at which minority recall falls below "
        f"{text(df['threshold %'].iloc[0], 2)}% (95% interval): {words}.",
        study.tables(df[cols], "answer_severity"),
        image(study.figure("severity"), "minority recall against imbalance"),
    )


QUESTIONS = (
    q_architectures,
    q_equal_cost,
    q_block_counts,
    q_per_class,
    q_examples,
    q_filters,
    q_side_by_side,
    q_sweeps,
    q_remedies,
    q_severity,
)


# ------------------------------------------------------------------------------ the claims
def claims_table(study, df: pd.DataFrame) -> tuple[str, str]:
    """One row per claim, in the original's order: whether it holds in a correct pipeline and
    whether its twin reproduces the original's number; the rule stated once above the table."""
    rows = []
    for (number, claim), g in df.groupby(["#", "claim (original report)"], sort=False):
        tested = g[g["reproduced by the twin"].isin(["yes", "no"])]
        holds = list(dict.fromkeys(g["holds in a correct pipeline"]))
        rows.append(
            {
                "#": int(number),
                "claim (original report)": claim,
                "holds in a correct pipeline": " / ".join(holds),
                "original's number reproduced by its twin": (
                    f"{(tested['reproduced by the twin'] == 'yes').sum()} of {len(tested)} rows"
                    if len(tested)
                    else "n/a"
                ),
                "evidence": g["because"].iloc[0],
            }
        )
    out = pd.DataFrame(rows).sort_values("#", kind="stable")
    rule = (
        "A claim of sameness holds only after an equivalence test passes, and a difference the "
        "tests cannot tell is inconclusive; the twin (the configuration in the original's "
        f"pipeline) reproduces the original's number by this rule: {claims.TWIN_RULE}."
    )
    return rule, study.tables(out, "answer_claims")


# ------------------------------------------------------------------------------ the page
def page(study, headline: list[str], claims_df: pd.DataFrame, body: list[str]) -> list[str]:
    """The headline, the answers, the claims, then `body` (the sections) as the appendix."""
    answers = [a for q in QUESTIONS if (a := q(study)) is not None]
    lines = list(headline)
    lines += [ANSWERS, ""]
    lines += [f"- [{a.title}](#{a.anchor})" for a in answers]
    lines += ["- [The original's claims](#q-claims)", "- [Appendix](#appendix)", ""]
    for a in answers:
        lines += [
            f'<a id="{a.anchor}"></a>',
            "",
            f"### {a.title}",
            "",
            a.words,
            "",
        ]
        if a.table:
            lines += [a.table, ""]
        if a.figure:
            lines += [a.figure, ""]
        if a.sources:
            lines += [
                "<sub>Its sentence also quotes "
                + ", ".join(
                    f"[`tables/{n}.csv`]({link_to(paths.TABLES / f'{n}.csv')})" for n in a.sources
                )
                + "</sub>",
                "",
            ]
        lines += [f"[Details in the appendix](#a-{a.anchor})", ""]
    if len(claims_df):
        rule, table = claims_table(study, claims_df)
        lines += ['<a id="q-claims"></a>', "", "### The original's claims", "", rule, "", table]
        lines += ["[Details in the appendix](#a-q-claims)", ""]
    lines += ['<a id="appendix"></a>', "", APPENDIX, ""]
    lines += _anchored(body)
    return lines


# the appendix section each answer links to: the first line of the section's heading
SECTION_OF = {
    "## The original report, claim by claim": "q-claims",
    "## Block type at equal cost": "q-equal-cost",
    "## 1. ": "q-architectures",
    "## 2. ": "q-block-counts",
    "## 3. ": "q-per-class",
    "## 4. ": "q-examples",
    "## 5. ": "q-filters",
    "## 6. ": "q-side-by-side",
    "## 7. ": "q-sweeps",
    "## 8. ": "q-remedies",
    "## 9. ": "q-severity",
}


def _anchored(body: list[str]) -> list[str]:
    """The sections as they were written, each answered one with its anchor before it."""
    out = []
    for block in body:
        for line in block.split("\n"):
            for start, anchor in SECTION_OF.items():
                if line.startswith(start):
                    out += [f'<a id="a-{anchor}"></a>', ""]
                    break
            out.append(line)
    return out


def answers_part(text_md: str) -> str:
    """The answers part of a summary: from the Answers heading to the appendix."""
    start = text_md.index(ANSWERS)
    return text_md[start : text_md.index(APPENDIX, start)]


def table_widths(md: str) -> list[int]:
    """The number of columns of each Markdown table in `md` (its header rows)."""
    widths, prev = [], ""
    for line in md.split("\n"):
        if re.fullmatch(r"\|(---\|)+", line.strip()) and prev.startswith("|"):
            widths.append(line.strip().count("---"))
        prev = line
    return widths


def sentences(words: str) -> int:
    """Sentences in a paragraph: a full stop, then a space and a capital letter or a digit-free
    word start; decimals and 'vs.' do not end one."""
    return len([s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*(])", words.strip()) if s])
