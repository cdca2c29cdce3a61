"""Build the report from the runs trained so far, into another folder (default /tmp/interim).

While a study's runs accumulate (scripts/train_pending.py), the pipeline's aggregate stage cannot
run: it reads every run of params.yaml. This script copies params.yaml with each run's
`replicate_seeds` cut to the seeds whose evaluated files exist (a grid keeps the base runs whose
variants all have a seed), copies those runs' files and the splits' counts, and runs the same
aggregate code there. The repository's results/ are not touched; the copy's report says nothing
the full study will not say with more seeds.

    .venv/bin/python scripts/interim_report.py [--dest /tmp/interim]
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from blockbench import params as P  # noqa: E402
from blockbench import paths, report  # noqa: E402

NEEDED = ("metrics.json", "train.json", "history.csv", "confusion.csv", "pr.csv", "reliability.csv")


def done(run: str) -> bool:
    return all((ROOT / paths.run_dir(run) / f).exists() for f in NEEDED) and "validation" in (
        (ROOT / paths.metrics(run)).read_text()
    )


def cut(params: dict) -> dict:
    """params with only the trained seeds; runs without one are left out where that is allowed."""
    p = copy.deepcopy(params)
    entries = P.expand_runs(params)

    def seeds_of(logical: str) -> list[int]:
        return [e.seed for r, e in entries.items() if e.logical == logical and e.seed and done(r)]

    for name in [n for n in p["runs"] if not done(n)]:  # its own seed not trained yet
        if any(name in g["runs"] for g in (p.get("grids") or {}).values()):
            continue  # a grid's base run: the study's own runs, all trained
        del p["runs"][name]
    for name, ov in p["runs"].items():
        ov["replicate_seeds"] = seeds_of(name)
    _cut_capacity(p, params, done)
    for name, grid in list((p.get("grids") or {}).items()):
        grid["runs"] = [b for b in grid["runs"] if all(done(f"{b}_{v}") for v in grid["variants"])]
        if not grid["runs"]:  # no base run has every variant yet: the grid waits
            del p["grids"][name]
            for key in ("ablations", "split_seeds", "twins", "ablations_by_split"):
                if p["study"].get(key) == name:
                    p["study"][key] = None
            continue
        for v, ov in grid["variants"].items():
            common = None
            for b in grid["runs"]:
                s = set(seeds_of(f"{b}_{v}"))
                common = s if common is None else common & s
            ov["replicate_seeds"] = sorted(common or [])
    logical = P.logical_runs(p)
    p["seeds"] = {n: seeds_of(n) for n in (p.get("seeds") or {}) if n in logical}
    return P.validate(p, "interim params")


def _cut_capacity(p: dict, params: dict, done) -> None:
    """study.capacity on what is trained: the sweep's trained widths, the family's seeds that
    every remaining pair has, the pairs with at least 2 of them (none: no family, the sweep and
    its figure only need a pair, so the section waits)."""
    capacity = p["study"].get("capacity")
    if not capacity:
        return
    p["benchmark"]["runs"] = [r for r in p["benchmark"]["runs"] if r in p["runs"]]
    for side in capacity["sweep"]:
        capacity["sweep"][side] = [r for r in capacity["sweep"][side] if r in p["runs"]]
    entries = P.expand_runs(params)

    def trained_seeds(logical: str) -> set[int]:
        cfg = P.run_config(params, logical)
        return {
            e.seed if e.seed is not None else cfg["seed"]
            for r, e in entries.items()
            if e.logical == logical and done(r)
        }

    pairs = {
        k: v for k, v in capacity["pairs"].items() if v["a"] in p["runs"] and v["b"] in p["runs"]
    }
    seeds = set(capacity["seeds"])
    for v in pairs.values():
        seeds &= trained_seeds(v["a"]) & trained_seeds(v["b"])
    if len(seeds) < 2 or not pairs or min(map(len, capacity["sweep"].values())) < 2:
        p["study"].pop("capacity")
        return
    capacity["pairs"], capacity["seeds"] = pairs, sorted(seeds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", default="/tmp/interim")
    args = ap.parse_args()
    dest = Path(args.dest)
    params = cut(P.load(ROOT / "params.yaml"))
    shutil.rmtree(dest / "results", ignore_errors=True)
    for run in P.run_names(params):
        shutil.copytree(
            ROOT / paths.run_dir(run),
            dest / paths.run_dir(run),
            ignore=shutil.ignore_patterns("model.pt"),
        )
    shutil.copytree(ROOT / paths.RESULTS / "splits", dest / paths.RESULTS / "splits")
    if (ROOT / paths.BENCHMARK).exists():
        shutil.copytree(ROOT / paths.BENCHMARK, dest / paths.BENCHMARK)
    os.chdir(dest)
    report.aggregate(params, root=Path("."), require_current=False)
    print(f"interim report of {len(P.run_names(params))} runs: {dest / paths.SUMMARY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
