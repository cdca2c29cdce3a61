"""What a user sees: atomic outputs, and one line plus exit code 2 (130 when interrupted) from a
stage's command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import yaml
from conftest import REPO

from blockbench.storage import atomic_path, write_text


def test_a_failure_mid_write_keeps_the_old_output_and_leaves_no_temp_file(tmp_path):
    out = tmp_path / "metrics.json"
    write_text(out, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("killed mid-write")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def stage(tmp_path, *args, params=None):
    """Run a stage script from a scratch directory holding only params.yaml."""
    p = yaml.safe_load((REPO / "params.yaml").read_text()) if params is None else params
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    return subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts" / args[0]), *args[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_a_wrong_param_name_is_one_line_and_exit_2(tmp_path):
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["train"]["learning_rate"] = 0.1
    r = stage(tmp_path, "train.py", "--run", "c4", params=p)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "train.learning_rate" in r.stderr and "lr" in r.stderr


def test_a_missing_or_corrupt_input_is_one_line_and_exit_2(tmp_path):
    r = stage(tmp_path, "train.py", "--run", "c4")  # no results/configs/c4.yaml here
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "configs.py" in r.stderr
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / "mnist.npz").write_bytes(b"not a zip file")
    r = stage(tmp_path, "split.py", "--split", "imbalanced")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_an_unknown_run_is_one_line_naming_the_nearest_runs_not_all(tmp_path):
    r = stage(tmp_path, "evaluate.py", "--run", "c1m33")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "unknown run 'c1m33'; did you mean c1m3" in r.stderr
    assert "c4_balanced_s9" not in r.stderr and len(r.stderr) < 200  # not the 168 names


def test_an_interrupt_exits_130_and_says_nothing_was_written(tmp_path):
    """SIGINT while a stage's body runs: exit 130 and one line."""
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    # a shell's background jobs start with SIGINT ignored; a user at a terminal has Python's handler
    code = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "import sys, time; sys.argv = ['x']; from blockbench import cli; "
        "cli.main(lambda a, p: (print('ready', flush=True), time.sleep(60)), cli.parser('sleep'))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"  # params loaded, inside the body
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.strip() == "interrupted: no output was written"


def test_a_snakemake_target_naming_an_unknown_run_or_split_is_one_line_with_the_nearest():
    from blockbench import targets

    runs, splits = ["c1m3", "c4", "c4_focal"], ["imbalanced", "balanced"]
    say = targets.unknown_target
    assert say(["snakemake", "--cores", "2", "results/summary.md"], runs, splits) is None
    assert say(["snakemake", "results/runs/c4_focal/metrics.json"], runs, splits) is None
    assert say(["snakemake", "results/configs/runs.yaml"], runs, splits) is None
    msg = say(["snakemake", "-n", "results/runs/c4_fcoal/metrics.json"], runs, splits)
    assert msg == (
        "results/runs/c4_fcoal/metrics.json: params.yaml declares no run 'c4_fcoal'; "
        "did you mean c4_focal?"
    )
    assert "no split 'imbalancd'" in say(
        ["snakemake", "data/prepared/imbalancd/split.npz"], runs, splits
    )
    assert "did you mean" not in say(["snakemake", "results/runs/nope/model.pt"], runs, splits)


def test_the_completeness_stamp_is_old_until_a_run_is_missing(tmp_path):
    """Created with the oldest mtime (creating it reruns nothing), touched when a run's trained
    or evaluated file is missing, left alone otherwise."""
    from blockbench import targets

    for run in ("a", "b"):
        folder = tmp_path / "results/runs" / run
        folder.mkdir(parents=True)
        for name in targets.TRAINED + targets.EVALUATED:
            (folder / name).write_text("x")
    stamp = tmp_path / targets.COMPLETE_STAMP
    assert targets.mark_incomplete(["a", "b"], tmp_path) == []
    assert stamp.stat().st_mtime == 0 and stamp.read_text() == targets.STAMP_TEXT
    (tmp_path / "results/runs/b/model.pt").unlink()
    assert targets.mark_incomplete(["a", "b"], tmp_path) == ["b"]
    assert stamp.stat().st_mtime > 1e9  # touched: now
