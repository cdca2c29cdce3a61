"""Training survives a kill: the train stage keeps a checkpoint after every epoch, and a rerun
continues from it and ends bit-identical to a run that was never interrupted (on the CPU)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from conftest import digits_params
from enginekit import make_copy

from blockbench import paths, training
from blockbench.params import run_config, split_config
from blockbench.quick import engine_env
from blockbench.split import make_split
from blockbench.stages import split as split_stage
from blockbench.storage import save_npz

RUN = "c1m3_augment"  # draws from both the batch-order generator and torch's global RNG
EPOCHS = 6
CPU = torch.device("cpu")
TINY = {"widths": [8, 16, 16, 32], "batch_size": 64}


def checkpoint_epoch(path) -> int:
    """The last completed epoch a checkpoint holds (0: none yet). It is renamed into place, so a
    file that exists is complete."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)["epoch"]
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, digits_arrays):
    """A copy of the pipeline on digits with its split prepared; the run trains EPOCHS epochs."""
    params = digits_params(epochs=EPOCHS, batch_size=64)
    repo = make_copy(tmp_path_factory.mktemp("resume") / "repo", params, dvc=False)
    save_npz(repo / paths.raw("digits"), **digits_arrays)
    split_stage.run(params, "imbalanced", root=repo)
    return repo


def train_cmd() -> list[str]:
    return [sys.executable, "workflow/scripts/train.py", "--run", RUN, "--threads", "1"]


def outputs(repo) -> tuple[bytes, pd.DataFrame, dict]:
    run_dir = repo / paths.run_dir(RUN)
    return (
        (run_dir / "model.pt").read_bytes(),
        pd.read_csv(run_dir / "history.csv"),
        json.loads((run_dir / "train.json").read_text()),
    )


def test_a_killed_train_stage_resumes_and_ends_bit_identical(pipeline):
    repo, env = pipeline, engine_env(pipeline)
    ckpt = repo / paths.checkpoint(RUN)
    subprocess.run(train_cmd(), cwd=repo, env=env, check=True, capture_output=True)
    model_ref, hist_ref, info_ref = outputs(repo)
    assert info_ref["resumed_from_epoch"] is None
    assert not ckpt.exists()  # removed once the outputs are written
    for f in (repo / paths.run_dir(RUN)).iterdir():
        f.unlink()

    target = random.randint(1, EPOCHS - 2)
    proc = subprocess.Popen(
        train_cmd(), cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 600
    while checkpoint_epoch(ckpt) < target:
        assert proc.poll() is None, f"finished before epoch {target} could be waited for"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    done = checkpoint_epoch(ckpt)
    assert target <= done <= EPOCHS
    assert not (repo / paths.model(RUN)).exists()  # killed before writing any output

    rerun = subprocess.run(train_cmd(), cwd=repo, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming from {paths.checkpoint(RUN)} after epoch {done}" in rerun.stderr
    model, hist, info = outputs(repo)
    assert info["resumed_from_epoch"] == done, f"killed after epoch {done} (waited for {target})"
    assert model == model_ref, f"weights differ after a kill at epoch {done}"
    pd.testing.assert_frame_equal(hist.drop(columns="seconds"), hist_ref.drop(columns="seconds"))
    assert info["selected_epoch"] == info_ref["selected_epoch"]
    assert not ckpt.exists()


# -------------------------------------------------- in process: an exception stands in for the kill
class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def digits_split(digits_arrays):
    return make_split(digits_arrays, split_config(digits_params(), "imbalanced"))[0]


def tiny_run(run: str, **kw) -> dict:
    return {**run_config(digits_params(), run), "epochs": 4, **TINY, **kw}


def train_killed_after(monkeypatch, epoch: int, cfg, split, ckpt):
    """Train until the checkpoint of `epoch` is written, then stop as a kill would."""
    save = training.save_resume_point

    def save_then_die(path, state):
        save(path, state)
        if state["epoch"] == epoch:
            raise Killed

    with monkeypatch.context() as m:
        m.setattr(training, "save_resume_point", save_then_die)
        with pytest.raises(Killed):
            training.train(cfg, split, threads=1, device=CPU, checkpoint=ckpt)


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def drop_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.parametrize(
    "run,extra",
    [("c4_oversample", {}), ("c1m3", {"select": "last", "optimizer": "sgd"})],
)
def test_resuming_in_process_matches_an_uninterrupted_run(
    monkeypatch, tmp_path, digits_split, run, extra
):
    cfg = tiny_run(run, **extra)
    ref = training.train(cfg, digits_split, threads=1, device=CPU)
    ckpt = tmp_path / "ckpt.pt"
    train_killed_after(monkeypatch, 2, cfg, digits_split, ckpt)
    resumed = training.train(cfg, digits_split, threads=1, device=CPU, checkpoint=ckpt)
    assert resumed.info["resumed_from_epoch"] == 2
    assert same_weights(resumed.model, ref.model)
    assert drop_seconds(resumed.history) == drop_seconds(ref.history)
    assert resumed.info["selected_epoch"] == ref.info["selected_epoch"]


def test_a_checkpoint_of_another_config_or_an_unreadable_one_is_ignored(
    monkeypatch, tmp_path, digits_split, capsys
):
    ckpt = tmp_path / "ckpt.pt"
    train_killed_after(monkeypatch, 2, tiny_run("c1m3", seed=1), digits_split, ckpt)
    cfg = tiny_run("c1m3")
    ref = training.train(cfg, digits_split, threads=1, device=CPU)
    fresh = training.train(cfg, digits_split, threads=1, device=CPU, checkpoint=ckpt)
    assert fresh.info["resumed_from_epoch"] is None
    assert "made for another config or data" in capsys.readouterr().err
    assert same_weights(fresh.model, ref.model)
    ckpt.write_bytes(b"\x00not a checkpoint")
    again = training.train(cfg, digits_split, threads=1, device=CPU, checkpoint=ckpt)
    assert again.info["resumed_from_epoch"] is None
    assert "ignoring unreadable checkpoint" in capsys.readouterr().err
    assert same_weights(again.model, ref.model)


def test_the_checkpoint_lives_outside_every_declared_output():
    """DVC deletes a stage's declared outputs before it runs; git ignores data/."""
    import yaml
    from conftest import REPO

    ckpt = str(paths.checkpoint("c4"))
    assert ckpt == "data/checkpoints/c4.pt"
    assert "/data/" in (REPO / ".gitignore").read_text().splitlines()
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for stage in stages.values():
        body = stage.get("do", stage)
        for kind in ("outs", "metrics", "plots"):
            for out in body.get(kind, []):
                declared = next(iter(out)) if isinstance(out, dict) else out
                assert not ckpt.startswith(declared.split("${")[0]), declared
