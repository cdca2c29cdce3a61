"""Imbalance severity: how each architecture, with and without a remedy, degrades as the minority
classes keep fewer of their images (`study.severity`), and which tolerates more.

The levels are named splits (their `keep_fraction`); the imbalance ratio ρ of a level is the
largest training class over the smallest, read from the split's counts. A curve's runs are found
by configuration: for each architecture, the run with the architecture's configuration on the
level's split (no remedy), the run with its chosen remedy's configuration on that split, and the
run with the other architecture's chosen remedy (the remedies grid's same variant) on that split,
so the main study's runs are reused at their own levels. The per-level table describes each level
over its own seeds (labelled); the estimands below use, per seed, the levels that have it.

At the levels named in `study.severity.split_draws` each training seed may also have its own split
draw: a run with the curve's configuration but for its seed and split, on a split whose
configuration is the level's but for its `seed`, with split seed = training seed (seed 0 is the
run on the level's own split where that split has seed 0). Those runs are found from the
configurations, not from their names; at those levels the threshold ratio and the pooled model
use this split-draw curve, and a table says how much wider the levels' intervals are with draws
than on one split.

The architectures are compared in arms: no remedy; each with its own chosen remedy (each block
type's best remedy, two remedies); and, where both curves exist, both with the same remedy (one
remedy, so only the block type differs). Per arm, two estimands that can be answered:
- the paired threshold ratio ρ*(a) / ρ*(b): per seed, on the levels where both curves have that
  seed, where each curve's minority recall falls below the threshold, then their ratio (a seed
  counts where its levels bracket the crossing for both block types); its geometric mean over
  seeds with a 95% t-interval on the log scale, a difference test on the log ratio and a TOST
  within ±ln(`ratio_margin`), one Holm-Bonferroni over every arm's tests, and the verdict of
  `statistics.verdict`;
- a pooled model over every level: per-image minority correctness against log10 ρ × block type
  (statsmodels' GEE, binomial, exchangeable working correlation, runs as clusters; every run of
  the two curves at the levels both have, whatever its seed), whose interaction says whether the
  gap grows with ρ (its p value Holm-Bonferroni adjusted over the arms, as the ratio's tests).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import study_figures
from ..declarations import check_severity
from . import statistics
from .runs import Group, Run, accuracy, balanced_accuracy, minority_recall
from .tables import link_to, num, p_value, pct, summary_columns, text

QUESTION = "9 severity"
SEED_KEYS = ("seed", "replicate_seeds")  # not part of a configuration
CURVE_METRICS = {  # column -> (getter, scale)
    "accuracy %": (accuracy, "pct"),
    "balanced accuracy %": (balanced_accuracy, "pct"),
    "minority recall %": (minority_recall, "pct"),
}
NONE, CHOSEN, SAME = "none", "chosen remedy", "same remedy"
RATIO_MARGIN = 1.25  # default of study.severity.ratio_margin: ratios within 1/1.25-1.25 are equal
WIDTH_TARGET = 1.5  # the ratio's 95% interval is narrow enough when hi / lo is at most this
RATIO_FAMILY = "threshold ratio"
FEW_LEVELS = ("on one level", "on no level with both")  # seeds that cannot bracket a crossing


def spec(study) -> dict:
    return study.study.get("severity") or {}


def run_rho(run: Run) -> float:
    """ρ of one run: the largest training class over the smallest (its split's counts)."""
    counts = [int(v) for v in run.split["class_counts"]["train"].values()]
    return max(counts) / min(counts)


def imbalance_ratio(group: Group) -> float:
    """ρ: the largest training class over the smallest (the split's counts)."""
    return run_rho(group.first)


def _config(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in SEED_KEYS}


def _split_but_seed(run: Run) -> dict:
    """The configuration of a run's split (its counts.json) but for the split's seed."""
    return {k: v for k, v in (run.split.get("config") or {}).items() if k != "seed"}


def run_on_split(study, template: str, split: str) -> str | None:
    """The run whose configuration is `template`'s on `split` (None: not declared)."""
    want = {**_config(study.groups[template].cfg), "split": split}
    for name in [template, *study.groups]:  # the template itself first (twins of it may exist)
        if _config(study.groups[name].cfg) == want:
            return name
    return None


def remedy_of(study, run: str) -> str:
    return study.groups[run].cfg.get("remedy", "none")


def chosen_remedy(study, arch: str) -> str | None:
    """The remedy chosen on validation for `arch` (its name in the run config), or None."""
    best = study.selected_remedy(arch) if arch in study.groups else None
    return remedy_of(study, best) if best else None


def same_remedy_template(study, arch: str, other: str) -> str | None:
    """`arch`'s run in the remedies-grid variant chosen for `other` (None: no such run)."""
    best = study.selected_remedy(other) if other in study.groups else None
    variant = next((v for v, r in study.remedies.get(other, {}).items() if r == best), None)
    run = study.remedies.get(arch, {}).get(variant) if variant else None
    return run if run in study.groups else None


def _levels(study) -> list[str]:
    check_severity({**study.params, "study": study.study})  # checked before planning too
    return spec(study).get("splits") or []


def draw_levels(study) -> list[str]:
    """The levels whose estimands use the split-draw curve (`study.severity.split_draws`)."""
    _levels(study)
    return list(spec(study).get("split_draws") or [])


def draw_runs(study, run: str) -> dict[int, Run]:
    """The split-draw curve at the level `run` trains on: per seed s, the run whose configuration
    is `run`'s but for its seed and split, on a split whose configuration is `run`'s split's but
    for its seed, with split seed s (so seed 0 is `run` itself where its split has seed 0).
    Found from the configurations, whatever the runs are called."""
    group = study.groups[run]
    want = {k: v for k, v in _config(group.cfg).items() if k != "split"}
    want_split = _split_but_seed(group.first)
    out: dict[int, Run] = {}
    for g in study.groups.values():
        if {k: v for k, v in _config(g.cfg).items() if k != "split"} != want:
            continue
        for r in g.runs:
            split_seed = (r.split.get("config") or {}).get("seed")
            if split_seed == r.seed and _split_but_seed(r) == want_split:
                out.setdefault(r.seed, r)
    return dict(sorted(out.items()))


def seed_runs(study, table, key, split: str) -> dict[int, Run]:
    """A curve's runs at a level, by seed, as the estimands use them: the split-draw curve at a
    `split_draws` level, else the level's run and its replicates (all on the level's split)."""
    if split in draw_levels(study):
        return draw_runs(study, table[key][split])
    return {r.seed: r for r in study.groups[table[key][split]].runs}


def _by_rho(study, runs: dict[str, str]) -> dict[str, str]:
    return dict(sorted(runs.items(), key=lambda kv: imbalance_ratio(study.groups[kv[1]])))


def curves(study) -> dict[tuple[str, str], dict[str, str]]:
    """(architecture, remedy) -> {level split: run}, levels in ascending ρ; the remedy is 'none',
    the one chosen on validation for the architecture, or the one chosen for the other
    architecture (the same-remedy arm: kept where it has at least two levels)."""
    levels = _levels(study)
    archs = [x for x in (study.study["mobilenet"], study.study["plain"]) if x in study.groups]
    out = {}
    for arch in archs:
        arms = {"none": arch}
        best = study.selected_remedy(arch)
        if best:
            arms[remedy_of(study, best)] = best
        extra = {}
        for other in archs:
            template = same_remedy_template(study, arch, other) if other != arch else None
            if template and remedy_of(study, template) not in arms:
                extra[remedy_of(study, template)] = template
        for remedy, template in {**arms, **extra}.items():
            runs = {s: r for s in levels if (r := run_on_split(study, template, s))}
            if runs and (remedy in arms or len(runs) >= 2):
                out[(arch, remedy)] = _by_rho(study, runs)
    return out


def arms(study, table) -> list[tuple[str, tuple[str, str], tuple[str, str]]]:
    """(arm, a's curve key, b's curve key): 'none'; 'chosen remedy' (each architecture's own
    chosen remedy: the remedies may differ); 'same remedy' (both with one remedy, where its two
    curves exist and it is not already the chosen-remedy arm; 'same remedy (<remedy>)' if more
    than one)."""
    a, b = study.study["mobilenet"], study.study["plain"]
    out = []
    if (a, "none") in table and (b, "none") in table:
        out.append((NONE, (a, "none"), (b, "none")))
    ca, cb = chosen_remedy(study, a), chosen_remedy(study, b)
    if ca and cb and (a, ca) in table and (b, cb) in table:
        out.append((CHOSEN, (a, ca), (b, cb)))
    same = [
        r for (x, r) in table if x == a and r != "none" and (b, r) in table and not (r == ca == cb)
    ]
    for r in same:
        out.append((SAME if len(same) == 1 else f"{SAME} ({r})", (a, r), (b, r)))
    return out


def crossing(rho, values, threshold: float) -> tuple[float | None, str]:
    """Where a curve of `values` over ascending `rho` first falls below `threshold`, linearly
    interpolated on log10 ρ between the last level at or above it and the next: (ρ, 'crossed');
    (None, 'above') when it never falls below, (None, 'below') when it starts below."""
    rho, values = np.asarray(rho, float), np.asarray(values, float)
    if values[0] < threshold:
        return None, "below"
    for i in range(len(values) - 1):
        if values[i + 1] < threshold <= values[i]:
            x0, x1 = math.log10(rho[i]), math.log10(rho[i + 1])
            t = (values[i] - threshold) / (values[i] - values[i + 1])
            return 10 ** (x0 + t * (x1 - x0)), "crossed"
    return None, "above"


def seed_crossing(runs: list[Run], threshold: float) -> tuple[float | None, str]:
    """`crossing` of one seed's minority recall over its runs (one per level, ascending ρ)."""
    return crossing([run_rho(r) for r in runs], [minority_recall(r) for r in runs], threshold)


def seed_levels(by_level: dict[str, dict[int, Run]]) -> dict[int, list[str]]:
    """Per seed any level has: the levels that have it, in the order of `by_level`
    ({level: {seed: anything}})."""
    seeds = sorted({s for runs in by_level.values() for s in runs})
    return {s: [lv for lv, runs in by_level.items() if s in runs] for s in seeds}


def _count_text(reasons: Counter) -> str:
    """'none', or '3 on one level; 1 c4 never below' (most frequent first)."""
    return "; ".join(f"{n} {why}" for why, n in reasons.most_common()) or "none"


def threshold_row(study, table, key: tuple[str, str], threshold: float) -> dict:
    """The ρ at which a curve's minority recall falls below `threshold`, per seed on the levels
    that have the seed (the split-draw curve at `split_draws` levels), and its geometric mean over
    the seeds with a 95% t-interval on log10 ρ (where every seed with two levels crosses)."""
    arch, remedy = key
    by_level = {lv: seed_runs(study, table, key, lv) for lv in table[key]}
    per_seed = seed_levels(by_level)
    found, outcomes = [], []
    one_level = 0
    for s, levels in per_seed.items():
        if len(levels) < 2:
            one_level += 1
            continue
        x, how = seed_crossing([by_level[lv][s] for lv in levels], threshold)
        outcomes.append(how)
        if x is not None:
            found.append(math.log10(x))
    row = {
        "architecture": arch,
        "remedy": remedy,
        "threshold %": pct(threshold),
        "seeds": len(outcomes),
        "crossed": len(found),
    }
    mean = lo = hi = None
    if found and len(found) == len(outcomes):
        logs = np.array(found)
        mean = 10 ** logs.mean()
        if len(logs) > 1:
            half = sps.t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
            lo, hi = 10 ** (logs.mean() - half), 10 ** (logs.mean() + half)
    row.update({"rho at threshold": num(mean, 1), "rho at threshold lo": num(lo, 1)})
    row["rho at threshold hi"] = num(hi, 1)
    row["never below"] = outcomes.count("above")
    row["below at every level"] = outcomes.count("below")
    row["seeds on one level"] = one_level
    return row


def arm_runs(study, table, ka, kb) -> tuple[list[str], dict]:
    """The levels both curves of an arm have, and per curve {level: {seed: run}} there (the
    split-draw curve at `split_draws` levels)."""
    levels = [s for s in table[ka] if s in table[kb]]
    return levels, {k: {lv: seed_runs(study, table, k, lv) for lv in levels} for k in (ka, kb)}


def level_pairs(study, table) -> list[tuple[str, str, str, str]]:
    """(arm, split, a's run, b's run) at every level both curves of an arm have (`arms`)."""
    return [
        (arm, split, run_a, run_b)
        for arm, ka, kb in arms(study, table)
        for split, run_a in table[ka].items()
        if (run_b := table[kb].get(split))
    ]


def declare(study) -> None:
    """The secondary comparisons of the section: c1m3 − c4 at each level, per remedy arm."""
    for _, _, run_a, run_b in level_pairs(study, curves(study)):
        for metric in ("accuracy", "minority recall"):
            study.compare(QUESTION, run_a, run_b, metric)


def level_table(study, table) -> pd.DataFrame:
    """Per curve and level: the level's run over its own seeds (a description: levels may have
    different seeds; `seeds` says how many)."""
    rows = []
    for (arch, remedy), runs in table.items():
        for split, run in runs.items():
            g = study.groups[run]
            row = {
                "architecture": arch,
                "remedy": remedy,
                "split": split,
                "keep fraction": g.first.split["config"]["keep_fraction"],
                "rho": num(imbalance_ratio(g), 1),
                "run": run,
                "seeds": g.n,
            }
            for col, (get, scale) in CURVE_METRICS.items():
                row.update(summary_columns(col, g, get, scale))
            rows.append(row)
    return pd.DataFrame(rows)


def gap_table(study, table) -> pd.DataFrame:
    """Per level and remedy arm: the c1m3 − c4 comparisons (verdicts of the secondary family)."""
    rows = []
    for arm, split, run_a, run_b in level_pairs(study, table):
        row = {
            "split": split,
            "rho": num(imbalance_ratio(study.groups[run_a]), 1),
            "arm": arm,
            "runs": f"{run_a} − {run_b}",
        }
        for metric, unit in (("accuracy", "pp"), ("minority recall", "pp")):
            c = study.family[study.cmp_key(run_a, run_b, metric)]
            r = c.result
            row[f"{metric} diff ({unit})"] = num(None if r["p"] is None else 100 * r["diff"])
            row[f"{metric} diff ({unit}) lo"] = num(None if r["p"] is None else 100 * r["lo"])
            row[f"{metric} diff ({unit}) hi"] = num(None if r["p"] is None else 100 * r["hi"])
            row[f"{metric} seeds"] = r["n"]
            row[f"{metric} margin ± ({unit})"] = num(None if c.margin is None else 100 * c.margin)
            row[f"{metric} verdict"] = c.verdict
        rows.append(row)
    return pd.DataFrame(rows)


def gain_table(study, table) -> pd.DataFrame:
    """Per architecture, remedy and level: the remedy's gain in minority recall over no remedy
    (paired by seed; its 95% interval inside what a gain can be, `statistics.bounded_gain`)."""
    rows = []
    for (arch, remedy), runs in table.items():
        base_curve = table.get((arch, "none"))
        if remedy == "none" or not base_curve:
            continue
        for split, run in runs.items():
            base = base_curve.get(split)
            if not base:
                continue
            r = statistics.bounded_gain(
                study.groups[run].by_seed(minority_recall),
                study.groups[base].by_seed(minority_recall),
            )
            rows.append(
                {
                    "architecture": arch,
                    "remedy": remedy,
                    "split": split,
                    "rho": num(imbalance_ratio(study.groups[run]), 1),
                    "seeds": r["n"],
                    "minority recall gain (pp)": num(None if r["p"] is None else 100 * r["diff"]),
                    "minority recall gain (pp) lo": num(None if r["p"] is None else 100 * r["lo"]),
                    "minority recall gain (pp) hi": num(None if r["p"] is None else 100 * r["hi"]),
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ split draws
def draw_table(study, table) -> pd.DataFrame:
    """Per curve and `split_draws` level where runs on their own split draws exist: minority recall
    over the seeds both have, on the level's one split (its run and replicates) and with each seed
    on its own split draw, each with its 95% interval, and how many times as wide the draws'
    interval is (the same seeds, so the difference is which images were kept)."""
    rows = []
    for (arch, remedy), runs in table.items():
        for split in draw_levels(study):
            if split not in runs:
                continue
            one = study.groups[runs[split]]
            draws = draw_runs(study, runs[split])
            seeds = sorted(set(one.by_seed(accuracy)) & set(draws))
            if len(seeds) < 2:
                continue
            g_one = one.on_seeds(seeds)
            g_draw = Group(f"{one.name} (split draws)", [draws[s] for s in seeds])
            i_one, i_draw = g_one.interval(minority_recall), g_draw.interval(minority_recall)
            w_one, w_draw = i_one["hi"] - i_one["lo"], i_draw["hi"] - i_draw["lo"]
            row = {
                "architecture": arch,
                "remedy": remedy,
                "split": split,
                "rho": num(imbalance_ratio(one), 1),
                "seeds": len(seeds),
                "seeds with draws": len(draws),
            }
            row.update(summary_columns("minority recall %, one split", g_one, minority_recall))
            row.update(summary_columns("minority recall %, split draws", g_draw, minority_recall))
            row["width one split (pp)"] = num(100 * w_one, 2)
            row["width split draws (pp)"] = num(100 * w_draw, 2)
            row["width ×"] = num(w_draw / w_one) if w_one > 0 else None
            rows.append(row)
    return pd.DataFrame(rows)


def draw_words(draws: pd.DataFrame, declared: list[str]) -> list[str]:
    """One sentence on how much wider the intervals became with split draws, from the table."""
    if not declared:
        return []
    if not len(draws):
        return [
            f"At {', '.join(declared)} (`split_draws`) each seed is to have its own split draw; "
            "none is trained yet, so the threshold ratio and the pooled model use seed 0 there.",
            "",
        ]
    w = draws["width ×"].dropna()
    n_wider = int((w > 1).sum())
    span = (
        f"{text(w.min(), 2)}×"
        if w.min() == w.max()
        else f"{text(w.min(), 2)}× to {text(w.max(), 2)}×"
    )
    levels = ", ".join(dict.fromkeys(draws["split"]))
    return [
        f"With each seed on its own split draw at {levels}, the 95% interval of minority recall "
        f"is {span} as wide as on one split over the same seeds (wider for {n_wider} of "
        f"{len(w)} curves): which images were kept is now in the interval.",
        "",
    ]


# ------------------------------------------------------------------ the paired threshold ratio
def seeds_for_width(sd: float | None, width: float = WIDTH_TARGET) -> int | None:
    """The fewest seeds whose 95% t-interval of a mean log ratio is at most `width` wide as a
    factor (hi / lo = exp(2 t sd / sqrt n) <= width), for a seed-level sd of the ln ratio; None
    without an sd or past statistics.MAX_SEEDS."""
    if sd is None:
        return None

    def wide(n: int) -> bool:
        return 2 * sps.t.ppf(0.975, n - 1) * sd / math.sqrt(n) > math.log(width)

    lo, hi = 2, 2
    while wide(hi):  # double, then bisect (the width shrinks as n grows)
        if hi >= statistics.MAX_SEEDS:
            return None
        lo, hi = hi + 1, min(2 * hi, statistics.MAX_SEEDS)
    while lo < hi:
        mid = (lo + hi) // 2
        if wide(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def ratio_margin(study) -> float:
    return float(spec(study).get("ratio_margin") or RATIO_MARGIN)


def log_ratios(study, table, ka, kb, threshold: float) -> tuple[dict, dict, Counter]:
    """Per seed either curve of an arm has, on the levels where both curves have that seed: ln ρ*
    of each where both cross the threshold there, ({seed: ln ρ*(a)}, {seed: ln ρ*(b)}), and why
    the other seeds could not be used ({reason: seeds}: on one level; a curve never below the
    threshold on the seed's levels, or below at every one of them)."""
    levels, runs = arm_runs(study, table, ka, kb)
    both = {lv: {s: 1 for s in runs[ka][lv] if s in runs[kb][lv]} for lv in levels}
    seeds = set().union(*(set(runs[k][lv]) for k in (ka, kb) for lv in levels))
    per_seed = {s: [] for s in sorted(seeds)} | seed_levels(both)
    va, vb, lost = {}, {}, Counter()
    for s, lvs in per_seed.items():
        if len(lvs) < 2:
            lost[FEW_LEVELS[0] if lvs else FEW_LEVELS[1]] += 1
            continue
        xa = seed_crossing([runs[ka][lv][s] for lv in lvs], threshold)
        xb = seed_crossing([runs[kb][lv][s] for lv in lvs], threshold)
        if xa[0] is not None and xb[0] is not None:
            va[s], vb[s] = math.log(xa[0]), math.log(xb[0])
            continue
        why = [
            f"{k[0]} {'never below' if how == 'above' else 'below at every level'}"
            for k, (x, how) in ((ka, xa), (kb, xb))
            if x is None
        ]
        lost[" and ".join(why)] += 1
    return va, vb, lost


def ratio_table(study, table, threshold: float) -> pd.DataFrame:
    """Per arm: the paired threshold ratio ρ*(a) / ρ*(b), its 95% interval and width, and its
    verdict (difference test on the ln ratio and TOST within ±ln margin; one Holm-Bonferroni over
    every arm's tests), with the seeds its interval needs to be narrower than WIDTH_TARGET and
    the seeds that could not be used, with why (`log_ratios`)."""
    margin = ratio_margin(study)
    family = statistics.Family(study.alpha, study.study.get("power", 0.8))
    keys = []
    for arm, ka, kb in arms(study, table):
        va, vb, lost = log_ratios(study, table, ka, kb, threshold)
        key = family.add(
            QUESTION,
            f"{ka[0]} ({ka[1]})",
            f"{kb[0]} ({kb[1]})",
            "ln threshold ratio",
            va,
            vb,
            RATIO_FAMILY,
            "equivalence",
            math.log(margin),
        )
        keys.append((arm, ka, kb, key, lost))
    family.finish()
    rows = []
    for arm, ka, kb, key, lost in keys:
        c = family[key]
        r = c.result
        tested = r["p"] is not None
        ratio = math.exp(r["diff"]) if r["diff"] is not None else None
        lo, hi = (math.exp(r["lo"]), math.exp(r["hi"])) if tested else (None, None)
        if not tested:
            verdict = "not tested"
        elif statistics.is_different(c.verdict):
            verdict = f"{c.verdict} ({'higher' if r['diff'] > 0 else 'lower'})"
        else:
            verdict = c.verdict
        sd = r.get("sd")
        rows.append(
            {
                "arm": arm,
                "remedies": f"{ka[1]} / {kb[1]}",
                "seeds": r["n"],
                "threshold ratio": num(ratio),
                "threshold ratio lo": num(lo),
                "threshold ratio hi": num(hi),
                "width ×": num(hi / lo) if tested else None,
                "margin ×": margin,
                "verdict": verdict,
                "seeds for width": seeds_for_width(sd) if tested else None,
                "width target ×": WIDTH_TARGET,
                "seeds not used": _count_text(lost),
                "seeds not crossing": sum(n for why, n in lost.items() if why not in FEW_LEVELS),
                "seeds on one level": sum(lost[why] for why in FEW_LEVELS),
                "sd ln ratio": num(sd, 4) if tested else None,
                "p (Holm)": p_value(c.p_holm),
                "p equivalence (Holm)": p_value(c.p_equiv_holm),
                "seeds for equivalence": (
                    statistics.tost_seeds_needed(sd, math.log(margin), study.alpha, family.power)
                    if tested and sd
                    else None
                ),
                "threshold %": pct(threshold),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the pooled model
def pooled_data(study, table, ka, kb) -> pd.DataFrame:
    """One row per minority test image of every run of an arm's two curves at the levels both
    have, whatever its seed (the split-draw curve at `split_draws` levels): right (0/1), log10 ρ,
    block (1: a, 0: b), run (a number: the cluster)."""
    levels, runs = arm_runs(study, table, ka, kb)
    parts = []
    for block, key in ((1, ka), (0, kb)):
        for split in levels:
            for r in runs[key][split].values():
                right = r.correct[np.isin(r.y_true, r.minority)].astype(float)
                parts.append(
                    pd.DataFrame(
                        {
                            "right": right,
                            "log10 rho": math.log10(run_rho(r)),
                            "block": block,
                            "run": len(parts),
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def pooled_model(study, table, arm: str, ka, kb) -> list[dict]:
    """Per-image minority correctness against log10 ρ × block type over every level of an arm:
    logit P(right) = b0 + b1 (log10 ρ − centre) + b2 a + b3 a (log10 ρ − centre), a = 1 for
    `ka`'s architecture; statsmodels' GEE (binomial, exchangeable working correlation within a
    run, robust intervals over runs). b3 is how the a − b gap in log-odds changes per tenfold
    ρ; b2 is the gap at ρ = 10^centre (the levels' mean log10 ρ).

    Every run is scored on the same test images and its covariates are constant within it, so
    this is the binomial model of each run's counts with the runs as the unit of replication:
    seed-to-seed spread widens the interval; the many images of one run do not narrow it. A
    study has tens of runs, not hundreds, so the sandwich is scaled by G / (G - 4) and the
    intervals and p values take t with G - 4 degrees of freedom (G runs; as Stata's clustered
    errors). Mancl and DeRouen's bias-reduced sandwich would form a matrix of a run's images
    squared: minutes per fit."""
    from statsmodels.genmod import families
    from statsmodels.genmod.cov_struct import Exchangeable
    from statsmodels.genmod.generalized_estimating_equations import GEE
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = pooled_data(study, table, ka, kb)
    if data.empty or data["log10 rho"].nunique() < 2 or data["run"].nunique() < 6:
        return []
    centre = float(np.mean(sorted(set(data["log10 rho"]))))

    def design(df: pd.DataFrame) -> np.ndarray:
        x = df["log10 rho"].to_numpy(dtype=float) - centre
        block = df["block"].to_numpy(dtype=float)
        return np.column_stack([np.ones_like(x), x, block, x * block])

    # the start: the same model on each run's counts (its estimate when the working correlation
    # is independence; GEE's own start refits it on every image, most of the time spent here)
    runs = data.groupby("run", sort=False).agg(
        right=("right", "sum"), n=("right", "size"), **{"log10 rho": ("log10 rho", "first")}
    )
    runs["block"] = data.groupby("run", sort=False)["block"].first()
    clusters = len(runs)
    counts = np.column_stack([runs["right"], runs["n"] - runs["right"]])
    start = GLM(counts, design(runs), family=families.Binomial()).fit().params
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = GEE(
            data["right"].to_numpy(),
            design(data),
            groups=data["run"].to_numpy(),
            family=families.Binomial(),
            cov_struct=Exchangeable(),
        ).fit(start_params=start, scaling_factor=clusters / (clusters - 4))
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    t = sps.t(clusters - 4)
    se = np.asarray(fit.bse)
    half = t.ppf((1 + statistics.LEVEL) / 2) * se
    ci = np.column_stack([fit.params - half, fit.params + half])
    pvalues = 2 * t.sf(np.abs(np.asarray(fit.params) / se))
    a, b = ka[0], kb[0]
    terms = (
        f"{b}: log-odds at centre",
        f"{b}: per tenfold rho",
        f"{a} − {b} at centre",
        f"{a} − {b} per tenfold rho",
    )
    rows = []
    for i, term in enumerate(terms):
        coef, lo, hi = float(fit.params[i]), float(ci[i, 0]), float(ci[i, 1])
        rows.append(
            {
                "arm": arm,
                "term": term,
                "coefficient": num(coef, 3),
                "coefficient lo": num(lo, 3),
                "coefficient hi": num(hi, 3),
                "odds ratio": num(math.exp(coef), 3),
                "odds ratio lo": num(math.exp(lo), 3),
                "odds ratio hi": num(math.exp(hi), 3),
                "p": p_value(float(pvalues[i])),
                "_p": float(pvalues[i]),  # for pooled_table's Holm over the arms
                "runs": int(data["run"].nunique()),
                "levels": int(data["log10 rho"].nunique()),
                "centre rho": num(10**centre, 1),
                "images": len(data),
                "within-run correlation": num(float(fit.cov_struct.dep_params), 4),
                "converged": "yes" if converged else "no",
            }
        )
    return rows


NOT_TOLD = "not told from zero"


def pooled_table(study, table) -> pd.DataFrame:
    """Every arm's pooled model. The answer asks of each arm whether the gap grows with ρ, so the
    interaction terms' p values are also Holm–Bonferroni adjusted over the arms ('Holm p'), and
    'gap with rho' says what that adjusted test says, its direction read from the coefficient."""
    df = pd.DataFrame(
        [
            row
            for arm, ka, kb in arms(study, table)
            for row in pooled_model(study, table, arm, ka, kb)
        ]
    )
    if df.empty:
        return df
    inter = df["term"].str.contains(" − ") & df["term"].str.endswith(" per tenfold rho")
    holm = statistics.holm(list(df.loc[inter, "_p"]))
    reject = [p < study.alpha for p in holm]
    df["Holm p"], df["gap with rho"] = "", ""
    df.loc[inter, "Holm p"] = [p_value(float(p)) for p in holm]
    a = study.study["mobilenet"]
    df.loc[inter, "gap with rho"] = [
        (f"grows for {a}" if c > 0 else f"grows against {a}") if r else NOT_TOLD
        for c, r in zip(df.loc[inter, "coefficient"], reject)
    ]
    return df.drop(columns="_p")


# ------------------------------------------------------------------ the section
def section(study) -> list[str]:
    table = curves(study)
    if not table:
        return []
    a, b = study.study["mobilenet"], study.study["plain"]
    threshold = float(spec(study).get("recall_threshold", 0.9))  # a rate, as minority_recall
    below = f"{pct(threshold):g}%"  # as the tables print it
    levels = level_table(study, table)
    cross = pd.DataFrame([threshold_row(study, table, k, threshold) for k in table])
    draws = draw_table(study, table)
    gaps = gap_table(study, table)
    gains = gain_table(study, table)
    ratios = ratio_table(study, table, threshold)
    pooled = pooled_table(study, table)
    path = study.figure("severity")
    study_figures.severity(levels, path, threshold)
    lines = [
        "## 9. Imbalance severity",
        "",
        "The minority classes keep a share `keep_fraction` of their training images, from "
        f"{text(levels['keep fraction'].min(), 3)} to {text(levels['keep fraction'].max(), 3)}; ρ "
        "is the largest training class over the smallest. Per architecture, without a remedy, "
        "with the remedy chosen on validation for it (section 8), and with the remedy chosen for "
        "the other architecture where that was trained at the levels, the mean over each level's "
        "own seeds (`seeds`: levels may have different seeds) and its 95% interval:",
        "",
        study.tables(levels, "severity"),
        f"![test accuracy, balanced accuracy and minority recall against ρ]({link_to(path)})",
        "",
        f"Where minority recall falls below {below} (per seed, on the levels that have "
        "the seed, interpolated on log ρ between the last level above and the next; geometric "
        "mean over the seeds on two levels or more and 95% interval, given where every such seed "
        "crosses):",
        "",
        study.tables(
            cross,
            "severity_threshold",
            shown=[
                "architecture",
                "remedy",
                "seeds",
                "crossed",
                "rho at threshold",
                "rho at threshold lo",
                "rho at threshold hi",
                "never below",
                "below at every level",
                "seeds on one level",
            ],
        ),
    ]
    for _, r in cross[cross["seeds"] > 0].iterrows():
        where = (
            f"at ρ {text(r['rho at threshold'], 1)} [{text(r['rho at threshold lo'], 1)}, "
            f"{text(r['rho at threshold hi'], 1)}]"
            if r["crossed"] == r["seeds"]
            else f"in {r['crossed']} of {r['seeds']} seeds (never below: {r['never below']}, "
            f"below at every level: {r['below at every level']})"
        )
        lines.append(f"- {r['architecture']}, remedy {r['remedy']}: below {below} {where}.")
    lines += [
        "",
        f"{a} − {b} at each level, per arm: no remedy; the chosen remedy (each block type's best "
        "remedy, chosen on validation: the remedies may differ, so this arm compares remedies as "
        "well as block types); the same remedy (one remedy for both: only the block type "
        "differs). The verdicts are Holm–Bonferroni adjusted within the secondary family "
        '(see "Every comparison"); the intervals are not, so an interval that excludes zero can '
        'still carry "inconclusive":',
        "",
        study.tables(gaps, "severity_gaps"),
    ]
    if len(gains):
        lines += [
            "Each remedy's gain in minority recall over no remedy, paired by seed:",
            "",
            study.tables(gains, "severity_gains"),
        ]
    declared = draw_levels(study)
    if len(draws):
        lines += [
            f"At {', '.join(declared)} each training seed also has its own split draw (split seed "
            "= training seed; found from the split configurations): minority recall over the "
            "seeds both have, on the level's one split and with each seed on its own draw, and "
            "how many times as wide the draws' 95% interval is:",
            "",
            study.tables(
                draws,
                "severity_split_draws",
                shown=[
                    "architecture",
                    "remedy",
                    "split",
                    "seeds",
                    "minority recall %, one split",
                    "minority recall %, one split lo",
                    "minority recall %, one split hi",
                    "minority recall %, split draws",
                    "minority recall %, split draws lo",
                    "minority recall %, split draws hi",
                    "width ×",
                ],
            ),
        ]
    lines += draw_words(draws, declared)
    on_draws = (
        f" (at {', '.join(declared)}: the split-draw curve, each seed on its own draw)"
        if declared
        else ""
    )
    margin = ratios["margin ×"].iloc[0] if len(ratios) else ratio_margin(study)
    lines += [
        f"The paired threshold ratio ρ*({a}) / ρ*({b}): per seed, on the levels where both "
        f"curves have that seed{on_draws}, where each curve falls below {below}, then the "
        "ratio; a seed is used where its levels bracket the crossing for both block types "
        "('seeds not used' says why the others are not). The geometric mean over the used "
        "seeds with its 95% t-interval on the log scale, its width (upper over lower end), and "
        "the verdict of a difference test on the log ratio and a TOST within a factor "
        f"{text(margin, 2)} (one Holm–Bonferroni over every arm's tests). Above 1, {a} tolerates "
        "more imbalance. 'seeds for width' is the number of seeds whose interval would be "
        "narrower than the width target at the seed-to-seed spread seen here:",
        "",
        study.tables(
            ratios,
            "severity_threshold_ratio",
            shown=[
                "arm",
                "remedies",
                "seeds",
                "seeds not used",
                "threshold ratio",
                "threshold ratio lo",
                "threshold ratio hi",
                "width ×",
                "verdict",
                "seeds for width",
            ],
        ),
    ]
    if len(pooled):
        lines += [
            "The pooled model, per arm: every minority test image of every run at every level "
            "both curves have, whatever its seed (the split-draw curve where declared), "
            f"right or wrong, against log10 ρ (centred) × block type ({a} against {b}); GEE "
            "(binomial, exchangeable correlation within a run, runs as clusters), 95% robust "
            f"intervals. '{a} − {b} per tenfold rho' is the interaction: how the gap in log-odds "
            "changes per tenfold ρ (0: the curves are shifted, not of different steepness); "
            "its p value is also Holm–Bonferroni adjusted over the arms, and the answer below "
            "reads that one:",
            "",
            study.tables(
                pooled,
                "severity_pooled_model",
                shown=[
                    "arm",
                    "term",
                    "coefficient",
                    "coefficient lo",
                    "coefficient hi",
                    "odds ratio",
                    "odds ratio lo",
                    "odds ratio hi",
                    "p",
                    "Holm p",
                    "runs",
                    "centre rho",
                ],
            ),
        ]
    lines += answer(study, table, gaps, ratios, pooled, a, b)
    return lines


# ------------------------------------------------------------------ the answer in words
def _tolerance(verdict: str, a: str, b: str, margin: str) -> str:
    """What a threshold ratio's verdict says about which block type tolerates more imbalance."""
    base = verdict.split(" (")[0]
    more, less = (a, b) if verdict.endswith("(higher)") else (b, a)
    if base == statistics.EQUIVALENT:
        return f"the two tolerate the same imbalance within {margin}"
    if base == statistics.WITHIN:
        return f"{more} tolerates more imbalance than {less}, by less than {margin}"
    if statistics.is_different(base):
        return f"{more} tolerates more imbalance than {less}"
    return f"which tolerates more cannot be told, nor their equivalence within {margin}"


def _ratio_words(r: pd.Series, a: str, b: str, all_trained: bool = True) -> str:
    """`all_trained`: every declared run is in (not an interim report), so an interval still
    wider than the width target means the seeds declared for it, the budget, are spent."""
    if r["verdict"] == "not tested":
        return (
            f"ρ*({a}) / ρ*({b}) is not tested ({r['seeds']} seeds where both curves cross; "
            f"not used: {r['seeds not used']})"
        )
    ci = (
        f"ρ*({a}) / ρ*({b}) = {text(r['threshold ratio'], 2)} "
        f"[{text(r['threshold ratio lo'], 2)}, {text(r['threshold ratio hi'], 2)}] over "
        f"{r['seeds']} seeds, an interval {text(r['width ×'], 2)}× wide"
    )
    what = _tolerance(r["verdict"], a, b, f"{text(r['margin ×'], 2)}×")
    target = f"{text(r['width target ×'], 1)}×"
    if r["width ×"] <= r["width target ×"]:
        need = f"; the interval is narrower than the {target} target"
    else:
        spent = " with every declared seed trained: the budget is spent" if all_trained else ""
        need = f"; the interval is wider than the {target} target{spent}"
        if pd.notna(r["seeds for width"]):
            need += f" ({int(r['seeds for width'])} seeds would make it narrower)"
    tests = (
        f"Holm p {r['p (Holm)']} for a difference, {r['p equivalence (Holm)']} for equivalence "
        f"within {text(r['margin ×'], 2)}×"
    )
    return f"{ci}: {r['verdict']} ({tests}), so {what}{need}"


def _interaction_words(rows: pd.DataFrame, a: str, b: str) -> str:
    r = rows[rows["term"] == f"{a} − {b} per tenfold rho"].iloc[0]
    ci = (
        f"{text(r['coefficient'], 3)} [{text(r['coefficient lo'], 3)}, "
        f"{text(r['coefficient hi'], 3)}] in log-odds per tenfold ρ (odds ratio "
        f"{text(r['odds ratio'], 3)}, p {r['p']}, {r['runs']} runs)"
    )
    ci += f"; Holm p {r['Holm p']} over the arms"
    if r["gap with rho"] == f"grows against {a}":
        return f"the {a} − {b} gap grows against {a} as ρ grows: {ci}"
    if r["gap with rho"] == f"grows for {a}":
        return f"the {a} − {b} gap grows in {a}'s favour as ρ grows: {ci}"
    return f"no change of the {a} − {b} gap with ρ can be told from zero: {ci}"


def _arm_phrase(arm: str, remedies: str) -> str:
    if arm == NONE:
        return "without a remedy"
    if arm == CHOSEN:
        return f"with each block type's best remedy ({remedies})"
    return f"with the same remedy for both ({remedies.split(' / ')[0]})"


def _level_verdicts(gaps: pd.DataFrame, arm: str, a: str, b: str, label: str) -> str | None:
    """How many levels' minority recall differences are equivalent, different, inconclusive."""
    rows = gaps[gaps["arm"] == arm] if len(gaps) else gaps
    if not len(rows):
        return None
    verdicts = rows["minority recall verdict"].tolist()
    n_eq = sum(statistics.is_same(v) for v in verdicts)
    n_diff = verdicts.count(statistics.BEYOND)
    closed = (
        "closes the gap at every level"
        if n_eq == len(verdicts)
        else "does not close the gap at every level"
        if n_diff
        else "cannot be shown to close the gap at every level"
    )
    margins = rows["minority recall margin ± (pp)"].dropna().unique()
    within = f"±{text(margins[0], 1)} pp" if len(margins) == 1 else "its margin"
    return (
        f"- {label}, the {a} − {b} minority recall difference is equivalent "
        f"within {within} at {n_eq} of {len(verdicts)} levels, different at {n_diff} and "
        f"inconclusive at {len(verdicts) - n_eq - n_diff}: the remedy {closed}."
    )


def same_remedy_note(study, table) -> str | None:
    """Where no same-remedy arm exists: why (the chosen remedies are one, so the chosen-remedy
    arm is it; or the runs of the other remedy are missing, with the levels they exist at)."""
    a, b = study.study["mobilenet"], study.study["plain"]
    ca, cb = chosen_remedy(study, a), chosen_remedy(study, b)
    if not ca or not cb or any(arm.startswith(SAME) for arm, _, _ in arms(study, table)):
        return None
    if ca == cb and same_remedy_template(study, b, a) == study.selected_remedy(b):
        return (
            f"- The remedy chosen for both is {ca}: the chosen-remedy arm compares the block "
            "types under one remedy."
        )
    levels = spec(study).get("splits") or []
    have = []
    for arch, other, remedy in ((b, a, ca), (a, b, cb)):
        template = same_remedy_template(study, arch, other)
        n = sum(bool(run_on_split(study, template, s)) for s in levels) if template else 0
        have.append(f"{arch} with {remedy} has runs at {n} of {len(levels)} levels")
    return (
        f"- One remedy for both: not answered yet ({'; '.join(have)}); declare those runs as a "
        "grid beside the severity grids and list it in study.severity.grids."
    )


def answer(study, table, gaps, ratios, pooled, a: str, b: str) -> list[str]:
    """The section's answer in words, each number read from a table above: (a) which block type
    tolerates more imbalance (the threshold ratio and its verdict), (b) whether the gap grows
    with ρ (the pooled model's interaction), (c) whether the same remedy closes it."""
    out = ["**The answer.**", ""]
    remedies = dict(zip(ratios["arm"], ratios["remedies"])) if len(ratios) else {}
    for _, r in ratios.iterrows():
        words = _ratio_words(r, a, b, all_trained=not study.left_out)
        out.append(f"- {_arm_phrase(r['arm'], r['remedies']).capitalize()}: {words}.")
    if len(pooled):
        for arm, rows in pooled.groupby("arm", sort=False):
            phrase = _arm_phrase(arm, remedies.get(arm, "")).capitalize()
            out.append(f"- {phrase}, pooled over every level: {_interaction_words(rows, a, b)}.")
    for arm, _, _ in arms(study, table):
        if arm != NONE:
            label = "With the chosen remedies" if arm == CHOSEN else "With the same remedy"
            if line := _level_verdicts(gaps, arm, a, b, label):
                out.append(line)
    same = ratios[ratios["arm"].str.startswith(SAME)] if len(ratios) else ratios
    for _, r in same.iterrows():
        base = r["verdict"].split(" (")[0]
        closes = (
            "closes the gap in tolerated imbalance"
            if base == statistics.EQUIVALENT
            else f"leaves a gap in tolerated imbalance smaller than {text(r['margin ×'], 2)}×"
            if base == statistics.WITHIN
            else "leaves a gap in tolerated imbalance"
            if statistics.is_different(base)
            else "cannot be shown to close the gap in tolerated imbalance"
        )
        out.append(
            f"- The same remedy ({r['remedies'].split(' / ')[0]}) for both {closes}: its "
            f"threshold ratio is {text(r['threshold ratio'], 2)} ({r['verdict']})."
        )
    if note := same_remedy_note(study, table):
        out.append(note)
    out.append("")
    return out
