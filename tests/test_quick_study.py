"""The quick preset runs the whole study end to end."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from enginekit import dvc_stale

from blockbench import params as bbp
from blockbench import report
from blockbench.quick import copy_pipeline, quick_params, run_engine

pytestmark = pytest.mark.engines


def test_quick_preset_keeps_runs_and_study_on_digits():
    full = bbp.load(REPO / "params.yaml")
    quick = quick_params(full)
    assert quick["data"]["dataset"] == "digits"
    assert (
        list(quick["runs"]) == list(full["runs"])
        and quick["study"]["sweeps"] == full["study"]["sweeps"]
    )
    assert quick["train"]["epochs"] <= 5
    assert quick["runs"]["c1m3_bs3000"]["batch_size"] == 2 * quick["train"]["batch_size"]


def test_quick_preset_keeps_the_remedies_grid():
    full = bbp.load(REPO / "params.yaml")
    quick = quick_params(full)
    assert bbp.logical_runs(quick) == bbp.logical_runs(full)
    assert bbp.run_names(quick) == bbp.logical_runs(full)  # one seed per run
    assert (
        quick["grids"] == full["grids"] and quick["study"]["remedies"] == full["study"]["remedies"]
    )


def test_quick_study_end_to_end(tmp_path):
    """The whole study's report on digits, under DVC. Snakemake runs the whole DAG in
    tests/test_engines.py and writes the same bytes as DVC there (so it is not run twice here)."""
    engine = "dvc"
    params = quick_params(bbp.load(REPO / "params.yaml"))
    # keep the test short: two remedies (one repeated over a second seed) and the upper bound
    variants = params["grids"]["remedies"]["variants"]
    params["grids"]["remedies"]["variants"] = {
        "oversample": {**variants["oversample"], "replicate_seeds": [1]},
        "balanced": variants["balanced"],
    }
    params = bbp.validate(params)
    repo = copy_pipeline(REPO, tmp_path / engine, params)
    run_engine(repo, engine, cores=2)
    text = (repo / report.SUMMARY).read_text()
    for n in range(1, 10):
        assert f"## {n}." in text
    summary = json.loads((repo / report.SUMMARY_JSON).read_text())
    for name in ("c1m3", "c4", "c3m5"):  # the report's numbers are the runs' numbers
        metrics = json.loads((repo / "results" / "runs" / name / "metrics.json").read_text())
        assert summary["runs"][name]["accuracy"] == pytest.approx(metrics["accuracy"])
        assert f"{100 * metrics['accuracy']:.2f}%" in text
    assert "c1m3_oversample_s1" in bbp.run_names(params)
    for name in bbp.run_names(params):
        assert (repo / "results" / "runs" / name / "metrics.json").exists()
    for link in [
        line.split("](", 1)[1].split(")", 1)[0] for line in text.splitlines() if "![" in line
    ]:
        assert (repo / "results" / link).is_file(), link
    assert dvc_stale(repo) == set()
