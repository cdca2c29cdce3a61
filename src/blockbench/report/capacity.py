"""Block type at equal cost (`study.capacity`): the width sweep, the Pareto figure and the
pre-registered matched pairs.

The MobileNet paper's question: at the same cost, which block is more accurate? Both block types
are trained at several widths (`sweep`); cost is measured three ways -- multiply-accumulates and
parameters (closed form, `blockbench.architecture`) and the benchmark stage's training-step time.
The matched pairs (`pairs`) are a confirmatory family of their own, declared in params.yaml by the
commit `declared_in` before any of its runs was trained: each pair and metric gets a difference test
and a TOST at the metric's margin, one Holm-Bonferroni over all of them, and a verdict from both
(`statistics.verdict4`). Only the family's `seeds` enter it, all trained after the declaration.
"""

from __future__ import annotations

import math
import statistics as pystats

import pandas as pd

from .. import paths
from ..architecture import plan_of, totals
from ..params import replicates, run_config
from ..storage import read_json
from . import statistics
from .runs import accuracy, minority_recall
from .tables import link_to, num, outward, pct, text

FAMILY = "capacity"
# study.capacity.metrics key -> (report metric name, getter)
METRICS = {
    "accuracy": ("accuracy", accuracy),
    "minority_recall": ("minority recall", minority_recall),
}
COSTS = {
    "macs": "MACs per image",
    "parameters": "parameters",
    "train_step_seconds": "training-step time",
}
N_CLASSES = 10


def run_seeds(params: dict, logical: str) -> dict[int, str]:
    """Seed -> run name of a logical run and its replicates."""
    return {run_config(params, run)["seed"]: run for run in replicates(params, logical)}


def spec(study) -> dict | None:
    return study.study.get("capacity") or None


def seeds(study) -> list[int]:
    return list(spec(study)["seeds"])


def step_seconds(study, run: str) -> float | None:
    """Median training-step seconds of `run` in the benchmark stage (None: not benchmarked)."""
    path = study.root / paths.benchmark(run)
    if not path.exists():
        return None
    return float(pystats.median(read_json(path)["train_step_seconds"]))


def costs(study, run: str) -> dict:
    """MACs and parameters (closed form) and the benchmark's median step time of a run."""
    cfg = study.groups[run].cfg
    t = totals(plan_of(cfg), N_CLASSES)
    return {
        "macs": t["macs"],
        "parameters": t["parameters"],
        "train_step_seconds": step_seconds(study, run),
    }


def declare(study) -> None:
    """The matched pairs' comparisons, in the capacity family, on the family's seeds only."""
    s = spec(study)
    if not s:
        return
    keep = set(s["seeds"])
    for pair, p in s["pairs"].items():
        a, b = p["a"], p["b"]
        if a not in study.groups or b not in study.groups:
            continue
        for key, m in s["metrics"].items():
            name, get = METRICS[key]
            va = {k: v for k, v in study.groups[a].by_seed(get).items() if k in keep}
            vb = {k: v for k, v in study.groups[b].by_seed(get).items() if k in keep}
            study.family.add(
                f"capacity {pair}",
                a,
                b,
                name,
                va,
                vb,
                FAMILY,
                m["kind"],
                m["margin"] / 100.0,
                rate=True,
            )


def sweep_table(study) -> pd.DataFrame:
    """Per width of both block types: its costs and, over the family's seeds it has, mean test
    accuracy and minority recall with their 95% intervals (logit scale, `Group.interval`)."""
    s = spec(study)
    keep = seeds(study)
    rows = []
    for side, runs in s["sweep"].items():
        for run in runs:
            if run not in study.groups:
                continue
            g = study.groups[run].on_seeds(keep)
            c = costs(study, run)
            row = {
                "block type": "MobileNet (C1+M3)" if side == "mobilenet" else "plain (C4)",
                "run": run,
                "widths": "/".join(map(str, g.cfg["widths"] if g.n else [])),
                "MACs (M)": num(c["macs"] / 1e6, 3),
                "parameters": c["parameters"],
                "step s": num(c["train_step_seconds"], 3),
                "seeds": g.n,
            }
            for col, get in (("accuracy %", accuracy), ("minority recall %", minority_recall)):
                if g.n == 0:
                    row.update({col: None, f"{col} lo": None, f"{col} hi": None})
                    continue
                d = g.interval(get)
                lo, hi = outward(d["lo"], d["hi"], "pct")
                row.update({col: pct(d["mean"]), f"{col} lo": lo, f"{col} hi": hi})
            rows.append(row)
    return pd.DataFrame(rows)


def match_table(study) -> pd.DataFrame:
    """Per pair: what it is matched on, both runs' costs and the ratio a / b of the matched one
    against its tolerance."""
    rows = []
    for pair, p in spec(study)["pairs"].items():
        if p["a"] not in study.groups or p["b"] not in study.groups:
            continue
        ca, cb = costs(study, p["a"]), costs(study, p["b"])
        matched = p["matched"]
        ratio = (
            ca[matched] / cb[matched]
            if ca[matched] is not None and cb[matched] is not None
            else None
        )
        rows.append(
            {
                "pair": pair,
                "a": p["a"],
                "b": p["b"],
                "matched on": COSTS[matched],
                "a / b": num(ratio, 3),
                "tolerance ±": p["tolerance"],
                "within": "not measured"
                if ratio is None
                else "yes"
                if abs(ratio - 1) <= p["tolerance"]
                else "no",
                "MACs a / b": num(ca["macs"] / cb["macs"], 3),
                "step time a / b": num(ca["train_step_seconds"] / cb["train_step_seconds"], 3)
                if ca["train_step_seconds"] and cb["train_step_seconds"]
                else None,
            }
        )
    return pd.DataFrame(rows)


def pair_rows(study) -> pd.DataFrame:
    """The family's verdicts: one row per pair and metric (≤ 8 columns)."""
    s = spec(study)
    m = study.family.tests_in(FAMILY)
    rows = []
    for c in study.family.members(FAMILY):
        r = c.result
        pair = c.question.removeprefix("capacity ")
        metric_key = "accuracy" if c.metric == "accuracy" else "minority_recall"
        sd_plan = s["metrics"][metric_key]["planning_sd"] / 100.0
        alpha_first = study.alpha / m if m else None
        observed = (
            statistics.tost_power(r["sd"], r["n"], c.margin, alpha_first)
            if r.get("sd") and alpha_first
            else None
        )
        lo, hi = c.simultaneous or (None, None)
        rows.append(
            {
                "pair": f"{pair}: {c.a} − {c.b}",
                "metric": c.metric,
                "a − b (pp)": pct(r["diff"]),
                "a − b (pp) lo": None if lo is None else round(100 * lo, 2),
                "a − b (pp) hi": None if hi is None else round(100 * hi, 2),
                "margin ± (pp)": pct(c.margin),
                "verdict": c.verdict,
                "seeds": r["n"],
                "TOST power": num(observed, 2),
                "planned power": num(
                    statistics.tost_power(sd_plan, len(s["seeds"]), c.margin, alpha_first), 2
                )
                if alpha_first
                else None,
            }
        )
    return pd.DataFrame(rows)


def section(study) -> list[str]:
    s = spec(study)
    if not s:
        return []
    from .. import study_figures

    sweep = sweep_table(study)
    if sweep.empty or not (sweep["seeds"] > 0).any():
        return []
    matches = match_table(study)
    pairs = pair_rows(study)
    path = study.figure("capacity_pareto")
    study_figures.pareto(sweep, path)
    m = study.family.tests_in(FAMILY)
    family_seeds = f"{min(s['seeds'])}–{max(s['seeds'])}"
    lines = [
        "## Block type at equal cost",
        "",
        f"Both block types at {sweep['run'].nunique()} widths; each point is the mean over the "
        f"capacity family's seeds {family_seeds} that it has (trained after the commit "
        f"`{s.get('declared_in') or '(not recorded)'}` that declared the family), with its 95% "
        "interval (logit scale); cost on a log axis, measured three ways.",
        "",
        f"![accuracy and minority recall against MACs, parameters and training-step time]"
        f"({link_to(path)})",
        "",
        study.tables(sweep, "capacity_sweep"),
        "The matched pairs and how closely they match:",
        "",
        study.tables(matches, "capacity_matching"),
        f"The pre-registered family: {len(pairs)} comparisons, a difference test and a TOST each, "
        f"one Holm-Bonferroni over all {m} tests (α = {study.alpha:g}); intervals are "
        f"Bonferroni-simultaneous (each at level 1 − α / {m}) when {m} tests share α. "
        "TOST power is at the observed sd of the paired differences and Holm's first threshold; "
        "planned power at the declared planning sd.",
        "",
        study.tables(pairs, "capacity_pairs"),
    ]
    lines += [f"- {answer(study, r)}" for _, r in pairs.iterrows()]
    return lines + [""]


PAIR_WORDS = {
    "macs": "equal MACs",
    "train_step_seconds": "equal training-step time",
    "parameters": "equal parameters",
}


def headline(study) -> str | None:
    """The equal-cost answer for the headline: per pair and metric the difference, its
    simultaneous interval and the verdict, from the capacity_pairs table's numbers."""
    s = spec(study)
    if not s or not study.family.members(FAMILY):
        return None
    df = pair_rows(study)
    matching = match_table(study).set_index("pair")
    parts = []
    for pair, p in s["pairs"].items():
        rows = df[df["pair"] == f"{pair}: {p['a']} − {p['b']}"]
        if not len(rows):
            continue
        ratio = matching.loc[pair, "a / b"] if pair in matching.index else None
        where = PAIR_WORDS[p["matched"]] + (
            f" ({text(ratio, 3)}×)" if ratio is not None and not _nan(ratio) else ""
        )
        said = "; ".join(
            f"{r['metric']} {text(r['a − b (pp)'], 2)} pp [{text(r['a − b (pp) lo'], 2)}, "
            f"{text(r['a − b (pp) hi'], 2)}] ({r['verdict']})"
            for _, r in rows.iterrows()
        )
        parts.append(f"{where}, {p['a']} − {p['b']}: {said}")
    n = int(df["seeds"].min()) if len(df) else 0
    interim = (
        f" — interim: {n} of the {len(s['seeds'])} declared seeds trained so far"
        if n < len(s["seeds"])
        else ""
    )
    verdicts = [r["verdict"] for _, r in df.iterrows()]
    counts = ", ".join(f"{v} in {verdicts.count(v)}" for v in dict.fromkeys(verdicts))
    return (
        f"**At equal cost** the block types are {counts} of the {len(verdicts)} pre-registered "
        f"comparisons (declared in `{s.get('declared_in')}`, margins ±"
        f"{s['metrics']['accuracy']['margin']:g} pp accuracy and ±"
        f"{s['metrics']['minority_recall']['margin']:g} pp minority recall; "
        f"Bonferroni-simultaneous 95% intervals{interim}): " + "; ".join(parts) + "."
    )


def answer(study, r) -> str:
    """One sentence per row, every number from the row."""
    lo, hi = r["a − b (pp) lo"], r["a − b (pp) hi"]
    ci = f" [{text(lo, 2)}, {text(hi, 2)}]" if lo is not None and not _nan(lo) else ""
    return (
        f"{r['pair']}, {r['metric']}: {text(r['a − b (pp)'], 2)} pp{ci} over {r['seeds']} "
        f"seeds: {r['verdict']} (margin ±{text(r['margin ± (pp)'], 2)} pp; TOST power "
        f"{text(r['TOST power'], 2)})."
    )


def _nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)
