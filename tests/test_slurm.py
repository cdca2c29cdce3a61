"""The quick study runs end to end on a real SLURM: a one-node cluster on this host, installed and
started by scripts/slurm_cluster.sh, through `snakemake --profile workflow/profiles/slurm`.

The cluster has no accounting database, so the run adds `--slurm-status-command squeue` (the
plugin's own option) and `--slurm-init-seconds-before-status-checks 1` (short jobs); every
finished job is recorded by slurmctld in its job completion log (jobcomp/filetxt), which the test
reads to check that each Snakemake job ran as a SLURM job and completed."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO
from enginekit import edit_params, warm_engine_env

from blockbench import params as bbp
from blockbench import paths
from blockbench.quick import copy_pipeline, engine_env, quick_params
from blockbench.warm import served_log

pytestmark = pytest.mark.slurm

CLUSTER = REPO / "scripts" / "slurm_cluster.sh"
PROFILE = "workflow/profiles/slurm"  # in the copy, as a user runs it in the repository
# the jobs SLURM runs; download and split run where Snakemake runs, before it plans (the Snakefile
# brings data/ up to date first: blockbench.checkout)
RULES = {"train", "evaluate", "plot", "benchmark", "aggregate"}
LOCAL_CLUSTER_OPTIONS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",  # a local cluster answers at once (default: every 10 s)
    "2",
    "--slurm-no-account",
    "--slurm-keep-successful-logs",
]


def cluster(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER), command], capture_output=True, text=True)


@pytest.fixture(scope="session")
def slurm():
    """A running one-node cluster; started here (and stopped afterwards) unless it already ran."""
    was_running = cluster("status").returncode == 0
    if not was_running:
        started = cluster("start")
        if started.returncode == 3:  # the script's "cannot set up SLURM here"
            pytest.skip(started.stderr.strip().splitlines()[-1])
        assert started.returncode == 0, started.stdout + started.stderr
    yield
    if not was_running:
        stopped = cluster("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def slurm_params() -> dict:
    """The quick study cut to its headline pair, one seed each, on their one split, trained and
    timed as briefly as the tests' digits params (what SLURM is tested on is that every rule of the
    DAG runs as a job: 8 jobs, each starting cold, most of its time spent starting)."""
    p = quick_params(bbp.load(REPO / "params.yaml"))
    p["train"].update(epochs=1, batch_size=256)
    p["benchmark"].update(steps=2, images=64, repeats=2)
    p["evaluate"]["bootstrap_samples"] = 50
    study = p["study"]
    keep = {study["mobilenet"], study["plain"]}
    p["runs"] = {
        name: {**run, "replicate_seeds": []} for name, run in p["runs"].items() if name in keep
    }
    p["train"]["replicate_seeds"] = []
    p.pop("grids", None)
    for section in set(study) - {"mobilenet", "plain", "block_counts", "sweeps", "alpha"}:
        del study[section]  # the optional sections (the grids', the twin's, primary): none here
    study.update(block_counts=[study["mobilenet"]], sweeps={})
    p["benchmark"]["runs"] = [study["mobilenet"], study["plain"]]
    used = {bbp.run_config(p, name)["split"] for name in bbp.run_names(p)}
    p["splits"] = {name: split for name, split in p["splits"].items() if name in used}
    return bbp.validate(p, "SLURM test params")


def jobcomp_log() -> Path:
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    return Path(re.search(r"^JobCompLoc\s*=\s*(\S+)", out, re.M)[1])


def completed_jobs(run_id: str, want: set[str], wait_s: float = 30) -> dict[str, dict]:
    """SLURM job id -> its job completion record, for the jobs named `run_id` (the plugin names
    every job of one Snakemake invocation by its run ID); waits until `want` are all recorded."""
    deadline = time.monotonic() + wait_s
    while True:
        records = {}
        for line in jobcomp_log().read_text().splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if fields.get("Name") == run_id:
                records[fields["JobId"]] = fields
        if want <= set(records) or time.monotonic() > deadline:
            return records
        time.sleep(1)


def resources(log: str) -> dict[str, dict[str, str]]:
    """Snakemake job id -> its rule and the resources Snakemake printed for it."""
    block = r"^rule (\w+):$.*?^\s+jobid: (\d+)$.*?^\s+resources: ([^\n]*)$"
    return {
        job: {"rule": rule, **dict(kv.split("=", 1) for kv in line.split(", "))}
        for rule, job, line in re.findall(block, log, re.M | re.S)
        if rule != "all"  # the target rule runs nothing
    }


def test_quick_study_runs_through_slurm(slurm, warm_stages, tmp_path):
    """Each job's stage script forked from this test process's warm server (its job step inherits
    the shim first on PATH: sbatch --export=ALL); Snakemake in the job starts cold."""
    params = slurm_params()
    repo = copy_pipeline(REPO, tmp_path / "slurm", params)
    cmd = ["snakemake", "--profile", PROFILE, "--cores", "2", *LOCAL_CLUSTER_OPTIONS]
    proc = subprocess.run(
        cmd, cwd=repo, env=warm_engine_env(repo), capture_output=True, text=True, timeout=1200
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]

    assert "blockbench: data/ is missing or out of date" in log  # built before planning
    # what Snakemake ran: the whole DAG, each job handed to sbatch
    run_id = re.search(r"^SLURM run ID: (\S+)", log, re.M)[1]
    jobs = resources(log)
    table = log.split("Job stats:", 1)[1].split("total", 1)[0]
    stats = {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+(\d+)$", table, re.M)}
    stats.pop("all", None)
    assert set(stats) == RULES, stats
    assert {r: [j["rule"] for j in jobs.values()].count(r) for r in RULES} == stats
    submitted = re.findall(
        r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", log
    )
    assert sorted(job for job, _, _ in submitted) == sorted(jobs)

    # what SLURM ran: each of those jobs, recorded by slurmctld as completed with exit code 0, with
    # the resources its rule declares, and Snakemake running that rule in it (the job's SLURM log)
    records = completed_jobs(run_id, {sid for _, sid, _ in submitted})
    assert sorted(records) == sorted(sid for _, sid, _ in submitted)
    for job, sid, slurm_log in submitted:
        record, res = records[sid], jobs[job]
        assert (record["JobState"], record["ExitCode"]) == ("COMPLETED", "0:0"), record
        tres = record["Tres"].split(",")
        assert f"cpu={res['cpus_per_task']}" in tres and f"mem={res['mem_mb']}M" in tres, record
        assert record["TimeLimit"] == res["runtime"], record
        assert f"rule {res['rule']}:" in Path(slurm_log).read_text(), slurm_log

    # and the study came out of it
    runs = bbp.run_names(params)
    assert len(runs) == 2
    for name in runs:
        assert (repo / "results" / "runs" / name / "metrics.json").is_file(), name
    text = (repo / paths.SUMMARY).read_text()
    assert "## 1." in text
    if warm_stages is not None:  # the jobs' stages ran in the warm server
        served = served_log(warm_stages.parent / "socket").read_text()
        assert f"scripts/train.py --run {runs[0]} " in served, served


def test_train_asks_for_a_gpu_when_compute_device_is_cuda(tmp_path):
    """The resources each train job asks for (`gpu` -> `sbatch --gpus`) under each
    `compute.device`, planned in one copy whose params.yaml is edited between plans; no cluster
    needed."""
    repo = copy_pipeline(REPO, tmp_path / "copy", slurm_params())
    for device, gpus in [("cuda", "1"), ("auto", "0"), ("cpu", "0")]:
        edit_params(repo, lambda p: p["compute"].update(device=device))
        cmd = ["snakemake", "-n", "--cores", "2", "results/runs/c4/model.pt"]
        proc = subprocess.run(cmd, cwd=repo, env=engine_env(repo), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        jobs = resources(proc.stdout + proc.stderr).values()
        assert [r["gpu"] for r in jobs if r["rule"] == "train"] == [gpus], device
