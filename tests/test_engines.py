"""Both engines run the whole DAG from params.yaml, agree byte for byte, keep a fresh clone cached,
and rerun exactly what a change touches.

One DVC-built repository (`origin`, committed to git as a user would) is cloned afresh for each
scenario, because a clone is what a new user or CI starts from."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from conftest import digits_params
from enginekit import (
    dvc_ran,
    dvc_stale,
    edit_params,
    git,
    make_copy,
    run,
    snakemake_planned,
    snakemake_planned_runs,
)

from blockbench import params as bbp
from blockbench import warm
from blockbench.quick import engine_env, warm_env

pytestmark = pytest.mark.engines

RUNS = {"c4", "c4_s1", "c4_focal", "c1m3"}
PLOTTED = {"c1m3", "c4"}  # the per-run figure set: only the runs the report shows figures of
C4_FAMILY = {"c4", "c4_s1", "c4_focal"}  # c4, its seed replicate and the grid run built on it
BYTE_IDENTICAL = [
    "data/raw/digits.npz",
    "data/prepared/imbalanced/split.npz",
    "results/splits/imbalanced/counts.json",
    "results/splits/imbalanced/class_distribution.png",
    *[
        f"results/runs/{r}/{f}"
        for r in sorted(RUNS)
        for f in (
            "config.yaml",
            "model.pt",
            "metrics.json",
            "confusion.csv",
            "roc.csv",
            "pr.csv",
            "reliability.csv",
        )
    ],
    *[
        f"results/runs/{r}/figures/{f}"
        for r in sorted(PLOTTED)
        for f in ("confusion.png", "roc.png")
    ],
    # the aggregate's outputs that hold no timing (train.json's seconds differ between runs; the
    # benchmark's speed rows are compared apart, below)
    "results/tables/3_per_class.csv",
    "results/study_figures/arch_curves.png",
]


def engine_params() -> dict:
    """digits, 1 epoch: c4 (+ seed replicate c4_s1, + grid run c4_focal) inherits the defaults,
    c1m3 overrides lr."""
    p = digits_params()
    p["splits"] = {"imbalanced": {}}
    p["runs"] = {
        "c4": {"n_conv": 4, "n_mobilenet": 0, "replicate_seeds": [1]},
        "c1m3": {"n_conv": 1, "n_mobilenet": 3, "lr": 0.02},
    }
    p["grids"] = {
        "remedies": {
            "runs": ["c4"],
            "variants": {"focal": {"remedy": "focal", "replicate_seeds": []}},
        }
    }
    p["seeds"] = {}  # the study's primary seed counts name runs this copy does not have
    p["study"] = {
        "mobilenet": "c1m3",
        "plain": "c4",
        "block_counts": ["c1m3"],
        "sweeps": {},
        "alpha": 0.05,
    }
    p["evaluate"] = {"bootstrap_samples": 50}
    return bbp.validate(p)


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The pipeline run once by DVC and committed (results/, dvc.lock), with a local DVC remote."""
    base = tmp_path_factory.mktemp("engines")
    repo = make_copy(base / "origin", engine_params(), dvc=False)
    git(repo, "init", "-q")
    run(["dvc", "init", "-q"], repo)
    out = run(["dvc", "repro"], repo).stdout
    run(["dvc", "remote", "add", "-d", "local", str(base / "remote")], repo)
    run(["dvc", "push", "-q"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "study")
    return repo, out


@pytest.fixture(scope="module")
def smk(tmp_path_factory):
    """The same pipeline run from nothing by Snakemake, its stages forked from a warm server
    (blockbench.warm, as the quick look runs them): DVC's stages start cold, so the byte-for-byte
    comparison also shows that a warm stage writes what a cold one does."""
    repo = make_copy(tmp_path_factory.mktemp("engines") / "smk", engine_params(), dvc=False)
    with warm_env(engine_env(repo)) as env:
        assert any("bb-warm-" in d for d in env["PATH"].split(os.pathsep)[:1])
        out = run(["snakemake", "--cores", "2"], repo, env=env).stdout
        shim = env["PATH"].split(os.pathsep)[0]
        served = warm.served_log(Path(shim).parent / "socket").read_text().splitlines()
    for name in RUNS:  # every stage of every run ran warm
        for stage in ("train", "evaluate"):
            assert any(f"scripts/{stage}.py --run {name} " in f"{c} " for c in served), served
    return repo, out


def clone(origin, tmp_path, name="clone"):
    repo, _ = origin
    run(["git", "clone", "-q", str(repo), str(tmp_path / name)], tmp_path)
    return tmp_path / name


def main_job(repo) -> str:
    """What scripts/main.sh does after set-up: write the run configs, then `dvc repro`."""
    run(["python", "workflow/scripts/configs.py"], repo)
    return run(["dvc", "repro"], repo).stdout


def test_dvc_runs_the_whole_dag(origin):
    _, out = origin
    ran = dvc_ran(out)
    assert {f"{stage}@{r}" for stage in ("train", "evaluate") for r in RUNS} <= ran
    assert {s for s in ran if s.startswith("plot@")} == {f"plot@{r}" for r in PLOTTED}
    assert {"configs", "download", "split@imbalanced", "benchmark", "aggregate"} <= ran


def test_snakemake_runs_the_whole_dag_with_the_same_bytes(origin, smk):
    dvc_repo, _ = origin
    smk_repo, out = smk
    for rule in ("train", "evaluate"):
        assert snakemake_planned_runs(smk_repo, rule, "--forceall") == RUNS
    assert snakemake_planned_runs(smk_repo, "plot", "--forceall") == PLOTTED
    assert "aggregate: wrote results/summary.md" in out
    for rel in BYTE_IDENTICAL:
        a, b = (dvc_repo / rel).read_bytes(), (smk_repo / rel).read_bytes()
        assert a, rel
        assert a == b, f"{rel} differs between the engines"
    # every seed-level comparison alike; the benchmark's speed rows are timings, and through Holm
    # within a family they move the adjusted p values and verdicts of their family's other rows
    timing_free = []
    for repo in (dvc_repo, smk_repo):
        df = pd.read_csv(repo / "results/tables/comparisons.csv", dtype=str)
        df = df[~df["metric"].isin(["training step time", "inference time per image"])]
        timing_free.append(df.drop(columns=["p (Holm)", "p equivalence (Holm)", "verdict"]))
    assert len(timing_free[0]) >= 2  # accuracy and validation loss of c1m3 vs c4
    pd.testing.assert_frame_equal(*timing_free)
    for r in RUNS:  # same training, epoch by epoch (the seconds column is a timing)
        a, b = (
            pd.read_csv(repo / f"results/runs/{r}/history.csv").drop(columns="seconds")
            for repo in (dvc_repo, smk_repo)
        )
        pd.testing.assert_frame_equal(a, b)


def test_nothing_left_to_do_after_a_run(origin, smk):
    assert dvc_stale(origin[0]) == set()
    assert snakemake_planned(smk[0]) == {}


def test_a_fresh_clone_retrains_nothing_and_changes_no_file(origin, tmp_path):
    repo = clone(origin, tmp_path)
    ran = dvc_ran(main_job(repo))
    assert ran <= {"download", "split@imbalanced"}, (
        ran
    )  # data/ is rebuilt; every trained run is kept
    assert git(repo, "status", "--porcelain").stdout == ""
    assert json.loads(run(["dvc", "metrics", "diff", "--json"], repo).stdout or "{}") == {}
    assert snakemake_planned(repo, "results/summary.md") == {}
    assert dvc_stale(repo) == set()


def test_a_fresh_clone_under_snakemake_first_trains_nothing(origin, tmp_path):
    repo = clone(origin, tmp_path)
    assert snakemake_planned(repo, "results/summary.md") == {}
    run(["snakemake", "--cores", "2", "data"], repo)  # the README's first step on a fresh clone
    planned = snakemake_planned(repo, "results/summary.md")
    assert not {"train", "evaluate", "plot"} & set(planned), planned


def test_a_fresh_clone_pulls_the_data_from_the_remote_and_is_up_to_date(origin, tmp_path):
    repo = clone(origin, tmp_path)
    run(["dvc", "pull", "-q"], repo)
    assert (repo / "data/prepared/imbalanced/split.npz").is_file()
    assert dvc_stale(repo) == set()


def test_changing_one_runs_lr_makes_only_that_run_and_its_family_stale(origin, tmp_path):
    repo = clone(origin, tmp_path)
    main_job(repo)
    edit_params(repo, lambda p: p["runs"]["c4"].update(lr=0.05))
    # and the benchmark, which times c4's optimizer (configs.BENCHMARK_KEYS)
    assert dvc_stale(repo) == {"configs", "benchmark"} | {f"train@{r}" for r in C4_FAMILY}
    for rule in ("train", "evaluate"):  # Snakemake plans what follows too
        assert snakemake_planned_runs(repo, rule, "results/summary.md") == C4_FAMILY
    assert snakemake_planned_runs(repo, "plot", "results/summary.md") == C4_FAMILY & PLOTTED


def test_bootstrap_samples_reruns_only_the_evaluate_stages(origin, tmp_path):
    repo = clone(origin, tmp_path)
    main_job(repo)
    edit_params(repo, lambda p: p["evaluate"].update(bootstrap_samples=60))
    assert dvc_stale(repo) == {f"evaluate@{r}" for r in RUNS}
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == set()
    assert snakemake_planned_runs(repo, "evaluate", "results/summary.md") == RUNS


def test_changing_a_default_makes_only_the_runs_that_inherit_it_stale(origin, tmp_path):
    repo = clone(origin, tmp_path)
    main_job(repo)
    edit_params(repo, lambda p: p["train"].update(lr=0.005))  # c1m3 overrides lr
    assert dvc_stale(repo) == {"configs", "benchmark"} | {f"train@{r}" for r in C4_FAMILY}
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == C4_FAMILY
    edit_params(repo, lambda p: p["train"].update(focal_gamma=1.0))  # read by the focal run only
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == C4_FAMILY


def test_code_edits_rerun_the_stages_that_import_the_code(origin, tmp_path):
    repo = clone(origin, tmp_path)
    main_job(repo)
    with open(repo / "src/blockbench/report/tables.py", "a") as fh:
        fh.write("# an edit\n")
    assert dvc_stale(repo) == {"aggregate"}
    assert snakemake_planned(repo, "results/summary.md") == {"aggregate": 1}
    with open(repo / "src/blockbench/params.py", "a") as fh:  # the module that resolves run configs
        fh.write("# an edit\n")
    stale = dvc_stale(repo)
    assert {f"train@{r}" for r in RUNS} <= stale and "configs" in stale
    # every stage imports params.py, the data stages too: Snakemake rebuilds data/ first (the
    # README's two steps), since it plans nothing behind a data job it must rerun (ancient links)
    run(["snakemake", "--cores", "2", "data"], repo)
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == RUNS


def test_after_changing_one_runs_lr_only_its_metrics_change(origin, tmp_path):
    repo = clone(origin, tmp_path)
    main_job(repo)
    edit_params(repo, lambda p: p["runs"]["c1m3"].update(lr=0.05))
    ran = dvc_ran(run(["dvc", "repro"], repo).stdout)
    assert {s for s in ran if s.startswith("train@")} == {"train@c1m3"}
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], repo).stdout or "{}")
    changed = {path for path, values in diff.items() if values}
    assert "results/runs/c1m3/metrics.json" in changed
    assert changed <= {"results/runs/c1m3/metrics.json", "results/summary.json"}


def test_an_experiment_on_a_fresh_clone_retrains_only_its_run(origin, tmp_path):
    """`dvc exp run -S` edits params.yaml; the configs stage then rewrites one run's config."""
    repo = clone(origin, tmp_path)
    main_job(repo)
    out = run(["dvc", "exp", "run", "-S", "runs.c1m3.lr=0.05"], repo).stdout
    assert {s for s in dvc_ran(out) if s.startswith("train@")} == {"train@c1m3"}
    assert "configs" in dvc_ran(out)
