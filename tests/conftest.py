"""Shared fixtures: small offline data (scikit-learn's digits), a digits version of params.yaml."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning (before torch loads, here and in every process the
# tests start): the test suite runs two pytest workers, each with stages of two torch threads, on
# two cores, where spinning threads take the core a working one needs. Measured (docs/benchmarks.md)
# on the quick preset's c1m3 training (5 epochs, 2 threads) beside the study's 2-thread MNIST
# training: 25.0 s wall spinning (libgomp's default), 7.3 s passive, the same model.pt bytes;
# c1m3_w2p875 alone: 7.7-7.8 s spinning, 8.4-9.1 s passive.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import yaml

from blockbench import datasets
from blockbench import params as bbp

REPO = Path(__file__).resolve().parents[1]


def digits_params(**train_overrides) -> dict:
    """params.yaml with the digits dataset and tiny, fast training (the tests' dataset)."""
    p = copy.deepcopy(yaml.safe_load((REPO / "params.yaml").read_text()))
    p["data"]["dataset"] = "digits"
    p["data"]["sources"] = ["sklearn"]
    p["train"].update({"epochs": 1, "batch_size": 256, **train_overrides})
    p["benchmark"].update({"steps": 2, "images": 64, "repeats": 2})  # the timings' shape, fast
    return bbp.validate(p)


@pytest.fixture
def params() -> dict:
    return digits_params()


@pytest.fixture(scope="session")
def digits_arrays():
    return datasets.from_sklearn("digits", seed=0)


# The modules that run whole pipelines, longest first (seconds on 2 cores, `--durations`, fresh
# clone on 2026-12-07: the engine scenarios about 290 in all, DVC's queue included since, the quick
# study 225, SLURM 122). With pytest-xdist (`-n auto --dist loadfile --no-loadscope-reorder`, see
# pyproject.toml) each worker takes the next module in this order, so the two longest start at once
# on separate workers and the short modules fill in around them.
HEAVY_FIRST = (
    "test_engines",
    "test_quick_study",
    "test_slurm",
    # then the next largest, so that the last modules a worker takes are short ones (2026-12-07:
    # 42, 41, 27, 24, 23, 19, 18, 16 s)
    "test_views",
    "test_predict",
    "test_reliability",
    "test_codedeps",
    "test_engine_lock",
    "test_resume",
    "test_report",
    "test_models_training",
)


# Module fixtures that build a whole fabricated study or pipeline (test_report's `built`: about 26 s
# on 2 cores): mutmut's recorded durations leave their set-up out.
COSTLY_FIXTURES = {"built", "pipeline"}


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown under `-p no:xdist`
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml): one pytest worker more than the machine has cores. The pipeline
    tests leave cores idle while they wait (DVC's and Snakemake's single-threaded bookkeeping
    between stages, the SLURM and queue tests' polling): with one worker per core, 16% of the two
    cores stayed idle during the 2026-12-07 quiet CI run (vmstat; docs/benchmarks.md, section 6)."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))
    if os.environ.get("MUTANT_UNDER_TEST", "") not in ("", "stats", "fail"):
        items.sort(key=_mutation_cost)


def _mutation_cost(item) -> tuple[bool, float]:
    """Under the mutation benchmark (scripts/mutation_benchmark.py; mutmut runs a mutant's tests
    with -x): the cheapest tests first, so that a killed mutant stops before a costly fixture is
    built. mutmut's stats of each test's duration, read once from its work folder."""
    if not _DURATIONS:
        stats = Path("mutmut-stats.json")  # mutmut runs the tests in its mutants/ folder
        data = json.loads(stats.read_text()) if stats.exists() else {}
        _DURATIONS.update(data.get("duration_by_test", {}) or {"": 0.0})
    costly = bool(COSTLY_FIXTURES & set(getattr(item, "fixturenames", ())))
    return costly, _DURATIONS.get(item.nodeid, 0.0)


_DURATIONS: dict[str, float] = {}


@pytest.fixture(scope="session")
def warm_stages():
    """One warm server for this test process (blockbench.warm), preloading the libraries only:
    `enginekit.run` hands it the stage scripts of every copy of the repository a test runs an
    engine in, and each imports blockbench from its own copy (a cold start's 2-5 s of imports
    saved per stage). tests/test_engines.py's DVC run stays cold and compares its bytes with a
    warm Snakemake run."""
    import enginekit

    from blockbench import warm
    from blockbench.quick import engine_env

    with warm.server(engine_env(), preload=warm.LIBRARIES) as shim:
        enginekit.WARM_SHIM = shim
        try:
            yield shim
        finally:
            enginekit.WARM_SHIM = None
