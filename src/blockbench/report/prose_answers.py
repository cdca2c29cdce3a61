"""The study's answers: the headline (written last, shown first), the primary comparisons with
their power, the ablation that isolates the cause of the original's collapse, the data's share of
the variance (other splits), the speed benchmark, and the table of every comparison. Every number
in a sentence is read from a table the section writes or links."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import paths
from ..storage import read_json
from . import capacity, claims, statistics
from .runs import accuracy, minority_recall
from .tables import link_to, num, p_value, pct, seeds_text, summary_columns, text

METRIC_GETTERS = {"accuracy": accuracy, "minority recall": minority_recall}

SPEED_METRICS = {  # comparison metric -> benchmark JSON key
    "training step time": "train_step_seconds",
    "inference time per image": "inference_seconds_per_image",
}


# ------------------------------------------------------------------------------------ the ceiling
def ceiling(study) -> dict:
    """The minority classes' share of the test set and the accuracy of a model that never
    predicts them (every other image right): the collapse's ceiling."""
    r = study.groups[study.study["mobilenet"]].first
    rare = int(np.isin(r.y_true, r.minority).sum())
    n = len(r.y_true)
    return {
        "test images": n,
        "minority test images": rare,
        "minority share %": pct(rare / n),
        "ceiling %": pct(1 - rare / n),
    }


# ------------------------------------------------------------------------------------ speed
def benchmark(study, run: str) -> dict | None:
    path = study.root / paths.benchmark(run)
    return read_json(path) if path.exists() else None


def declare_speed(study, family: str, kind: str) -> None:
    """Paired comparisons of log times, repeat by repeat (the benchmark interleaves the two
    architectures within each repeat): a − b of ln(seconds) is the log of the time ratio."""
    a, b = study.study["mobilenet"], study.study["plain"]
    ba, bb = benchmark(study, a), benchmark(study, b)
    if not ba or not bb:
        return
    margin = study.margins.get("speed")
    for i, (metric, key) in enumerate(SPEED_METRICS.items()):
        study.family.add(
            "1 architectures",
            a,
            b,
            metric,
            dict(enumerate(np.log(ba[key]))),
            dict(enumerate(np.log(bb[key]))),
            family if i == 0 else "secondary",
            kind if i == 0 else "difference",
            None if margin is None else math.log(1 + margin / 100),
        )


def speed_table(study) -> pd.DataFrame:
    """Per timed quantity: b's time over a's (how many times as fast a is), its 95% interval from
    the paired repeats, and the MAC ratio beside it."""
    a, b = study.study["mobilenet"], study.study["plain"]
    ba, bb = benchmark(study, a), benchmark(study, b)
    rows = []
    for metric in SPEED_METRICS:
        key = study.cmp_key(a, b, metric)
        if key is None:
            continue
        c = study.family[key]
        r = c.result
        m = ba["machine"]
        rows.append(
            {
                "quantity": metric,
                "a": a,
                "b": b,
                "repeats": r["n"],
                # a − b = ln(t_a / t_b); b's time over a's is exp(−(a − b))
                "a speed-up": num(math.exp(-r["diff"]), 3),
                "a speed-up lo": num(math.exp(-r["hi"]), 3),
                "a speed-up hi": num(math.exp(-r["lo"]), 3),
                "verdict": (
                    ("faster" if r["diff"] < 0 else "slower")
                    if statistics.is_different(c.verdict)
                    else c.verdict
                ),
                "p (Holm)": p_value(c.p_holm),
                "MACs b / a": num(bb["macs_per_image"] / ba["macs_per_image"], 2),
                "batch": ba["batch_size"],
                "device": m["device"],
                "cpu": m["cpu_model"],
                "threads": m["threads"],
                "torch": m["torch"],
            }
        )
    return pd.DataFrame(rows)


def speed_words(df: pd.DataFrame, a: str, b: str) -> str:
    """'c1m3 trains 1.76× [1.70, 1.82] and infers 2.01× [...] as fast as c4 (...)'."""
    if not len(df):
        return f"speed: not measured (no benchmark of {a} and {b}: run the benchmark stage)"
    d = df.set_index("quantity")
    parts = []
    for metric, verb in (("training step time", "trains"), ("inference time per image", "infers")):
        if metric in d.index:
            r = d.loc[metric]
            p = str(r["p (Holm)"])
            parts.append(
                f"{verb} {text(r['a speed-up'], 3)}× [{text(r['a speed-up lo'], 3)}, "
                f"{text(r['a speed-up hi'], 3)}] as fast ({r['verdict']}, Holm p "
                f"{p if p.startswith('<') else '= ' + p})"
            )
    r = d.iloc[0]
    return (
        f"{a} {' and '.join(parts)} as {b}, for {text(r['MACs b / a'], 2)}× fewer MACs "
        f"(benchmark stage: {int(r['repeats'])} paired repeats, {r['device']}, "
        f"{int(r['threads'])} threads)"
    )


# ------------------------------------------------------------------------------------ ablations
def ablation_table(study) -> pd.DataFrame:
    rows = []
    names = dict.fromkeys(n for run, base in study.ablation_pairs() for n in (base, run))
    for name in names:  # each base run, then its ablations and its twin
        g = study.groups[name]
        mr = g.interval(minority_recall)
        rows.append(
            {
                "run": name,
                "blocks": g.blocks,
                "loss input": g.cfg["loss_input"],
                "model kept": g.cfg["select"],
                "seeds": g.n,
                **summary_columns("accuracy %", g, accuracy),
                **summary_columns("minority recall %", g, minority_recall),
                "collapsed": "yes"
                if mr["hi"] is not None and mr["hi"] < claims.ZERO_RECALL
                else "no",
                "collapse: minority recall under %": pct(claims.ZERO_RECALL),
            }
        )
    return pd.DataFrame(rows)


def cause(df: pd.DataFrame) -> str | None:
    """Which change of the twin collapses minority recall, from the ablation table: 'softmax into
    the loss', 'keeping the last epoch', 'either change alone', 'only both together' or None
    (nothing collapses). Per architecture, then joined when they agree."""
    found = []
    for blocks, rows in df.groupby("blocks", sort=False):
        one = rows[(rows["loss input"] == "softmax") & (rows["model kept"] == "best_val")]
        two = rows[(rows["loss input"] == "logits") & (rows["model kept"] == "last")]
        both = rows[(rows["loss input"] == "softmax") & (rows["model kept"] == "last")]
        if not len(one) or not len(two) or not len(both):
            continue
        s, la, bo = (r["collapsed"].iloc[0] == "yes" for r in (one, two, both))
        found.append(
            "softmax into the loss"
            if s and not la
            else "keeping the last epoch"
            if la and not s
            else "either change alone"
            if s and la
            else "only both changes together"
            if bo
            else None
        )
    found = list(dict.fromkeys(found))
    return found[0] if len(found) == 1 else ("; ".join(map(str, found)) if found else None)


def section_ablations(study) -> list[str]:
    df = ablation_table(study)
    if not len(df):
        return []
    why = cause(df)
    lines = [
        "## Why the original's pipeline collapses: one change at a time",
        "",
        "The faithful twin changes two things at once: softmax probabilities fed into "
        "CrossEntropyLoss, and the last epoch's model instead of the best on validation. The "
        "ablation makes one change at a time (same seeds); a run *collapses* when the 95% "
        f"interval of its minority recall lies wholly under {pct(claims.ZERO_RECALL):g}%.",
        "",
        study.tables(df, "ablations"),
        study.comparisons_table("ablation", "ablation_comparisons"),
        f"- The collapse comes from: **{why or 'no single change (nothing collapses)'}**.",
        "",
    ]
    return lines + section_softmax_by_split(study)


# ---------------------------------------------------------------- does the collapse need imbalance
SAME_EXCEPT = ("loss_input", "seed", "replicate_seeds")


def logits_counterpart(study, run: str) -> str | None:
    """The configuration identical to `run` but for softmax into the loss: logits, the same
    split, blocks, remedy and settings (the first such group in params order)."""
    cfg = study.groups[run].cfg
    want = {k: v for k, v in cfg.items() if k not in SAME_EXCEPT}
    for name, g in study.groups.items():
        if name == run or g.cfg.get("loss_input") != "logits":
            continue
        if {k: v for k, v in g.cfg.items() if k not in SAME_EXCEPT} == want:
            return name
    return None


def split_ablation_pairs(study) -> list[tuple[str, str]]:
    """(softmax run, its logits counterpart) for `study.ablations_by_split`'s grid, and the
    study's own softmax ablation on the study's split (`study.ablations`'s softmax variants)."""
    pairs = []
    for key in ("ablations", "ablations_by_split"):
        grid = (study.params.get("grids") or {}).get(study.study.get(key) or "")
        if not grid:
            continue
        for base in grid["runs"]:
            for variant, over in grid["variants"].items():
                run = f"{base}_{variant}"
                if run not in study.groups or (over or {}).get("loss_input") != "softmax":
                    continue
                if (over or {}).get("select", "best_val") != "best_val":
                    continue
                other = logits_counterpart(study, run)
                if other is not None:
                    pairs.append((run, other))
    return pairs


def declare_softmax_by_split(study) -> None:
    for run, other in split_ablation_pairs(study):
        for metric in ("minority recall", "accuracy"):
            study.compare("ablation by split", run, other, metric)


def softmax_by_split_table(study) -> pd.DataFrame:
    rows = []
    for run, other in split_ablation_pairs(study):
        g, o = study.groups[run], study.groups[other]
        mr = g.interval(minority_recall)
        c = study.family[study.cmp_key(run, other, "minority recall")]
        keep = g.first.split["config"]["keep_fraction"] if g.first.split else None
        rows.append(
            {
                "blocks": g.blocks,
                "split (keep fraction)": f"{g.cfg['split']} ({keep:g})" if keep else g.cfg["split"],
                "softmax run": run,
                **summary_columns("minority recall %, softmax", g, minority_recall),
                **summary_columns("minority recall %, logits", o, minority_recall),
                "seeds": c.result["n"],
                "collapsed": "yes"
                if mr["hi"] is not None and mr["hi"] < claims.ZERO_RECALL
                else "no",
                "softmax − logits": study.verdict_label(c),
            }
        )
    return pd.DataFrame(rows)


def needs_imbalance(df: pd.DataFrame) -> str | None:
    """'needs the imbalance' where softmax into the loss collapses on the most imbalanced split
    and not on the balanced one (for every architecture), 'does not need it' where it collapses
    on the balanced split too, None where neither."""
    answers = set()
    for _, rows in df.groupby("blocks", sort=False):
        keep = rows["split (keep fraction)"].str.extract(r"\(([0-9.e-]+)\)")[0].astype(float)
        if keep.isna().any() or len(rows) < 2:
            continue
        lowest, highest = rows.loc[keep.idxmin()], rows.loc[keep.idxmax()]
        if highest["collapsed"] == "yes":
            answers.add("does not need the imbalance: it collapses on balanced data too")
        elif lowest["collapsed"] == "yes":
            answers.add("needs the imbalance: it does not collapse on balanced data")
    return answers.pop() if len(answers) == 1 else None


def section_softmax_by_split(study) -> list[str]:
    df = softmax_by_split_table(study)
    if not len(df) or df["split (keep fraction)"].nunique() < 2:
        return []
    answer = needs_imbalance(df)
    lines = [
        "### Does the collapse need the imbalance?",
        "",
        "Softmax into the loss alone (best-validation model), on splits from the study's "
        "imbalance to balanced data, each against the same configuration with logits on its "
        "split (minority recall in %, mean over seeds with its 95% interval):",
        "",
        study.tables(df, "softmax_by_split"),
    ]
    for _, r in df.iterrows():
        lines.append(
            f"- {r['blocks']} on {r['split (keep fraction)']}: softmax "
            f"{text(r['minority recall %, softmax'], 2)}% "
            f"[{text(r['minority recall %, softmax lo'], 2)}, "
            f"{text(r['minority recall %, softmax hi'], 2)}] against logits "
            f"{text(r['minority recall %, logits'], 2)}% over {r['seeds']} seeds: "
            f"{r['softmax − logits']}; collapsed: {r['collapsed']}."
        )
    if answer:
        lines.append(f"- Softmax into the loss {answer}.")
    return lines + [""]


# ------------------------------------------------------------------------------------ data variance
def split_table(study) -> pd.DataFrame:
    """Per architecture: the spread over training seeds (on the study's split) beside the spread
    over splits (training seed 0), and the ratio of the two variances with its 95% F interval."""
    grid = (study.params.get("grids") or {}).get(study.study.get("split_seeds") or "")
    if not grid:
        return pd.DataFrame()
    rows = []
    for base in grid["runs"]:
        names = [base] + [f"{base}_{v}" for v in grid["variants"]]
        names = [n for n in names if n in study.groups]
        if base not in study.groups or len(names) < 3:
            continue
        splits = np.array([study.groups[n].by_seed(accuracy).get(0) for n in names], float)
        seeds = study.groups[base].values(accuracy)
        vs, vt = splits.var(ddof=1), seeds.var(ddof=1)
        d1, d2 = len(splits) - 1, len(seeds) - 1
        ratio = vs / vt if vt > 0 else None
        lo = hi = p = None
        if ratio is not None:
            lo = ratio / sps.f.ppf(0.975, d1, d2)
            hi = ratio / sps.f.ppf(0.025, d1, d2)
            p = 2 * min(sps.f.cdf(ratio, d1, d2), sps.f.sf(ratio, d1, d2))
        rows.append(
            {
                "run": base,
                "splits": len(splits),
                "sd over splits (pp)": num(100 * splits.std(ddof=1), 3),
                "training seeds": len(seeds),
                "sd over training seeds (pp)": num(100 * seeds.std(ddof=1), 3),
                "variance ratio": num(ratio, 2),
                "variance ratio lo": num(lo, 2),
                "variance ratio hi": num(hi, 2),
                "p (F test)": None if p is None else f"{min(1.0, p):.2g}",
            }
        )
    return pd.DataFrame(rows)


def section_split_seeds(study) -> list[str]:
    df = split_table(study)
    if not len(df):
        return []
    notes = []
    for _, r in df.iterrows():
        lo, hi = r["variance ratio lo"], r["variance ratio hi"]
        word = (
            "larger than"
            if lo > 1
            else "smaller than"
            if hi < 1
            else "not distinguishable from (95% interval of the ratio contains 1)"
        )
        notes.append(
            f"- {r['run']}: test accuracy varies by {text(r['sd over splits (pp)'], 3)} pp (sd) "
            f"over {int(r['splits'])} splits and by {text(r['sd over training seeds (pp)'], 3)} "
            f"pp over {int(r['training seeds'])} training seeds; the split's variance is {word} "
            f"the training seed's (ratio {text(r['variance ratio'], 2)} [{text(lo, 2)}, "
            f"{text(hi, 2)}])."
        )
    return [
        "## The data's share of the variance: other splits",
        "",
        "`split.seed` decides which of the minority images are kept (`keep_fraction`) and which "
        "images are held out for validation. The same architectures on other splits (training "
        "seed 0) against the training seeds on the study's split:",
        "",
        study.tables(df, "split_seeds"),
        *notes,
        "",
    ]


# ------------------------------------------------------------------------------------ primary
def section_primary(study) -> list[str]:
    rows = [study.comparison_row(k) for k, c in study.family.items.items() if c.family == "primary"]
    if not rows:
        return []
    df = pd.DataFrame(rows)
    df["seeds enough"] = [
        "" if pd.isna(r["seeds needed"]) else "yes" if r["seeds"] >= r["seeds needed"] else "no"
        for _, r in df.iterrows()
    ]
    seen = df.dropna(subset=["target MDE"])
    ok = int((seen["MDE"] <= seen["target MDE"]).sum())
    return [
        "## The primary comparisons",
        "",
        "Declared in `params.yaml` (`study.primary`) before their added seeds were trained; every "
        "other comparison is secondary (exploratory). Each gets a verdict: **different** (Holm "
        "p of the paired t-test below α), **equivalent** within its margin (two one-sided tests, "
        "TOST, Holm p below α: the 90% interval inside ±margin) or **inconclusive**. MDE is the "
        f"smallest difference the test finds with {int(100 * study.family.power)}% power at the "
        "family's first Holm threshold (α / m), from the observed seed-level standard deviation; "
        "`seeds needed` is what the target MDE (`study.target_mde`) needs. `a − b` has its 95% "
        "interval; `a − b, simultaneous 95%` the family's Bonferroni-simultaneous interval (level "
        "1 − α / m over its m tests), which holds for all rows at once and agrees with the "
        "Holm-corrected verdicts.",
        "",
        study.tables(df, "primary"),
        f"- {ok} of {len(seen)} primary comparisons with a target can see it (MDE ≤ target).",
        "",
    ] + _fresh_lines(study)


def _fresh_lines(study) -> list[str]:
    df = fresh_table(study)
    if not len(df):
        return []
    spec = study.study["primary_fresh"]
    return [
        "### The primary comparisons on fresh seeds",
        "",
        f"The same comparisons on the seeds trained after the commit `{spec['declared_in']}` that "
        "declared them (each comparison: the seeds fresh for both runs; its own Holm over all its "
        "tests). The remedies were chosen on seeds 0–2 (selection seeds), which are not fresh.",
        "",
        study.tables(df, "primary_fresh"),
        f"- {fresh_words(df)}.",
        "",
    ]


# ------------------------------------------------------------------------------------ fresh seeds
def fresh_family(study) -> statistics.Family | None:
    """The primary comparisons again, on the seeds trained after the family was declared
    (`study.primary_fresh`: per run its first fresh seed; a comparison keeps the seeds fresh for
    both runs), with its own Holm over all its tests."""
    spec = study.study.get("primary_fresh")
    if not spec:
        return None
    first = spec["first_seed"]
    fam = statistics.Family(study.alpha, study.family.power)
    for c in study.family.members("primary"):
        if c.a not in first or c.b not in first or c.metric not in METRIC_GETTERS:
            continue  # a run without a fresh-seed record, or the benchmark's timings
        get = METRIC_GETTERS[c.metric]
        start = max(first[c.a], first[c.b])
        va = {s: v for s, v in study.groups[c.a].by_seed(get).items() if s >= start}
        vb = {s: v for s, v in study.groups[c.b].by_seed(get).items() if s >= start}
        fam.add(c.question, c.a, c.b, c.metric, va, vb, "primary", c.kind, c.margin, rate=True)
    fam.finish()
    return fam


def fresh_table(study) -> pd.DataFrame:
    """Per primary comparison with seeds: all seeds beside fresh seeds only (≤ 8 columns)."""
    fam = fresh_family(study)
    if fam is None:
        return pd.DataFrame()
    rows = []
    for key, f in fam.items.items():
        c = study.family[key]
        rows.append(
            {
                "comparison": f"{c.a} − {c.b}",
                "metric": c.metric,
                "all seeds (pp)": _diff_cell(c),
                "verdict, all seeds": study.verdict_label(c),
                "fresh seeds": f"{_seed_range(f.result['seeds'])} ({f.result['n']})",
                "fresh (pp)": _diff_cell(f),
                "verdict, fresh seeds": study.verdict_label(f),
                "changes": "not testable"
                if f.result["p"] is None
                else "yes"
                if study.verdict_label(f) != study.verdict_label(c)
                else "no",
            }
        )
    return pd.DataFrame(rows)


def _diff_cell(c) -> str:
    """'+4.51 [+1.40, +5.70]': the difference in pp and its 95% interval; n/a without a test."""
    r = c.result
    if r["p"] is None:
        return "n/a"
    return f"{100 * r['diff']:+.2f} [{100 * r['lo']:+.2f}, {100 * r['hi']:+.2f}]"


def _seed_range(seeds: list[int]) -> str:
    if not seeds:
        return "none"
    s = sorted(seeds)
    return f"{s[0]}–{s[-1]}" if s == list(range(s[0], s[-1] + 1)) else ", ".join(map(str, s))


def fresh_words(df: pd.DataFrame) -> str | None:
    """What holds on fresh seeds where a verdict changes ('' where none does)."""
    if not len(df):
        return None
    if (df["changes"] == "not testable").all():
        return None  # no comparison has 2 fresh seeds: nothing to say yet
    df = df[df["changes"] != "not testable"]
    changed = df[df["changes"] == "yes"]
    if not len(changed):
        return (
            f"all {len(df)} primary verdicts are the same on the seeds trained after the family "
            "was declared"
        )
    return f"{len(changed)} of {len(df)} primary verdicts change on fresh seeds: " + "; ".join(
        f"{r['comparison']} {r['metric']}: {r['verdict, all seeds']} on all seeds, "
        f"{r['verdict, fresh seeds']} on fresh seeds {r['fresh seeds']}, {r['fresh (pp)']} pp"
        for _, r in changed.iterrows()
    )


def section_comparisons(study) -> list[str]:
    rows = [study.comparison_row(k) for k in study.family.items]
    return [
        "## Every comparison (both families)",
        "",
        "Paired t-tests over the training seeds two configurations share (same seed: same split "
        "and initialisation order; the speed rows pair the benchmark's repeats), 95% t-intervals "
        "of the mean difference, and Holm–Bonferroni within each family "
        f"({study.family.size_of('primary')} primary, {study.family.size_of('secondary')} "
        "secondary), separately for the difference tests and the equivalence tests (TOST). "
        "Rows without a margin cannot be called equivalent. Test-set tests (McNemar) are not "
        "used: they measure test-set noise, not training noise.",
        "",
        study.tables(pd.DataFrame(rows), "comparisons"),
    ]


# ------------------------------------------------------------------------------------ headline
def headline(study, claims_df: pd.DataFrame) -> list[str]:
    s = study.study
    a, b = s["mobilenet"], s["plain"]
    ratios = pd.read_csv(study.root / paths.TABLES / "1_ratios.csv").iloc[0]
    split = study.groups[a].first.split
    ceil = ceiling(study)
    data = pd.DataFrame(
        [
            {
                "dataset": study.groups[a].first.train["dataset"],
                "split": study.groups[a].cfg["split"],
                "minority classes": " ".join(map(str, study.groups[a].first.minority)),
                "keep fraction": split["config"]["keep_fraction"],
                "train images": split["sizes"]["train"],
                "validation images": split["sizes"]["val"],
                "train/test": round(split["train_over_test"]["achieved"], 2),
                **ceil,
            }
        ]
    )
    study.tables(data, "0_data")
    abl = ablation_table(study)
    why = cause(abl) if len(abl) else None
    twin_a = study.twins.get(a)
    if twin_a:
        tw = abl.set_index("run") if len(abl) else None
        twin_acc = (
            tw.loc[twin_a, "accuracy %"]
            if tw is not None and twin_a in tw.index
            else pct(study.groups[twin_a].mean(accuracy))
        )
    minority = ", ".join(map(str, study.groups[a].first.minority))
    first = (
        f"1. **The ceiling**: the minority classes {minority} "
        f"are {text(ceil['minority share %'], 2)}% of the test set, so a model that never "
        f"predicts them tops out at {text(ceil['ceiling %'], 2)}%: the original reported "
        f"{text(claims.ORIGINAL['mobilenet'], 2)}% for C1+M3 and recall 0 on those classes."
    )
    if why:
        first += (
            f" The collapse comes from **{why}** (ablation table below"
            + (f"; the twin of {a}: {text(twin_acc, 2)}%" if twin_a else "")
            + ")."
        )
    by_split = softmax_by_split_table(study)
    control = needs_imbalance(by_split) if len(by_split) else None
    if control:
        balanced = by_split[by_split["split (keep fraction)"].str.endswith("(1)")]
        first += f" Softmax into the loss **{control}**" + (
            " (minority recall on balanced data: "
            + ", ".join(
                f"{r['blocks']} {text(r['minority recall %, softmax'], 2)}%"
                for _, r in balanced.iterrows()
            )
            + ")."
            if len(balanced)
            else "."
        )
    dataset = study.groups[a].first.train.get("dataset", "mnist")
    lines = [
        "# blockbench: MobileNet blocks vs plain convolution blocks on imbalanced data",
        "",
        "## Headline",
        "",
        *(
            [
                f"> **Dataset: `{dataset}`**, not MNIST (the quick look: small, fast, for trying "
                "the pipeline). Its numbers say nothing about the study on MNIST.",
                "",
            ]
            if dataset != "mnist"
            else []
        ),
        first,
    ]
    n0 = len(lines) - 2  # so that the next item is numbered 2
    equal_cost = capacity.headline(study)
    if equal_cost:
        lines.append(f"{len(lines) - n0}. {equal_cost}")
    key = study.cmp_key(a, b, "accuracy")
    if key:
        c = study.family[key]
        r = c.result
        lines.append(
            f"{len(lines) - n0}. The original's literal pair, of different sizes ({b} has "
            f"{text(ratios['parameters b / a'], 2)}× the parameters): **{a}** "
            f"({study.groups[a].blocks}, MobileNet blocks) reaches "
            f"{text(pct(r['mean_a']), 2)}% test accuracy and **{b}** ({study.groups[b].blocks}, "
            f"plain) {text(pct(r['mean_b']), 2)}% over the same {seeds_text(r['n'])} "
            f"({c.family} comparison): {study.holm_text(c)}."
        )
    speed = speed_table(study)
    lines.append(
        f"{len(lines) - n0}. {b} has {text(ratios['parameters b / a'], 2)}× the parameters of "
        f"{a}; {speed_words(speed, a, b)}."
    )
    for base in list(study.remedies)[:2]:
        best = study.selected_remedy(base)
        ref = study.remedies[base][study.reference]
        parts = []
        for other, label in ((base, "against no remedy"), (ref, "against the balanced reference")):
            k = study.cmp_key(best, other, "minority recall")
            if k:
                c = study.family[k]
                parts.append(
                    f"{label} {text(pct(c.result['mean_a']), 2)}% vs "
                    f"{text(pct(c.result['mean_b']), 2)}% over {seeds_text(c.result['n'])}: "
                    f"{study.holm_text(c)}"
                )
        lines.append(
            f"{len(lines) - n0}. Against the imbalance ({base}): **{best}**, chosen on validation; "
            f"minority recall {'; '.join(parts)}."
        )
    counts = claims.counts(claims_df)
    rep = claims_df["reproduced by the twin"]
    lines += [
        f"{len(lines) - n0}. The original's claims in a correct pipeline: "
        + ", ".join(f"{v}: {n} of {len(set(claims_df['#']))} claims" for v, n in counts.items())
        + f"; its number is reproduced by its faithful twin (softmax into the loss, last epoch: "
        f"inside the twin's 95% prediction interval) in {int((rep == 'yes').sum())} of "
        f"{int(rep.isin(['yes', 'no']).sum())} rows where it can be tested (a prediction "
        f"interval at most {claims.TWIN_MAX_WIDTH_PP:g} pp wide; table below).",
    ]
    fresh = fresh_words(fresh_table(study))
    if fresh:
        lines.append(f"{len(lines) - n0}. Fresh seeds: {fresh}.")
    lines += [
        f"{len(lines) - n0}. Statistics: the training seed is the replicate; "
        "paired t-tests and TOST, one Holm–Bonferroni over all the tests of each family "
        f"({study.family.size_of('primary')} primary comparisons and "
        f"{study.family.size_of(capacity.FAMILY)} at equal cost, each declared in advance; "
        f"{study.family.size_of('secondary')} secondary); a verdict says what both tests say: "
        "different, beyond the margin where that is shown; different but within the margin; "
        "equivalent; or inconclusive.",
        "",
        "<sub>Numbers from "
        + ", ".join(
            f"[`tables/{n}.csv`]({link_to(paths.TABLES / f'{n}.csv')})"
            for n in [
                "0_data",
                "1_ratios",
                "capacity_pairs",
                "capacity_matching",
                "primary",
                "primary_fresh",
                "softmax_by_split",
                "speed",
                "ablations",
                "claims",
                "comparisons",
            ]
            if n in study.tables.written
        )
        + "</sub>",
        "",
    ]
    return lines
