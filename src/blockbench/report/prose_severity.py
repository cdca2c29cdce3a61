"""Imbalance severity: how each architecture, with and without the remedy chosen on validation,
degrades as the minority classes keep fewer of their images (`study.severity`).

The levels are named splits (their `keep_fraction`); the imbalance ratio ρ of a level is the
largest training class over the smallest, read from the split's counts. A curve's runs are found
by configuration: for each architecture, the run with the architecture's configuration on the
level's split (no remedy), and the run with the chosen remedy's configuration on that split, so
the main study's runs are reused at their own levels. A curve uses the seeds every one of its
levels has, so each level's mean is over the same seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from .. import study_figures
from ..errors import BlockbenchError
from . import statistics
from .runs import Group, accuracy, balanced_accuracy, minority_recall
from .tables import link_to, num, summary_columns, text

QUESTION = "9 severity"
SEED_KEYS = ("seed", "replicate_seeds")  # not part of a configuration
CURVE_METRICS = {  # column -> (getter, scale)
    "accuracy %": (accuracy, "pct"),
    "balanced accuracy %": (balanced_accuracy, "pct"),
    "minority recall": (minority_recall, "rate"),
}


def spec(study) -> dict:
    return study.study.get("severity") or {}


def imbalance_ratio(group: Group) -> float:
    """ρ: the largest training class over the smallest (the split's counts)."""
    counts = [int(v) for v in group.first.split["class_counts"]["train"].values()]
    return max(counts) / min(counts)


def _config(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in SEED_KEYS}


def run_on_split(study, template: str, split: str) -> str | None:
    """The run whose configuration is `template`'s on `split` (None: not declared)."""
    want = {**_config(study.groups[template].cfg), "split": split}
    for name in [template, *study.groups]:  # the template itself first (twins of it may exist)
        if _config(study.groups[name].cfg) == want:
            return name
    return None


def curves(study) -> dict[tuple[str, str], dict[str, str]]:
    """(architecture, remedy) -> {level split: run}, levels in ascending ρ; the remedy is
    'none' or the one chosen on validation for the architecture."""
    levels = spec(study).get("splits") or []
    unknown = [s for s in levels if s not in study.params["splits"]]
    if unknown:
        raise BlockbenchError(
            f"params.yaml: study.severity.splits: unknown split {unknown[0]!r}; "
            f"known splits: {', '.join(study.params['splits'])}"
        )
    grids = [
        g for g in spec(study).get("grids") or [] if g not in (study.params.get("grids") or {})
    ]
    if grids:
        raise BlockbenchError(
            f"params.yaml: study.severity.grids: unknown grid {grids[0]!r}; "
            f"known grids: {', '.join(study.params.get('grids') or {})}"
        )
    out = {}
    for arch in (study.study["mobilenet"], study.study["plain"]):
        if arch not in study.groups:
            continue
        arms = {"none": arch}
        best = study.selected_remedy(arch)
        if best:
            arms[study.groups[best].cfg.get("remedy", "none")] = best
        for remedy, template in arms.items():
            runs = {s: r for s in levels if (r := run_on_split(study, template, s))}
            if runs:
                out[(arch, remedy)] = dict(
                    sorted(runs.items(), key=lambda kv: imbalance_ratio(study.groups[kv[1]]))
                )
    return out


def shared_seeds(study, runs: dict[str, str]) -> list[int]:
    sets = [set(study.groups[r].by_seed(accuracy)) for r in runs.values()]
    return sorted(set.intersection(*sets)) if sets else []


def on_seeds(group: Group, seeds: list[int]) -> Group:
    return Group(group.name, [r for r in group.runs if r.seed in seeds])


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


def threshold_row(study, arch: str, remedy: str, runs: dict[str, str], threshold: float) -> dict:
    """The ρ at which minority recall falls below `threshold`, per seed, and its geometric mean
    over the seeds with a 95% t-interval on log10 ρ (where every seed crosses)."""
    seeds = shared_seeds(study, runs)
    rho = [imbalance_ratio(study.groups[r]) for r in runs.values()]
    found, outcomes = [], []
    for s in seeds:
        values = [study.groups[r].by_seed(minority_recall)[s] for r in runs.values()]
        x, how = crossing(rho, values, threshold)
        outcomes.append(how)
        if x is not None:
            found.append(math.log10(x))
    row = {
        "architecture": arch,
        "remedy": remedy,
        "threshold": threshold,
        "seeds": len(seeds),
        "crossed": len(found),
    }
    mean = lo = hi = None
    if found and len(found) == len(seeds):
        logs = np.array(found)
        mean = 10 ** logs.mean()
        if len(logs) > 1:
            half = sps.t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
            lo, hi = 10 ** (logs.mean() - half), 10 ** (logs.mean() + half)
    row.update({"rho at threshold": num(mean, 1), "rho at threshold lo": num(lo, 1)})
    row["rho at threshold hi"] = num(hi, 1)
    row["never below"] = outcomes.count("above")
    row["below at every level"] = outcomes.count("below")
    return row


def level_pairs(study, table) -> list[tuple[str, str, str, str]]:
    """(arm, split, c1m3 run, c4 run) at every level both curves of an arm have; the arm is
    'none' or 'chosen remedy' (the architectures' chosen remedies may differ)."""
    a, b = study.study["mobilenet"], study.study["plain"]
    arms_a = [r for (arch, r) in table if arch == a]
    arms_b = [r for (arch, r) in table if arch == b]
    out = []
    for ra, rb in zip(arms_a, arms_b):
        arm = "none" if ra == "none" else "chosen remedy"
        for split, run_a in table[(a, ra)].items():
            if run_b := table[(b, rb)].get(split):
                out.append((arm, split, run_a, run_b))
    return out


def declare(study) -> None:
    """The secondary comparisons of the section: c1m3 − c4 at each level, per remedy arm."""
    for _, _, run_a, run_b in level_pairs(study, curves(study)):
        for metric in ("accuracy", "minority recall"):
            study.compare(QUESTION, run_a, run_b, metric)


def level_table(study, table) -> pd.DataFrame:
    rows = []
    for (arch, remedy), runs in table.items():
        seeds = shared_seeds(study, runs)
        for split, run in runs.items():
            g = on_seeds(study.groups[run], seeds)
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
    """Per architecture and level: the remedy's gain in minority recall over no remedy (paired
    by seed; its 95% interval inside what a gain can be, `statistics.bounded_gain`)."""
    rows = []
    for arch in (study.study["mobilenet"], study.study["plain"]):
        arms = {r: runs for (x, r), runs in table.items() if x == arch}
        if "none" not in arms or len(arms) < 2:
            continue
        remedy = next(r for r in arms if r != "none")
        for split, run in arms[remedy].items():
            base = arms["none"].get(split)
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


def trend(study, table, remedy_arm: str) -> dict | None:
    """The slope of the per-seed minority recall gap (c1m3 − c4, pp) against log10 ρ, fitted per
    seed over the levels both curves share, with a 95% t-interval over the seeds."""
    a, b = study.study["mobilenet"], study.study["plain"]
    ka = next((k for k in table if k[0] == a and (k[1] == "none") == (remedy_arm == "none")), None)
    kb = next((k for k in table if k[0] == b and (k[1] == "none") == (remedy_arm == "none")), None)
    if not ka or not kb:
        return None
    levels = [s for s in table[ka] if s in table[kb]]
    seeds = sorted(
        set(shared_seeds(study, {s: table[ka][s] for s in levels}))
        & set(shared_seeds(study, {s: table[kb][s] for s in levels}))
    )
    if len(levels) < 3 or len(seeds) < 2:
        return None
    x = np.log10([imbalance_ratio(study.groups[table[ka][s]]) for s in levels])
    slopes = []
    for seed in seeds:
        gap = [
            100
            * (
                study.groups[table[ka][s]].by_seed(minority_recall)[seed]
                - study.groups[table[kb][s]].by_seed(minority_recall)[seed]
            )
            for s in levels
        ]
        slopes.append(np.polyfit(x, gap, 1)[0])
    d = statistics.describe(slopes)
    return {
        "arm": remedy_arm,
        "levels": len(levels),
        "seeds": len(seeds),
        "slope (pp per tenfold rho)": num(d["mean"]),
        "slope (pp per tenfold rho) lo": num(d["lo"]),
        "slope (pp per tenfold rho) hi": num(d["hi"]),
    }


def _trend_words(r: dict, a: str, b: str) -> str:
    s, lo, hi = (
        r["slope (pp per tenfold rho)"],
        r["slope (pp per tenfold rho) lo"],
        r["slope (pp per tenfold rho) hi"],
    )
    ci = f"{text(s, 2)} pp per tenfold ρ [{text(lo, 2)}, {text(hi, 2)}], {r['seeds']} seeds"
    if hi is not None and hi < 0:
        return f"{a}'s minority recall falls further behind {b}'s as ρ grows ({ci})"
    if lo is not None and lo > 0:
        return f"{a}'s minority recall gains on {b}'s as ρ grows ({ci})"
    return f"no trend of the {a} − {b} minority recall gap with ρ can be told from zero ({ci})"


def section(study) -> list[str]:
    table = curves(study)
    if not table:
        return []
    a, b = study.study["mobilenet"], study.study["plain"]
    threshold = float(spec(study).get("recall_threshold", 0.9))
    levels = level_table(study, table)
    cross = pd.DataFrame([threshold_row(study, k[0], k[1], r, threshold) for k, r in table.items()])
    gaps = gap_table(study, table)
    gains = gain_table(study, table)
    trends = pd.DataFrame([t for arm in ("none", "remedy") if (t := trend(study, table, arm))])
    path = study.figure("severity")
    study_figures.severity(levels, path, threshold)
    lines = [
        "## 9. Imbalance severity",
        "",
        "The minority classes keep a share `keep_fraction` of their training images, from "
        f"{text(levels['keep fraction'].min(), 3)} to {text(levels['keep fraction'].max(), 3)}; ρ "
        "is the largest training class over the smallest. Per architecture, without a remedy and "
        "with the remedy chosen on validation (section 8), the mean over the seeds every level of "
        "the curve has and its 95% interval:",
        "",
        study.tables(levels, "severity"),
        f"![test accuracy, balanced accuracy and minority recall against ρ]({link_to(path)})",
        "",
        f"Where minority recall falls below {threshold:g} (per seed, interpolated on log ρ "
        "between the last level above and the next; geometric mean over the seeds and 95% "
        "interval, given where every seed crosses):",
        "",
        study.tables(cross, "severity_threshold"),
    ]
    for _, r in cross[cross["seeds"] > 0].iterrows():
        where = (
            f"at ρ {text(r['rho at threshold'], 1)} [{text(r['rho at threshold lo'], 1)}, "
            f"{text(r['rho at threshold hi'], 1)}]"
            if r["crossed"] == r["seeds"]
            else f"in {r['crossed']} of {r['seeds']} seeds (never below: {r['never below']}, "
            f"below at every level: {r['below at every level']})"
        )
        lines.append(f"- {r['architecture']}, remedy {r['remedy']}: below {threshold:g} {where}.")
    lines += [
        "",
        f"{a} − {b} at each level (secondary family; each architecture with its own chosen remedy "
        "in the remedy arm). The verdicts are Holm–Bonferroni adjusted within the secondary family "
        '(see "Every comparison"); the intervals are not, so an interval that excludes zero can '
        'still carry "inconclusive":',
        "",
        study.tables(gaps, "severity_gaps"),
    ]
    if len(gains):
        lines += [
            "The remedy's gain in minority recall over no remedy, paired by seed:",
            "",
            study.tables(gains, "severity_gains"),
        ]
    lines += answer(study, gaps, trends, a, b)
    return lines


def answer(study, gaps: pd.DataFrame, trends: pd.DataFrame, a: str, b: str) -> list[str]:
    """The section's answer in words, each derived from a row above."""
    out = ["**The answer.**", ""]
    if len(trends):
        out.append(study.tables(trends, "severity_trend"))
        for _, r in trends.iterrows():
            arm = "without a remedy" if r["arm"] == "none" else "with the chosen remedies"
            out.append(f"- {arm.capitalize()}: {_trend_words(r, a, b)}.")
    remedy = gaps[gaps["arm"] == "chosen remedy"] if len(gaps) else gaps
    if len(remedy):
        verdicts = remedy["minority recall verdict"].tolist()
        n_eq = sum(statistics.is_same(v) for v in verdicts)
        n_diff = verdicts.count(statistics.BEYOND)
        closed = (
            "closes the gap at every level"
            if n_eq == len(verdicts)
            else "does not close the gap at every level"
            if n_diff
            else "cannot be shown to close the gap at every level"
        )
        margins = remedy["minority recall margin ± (pp)"].dropna().unique()
        within = f"±{text(margins[0], 1)} pp" if len(margins) == 1 else "its margin"
        out.append(
            f"- With the chosen remedies, the {a} − {b} minority recall difference is equivalent "
            f"within {within} at {n_eq} of {len(verdicts)} levels, different at {n_diff} and "
            f"inconclusive at {len(verdicts) - n_eq - n_diff}: the remedy {closed}."
        )
    out.append("")
    return out
