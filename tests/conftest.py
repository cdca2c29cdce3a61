"""Shared fixtures: small offline data (scikit-learn's digits), a digits version of params.yaml."""

from __future__ import annotations

import copy
from pathlib import Path

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
# clone on 2026-11-29: the quick study 296, the engine scenarios about 360 in all, SLURM 138, DVC's
# queue 94). With pytest-xdist (`-n auto --dist loadfile --no-loadscope-reorder`, see
# pyproject.toml) each worker takes the next module in this order, so the two longest start at once
# on separate workers and the short modules fill in around them.
HEAVY_FIRST = ("test_quick_study", "test_engines", "test_slurm", "test_dvc_queue")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))
