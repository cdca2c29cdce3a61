"""Run the real engines (Snakemake, DVC) in a temporary copy of the repository, on digits."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO

COPIED = ["Snakefile", "params.yaml", "workflow", "src/blockbench"]


def env() -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}"
    e["DVC_NO_ANALYTICS"] = "1"
    e.pop("MPLBACKEND", None)
    return e


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def make_copy(dest: Path, params: dict, dvc: bool) -> Path:
    """A minimal copy of the repo with `params` written as params.yaml and dvc.yaml regenerated."""
    dest.mkdir(parents=True)
    for item in COPIED:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / item)
    write_params(dest, params)
    if dvc:
        run(["dvc", "init", "--no-scm", "-q"], dest)
    return dest


def write_params(repo: Path, params: dict) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([sys.executable, "-m", "blockbench.dvcgen"], repo)


def edit_params(repo: Path, edit) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    edit(params)
    write_params(repo, params)


def dvc_stale(repo: Path) -> set[str]:
    """Names of the stages `dvc status` reports as changed."""
    out = run(["dvc", "status", "--json"], repo).stdout
    import json
    return set(json.loads(out or "{}"))


def snakemake_planned(repo: Path, *targets: str) -> dict[str, int]:
    """Jobs per rule that `snakemake -n` plans (the `all` target rule left out)."""
    out = run(["snakemake", "-n", "--cores", "1", *targets], repo).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    jobs = dict((m[1], int(m[2])) for m in re.finditer(r"^(\S+)\s+(\d+)$", table, re.M))
    jobs.pop("all", None)
    return jobs
