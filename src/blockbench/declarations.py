"""The study's declarations against the runs params.yaml defines: checked before any stage runs.

`study.capacity` (its pairs' runs in the sweep, with every family seed), `study.severity` (its
splits, grids and split draws) and `study.ablations_by_split` name runs, seeds, splits and grids
the report needs. The report checks them first thing, but by then both engines have planned it,
and both remove a job's declared outputs before running it: a report refused there costs the
committed summary, tables and figures. So `keys.write` checks them too, when the Snakefile parses
and in DVC's first stage (`configs`, which reads `study`), and a bad declaration stops both engines
with one line before they plan anything. The standard library and blockbench.params only: the
Snakefile imports this while it parses.
"""

from __future__ import annotations

from .errors import ParamsError
from .params import did_you_mean, logical_runs, replicates, run_config


def check(params: dict, source: str = "params.yaml") -> None:
    """Every check below, the error prefixed with `source`."""
    try:
        check_capacity(params)
        check_severity(params)
        check_ablations_by_split(params)
    except ParamsError as exc:
        raise ParamsError(f"{source}: {exc}") from None


def check_capacity(params: dict) -> None:
    """study.capacity: every pair's runs are in the sweep and have every family seed."""
    spec = params["study"].get("capacity")
    if not spec:
        return
    logical = logical_runs(params)
    for side, runs in spec["sweep"].items():
        for run in runs:
            if run not in logical:
                raise ParamsError(
                    f"study.capacity.sweep.{side}: {run!r} is not a run{did_you_mean(run, logical)}"
                )
    for pair, p in spec["pairs"].items():
        for side, key in (("mobilenet", "a"), ("plain", "b")):
            name = p[key]
            if name not in spec["sweep"][side]:
                raise ParamsError(
                    f"study.capacity.pairs.{pair}.{key}: {name} is not in "
                    f"study.capacity.sweep.{side}; add it there"
                )
            seeds = {run_config(params, run)["seed"] for run in replicates(params, name)}
            missing = sorted(set(spec["seeds"]) - seeds)
            if missing:
                raise ParamsError(
                    f"study.capacity.pairs.{pair}.{key}: {name} has no seed "
                    f"{', '.join(map(str, missing))}; add them to seeds.{name}"
                )


def check_severity(params: dict) -> None:
    """study.severity: its splits, grids and split draws are ones params.yaml has."""
    spec = params["study"].get("severity") or {}
    levels = spec.get("splits") or []
    unknown = [s for s in levels if s not in params["splits"]]
    if unknown:
        raise ParamsError(
            f"study.severity.splits: unknown split {unknown[0]!r}; "
            f"known splits: {', '.join(params['splits'])}"
        )
    grids = params.get("grids") or {}
    unknown = [g for g in spec.get("grids") or [] if g not in grids]
    if unknown:
        raise ParamsError(
            f"study.severity.grids: unknown grid {unknown[0]!r}; "
            f"known grids: {', '.join(grids) or '(none)'}"
        )
    unknown = [s for s in spec.get("split_draws") or [] if s not in levels]
    if unknown:
        raise ParamsError(
            f"study.severity.split_draws: {unknown[0]!r} is not one of "
            f"study.severity.splits ({', '.join(levels)})"
        )


def check_ablations_by_split(params: dict) -> None:
    grid = params["study"].get("ablations_by_split")
    grids = params.get("grids") or {}
    if grid and grid not in grids:
        raise ParamsError(
            f"study.ablations_by_split: {grid!r} is not a grid; "
            f"known grids: {', '.join(grids) or '(none)'}"
        )
