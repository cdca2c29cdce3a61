"""Run the real engines (Snakemake, DVC) in a temporary copy of the repository, on digits."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import yaml
from conftest import REPO

from blockbench.quick import copy_pipeline, engine_env, write_params

# The python shim of this test process's warm server (the `warm_stages` fixture of conftest.py),
# while one runs: `run` then starts the engines' stage scripts warm unless given its own `env`
WARM_SHIM: Path | None = None


def warm_engine_env(repo: Path) -> dict:
    """engine_env(repo), with the warm server's shim first on PATH while one runs."""
    env = engine_env(repo)
    if WARM_SHIM is not None:
        env["PATH"] = f"{WARM_SHIM}{os.pathsep}{env['PATH']}"
    return env


def run(
    cmd: list[str], cwd: Path, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    env = warm_engine_env(cwd) if env is None else env
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args], repo
    )


def dvc_init(repo: Path, *flags: str) -> None:
    """`dvc init` and the repository's own DVC settings (the offline `dvc plots` page, the plot
    templates of .dvc/plots)."""
    run(["dvc", "init", *flags, "-q"], repo)
    shutil.copy2(REPO / ".dvc" / "offline_plots.html", repo / ".dvc" / "offline_plots.html")
    shutil.copytree(REPO / ".dvc" / "plots", repo / ".dvc" / "plots", dirs_exist_ok=True)
    run(["dvc", "config", "plots.html_template", "offline_plots.html"], repo)


def make_copy(dest: Path, params: dict, dvc: bool) -> Path:
    """A minimal copy of the repo with `params` as params.yaml and its run configs written."""
    copy_pipeline(REPO, dest, params)
    if dvc:
        dvc_init(dest, "--no-scm")
    return dest


def edit_params(repo: Path, edit) -> None:
    """Edit params.yaml and rewrite the run configs, as scripts/main.sh and the Snakefile do."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    edit(params)
    write_params(repo, params)


def dvc_stale(repo: Path) -> set[str]:
    """Names of the stages `dvc status` reports as changed."""
    out = run(["dvc", "status", "--json"], repo).stdout
    return set(json.loads(out or "{}"))


def dvc_ran(stdout: str) -> set[str]:
    """The stages a `dvc repro` ran (not the ones it skipped)."""
    return set(re.findall(r"^Running stage '([^']+)'", stdout, re.M))


def snakemake_planned(repo: Path, *targets: str) -> dict[str, int]:
    """Jobs per rule that `snakemake -n` plans (the `all` target rule left out)."""
    out = run(["snakemake", "-n", "--cores", "1", *targets], repo).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    jobs = dict((m[1], int(m[2])) for m in re.finditer(r"^(\S+)\s+(\d+)$", table, re.M))
    jobs.pop("all", None)
    return jobs


def snakemake_planned_runs(repo: Path, rule: str, *targets: str) -> set[str]:
    """The runs whose `rule` job `snakemake -n -p` would run."""
    out = run(["snakemake", "-n", "-p", "--cores", "1", *targets], repo).stdout
    return set(re.findall(rf"workflow/scripts/{rule}\.py --run (\S+)", out))


class Process(NamedTuple):
    ppid: int
    start: str  # clock ticks after boot: with the pid, names one process (pids are reused)
    state: str  # "Z": a zombie, ended but not reaped


def processes() -> dict[int, Process]:
    """pid -> its parent, start time and state, for every process (Linux /proc/<pid>/stat)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended meanwhile
                continue
            found[int(entry.name)] = Process(int(fields[1]), fields[19], fields[0])
    return found


def cmdline(pid: int) -> str:
    """The command line of `pid` ("" once it has ended)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
