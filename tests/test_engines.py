"""Both engines run the whole DAG from params.yaml, agree byte for byte, keep a fresh clone cached,
and rerun exactly what a change touches.

One DVC-built repository (`origin`, committed to git as a user would) is cloned afresh for each
scenario, because a clone is what a new user or CI starts from. Its stages, and those of the
scenarios, fork from the test process's warm server (conftest.warm_stages); one run's stages are
run cold once to show that this changes no byte."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import enginekit
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import digits_params
from enginekit import (
    dvc_init,
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
from blockbench.report import flat_metrics

# stage scripts forked from a warm server (conftest.warm_stages) unless a test says otherwise
pytestmark = [pytest.mark.engines, pytest.mark.usefixtures("warm_stages")]

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
    p["benchmark"]["runs"] = ["c1m3", "c4"]  # the study's capacity widths are not in this copy
    return bbp.validate(p)


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The pipeline run once by DVC and committed (results/, dvc.lock), with a local DVC remote."""
    base = tmp_path_factory.mktemp("engines")
    repo = make_copy(base / "origin", engine_params(), dvc=False)
    git(repo, "init", "-q")
    dvc_init(repo)
    out = run(["dvc", "repro"], repo).stdout  # warm (conftest.warm_stages); cold: test below
    run(["dvc", "remote", "add", "-d", "local", str(base / "remote")], repo)
    run(["dvc", "push", "-q"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "study")
    return repo, out


@pytest.fixture(scope="module")
def smk(tmp_path_factory):
    """The same pipeline run from nothing by Snakemake, its stages forked from a warm server of
    its own (blockbench.warm, as the quick look runs them; that every stage was served is checked
    here). That a cold stage writes what a warm one does: the cold-stage test below."""
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


@pytest.fixture(scope="module")
def cloned(origin, tmp_path_factory):
    """A fresh clone after the main job (data/ rebuilt, nothing retrained: the first fresh-clone
    test below checks that on its own clone), made once: each test that edits a clone after the
    main job gets a copy of it (`after_main_job`) instead of cloning and running the job again."""
    repo = clone(origin, tmp_path_factory.mktemp("cloned"))
    main_job(repo)
    assert git(repo, "status", "--porcelain").stdout == ""
    return repo


def after_main_job(cloned: Path, tmp_path: Path, name: str = "clone") -> Path:
    """A copy of the `cloned` fresh clone, in the state its main job left it."""
    return Path(shutil.copytree(cloned, tmp_path / name, symlinks=True))


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


def test_a_cold_stage_writes_what_a_warm_one_does(origin, tmp_path):
    """origin's stages ran forked from the warm server; c1m3's train, evaluate and plot stages run
    again here cold (a new interpreter each, nothing preloaded) on a copy of origin and write the
    same bytes (the seconds of train.json and history.csv are timings)."""
    repo = tmp_path / "cold"
    shutil.copytree(origin[0], repo, symlinks=True)
    shutil.rmtree(repo / "results/runs/c1m3")
    (repo / "data/checkpoints/c1m3.pt").unlink(missing_ok=True)
    env = engine_env(repo)  # no warm shim on PATH
    assert not any("bb-warm-" in d for d in env["PATH"].split(os.pathsep))
    for stage, extra in (("train", ["--threads", "2"]), ("evaluate", []), ("plot", [])):
        run(["python", f"workflow/scripts/{stage}.py", "--run", "c1m3", *extra], repo, env=env)
    compared = [rel for rel in BYTE_IDENTICAL if "/c1m3/" in rel]
    assert len(compared) >= 8, compared
    for rel in compared:
        assert (repo / rel).read_bytes() == (origin[0] / rel).read_bytes(), rel
    a, b = (
        pd.read_csv(r / "results/runs/c1m3/history.csv").drop(columns="seconds")
        for r in (repo, origin[0])
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
    assert not (repo / "data/prepared/imbalanced/split.npz").exists()
    assert snakemake_planned(repo, "results/summary.md") == {}
    # the Snakefile built the missing data/ before planning (blockbench.checkout)
    assert (repo / "data/prepared/imbalanced/split.npz").is_file()
    assert git(repo, "status", "--porcelain").stdout == ""


def edit_params_only(repo: Path, edit) -> None:
    """Edit params.yaml as a user does: no config file rewritten, no other command run."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    edit(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def add_run(params: dict) -> None:
    params["runs"]["c2"] = {"n_conv": 2, "n_mobilenet": 0}


def test_snakemake_on_a_fresh_clone_one_edit_plans_only_the_runs_it_touches(origin, tmp_path):
    """The mission's command alone: no `snakemake data` first (a hidden step nobody knows)."""
    repo = clone(origin, tmp_path)
    edit_params_only(repo, lambda p: p["runs"]["c4"].update(lr=0.05))
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == C4_FAMILY
    planned = snakemake_planned(repo, "results/summary.md")
    assert planned["train"] == len(C4_FAMILY) and "split" not in planned, planned


def test_snakemake_on_a_fresh_clone_trains_an_added_run_and_nothing_else(origin, tmp_path):
    repo = clone(origin, tmp_path)
    edit_params_only(repo, add_run)
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == {"c2"}
    out = run(["snakemake", "--cores", "2", "-p", "results/summary.md"], repo)
    assert set(re.findall(r"scripts/train\.py --run (\S+)", out.stdout + out.stderr)) == {"c2"}
    assert (repo / "results/runs/c2/metrics.json").is_file()
    changed = {line[3:] for line in git(repo, "status", "--porcelain").stdout.splitlines()}
    assert not any(
        p.startswith("results/runs/c") and not p.startswith("results/runs/c2") for p in changed
    ), changed


def test_dvc_on_a_fresh_clone_one_edit_reruns_only_the_runs_it_touches(origin, tmp_path):
    repo = clone(origin, tmp_path)
    edit_params_only(repo, lambda p: p["runs"]["c4"].update(lr=0.05))
    plan = run(["python", "workflow/scripts/configs.py", "--plan"], repo).stdout
    assert {s for s in re.findall(r"^(train@\S+)", plan, re.M)} == {
        f"train@{r}" for r in C4_FAMILY
    }, plan
    assert not (repo / "results/configs/c4.yaml").read_text().count("0.05")  # --plan wrote nothing
    ran = dvc_ran(run(["dvc", "repro"], repo).stdout)
    assert {s for s in ran if s.startswith("train@")} == {f"train@{r}" for r in C4_FAMILY}
    assert dvc_stale(repo) == set()


def test_dvc_on_a_fresh_clone_stops_before_training_when_a_run_is_added(origin, tmp_path):
    """dvc.yaml's foreach reads the run list at parse time: the first repro stops with one line
    saying to run it again, before any training; the second trains exactly the new run."""
    repo = clone(origin, tmp_path)
    edit_params_only(repo, add_run)
    plan = run(["python", "workflow/scripts/configs.py", "--plan"], repo).stdout
    assert re.findall(r"^(train@\S+)", plan, re.M) == ["train@c2"], plan
    first = run(["dvc", "repro"], repo, check=False)
    assert first.returncode != 0
    assert not {s for s in dvc_ran(first.stdout) if s.startswith("train@")}
    lines = [ln for ln in first.stderr.splitlines() if ln.startswith("error: params.yaml adds")]
    assert len(lines) == 1 and "c2" in lines[0], first.stderr
    assert "run `dvc repro` again" in lines[0]
    ran = dvc_ran(run(["dvc", "repro"], repo).stdout)
    assert {s for s in ran if s.startswith("train@")} == {"train@c2"}
    assert dvc_stale(repo) == set()


def test_a_fresh_clone_pulls_the_data_from_the_remote_and_is_up_to_date(origin, tmp_path):
    repo = clone(origin, tmp_path)
    run(["dvc", "pull", "-q"], repo)
    assert (repo / "data/prepared/imbalanced/split.npz").is_file()
    assert dvc_stale(repo) == set()


def test_changing_one_runs_lr_makes_only_that_run_and_its_family_stale(cloned, tmp_path):
    repo = after_main_job(cloned, tmp_path)
    edit_params(repo, lambda p: p["runs"]["c4"].update(lr=0.05))
    # and the benchmark, which times c4's optimizer (configs.BENCHMARK_KEYS)
    assert dvc_stale(repo) == {"configs", "benchmark"} | {f"train@{r}" for r in C4_FAMILY}
    for rule in ("train", "evaluate"):  # Snakemake plans what follows too
        assert snakemake_planned_runs(repo, rule, "results/summary.md") == C4_FAMILY
    assert snakemake_planned_runs(repo, "plot", "results/summary.md") == C4_FAMILY & PLOTTED


def test_bootstrap_samples_reruns_only_the_evaluate_stages(cloned, tmp_path):
    repo = after_main_job(cloned, tmp_path)
    edit_params(repo, lambda p: p["evaluate"].update(bootstrap_samples=60))
    assert dvc_stale(repo) == {f"evaluate@{r}" for r in RUNS}
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == set()
    assert snakemake_planned_runs(repo, "evaluate", "results/summary.md") == RUNS


def test_changing_a_default_makes_only_the_runs_that_inherit_it_stale(cloned, tmp_path):
    repo = after_main_job(cloned, tmp_path)
    edit_params(repo, lambda p: p["train"].update(lr=0.005))  # c1m3 overrides lr
    assert dvc_stale(repo) == {"configs", "benchmark"} | {f"train@{r}" for r in C4_FAMILY}
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == C4_FAMILY
    edit_params(repo, lambda p: p["train"].update(focal_gamma=1.0))  # read by the focal run only
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == C4_FAMILY


def test_code_edits_rerun_the_stages_that_import_the_code(cloned, tmp_path):
    repo = after_main_job(cloned, tmp_path)
    with open(repo / "src/blockbench/report/tables.py", "a") as fh:
        fh.write("# an edit\n")
    assert dvc_stale(repo) == {"aggregate"}
    assert snakemake_planned(repo, "results/summary.md") == {"aggregate": 1}
    with open(repo / "src/blockbench/params.py", "a") as fh:  # the module that resolves run configs
        fh.write("# an edit\n")
    stale = dvc_stale(repo)
    assert {f"train@{r}" for r in RUNS} <= stale and "configs" in stale
    # every stage imports params.py, the data stages too: their rerun does not hide the trainings
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == RUNS


def test_after_changing_one_runs_lr_only_its_metrics_change(cloned, tmp_path):
    repo = after_main_job(cloned, tmp_path)
    edit_params(repo, lambda p: p["runs"]["c1m3"].update(lr=0.05))
    ran = dvc_ran(run(["dvc", "repro"], repo).stdout)
    assert {s for s in ran if s.startswith("train@")} == {"train@c1m3"}
    if enginekit.WARM_SHIM is not None:  # in this test process's warm server, from the clone
        served = warm.served_log(enginekit.WARM_SHIM.parent / "socket").read_text()
        assert "scripts/train.py --run c1m3 " in served, served
    # each run's flat file: not declared as metrics, named on the command line (README)
    targets = ["--targets", "results/metrics", "results/headline.json"]
    diff = json.loads(run(["dvc", "metrics", "diff", "--json", *targets], repo).stdout or "{}")
    changed = {path for path, values in diff.items() if values}
    assert "results/metrics/c1m3.json" in changed
    assert changed <= {"results/metrics/c1m3.json", "results/headline.json"}
    # flat keys only, at human size (blockbench.report.flat_metrics)
    assert set(diff["results/metrics/c1m3.json"]) <= set(flat_metrics.RUN_KEYS)
    table = run(["dvc", "metrics", "diff", "--md", *targets], repo).stdout
    assert "per_class" not in table and len(table.splitlines()) <= 16, table


def test_dvc_metrics_show_is_a_small_flat_table(origin):
    repo, _ = origin
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo).stdout)
    files = next(iter(shown.values()))["data"]
    assert set(files) == {"results/headline.json"}  # the declared metrics: the headline only
    # each run's flat file on request (README)
    cmd = ["dvc", "metrics", "show", "--json", "results/metrics"]
    files = next(iter(json.loads(run(cmd, repo).stdout).values()))["data"]
    assert set(files) == {f"results/metrics/{r}.json" for r in RUNS}
    for path, content in files.items():
        values = content["data"]
        assert all(not isinstance(v, (dict, list)) for v in values.values()), path
        assert set(values) == set(flat_metrics.RUN_KEYS)


def test_dvc_plots_show_is_small_offline_and_holds_the_study_figures(origin, tmp_path):
    repo, _ = origin
    out = tmp_path / "plots"
    run(["dvc", "plots", "show", "-o", str(out)], repo)
    page = (out / "index.html").read_text()
    assert (out / "index.html").stat().st_size < 20e6
    assert not re.findall(r"<script[^>]*src=", page)  # every script inlined: nothing fetched
    assert "vegaEmbed" in page  # the inlined bundle, then one call per Vega plot
    vega = page.count("vegaEmbed('#")
    images = page.count("<img")
    figures = {p.name for p in (repo / "results/study_figures").glob("*.png")}
    assert all(f in page for f in figures)
    assert 3 <= vega and vega + images <= 60, (vega, images)


def test_the_snakemake_report_holds_the_summary_figures_and_tables_with_captions(origin, tmp_path):
    repo = clone(origin, tmp_path)
    run(["snakemake", "--report", "report.zip"], repo)
    assert not (repo / "data").exists()  # a report builds nothing
    with zipfile.ZipFile(repo / "report.zip") as zf:
        names = zf.namelist()
        text = "".join(
            zf.read(n).decode("utf-8", "replace") for n in names if n.endswith((".html", ".js"))
        )
    assert any(n.endswith("summary.html") for n in names)
    for figure in (repo / "results/study_figures").glob("*.png"):
        assert any(n.endswith(figure.name) for n in names), figure.name
    for table in ("comparisons.csv", "claims.csv"):
        if (repo / "results/tables" / table).exists():
            assert any(n.endswith(table) for n in names), table
    for caption in (
        "Training and validation loss and accuracy per epoch",
        "Every comparison",
        "the test confusion matrix",
        "Per-run figures",
        "Study figures",
    ):
        assert caption in text, caption


def test_an_experiment_on_a_fresh_clone_retrains_only_its_run(cloned, tmp_path):
    """`dvc exp run -S` edits params.yaml; the configs stage then rewrites one run's config."""
    repo = after_main_job(cloned, tmp_path)
    out = run(["dvc", "exp", "run", "-S", "runs.c1m3.lr=0.05"], repo).stdout
    assert {s for s in dvc_ran(out) if s.startswith("train@")} == {"train@c1m3"}
    assert "configs" in dvc_ran(out)


def start_and_kill_mid_training(repo: Path, cmd: list[str], log: Path) -> None:
    """Start `cmd`, wait until run c4 has finished an epoch, SIGKILL the whole process group."""
    proc = subprocess.Popen(
        cmd,
        cwd=repo,
        env=engine_env(repo),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 600
    while not (log.is_file() and "c4: epoch 2/" in log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, "never reached epoch 2"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_kill_between_outputs_is_caught_by_each_engine(origin, cloned, tmp_path):
    """A train stage killed after it wrote some outputs and before others: neither engine takes
    the mix of old and new files for a finished run (Snakemake's incomplete marker, DVC's lock
    hashes), and the rerun resumes from the checkpoint."""
    repo = clone(origin, tmp_path)
    edit_params_only(repo, lambda p: p["runs"]["c4"].update(epochs=200))
    start_and_kill_mid_training(
        repo, ["snakemake", "--cores", "2", "results/runs/c4/model.pt"], repo / "logs/train/c4.log"
    )
    # Snakemake deleted the job's old outputs before starting it, so no old file is left to mix
    # with new ones, and the unfinished job is planned again
    assert not (repo / "results/runs/c4/model.pt").exists()
    assert not (repo / "results/runs/c4/train.json").exists()
    run(["snakemake", "--unlock"], repo)  # its lock, left by the kill, lifted as it tells a user
    assert "c4" in snakemake_planned_runs(repo, "train", "results/summary.md")
    # simulate the mix directly for DVC: one output new, the others old
    repo = after_main_job(cloned, tmp_path, "clone_dvc")
    with open(repo / "results/runs/c4/model.pt", "ab") as fh:
        fh.write(b"\0")
    assert "train@c4" in dvc_stale(repo)


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


# ------------------------------------------------------------------ DVC's experiment queue
def test_queued_experiments_run_two_at_a_time_and_compare(cloned, tmp_path):
    """`dvc exp run --queue -S ...` queues experiments on a fresh clone after its main job,
    `dvc queue start -j 2` runs two at a time, `dvc exp show` compares them (README, "Many
    experiments at once")."""
    repo = after_main_job(cloned, tmp_path)
    params_before = (repo / "params.yaml").read_text()
    # a key the run does not set yet (c1m3 sets lr, inherits epochs) needs DVC's `+` form
    plain = run(["dvc", "exp", "run", "--queue", "-S", "runs.c1m3.epochs=2"], repo, check=False)
    assert plain.returncode != 0 and "+runs.c1m3.epochs=2" in plain.stdout + plain.stderr
    run(["dvc", "exp", "run", "--queue", "-n", "c1m3-epochs2", "-S", "+runs.c1m3.epochs=2"], repo)
    run(["dvc", "exp", "run", "--queue", "-n", "c1m3-lr", "-S", "runs.c1m3.lr=0.05"], repo)
    try:
        run(["dvc", "queue", "start", "-j", "2"], repo)
        status = wait_for_queue(repo)
    finally:
        run(["dvc", "queue", "stop"], repo, check=False)  # the workers idle on otherwise
    assert status.count("Success") == 2, status

    base, exps = experiments(repo)
    assert {"c1m3-epochs2", "c1m3-lr"} <= set(exps), exps.keys()
    epochs_exp, lr_exp = exps["c1m3-epochs2"], exps["c1m3-lr"]
    assert run_params(epochs_exp, "c1m3")["epochs"] == 2
    assert "epochs" not in run_params(base, "c1m3") and "epochs" not in run_params(lr_exp, "c1m3")
    assert run_params(lr_exp, "c1m3")["lr"] == 0.05 and run_params(epochs_exp, "c1m3")["lr"] == 0.02
    # each experiment retrained only the run it changed
    assert changed_runs(repo, "c1m3-epochs2") == {"c1m3"}
    assert changed_runs(repo, "c1m3-lr") == {"c1m3"}
    log = run(["dvc", "queue", "logs", "c1m3-epochs2"], repo).stdout
    assert "Running stage 'train@c1m3'" in log and "Running stage 'train@c4'" not in log
    # the workspace is untouched: the experiments ran in DVC's own temporary copies
    assert (repo / "params.yaml").read_text() == params_before
    assert "epochs" not in yaml.safe_load(params_before)["runs"]["c1m3"]


# ------------------------------------------------------------------ checked in a real browser
def chromium() -> str:
    """Debian's chromium, installed with apt-get where missing (as scripts/slurm_cluster.sh does
    for SLURM); the test is skipped, naming why, where it cannot be installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium missing and apt-get unavailable (not root)")
    apt = [
        "apt-get",
        "-q",
        "-o",
        "DPkg::Lock::Timeout=120",
        "install",
        "-y",
        "--no-install-recommends",
        "chromium",
    ]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(apt, capture_output=True, env=env).returncode != 0:
        subprocess.run(["apt-get", "-q", "update"], capture_output=True, env=env)
        if subprocess.run(apt, capture_output=True, env=env).returncode != 0:
            pytest.skip("apt-get install chromium failed")
    return shutil.which("chromium")


def browse(page: Path, tmp_path: Path) -> tuple[str, np.ndarray]:
    """The page's DOM after its scripts ran and a screenshot, in headless Chromium with the
    network cut off (every host name fails to resolve, no proxy)."""
    flags = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--virtual-time-budget=20000",
        "--window-size=1400,2400",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180
    ).stdout
    shot = tmp_path / "screenshot.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=180
    )
    from PIL import Image

    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("L"), dtype=float)
    return dom, pixels


@pytest.mark.browser
def test_dvc_plots_page_renders_offline_in_a_browser(origin, tmp_path):
    repo, _ = origin
    run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], repo)
    dom, pixels = browse(tmp_path / "plots" / "index.html", tmp_path)
    assert dom.count("<canvas") + dom.count("<svg") >= 3, dom[-3000:]  # Vega drew its plots
    assert "<img" in dom
    assert pixels.std() > 5, "blank page"


@pytest.mark.browser
def test_snakemake_report_renders_offline_in_a_browser(origin, tmp_path):
    repo = clone(origin, tmp_path)
    run(["snakemake", "--report", "report.zip"], repo)
    with zipfile.ZipFile(repo / "report.zip") as zf:
        zf.extractall(tmp_path / "report")
    page = next((tmp_path / "report").rglob("report.html"))
    dom, pixels = browse(page, tmp_path)
    for category in ("Summary", "Study figures", "Tables", "Per-run figures"):
        assert category in dom, category
    assert pixels.std() > 5, "blank page"


@pytest.mark.engines
def test_snakemake_rebuilds_a_run_whose_files_are_gone(origin, tmp_path):
    """`rm -r results/runs/c4_focal` (or a killed training whose outputs Snakemake deleted): the
    mission's command alone trains it again, and only it, instead of 'Nothing to be done'."""
    repo = clone(origin, tmp_path)
    snakemake_planned(repo, "results/summary.md")  # builds data/ as a fresh clone does
    shutil.rmtree(repo / "results/runs/c4_focal")
    assert snakemake_planned_runs(repo, "train", "results/summary.md") == {"c4_focal"}
    # only the trained files lost (a killed training): the same
    repo2 = clone(origin, tmp_path, "clone2")
    snakemake_planned(repo2, "results/summary.md")
    for name in ("model.pt", "config.yaml", "train.json", "history.csv"):
        (repo2 / "results/runs/c4_s1" / name).unlink()
    assert snakemake_planned_runs(repo2, "train", "results/summary.md") == {"c4_s1"}
