"""One engine at a time while any stage of the other runs, and no stage outliving its Snakemake job
(issue 35, items 3, 7 and 8), with the real engines on digits.

DVC releases its repository lock (.dvc/tmp/lock) while a stage's command runs, so the stages and
the Snakemake process hold an engine lock of their own (blockbench.cli.hold_engine_lock); a stage
started by a Snakemake job ends with the job's shell (blockbench.cli.die_with_parent)."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import digits_params
from enginekit import cmdline, make_copy, processes, run

from blockbench import params as bbp
from blockbench.quick import engine_env

pytestmark = pytest.mark.engines

TRAINING = "workflow/scripts/train.py --run c4"
EPOCH = re.compile(r"^c4: epoch \d+/", re.M)  # the first may follow a resume from a checkpoint


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A DVC copy with two runs whose training lasts minutes (1,000 epochs) and data/ built."""
    p = digits_params(epochs=1000)
    p["splits"] = {"imbalanced": {}}
    p["runs"] = {"c4": {"n_conv": 4, "n_mobilenet": 0}, "c1m3": {"n_conv": 1, "n_mobilenet": 3}}
    p["grids"], p["seeds"] = {}, {}
    p["study"] = {
        "mobilenet": "c1m3",
        "plain": "c4",
        "block_counts": ["c1m3"],
        "sweeps": {},
        "alpha": 0.05,
    }
    p["benchmark"]["runs"] = ["c1m3", "c4"]
    repo = make_copy(tmp_path_factory.mktemp("lock") / "repo", bbp.validate(p), dvc=True)
    for script in (["download.py"], ["split.py", "--split", "imbalanced"]):  # as by hand
        run([sys.executable, f"workflow/scripts/{script[0]}", *script[1:]], repo)
    return repo


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def start(cmd: list[str], repo: Path, log: Path) -> subprocess.Popen:
    """`cmd` in a session of its own (so that everything it starts can be stopped)."""
    with open(log, "w") as out:
        return subprocess.Popen(
            cmd,
            cwd=repo,
            env=engine_env(repo),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(what, timeout: float = 480):  # generous: the tests run beside a trainer
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if found := what():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what.__doc__}")


def stop(proc: subprocess.Popen, *pids: int) -> None:
    """Stop what a test started: its session, then any of `pids` that left it; return once every
    one of them has ended (a killed trainer holds its engine lock until its exit completes, which
    on a busy machine outlasts the wait for its engine: the next test then found the lock held)."""
    for pid, kill in [(proc.pid, os.killpg), *[(p, os.kill) for p in pids]]:
        try:
            kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)

    def ended():
        """the stopped processes to end"""
        return not any(
            pid in pids or _group(pid) == proc.pid
            for pid, p in processes().items()
            if p.state != "Z"
        )

    wait_for(ended, timeout=120)


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def descends_from(pid: int, root: int, procs: dict) -> bool:
    """Whether `root` is `pid`'s parent, grandparent, ... (a test's own processes, not another
    xdist worker's that match the same command line)."""
    seen = set()
    while pid in procs and pid not in seen:
        seen.add(pid)
        pid = procs[pid].ppid
        if pid == root:
            return True
    return False


def alive(pid: int) -> bool:
    info = processes().get(pid)
    return info is not None and info.state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_snakemake_refuses_to_start_while_a_dvc_stage_runs(repo, tmp_path):
    """DVC has released its own lock while train@c4's command runs: Snakemake used to take it and
    plan (and, without -n, train c4 a second time)."""
    log = tmp_path / "dvc.log"
    dvc = start(["dvc", "repro", "-s", "train@c4"], repo, log)
    try:

        def training():
            """train@c4 training under DVC"""
            return EPOCH.search(log.read_text())

        wait_for(training)
        smk = subprocess.run(
            ["snakemake", "-n", "--cores", "1"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=engine_env(repo),
            timeout=300,
        )
        assert dvc.poll() is None, log.read_text()[-2000:]  # refused while the stage ran
    finally:
        stop(dvc)
    line = one_line_error(smk)
    assert "a DVC stage is running in this checkout" in line, line
    assert ".dvc/tmp/blockbench-dvc.lock is locked" in line, line


HOLD_AS_SNAKEMAKE_JOB = (
    "import time; from blockbench import cli; cli.hold_engine_lock('snakemake'); "
    "print('locked', flush=True); time.sleep(120)"
)
HOLD_AS_SNAKEMAKE = (
    "import time; from blockbench import checkout; checkout.one_engine_at_a_time(True); "
    "print('locked', flush=True); time.sleep(120)"
)


def holders(path: Path) -> dict[int, str]:
    """pid -> command line of every process with `path` open (Linux /proc, as `fuser`)."""
    found = {}
    for pid, p in processes().items():
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == str(path):
                    found[pid] = f"{p.state} {cmdline(pid)}"
                    break
            except OSError:
                continue
    return found


def free_of_holders(path: Path, timeout: float = 120) -> None:
    """Wait until `path` can be flocked (probed here, released at once); name the processes that
    still have it open if it cannot. A SIGKILLed trainer whose leader thread is already a zombie
    keeps its files open until its last thread has exited (seconds on a busy machine: CI of
    02ef934), and /proc shows no open files for it meanwhile, so an open-files scan is not
    enough."""
    end = time.monotonic() + timeout
    while True:
        with open(path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
        if time.monotonic() > end:
            raise AssertionError(f"{path} still locked; open in {holders(path.resolve())}")
        time.sleep(0.2)


def hold(code: str, repo: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
        env=engine_env(repo),
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_dvc_stage_refuses_to_start_while_a_snakemake_job_runs_and_a_killed_one_does_not_block(
    repo,
):
    """A Snakemake job still running (its Snakemake killed): DVC gets its own lock, and its stage
    must not run beside the job. Once the job is dead (flock gone with it), DVC runs."""
    free_of_holders(repo / ".dvc/tmp/blockbench-dvc.lock")  # the previous test's DVC stage
    holder = hold(HOLD_AS_SNAKEMAKE_JOB, repo)
    try:
        proc = run(["dvc", "repro", "-s", "split@imbalanced"], repo, check=False)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode != 0, proc.stdout[-2000:]
    out = proc.stdout + proc.stderr
    assert "error: Snakemake is running in this checkout" in out, out[-2000:]
    assert "blockbench-snakemake.lock is locked" in out, out[-2000:]
    # the holder was killed (SIGKILL): its lock file is still there, and blocks nothing
    assert (repo / ".dvc/tmp/blockbench-snakemake.lock").exists()
    run(["dvc", "repro", "-s", "split@imbalanced"], repo)
    assert (repo / "data/prepared/imbalanced/split.npz").is_file()


def test_a_second_snakemake_is_told_another_snakemake_runs(repo):
    holder = hold(HOLD_AS_SNAKEMAKE, repo)
    try:
        proc = subprocess.run(
            ["snakemake", "-n", "--cores", "1"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=engine_env(repo),
            timeout=300,
        )
    finally:
        holder.kill()
        holder.wait()
    line = one_line_error(proc)
    assert "another Snakemake is running in this checkout" in line, line
    assert "blockbench-snakemake.lock is locked" in line, line


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_a_snakemake_jobs_shell_stops_its_trainer_before_it_writes(repo, tmp_path):
    """The trainer used to go on as an orphan and write c4's outputs after Snakemake had called
    the job failed; a later Snakemake took them as built."""
    smk = start(["snakemake", "--cores", "2", "results/runs/c4/model.pt"], repo, tmp_path / "log")
    trainer = None
    try:

        def job():
            """the train job's shell and its trainer (this Snakemake's: another test's may run)"""
            procs = processes()
            for pid, p in procs.items():
                cmd = cmdline(pid)
                if (
                    TRAINING in cmd
                    and "python" in cmd
                    and TRAINING in cmdline(p.ppid)
                    and descends_from(pid, smk.pid, procs)
                ):
                    return p.ppid, pid
            return None

        shell, trainer = wait_for(job)
        assert "bash" in cmdline(shell)

        def training():
            """c4 training under Snakemake"""
            log = repo / "logs/train/c4.log"
            return log.exists() and EPOCH.search(log.read_text())

        wait_for(training)
        os.kill(shell, signal.SIGKILL)
        smk.wait(timeout=120)
        assert smk.returncode != 0

        def gone():
            """the trainer to stop"""
            return not alive(trainer)

        wait_for(gone, timeout=30)
    finally:
        stop(smk, *([trainer] if trainer else []))
    assert not (repo / "results/runs/c4/model.pt").exists()
    assert not (repo / "results/runs/c4/train.json").exists()
