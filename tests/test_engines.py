"""Both engines run the pipeline from params.yaml, agree byte for byte, and rerun only what changed."""

from __future__ import annotations

import copy
import json
import re

import pytest

from blockbench import dvcgen, params as bbp
from conftest import REPO, digits_params
from enginekit import dvc_stale, edit_params, make_copy, run, snakemake_planned, write_params

pytestmark = pytest.mark.engines

DETERMINISTIC_OUTPUTS = [
    "data/raw/digits.npz", "data/raw/digits.json",
    "data/prepared/imbalanced/split.npz",
    "results/splits/imbalanced/counts.json", "results/splits/imbalanced/class_distribution.png",
]


def engine_params() -> dict:
    """digits, 1 epoch, two runs: c4 inherits every default, c1m3 overrides lr."""
    p = digits_params()
    p["splits"] = {"imbalanced": {}}
    p.pop("grids", None)
    p["runs"] = {"c4": {"n_conv": 4, "n_mobilenet": 0}, "c1m3": {"n_conv": 1, "n_mobilenet": 3, "lr": 0.02}}
    p["study"] = {"mobilenet": "c1m3", "plain": "c4", "block_counts": ["c1m3"], "double_softmax": None,
                  "sweeps": {}, "alpha": 0.05}
    p["evaluate"] = {"bootstrap_samples": 50}
    return bbp.validate(p)


def git(repo, *args):
    return run(["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args], repo)


def test_committed_dvc_yaml_is_in_sync_with_params():
    assert (REPO / "dvc.yaml").read_text() == dvcgen.render(bbp.load(REPO / "params.yaml"))


def test_grids_and_replicates_expand_the_same_in_both_engines(tmp_path):
    p = engine_params()
    p["splits"]["balanced"] = {"keep_fraction": 1.0}
    p["runs"]["c4"]["replicate_seeds"] = [1, 2]
    p["grids"] = {"remedies": {"runs": ["c1m3", "c4"], "variants": {
        "focal": {"remedy": "focal"}, "balanced": {"split": "balanced", "replicate_seeds": [3]}}}}
    p = bbp.validate(p)
    repo = make_copy(tmp_path / "grid", p, dvc=True)
    dvc_runs = {s.split(" ")[0].removeprefix("train-")
                for s in run(["dvc", "stage", "list"], repo).stdout.splitlines() if s.startswith("train-")}
    dry = run(["snakemake", "-n", "--cores", "1", "-p", "--forceall"], repo).stdout
    smk_runs = set(re.findall(r"train\.py --run (\S+)", dry))
    expected = {"c4", "c4_s1", "c4_s2", "c1m3", "c1m3_focal", "c1m3_balanced", "c1m3_balanced_s3",
                "c4_focal", "c4_focal_s1", "c4_focal_s2", "c4_balanced", "c4_balanced_s3"}  # the variant's seeds win
    assert dvc_runs == smk_runs == set(bbp.run_names(p)) == expected
    # the seeds the engines train with: the replicate's seed is its name's
    seeds = {n: bbp.run_config(p, n)["seed"] for n in expected}
    assert seeds["c4_balanced_s3"] == 3 and seeds["c4"] == 0 and seeds["c4_focal_s2"] == 2
    assert bbp.run_config(p, "c4_balanced")["split"] == "balanced"


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    params = engine_params()
    base = tmp_path_factory.mktemp("engines")
    dvc_repo = make_copy(base / "dvc", params, dvc=False)
    smk_repo = make_copy(base / "smk", params, dvc=False)
    git(dvc_repo, "init", "-q")
    run(["dvc", "init", "-q"], dvc_repo)
    run(["dvc", "repro"], dvc_repo)
    git(dvc_repo, "add", "-A")
    git(dvc_repo, "commit", "-q", "-m", "baseline")
    run(["snakemake", "--cores", "2"], smk_repo)
    return dvc_repo, smk_repo, params


@pytest.fixture
def edit(repos):
    """Apply an edit of params.yaml to both copies; restore the original afterwards."""
    dvc_repo, smk_repo, params = repos

    def apply(change):
        for repo in (dvc_repo, smk_repo):
            edit_params(repo, change)

    yield apply
    for repo in (dvc_repo, smk_repo):
        write_params(repo, copy.deepcopy(params))


def test_both_engines_write_byte_identical_outputs(repos):
    dvc_repo, smk_repo, _ = repos
    for rel in DETERMINISTIC_OUTPUTS:
        a, b = (dvc_repo / rel).read_bytes(), (smk_repo / rel).read_bytes()
        assert a, rel
        assert a == b, f"{rel} differs between the engines"


def test_both_engines_train_every_run_with_the_same_history(repos):
    import pandas as pd

    dvc_repo, smk_repo, params = repos
    for name in params["runs"]:
        a = pd.read_csv(dvc_repo / f"results/runs/{name}/history.csv").drop(columns="seconds")
        b = pd.read_csv(smk_repo / f"results/runs/{name}/history.csv").drop(columns="seconds")
        assert len(a) == params["train"]["epochs"]
        pd.testing.assert_frame_equal(a, b)


def test_nothing_left_to_do_after_a_run(repos):
    dvc_repo, smk_repo, _ = repos
    assert dvc_stale(dvc_repo) == set()
    assert snakemake_planned(smk_repo) == {}


def test_changing_keep_fraction_makes_only_the_split_and_what_follows_stale(repos, edit):
    dvc_repo, smk_repo, _ = repos
    edit(lambda p: p["split"].update(keep_fraction=0.1))
    assert dvc_stale(dvc_repo) == {"split-imbalanced"}  # dvc status names the stage whose own inputs changed
    planned = snakemake_planned(smk_repo)
    assert planned.pop("split") == 1 and set(planned) <= {"train", "evaluate", "plot", "aggregate"}


def test_changing_one_runs_lr_makes_only_that_run_stale(repos, edit):
    dvc_repo, smk_repo, _ = repos
    edit(lambda p: p["runs"]["c4"].update(lr=0.05))
    assert dvc_stale(dvc_repo) == {"train-c4"}
    assert snakemake_planned(smk_repo, "results/runs/c4/train.json", "results/runs/c1m3/train.json") == {"train": 1}


def test_changing_a_default_makes_only_the_runs_that_inherit_it_stale(repos, edit):
    dvc_repo, smk_repo, _ = repos
    edit(lambda p: p["train"].update(lr=0.005))  # c1m3 overrides lr: only c4 inherits it
    assert dvc_stale(dvc_repo) == {"train-c4"}
    assert snakemake_planned(smk_repo, "results/runs/c4/train.json", "results/runs/c1m3/train.json") == {"train": 1}
    edit(lambda p: p["train"].update(weight_decay=0.001))  # both inherit it
    assert dvc_stale(dvc_repo) == {"train-c4", "train-c1m3"}
    assert snakemake_planned(smk_repo, "results/runs/c4/train.json", "results/runs/c1m3/train.json") == {"train": 2}


def test_after_changing_one_runs_lr_only_its_metrics_change(repos):
    """Runs last: it reproduces the DVC copy with c4 at another learning rate."""
    dvc_repo, _, _ = repos
    edit_params(dvc_repo, lambda p: p["runs"]["c4"].update(lr=0.05))
    run(["dvc", "repro"], dvc_repo)
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], dvc_repo).stdout or "{}")
    changed = {path for path, values in diff.items() if values}
    assert "results/runs/c4/metrics.json" in changed
    assert not any("c1m3" in path for path in changed)
    assert changed <= {"results/runs/c4/metrics.json", "results/summary.json"}
