"""The quick preset runs the whole study end to end."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO
from enginekit import cmdline, dvc_stale, processes

from blockbench import params as bbp
from blockbench import report, warm
from blockbench.quick import copy_pipeline, quick_params, run_engine

pytestmark = pytest.mark.engines


def test_quick_preset_keeps_runs_and_study_on_digits():
    full = bbp.load(REPO / "params.yaml")
    quick = quick_params(full)
    assert quick["data"]["dataset"] == "digits"
    assert (
        list(quick["runs"]) == list(full["runs"])
        and quick["study"]["sweeps"] == full["study"]["sweeps"]
    )
    assert quick["train"]["epochs"] <= 5
    assert quick["runs"]["c1m3_bs3000"]["batch_size"] == 2 * quick["train"]["batch_size"]


def test_quick_preset_keeps_the_remedies_grid_and_the_headline_twins():
    full = bbp.load(REPO / "params.yaml")
    quick = quick_params(full)
    assert quick["grids"]["remedies"]["runs"] == full["grids"]["remedies"]["runs"]
    assert list(quick["grids"]["remedies"]["variants"]) == list(
        full["grids"]["remedies"]["variants"]
    )
    own = ("severity", "capacity", "primary_fresh")  # cut to what the preset trains
    assert {k: v for k, v in quick["study"].items() if k not in own} == {
        k: v for k, v in full["study"].items() if k not in own
    }
    assert "primary_fresh" not in quick["study"]  # its seed numbers are the full study's
    cap, full_cap = quick["study"]["capacity"], full["study"]["capacity"]
    assert cap["seeds"] == [0, 1] and cap["pairs"] == full_cap["pairs"]
    assert cap["sweep"] == full_cap["sweep"]
    assert bbp.twin_table(quick) == {"c1m3": "c1m3_twin", "c4": "c4_twin"}
    # two seeds for the headline pair and every capacity width (a paired test needs two), one
    # for every other run
    assert bbp.replicates(quick, "c1m3") == ["c1m3", "c1m3_s1"]
    assert bbp.replicates(quick, "c4_w0p375") == ["c4_w0p375", "c4_w0p375_s1"]
    assert bbp.replicates(quick, "c4_focal") == ["c4_focal"]
    widths = {r for side in cap["sweep"].values() for r in side} - {"c1m3", "c4"}
    assert len(bbp.run_names(quick)) == len(bbp.logical_runs(quick)) + 2 + len(widths)


def test_quick_preset_cuts_the_severity_experiment_to_the_levels_it_trains_anyway():
    """digits' ~143 images per class cannot keep 0.1% of a class: the severity grids and their
    splits go, the section keeps the study's split and the balanced one."""
    full = bbp.load(REPO / "params.yaml")
    declared = (full["study"].get("severity") or {}).get("grids", [])  # params.yaml's own
    full["study"]["severity"] = {
        "splits": ["keep0p001", "imbalanced", "balanced"],
        "grids": [*declared, "sev"],
    }
    full["splits"]["keep0p001"] = {"keep_fraction": 0.001}
    full["grids"]["sev"] = {"runs": ["c1m3"], "variants": {"k": {"split": "keep0p001"}}}
    quick = quick_params(bbp.validate(full))
    assert not {"sev", *declared} & set(quick["grids"]) and "keep0p001" not in quick["splits"]
    assert quick["study"]["severity"]["splits"] == ["imbalanced", "balanced"]
    assert not any("keep0p001" in r for r in bbp.run_names(quick))


def end_to_end_params() -> dict:
    """The quick preset with fewer runs of a kind the report treats alike (each section keeps
    what it compares; the test keeps the sections and checks their numbers):
    - the remedies of the plain network only (the report treats each base network's remedies
      alike): two remedies (one repeated over a second seed) and the reference;
    - the capacity sweep on the widths its matched pairs compare (every width of the sweep is a
      row of its table and a point of its figure alike; the pairs are the tested comparisons);
    - two other splits for the split-seed section (its variance ratio needs three splits);
    - two epochs instead of five (curves, epoch selection and every number the report derives
      stay; training was most of the test's time);
    - the benchmark timed as briefly as the tests' digits params (2 steps, 64 images, 2 repeats:
      the speed section and its table keep their form; 28 s of the test's stages went to timing
      5 steps of 1,024 images 5 times)."""
    params = quick_params(bbp.load(REPO / "params.yaml"), epochs=2)
    params["benchmark"].update(steps=2, images=64, repeats=2)
    params["grids"]["remedies"]["runs"] = [params["study"]["plain"]]
    variants = params["grids"]["remedies"]["variants"]
    params["grids"]["remedies"]["variants"] = {
        "oversample": {**variants["oversample"], "replicate_seeds": [1]},
        "augment_repeated": variants["augment_repeated"],
        "balanced": variants["balanced"],
    }
    capacity = params["study"]["capacity"]
    paired = {pair[key] for pair in capacity["pairs"].values() for key in ("a", "b")}
    sweep = capacity["sweep"]
    widths = {r for runs in sweep.values() for r in runs}
    capacity["sweep"] = {side: [r for r in runs if r in paired] for side, runs in sweep.items()}
    for run in widths - paired:
        del params["runs"][run]
    params["benchmark"]["runs"] = [r for r in params["benchmark"]["runs"] if r in params["runs"]]
    split_grid = params["grids"][params["study"]["split_seeds"]]
    split_grid["variants"] = dict(list(split_grid["variants"].items())[:2])
    used = {bbp.run_config(params, r)["split"] for r in bbp.run_names(params)}
    params["splits"] = {k: v for k, v in params["splits"].items() if k in used}
    return bbp.validate(params)


def test_quick_study_end_to_end(tmp_path):
    """The whole study's report on digits, under DVC. Snakemake runs the whole DAG in
    tests/test_engines.py and writes the same bytes as DVC there (so it is not run twice here)."""
    engine = "dvc"
    params = end_to_end_params()
    repo = copy_pipeline(REPO, tmp_path / engine, params)
    run_engine(repo, engine, cores=2)
    text = (repo / report.SUMMARY).read_text()
    assert text.split("\n## ")[1].startswith("Headline")
    for n in range(1, 9):
        assert f"\n## {n}. " in text
    summary = json.loads((repo / report.SUMMARY_JSON).read_text())
    for name in ("c1m3", "c4", "c3m5"):  # the report's numbers are the runs' numbers
        accs = [
            json.loads((repo / "results" / "runs" / r / "metrics.json").read_text())["accuracy"]
            for r in bbp.replicates(params, name)
        ]
        assert summary["runs"][name]["accuracy"] == pytest.approx(sum(accs) / len(accs))
        assert summary["runs"][name]["seeds"] == len(accs)
        table = pd.read_csv(repo / report.TABLES / "2_block_counts.csv").set_index("run")
        if name in table.index:
            assert table.loc[name, "accuracy %"] == round(100 * sum(accs) / len(accs), 2)
        if name in ("c1m3", "c4"):  # the headline quotes the pair
            assert f"{100 * sum(accs) / len(accs):.2f}%" in text.split("\n## ")[1]
    assert summary["comparisons"]["c1m3 vs c4: accuracy"]["seeds"] == 2
    for name in bbp.run_names(params):
        assert (repo / "results" / "runs" / name / "metrics.json").exists()
    for name in bbp.plotted_runs(params):  # per-run figures only where the report shows them
        assert (repo / "results" / "runs" / name / "figures" / "tsne.png").exists()
    assert not (repo / "results" / "runs" / "c3m5" / "figures").exists()
    for link in [
        line.split("](", 1)[1].split(")", 1)[0] for line in text.splitlines() if "![" in line
    ]:
        assert (repo / "results" / link).is_file(), link
    assert dvc_stale(repo) == set()


# A stage script that runs until stopped: it says which process runs it, then sleeps.
SLEEPER = """\
import os, sys, time
from pathlib import Path
Path("started").write_text(str(os.getpid()))
time.sleep(600)
"""


def _descendants(root: int) -> dict[int, str]:
    """pid -> start time of every running descendant of `root`."""
    procs, tree, todo = processes(), {}, [root]
    while todo:
        parent = todo.pop()
        for pid, p in procs.items():
            if p.ppid == parent and p.state != "Z":
                tree[pid] = p.start
                todo.append(pid)
    return tree


def _running(pids: dict[int, str]) -> dict[int, str]:
    """pid -> command line of those of `pids` (pid -> start time) still running (not a zombie)."""
    procs, alive = processes(), {}
    for pid, start in pids.items():
        if pid in procs and procs[pid].start == start and procs[pid].state != "Z":
            alive[pid] = cmdline(pid)
    return alive


@pytest.mark.skipif(not warm.supported(), reason="the warm server needs Linux (pidfd)")
@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name
)
def test_killing_the_quick_look_stops_all_it_started(tmp_path, sig):
    """`python -m blockbench.quick` stopped while a stage runs (SIGTERM, SIGINT, or killed outright
    with SIGKILL): dvc repro, the warm server, its stage and the watchdog all end, and the warm
    server's temporary directory goes. The real quick look on a pipeline of one stage that sleeps
    in two processes: a stage script (run by the warm server) and, beside it, a plain `sleep`
    that the stage's shell started (as any process an engine or a stage starts)."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "workflow", src / "workflow")
    (src / "workflow" / "scripts" / "sleep.py").write_text(SLEEPER)
    cmd = "sleep 600 & python workflow/scripts/sleep.py"
    (src / "dvc.yaml").write_text(f"stages:\n  sleep:\n    cmd: {cmd}\n")
    for name in ("Snakefile", ".gitignore", ".dvcignore"):
        (src / name).write_text("")
    shutil.copy(REPO / "params.yaml", src / "params.yaml")
    shutil.copytree(REPO / "src" / "blockbench", src / "src" / "blockbench")
    dest = tmp_path / "dest"
    # Python's own SIGINT handler, as at a terminal (a shell's background jobs start with it off)
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from blockbench.quick import main; sys.exit(main(sys.argv[1:]))"
    )
    argv = [sys.executable, "-c", code, "--params", str(src / "params.yaml"), "--dest", str(dest)]
    log = tmp_path / "quick.log"
    with open(log, "w") as out:
        quick = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    started, tree = {}, {}
    try:
        deadline = time.monotonic() + 600  # minutes only on a machine busy with other work
        while not (dest / "started").exists():
            assert quick.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        tree = _descendants(quick.pid)
        started = _running(tree)
        stage = int((dest / "started").read_text())
        # the stage runs in a fork of the warm server (whose command line it shows), under dvc
        assert "-m blockbench.warm " in started.get(stage, ""), started
        assert sum("-m blockbench.warm " in c for c in started.values()) == 2, started
        assert any(c.endswith("dvc repro ") for c in started.values()), started
        assert "sleep 600 " in started.values(), started
        warm_dir = Path(started[stage].split("-m blockbench.warm ", 1)[1].split()[0]).parent
        assert warm_dir.is_dir()

        quick.send_signal(sig)
        quick.wait(timeout=300)
        if sig != signal.SIGKILL:  # it stopped all before it ended, and says so
            assert quick.returncode == 128 + sig, log.read_text()
            assert f"interrupted ({sig.name})" in log.read_text().splitlines()[-1]
        deadline = time.monotonic() + 300
        while _running(tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _running(tree) == {}, f"left running: {_running(tree)}"
        assert not warm_dir.exists()
    finally:
        for pid in [quick.pid, *_running(tree)]:  # a failed run leaves nothing behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        quick.wait()
