"""The quick preset: every section of the study on scikit-learn's digits, cut down for speed.

    python -m blockbench.quick                      # DVC, in ./quick-study
    python -m blockbench.quick --engine snakemake   # the same with Snakemake
    python -m blockbench.quick --dest /tmp/q        # elsewhere

It copies the pipeline (Snakefile, dvc.yaml, params.yaml, workflow/, src/blockbench/) into the
destination, rewrites params.yaml there with `quick_params`, writes the run configs and runs the
engine on the copy's own code, so the main results/ are never touched. Open
<dest>/results/summary.md afterwards.

Stopped (Ctrl-C, SIGTERM, SIGHUP, or killed outright) it leaves nothing running: the engine and
every process it started run in a process group that a watchdog stops, and the warm server stops
its stages and removes its directory (blockbench.warm).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from . import params as params_mod

REPO_FILES = [
    "Snakefile",
    "dvc.yaml",
    "params.yaml",
    ".gitignore",
    ".dvcignore",
    "workflow",
    "src/blockbench",
]
QUICK_EPOCHS = 5
BATCH_DIVISOR = 20  # digits has ~1/40 of MNIST's training images: keep several steps per epoch
QUICK_SEEDS = 2  # seeds of the headline pair (study.mobilenet, study.plain); one for the rest
# the benchmark at most this long: a digits study only shows the speed section's form
QUICK_BENCHMARK = {"steps": 5, "images": 1024, "repeats": 4}
STOP_GRACE_S = 5  # a stopped engine's processes: seconds after SIGINT or SIGTERM, then SIGKILL

# Run beside the engine: it reads the engine's process group, then waits; "done" means the engine
# ended by itself, "INT" or "TERM" (or the pipe closing without a word: this process died) that
# the group is to be stopped with that signal, then SIGTERM, then SIGKILL, each after
# STOP_GRACE_S while any of it runs (a zombie, which only waits for its parent, counts as ended).
# It ignores the signals a terminal sends.
_WATCHDOG = """
import os, signal, sys, time
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
line = sys.stdin.readline().strip()
group = int(line) if line.isdigit() else 0  # none: the engine did not start
order = sys.stdin.read().strip() or "TERM"

def running():
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    if not os.path.isdir("/proc"):
        return True
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            state, _, pgrp = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == group and state != "Z":
            return True
    return False

if group and order != "done":
    for name in dict.fromkeys([order, "TERM", "KILL"]):
        if not running():
            break
        try:
            os.killpg(group, getattr(signal, "SIG" + name))
        except ProcessLookupError:
            break
        deadline = time.monotonic() + float(sys.argv[1])
        while running() and time.monotonic() < deadline:
            time.sleep(0.1)
"""


class Interrupted(Exception):
    """SIGTERM or SIGHUP reached `main`: raised so that what it started is stopped."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def quick_params(params: dict, epochs: int = QUICK_EPOCHS) -> dict:
    """The same study on `digits`, cut to what answers every section fast: at most `epochs`
    epochs, batch sizes / BATCH_DIVISOR, QUICK_SEEDS seeds for the headline pair and one seed for
    every other run, the grids other than the remedies grid only on the headline pair (the
    original's twins of c1m3 and c4, not of every configuration), and a short benchmark
    (QUICK_BENCHMARK)."""
    p = copy.deepcopy(params)
    p["data"].update({"dataset": "digits", "sources": ["sklearn"]})
    study = p["study"]
    headline = [study["mobilenet"], study["plain"]]
    remedies = (study.get("remedies") or {}).get("grid")
    for name, grid in (p.get("grids") or {}).items():
        if name != remedies:
            grid["runs"] = [r for r in grid["runs"] if r in headline]
    variants = [v for g in (p.get("grids") or {}).values() for v in g["variants"].values()]
    for name, section in [("train", p["train"]), *p["runs"].items(), *[("", v) for v in variants]]:
        if section is None:
            continue
        if "epochs" in section:
            section["epochs"] = min(section["epochs"], epochs)
        if "batch_size" in section:
            section["batch_size"] = max(16, section["batch_size"] // BATCH_DIVISOR)
        if "replicate_seeds" in section or name in headline:
            section["replicate_seeds"] = list(range(1, QUICK_SEEDS)) if name in headline else []
    p["seeds"] = {}  # the primary runs' extra seeds: the headline pair's are set above
    p["study"].pop("primary_fresh", None)  # the full study's seed numbers: none trained here
    _cut_severity(p)
    _cut_capacity(p)
    p["evaluate"]["bootstrap_samples"] = min(p["evaluate"]["bootstrap_samples"], 200)
    for key, most in QUICK_BENCHMARK.items():
        p["benchmark"][key] = min(p["benchmark"][key], most)
    return params_mod.validate(p, "quick preset")


def _cut_capacity(p: dict) -> None:
    """The capacity family on the headline pair's quick seeds: every width of the sweep trains
    those seeds (its own seeds 12 and up are the full study's), so the matched pairs are tested."""
    capacity = p["study"].get("capacity")
    if not capacity:
        return
    seeds = list(range(QUICK_SEEDS))
    capacity["seeds"] = list(seeds)
    headline = {p["study"]["mobilenet"], p["study"]["plain"]}
    for run in sorted({r for side in capacity["sweep"].values() for r in side} - headline):
        # a list of its own each: a shared one would be written as a YAML alias, which the
        # params loader refuses
        p["runs"][run] = {
            **(p["runs"][run] or {}),
            "seed": seeds[0],
            "replicate_seeds": list(seeds),
        }


def _cut_severity(p: dict) -> None:
    """The imbalance-severity experiment on the levels the rest of the study trains anyway: its
    own grids and splits go (digits' ~143 images per class cannot keep 0.1% of a class)."""
    severity = p["study"].get("severity")
    if not severity:
        return
    for name in severity.get("grids") or []:
        (p.get("grids") or {}).pop(name, None)
    runs = set(params_mod.logical_runs(p))
    if p.get("seeds"):  # the replicate seeds of runs the grids declared go with them
        p["seeds"] = {run: seeds for run, seeds in p["seeds"].items() if run in runs}
    used = {params_mod.run_config(p, r)["split"] for r in runs}
    for split in list(p["splits"]):  # the levels and their split draws: nothing trains on them
        if split not in used:
            p["splits"].pop(split)
    kept = [s for s in severity["splits"] if s in used]
    draws = [s for s in severity.get("split_draws") or [] if s in kept]
    p["study"]["severity"] = (
        {**severity, "splits": kept, "grids": [], "split_draws": draws} if len(kept) > 1 else None
    )


def copy_pipeline(src: Path, dest: Path, params: dict) -> Path:
    """A runnable copy of the pipeline in `dest` with `params` as its params.yaml."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in REPO_FILES:
        s, d = src / item, dest / item
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
    write_params(dest, params)
    return dest


def write_params(repo: Path, params: dict) -> None:
    """params.yaml and the run configs both engines key on (as workflow/scripts/configs.py does)."""
    from . import keys
    from .storage import write_text

    write_text(repo / "params.yaml", yaml.safe_dump(params, sort_keys=False))
    keys.write(params, repo)


def engine_env(repo: Path | None = None) -> dict:
    """The environment the engines run in: this interpreter's tools first; with `repo`, that
    copy's own src/ ahead of the installed blockbench, so the copy runs the code it depends on."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    if repo is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(Path(repo).resolve() / "src"), env.get("PYTHONPATH")])
        )
    return env


def run_engine(repo: Path, engine: str, cores: int = 2, warm_start: bool = True) -> None:
    """Run `engine` on the copy in `repo`; with warm_start its stages fork from one process that
    imported the heavy libraries once (blockbench.warm) instead of each importing them."""
    env = engine_env(repo)
    if engine == "dvc":
        if not (repo / ".dvc").exists():
            subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=repo, env=env, check=True)
        cmd = ["dvc", "repro"]
    else:
        cmd = ["snakemake", "--cores", str(cores)]
    with warm_env(env, warm_start) as env:
        run_stoppable(cmd, cwd=repo, env=env)


def run_stoppable(cmd: list[str], **popen_kwargs) -> None:
    """subprocess.run(cmd, check=True), with `cmd` and every process it starts in a process group
    of their own (a new session) that a watchdog process stops when this one is interrupted
    (KeyboardInterrupt: SIGINT first; any other exception: SIGTERM) or dies (SIGKILL)."""
    watchdog = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _WATCHDOG, str(STOP_GRACE_S)],
        stdin=subprocess.PIPE,
        text=True,
    )
    order, proc = "TERM", None
    try:
        proc = subprocess.Popen(cmd, start_new_session=True, **popen_kwargs)
        print(proc.pid, file=watchdog.stdin, flush=True)
        code = proc.wait()
        order = "done"
    except KeyboardInterrupt:
        order = "INT"
        raise
    finally:
        with contextlib.suppress(OSError):  # the watchdog is gone (killed with this process)
            print(order, file=watchdog.stdin, flush=True)
        with contextlib.suppress(OSError):
            watchdog.stdin.close()
        if proc is not None:
            proc.wait()  # reaped while the watchdog stops its group
        watchdog.wait()
    if code:
        raise subprocess.CalledProcessError(code, cmd)


@contextlib.contextmanager
def warm_env(env: dict, warm_start: bool = True):
    """`env` with a warm server's `python` first on PATH for the block (unchanged when warm_start
    is False or the platform has no warm start)."""
    from . import warm

    if not warm_start:
        yield env
        return
    with warm.server(env) as shim:
        yield env if shim is None else {**env, "PATH": f"{shim}{os.pathsep}{env['PATH']}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default=params_mod.DEFAULT_PARAMS)
    p.add_argument("--dest", default="quick-study")
    p.add_argument("--engine", choices=["dvc", "snakemake"], default="dvc")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument(
        "--cold",
        action="store_true",
        help="start every stage as a new interpreter (default: fork stages from a warm server)",
    )
    args = p.parse_args(argv)
    try:
        params = quick_params(params_mod.load(args.params))
    except params_mod.ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        repo = copy_pipeline(Path(args.params).resolve().parent, Path(args.dest).resolve(), params)
        run_engine(repo, args.engine, args.cores, warm_start=not args.cold)
    except subprocess.CalledProcessError as exc:
        print(
            f"error: {args.engine} failed with exit code {exc.returncode}; see its output above",
            file=sys.stderr,
        )
        return 1
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        name = signal.Signals(signum).name
        print(
            f"interrupted ({name}): stopped {args.engine} and all it started; run the same"
            " command again to go on",
            file=sys.stderr,
        )
        return 128 + signum
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    print(f"quick study done: {repo / 'results' / 'summary.md'}")
    return 0


def _interrupt(signum: int, _frame) -> None:
    raise Interrupted(signum)


if __name__ == "__main__":
    sys.exit(main())
