"""The quick preset: every section of the study on scikit-learn's digits, cut down for speed.

    python -m blockbench.quick                      # DVC, in ./quick-study
    python -m blockbench.quick --engine snakemake   # the same with Snakemake
    python -m blockbench.quick --dest /tmp/q        # elsewhere

It copies the pipeline (Snakefile, dvc.yaml, params.yaml, workflow/, src/blockbench/) into the
destination, rewrites params.yaml there with `quick_params`, writes the run configs and runs the
engine on the copy's own code, so the main results/ are never touched. Open
<dest>/results/summary.md afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import shutil
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


def quick_params(params: dict) -> dict:
    """The same study on `digits`, cut to what answers every section fast: at most QUICK_EPOCHS
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
            section["epochs"] = min(section["epochs"], QUICK_EPOCHS)
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
    used = {params_mod.run_config(p, r)["split"] for r in params_mod.logical_runs(p)}
    for split in severity["splits"]:
        if split not in used:
            p["splits"].pop(split, None)
    kept = [s for s in severity["splits"] if s in used]
    p["study"]["severity"] = {**severity, "splits": kept, "grids": []} if len(kept) > 1 else None


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
        subprocess.run(cmd, cwd=repo, env=env, check=True)


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
    repo = copy_pipeline(Path(args.params).resolve().parent, Path(args.dest).resolve(), params)
    try:
        run_engine(repo, args.engine, args.cores, warm_start=not args.cold)
    except subprocess.CalledProcessError as exc:
        print(
            f"error: {args.engine} failed with exit code {exc.returncode}; see its output above",
            file=sys.stderr,
        )
        return 1
    print(f"quick study done: {repo / 'results' / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
