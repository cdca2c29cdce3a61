"""DVC's experiment queue on a small digits copy of the study: `dvc exp run --queue -S ...` queues
experiments, `dvc queue start -j 2` runs two at a time, `dvc exp show` compares them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from enginekit import git, make_copy, run
from test_engines import engine_params

from blockbench import params as bbp

# stage scripts forked from a warm server (conftest.warm_stages) unless a test says otherwise
pytestmark = [pytest.mark.engines, pytest.mark.usefixtures("warm_stages")]


def queue_params() -> dict:
    """engine_params without the grid and the replicate: two runs, c4 and c1m3, one epoch."""
    p = engine_params()
    p["runs"]["c4"].pop("replicate_seeds", None)
    p["grids"] = {}
    return bbp.validate(p)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The study run once by DVC and committed to git (experiments need a commit to start from)."""
    repo = make_copy(tmp_path_factory.mktemp("queue") / "repo", queue_params(), dvc=False)
    git(repo, "init", "-q")
    run(["dvc", "init", "-q"], repo)
    run(["dvc", "repro"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "study")
    return repo


def wait_for_queue(repo, timeout: float = 1200) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = run(["dvc", "queue", "status"], repo).stdout
        if not any(word in status for word in ("Queued", "Running")):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(2)


def experiments(repo) -> tuple[dict, dict[str, dict]]:
    """(the baseline commit's data, {experiment name: its data}) from `dvc exp show --json`."""
    rows = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    base = next(r for r in rows if r["rev"] != "workspace")
    exps = {rev["name"]: rev["data"] for e in base.get("experiments") or [] for rev in e["revs"]}
    return base["data"], exps


def changed_runs(repo: Path, exp: str) -> set[str]:
    """The runs whose flat metrics file an experiment changed against its baseline, as the README
    compares them: `dvc metrics diff HEAD <experiment> --targets results/metrics`."""
    cmd = ["dvc", "metrics", "diff", "--json", "HEAD", exp, "--targets", "results/metrics"]
    diff = json.loads(run(cmd, repo).stdout or "{}")
    return {Path(path).stem for path, changed in diff.items() if changed}


def run_params(data: dict, run_name: str) -> dict:
    return data["params"]["params.yaml"]["data"]["runs"][run_name]


def test_queued_experiments_run_two_at_a_time_and_compare(repo):
    params_before = (repo / "params.yaml").read_text()
    # a key the run does not set yet needs DVC's `+` form
    plain = run(["dvc", "exp", "run", "--queue", "-S", "runs.c4.epochs=2"], repo, check=False)
    assert plain.returncode != 0 and "+runs.c4.epochs=2" in plain.stdout + plain.stderr
    run(["dvc", "exp", "run", "--queue", "-n", "c4-epochs2", "-S", "+runs.c4.epochs=2"], repo)
    run(["dvc", "exp", "run", "--queue", "-n", "c1m3-lr", "-S", "runs.c1m3.lr=0.05"], repo)
    try:
        run(["dvc", "queue", "start", "-j", "2"], repo)
        status = wait_for_queue(repo)
    finally:
        run(["dvc", "queue", "stop"], repo, check=False)  # the workers idle on otherwise
    assert status.count("Success") == 2, status

    base, exps = experiments(repo)
    assert {"c4-epochs2", "c1m3-lr"} <= set(exps), exps.keys()
    c4_exp, c1m3_exp = exps["c4-epochs2"], exps["c1m3-lr"]
    assert run_params(c4_exp, "c4")["epochs"] == 2 and "epochs" not in run_params(base, "c4")
    assert run_params(c1m3_exp, "c1m3")["lr"] == 0.05
    # each experiment retrained only the run it changed
    assert changed_runs(repo, "c4-epochs2") == {"c4"}
    assert changed_runs(repo, "c1m3-lr") == {"c1m3"}
    log = run(["dvc", "queue", "logs", "c4-epochs2"], repo).stdout
    assert "Running stage 'train@c4'" in log and "Running stage 'train@c1m3'" not in log
    # the workspace is untouched: the experiments ran in DVC's own temporary copies
    assert (repo / "params.yaml").read_text() == params_before
    assert yaml.safe_load(params_before)["runs"]["c4"] == {"n_conv": 4, "n_mobilenet": 0}
