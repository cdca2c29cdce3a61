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
    return bbp.validate(p)


@pytest.fixture
def params() -> dict:
    return digits_params()


@pytest.fixture(scope="session")
def digits_arrays():
    return datasets.from_sklearn("digits", seed=0)


HEAVY_FIRST = ("slurm", "engines")  # markers of the modules that run whole pipelines


def pytest_collection_modifyitems(config, items):
    """Whole-pipeline modules first, so that with pytest-xdist (`-n auto --dist loadfile`, see
    pyproject.toml) the long ones start at once on separate workers and the short ones fill in
    around them, instead of one long module starting last."""
    items.sort(key=lambda item: not any(item.get_closest_marker(m) for m in HEAVY_FIRST))
