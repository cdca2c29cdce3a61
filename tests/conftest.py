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
