"""The device param (`compute.device`): auto | cpu | cuda, read by the train stage only, never part
of a run's config; the CUDA-only paths stay off on the CPU; the device benchmark runs here."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import torch
from conftest import REPO, digits_params
from enginekit import make_copy

from blockbench import configs, keys, paths, training
from blockbench import params as bbp
from blockbench.errors import BlockbenchError, ParamsError
from blockbench.quick import engine_env
from blockbench.stages import split as split_stage
from blockbench.stages import train as train_stage
from blockbench.storage import save_npz
from blockbench.tensors import EVAL_BATCH, eval_batch


def test_auto_is_cuda_when_torch_sees_a_gpu_and_cpu_otherwise(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training.pick_device("auto") == torch.device("cpu")
    assert training.pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training.pick_device("auto") == torch.device("cuda")
    assert training.pick_device("cuda") == torch.device("cuda")
    assert training.pick_device("cpu") == torch.device("cpu")  # cpu is cpu, GPU or not


def test_cuda_without_a_gpu_is_one_line_saying_what_to_change(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BlockbenchError) as info:
        training.pick_device("cuda")
    msg = str(info.value)
    assert "\n" not in msg
    assert "compute.device is cuda" in msg and "set compute.device to auto or cpu" in msg


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_the_train_stage_with_cuda_and_no_gpu_exits_2_with_one_line(tmp_path):
    params = digits_params()
    params["compute"]["device"] = "cuda"
    repo = make_copy(tmp_path / "repo", params, dvc=False)
    proc = subprocess.run(
        [sys.executable, "workflow/scripts/train.py", "--run", "c4"],
        cwd=repo,
        env=engine_env(repo),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: compute.device is cuda")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_compute_device_is_checked_by_the_schema():
    p = copy.deepcopy(digits_params())
    p["compute"]["device"] = "tpu"
    with pytest.raises(ParamsError, match=r"compute.device: 'tpu' is not one of: auto, cpu, cuda"):
        bbp.validate(p)
    del p["compute"]
    with pytest.raises(ParamsError, match="compute"):
        bbp.validate(p)


def test_the_device_reruns_training_but_changes_no_run_config():
    """Snakemake's train fingerprint (and DVC's `params: [compute]`) change; the run configs,
    which the committed study is keyed on, do not."""
    a = bbp.load(REPO / "params.yaml")
    b = copy.deepcopy(a)
    b["compute"]["device"] = "cpu" if a["compute"]["device"] != "cpu" else "auto"
    assert keys.stamp(a, "train", REPO) != keys.stamp(b, "train", REPO)
    for stage in ("evaluate", "plot", "aggregate"):
        assert keys.stamp(a, stage, REPO) == keys.stamp(b, stage, REPO), stage
    for run in bbp.run_names(a):
        assert configs.resolve(a, run) == configs.resolve(b, run)
        assert "device" not in configs.resolve(a, run)["train"]


def test_the_train_stage_trains_on_the_device_named_and_records_it(tmp_path, digits_arrays):
    params = digits_params(widths=[8, 16, 16, 32])
    params["compute"]["device"] = "cpu"
    save_npz(tmp_path / paths.raw("digits"), **digits_arrays)
    keys.write_configs(params, tmp_path)
    split_stage.run(params, "imbalanced", root=tmp_path)
    train_stage.run(params, "c4", threads=1, root=tmp_path)
    info = json.loads((tmp_path / paths.train_info("c4")).read_text())
    assert info["device"] == "cpu" and info["inference"]["device"] == "cpu"
    assert info["inference"]["batch"] == EVAL_BATCH
    assert info["resumed_from_epoch"] is None
    assert not (tmp_path / paths.checkpoint("c4")).exists()


def test_cuda_only_paths_are_off_on_the_cpu():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert eval_batch(cpu) == EVAL_BATCH and eval_batch(cuda) > EVAL_BATCH
    with training._autocast(cpu):  # bf16 asked for, but autocast is CUDA-only
        assert not torch.is_autocast_enabled("cpu")
        x = torch.ones(2, 2)
        assert (x @ x).dtype == torch.float32


def test_the_device_benchmark_runs_on_the_cpu():
    proc = subprocess.run(
        [
            sys.executable,
            "scripts/bench_device.py",
            "--device",
            "cpu",
            "--archs",
            "c1m3",
            "c4",
            "--images",
            "256",
            "--batch",
            "64",
            "--repeats",
            "2",
            "--threads",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("device cpu")
    rows = [line.split() for line in lines[2:]]
    assert [r[:2] for r in rows] == [["c1m3", "fp32"], ["c4", "fp32"]]
    for r in rows:
        assert float(r[3].replace(",", "")) > 0  # median training images/s
