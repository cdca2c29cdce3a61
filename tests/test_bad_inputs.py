"""Bad inputs stop a command in one line naming the real file, exit 2, with nothing written
(issue 35, items 2 and 6): evaluate refuses another run's model.pt and raw or split data whose
images or labels are not what download and split write; the aggregate refuses a run's metrics.json
of `{}`, `[]` or another run, and a train.json, history.csv or confusion.csv it cannot read;
predict refuses a .npy of strings or NaN and a PNG too large to open."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, digits_params

from blockbench import configs, paths, predict
from blockbench import params as bbp
from blockbench.errors import BlockbenchError
from blockbench.models import build_model, save_checkpoint
from blockbench.report import runs
from blockbench.stages import evaluate
from blockbench.storage import load_npz, save_npz, write_text

EVALUATED = ("metrics.json", "confusion.csv", "roc.csv", "pr.csv", "reliability.csv")
BEFORE = "before\n"


def _save_model(root, params, run: str) -> None:
    cfg = configs.resolve(params, run)["train"]
    torch.manual_seed(0)  # untrained weights: what is checked is which run the model is
    save_checkpoint(root / paths.model(run), build_model(cfg), cfg, input_mean=0.1, input_std=0.3)


@pytest.fixture
def repo(tmp_path, digits_arrays):
    """A checkout with the digits data, and runs c4 and c1m3 each with its own model and trained
    config, and evaluated outputs that hold a marker."""
    params = digits_params()
    params["evaluate"]["bootstrap_samples"] = 20
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    save_npz(tmp_path / paths.raw("digits"), **digits_arrays)
    save_npz(
        tmp_path / paths.prepared("imbalanced"),
        x_val=digits_arrays["x_train"][:300],
        y_val=digits_arrays["y_train"][:300],
    )
    for run in ("c4", "c1m3"):
        write_text(
            tmp_path / paths.trained_config(run), yaml.safe_dump(configs.resolve(params, run))
        )
        _save_model(tmp_path, params, run)
        for name in EVALUATED:
            write_text(tmp_path / paths.run_dir(run) / name, BEFORE)
    return tmp_path, params


def _untouched(root, run: str) -> bool:
    return all((root / paths.run_dir(run) / n).read_text() == BEFORE for n in EVALUATED)


def _evaluate_cli(root, run: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts/evaluate.py"), "--run", run],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_evaluate_refuses_another_runs_model_and_overwrites_nothing(repo):
    root, params = repo
    shutil.copy(root / paths.model("c1m3"), root / paths.model("c4"))  # c1m3's model as c4's
    r = _evaluate_cli(root, "c4")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: results/runs/c4/model.pt is not c4's model")
    assert "n_conv: 1 in the model, 4 for c4" in r.stderr and "train@c4" in r.stderr
    assert _untouched(root, "c4")
    # its own model: evaluated, every output written
    _save_model(root, params, "c4")
    evaluate.run(params, "c4", root)
    assert json.loads((root / paths.metrics("c4")).read_text())["run"] == "c4"
    assert all((root / paths.run_dir("c4") / n).read_text() != BEFORE for n in EVALUATED)


def _smaller_images(a):
    a["x_test"] = np.ascontiguousarray(a["x_test"][:, 4:24, 4:24])  # 20 x 20


def _label_ten(a):
    a["y_test"] = a["y_test"].copy()
    a["y_test"][0] = 10


def _float_labels(a):
    a["y_test"] = a["y_test"].astype(np.float64)


def _no_threes(a):
    keep = a["y_test"] != 3
    a["x_test"], a["y_test"] = a["x_test"][keep], a["y_test"][keep]


def _labels_short(a):
    a["y_test"] = a["y_test"][:-1]


def _val_smaller(a):
    a["x_val"] = np.ascontiguousarray(a["x_val"][:, 4:24, 4:24])


BAD_DATA = {
    "20x20 test images": ("raw", _smaller_images, "x_test is uint8 (360, 20, 20)"),
    "a label 10": ("raw", _label_ten, "labels outside 0-9"),
    "float labels": ("raw", _float_labels, "y_test is float64"),
    "a class absent": ("raw", _no_threes, "lacks class 3"),
    "a label short": ("raw", _labels_short, "not 360 int64 labels"),
    "20x20 validation images": ("split", _val_smaller, "x_val is uint8 (300, 20, 20)"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_evaluate_refuses_data_unlike_what_download_and_split_write(repo, digits_arrays, case):
    root, params = repo
    which, spoil, says = BAD_DATA[case]
    path = root / (paths.raw("digits") if which == "raw" else paths.prepared("imbalanced"))
    arrays = load_npz(path)
    spoil(arrays)
    save_npz(path, **arrays)
    with pytest.raises(BlockbenchError) as info:
        evaluate.run(params, "c4", root)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and says in msg and "\n" not in msg, msg
    assert ("download stage" if which == "raw" else "split stage of imbalanced") in msg
    assert _untouched(root, "c4")


def test_evaluate_on_20x20_images_exits_2_in_one_line(repo):
    """The case that gave exit 0 and wrong metrics: the command line's answer."""
    root, _ = repo
    path = root / paths.raw("digits")
    arrays = load_npz(path)
    _smaller_images(arrays)
    save_npz(path, **arrays)
    r = _evaluate_cli(root, "c4")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: data/raw/digits.npz: x_test")
    assert _untouched(root, "c4")


# ------------------------------------------------------------------- what the aggregate reads
RUN_FILES = ("train.json", "metrics.json", "history.csv", "confusion.csv")


@pytest.fixture
def committed_c4(tmp_path):
    """The committed files of c4 that the aggregate reads, in a scratch checkout."""
    for name in RUN_FILES:
        shutil.copy(REPO / paths.run_dir("c4") / name, _dest(tmp_path, paths.run_dir("c4") / name))
    counts = paths.split_counts("imbalanced")
    shutil.copy(REPO / counts, _dest(tmp_path, counts))
    return tmp_path, bbp.load(REPO / "params.yaml")


def _dest(root, rel):
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    return root / rel


BAD_RUN_FILES = {
    "metrics {}": ("metrics.json", "{}", "'accuracy' is a required property", "evaluate@c4"),
    "metrics []": ("metrics.json", "[]", "the top level is not object", "evaluate@c4"),
    "metrics of c1m3": ("metrics.json", None, "written for run 'c1m3'", "evaluate@c4"),
    "metrics without per-class AP": (
        "metrics.json",
        "no_ap",
        "average_precision: 'per_class' is a required property",
        "evaluate@c4",
    ),
    "train {}": ("train.json", "{}", "'parameters' is a required property", "train@c4"),
    "empty confusion": ("confusion.csv", "", "not a readable CSV", "evaluate@c4"),
    "history without val_loss": ("history.csv", "epoch,loss\n1,0.5\n", "no column", "train@c4"),
}


@pytest.mark.parametrize("case", sorted(BAD_RUN_FILES))
def test_the_aggregate_refuses_a_run_file_it_cannot_read_in_one_line(committed_c4, case):
    root, params = committed_c4
    name, text, says, stage = BAD_RUN_FILES[case]
    assert runs.load_run(params, "c4", root).metrics["run"] == "c4"  # the committed files load
    path = root / paths.run_dir("c4") / name
    if text is None:
        text = (REPO / paths.metrics("c1m3")).read_text()
    elif text == "no_ap":
        m = json.loads(path.read_text())
        del m["average_precision"]["per_class"]
        text = json.dumps(m)
    path.write_text(text)
    with pytest.raises(BlockbenchError) as info:
        runs.load_run(params, "c4", root)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and says in msg and "\n" not in msg, msg
    assert f"dvc repro -s {stage}" in msg and "nothing was written" in msg


# ---------------------------------------------------------------------------------- predict
def _png_header(width: int, height: int) -> bytes:
    """A grayscale PNG that declares width x height pixels and holds one row: a few hundred bytes
    that PIL opens lazily, as it would a real one."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = zlib.compress(b"\0" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


BAD_IMAGES = {
    "strings.npy": (lambda p: np.save(p, np.full((2, 28, 28), "x")), "dtype <U1"),
    "nan.npy": (lambda p: np.save(p, np.full((1, 28, 28), np.nan, np.float32)), "expected 0-255"),
    "negative.npy": (lambda p: np.save(p, -np.ones((1, 28, 28))), "expected 0-255"),
    "bomb.png": (lambda p: p.write_bytes(_png_header(20000, 20000)), "not a 28x28 image"),
    "over_the_limit.png": (lambda p: p.write_bytes(_png_header(10000, 10000)), "not a 28x28"),
    "wide.png": (lambda p: p.write_bytes(_png_header(2000, 28)), "2000x28 pixels"),
}


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_predict_refuses_images_it_cannot_read_in_one_line(tmp_path, capsys, name):
    make, says = BAD_IMAGES[name]
    path = tmp_path / name
    make(path)
    rc = predict.main(["--model", str(REPO / "results/runs/c4/model.pt"), str(path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: {path}: ") and says in err, err
