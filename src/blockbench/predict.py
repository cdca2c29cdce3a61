"""Use a trained model outside the pipeline: classify images, or export it (torch.export).

    python -m blockbench.predict --model results/runs/c4/model.pt digit.png other.png
    python -m blockbench.predict --model results/runs/c4/model.pt batch.npy
    python -m blockbench.predict --model results/runs/c4/model.pt --export c4.pt2

Images are 28x28 grayscale: PNG files (converted to 8-bit grayscale) or one `.npy` batch of shape
N x 28 x 28 with values 0-255 (uint8 or float), white digits on black as in MNIST. The prediction
prints one line per image: its name, the predicted class and that class's probability, and warns
(stderr) about an image unlike the training images: a bright border (a dark digit on a light
background: MNIST's are white on black) or a mean intensity far from the training set's.

The export is a `torch.export` program (`.pt2`) that holds the network *and* the input scaling of
its training set (x / 255, minus the training mean, over the training std: `input_mean`,
`input_std` in model.pt), so it needs torch alone: `torch.export.load(path).module()` takes a
float tensor N x 28 x 28 of raw 0-255 pixel values, any N, and returns N x 10 class probabilities
as plain tensors (README, "Using a model outside the pipeline"). TorchScript (`torch.jit`) is
deprecated in the pinned torch and warns at every save and load; `torch.export` does not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import BlockbenchError, describe_os_error
from .models import load_checkpoint


class Standalone(nn.Module):
    """The network with its input scaling: raw pixels (N x 28 x 28, 0-255) -> probabilities."""

    def __init__(self, network: nn.Module, mean: float, std: float):
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels.float() / 255.0 - self.mean) / self.std
        x = x.unsqueeze(1).contiguous(memory_format=torch.channels_last)  # as in evaluation
        return torch.softmax(self.network(x), dim=1)


def standalone(model_path: str | Path) -> Standalone:
    network, ckpt = load_checkpoint(model_path)
    if "input_mean" not in ckpt or "input_std" not in ckpt:
        raise BlockbenchError(f"{model_path}: no input scaling recorded; retrain the run")
    return Standalone(network, ckpt["input_mean"], ckpt["input_std"]).eval()


def export(model_path: str | Path, out: str | Path) -> Path:
    """Export the standalone module with `torch.export` (the batch dimension free: nothing in the
    network depends on it; no parameter asks for gradients, so outputs are plain tensors) and
    save it, atomically."""
    from torch.export import Dim

    from .storage import atomic_path

    module = standalone(model_path).requires_grad_(False)
    program = torch.export.export(
        module, (torch.zeros(2, 28, 28),), dynamic_shapes={"pixels": {0: Dim("batch", min=1)}}
    )
    out = Path(out)
    with atomic_path(out) as tmp:
        torch.export.save(program, str(tmp))
    return out


# what an MNIST-like input looks like: the border is background (black); a digit covers a part
BORDER = 2  # pixels of each edge that count as the border
BRIGHT_BORDER = 64.0  # a border mean above this (of 255): a light background
# a mean intensity beyond this factor of the training mean, either way. On MNIST's 10,000 test
# images (training mean 33.3 of 255): 49 lie beyond 3x (thin 1s), 3 beyond 4x, none beyond 5x;
# an inverted test digit is at least 5.1x (and its bright border is caught first)
MEAN_FACTOR = 4.0


def unusual(pixels: np.ndarray, train_mean: float) -> list[str | None]:
    """Per image, why it looks unlike the training images (None: it does not): `train_mean` is
    the training images' mean pixel value on 0-1 (model.pt's `input_mean`)."""
    out = []
    edge = np.ones((28, 28), bool)
    edge[BORDER:-BORDER, BORDER:-BORDER] = False
    expected = 255.0 * train_mean
    for img in pixels:
        border, mean = float(img[edge].mean()), float(img.mean())
        if border > BRIGHT_BORDER:
            out.append(
                f"its border is bright (mean {border:.0f} of 255): the training digits are "
                "white on black; invert it (255 - x)"
            )
        elif not expected / MEAN_FACTOR <= mean <= expected * MEAN_FACTOR:
            out.append(
                f"its mean intensity {mean:.0f} is far from the training images' {expected:.0f} "
                "(of 255); the prediction may mean little"
            )
        else:
            out.append(None)
    return out


def read_images(paths: list[str]) -> tuple[list[str], np.ndarray]:
    """Names and an N x 28 x 28 float array of 0-255 pixel values; anything else is one line
    (BlockbenchError) naming the file."""
    if len(paths) == 1 and paths[0].endswith(".npy"):
        try:
            batch = np.load(paths[0], allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise BlockbenchError(f"{paths[0]}: not a readable .npy array ({exc})") from None
        if not (np.issubdtype(batch.dtype, np.integer) or np.issubdtype(batch.dtype, np.floating)):
            raise BlockbenchError(
                f"{paths[0]}: dtype {batch.dtype}; expected pixel values 0-255 (uint8 or float)"
            )
        if batch.ndim == 2:
            batch = batch[None]
        if batch.ndim != 3 or batch.shape[1:] != (28, 28) or len(batch) == 0:
            raise BlockbenchError(f"{paths[0]}: shape {batch.shape}; expected N x 28 x 28")
        batch = batch.astype(np.float32)
        if not np.all(np.isfinite(batch)) or batch.min() < 0 or batch.max() > 255:
            raise BlockbenchError(
                f"{paths[0]}: values from {batch.min()} to {batch.max()}; expected 0-255"
            )
        return [f"{paths[0]}[{i}]" for i in range(len(batch))], batch
    import warnings

    from PIL import Image, UnidentifiedImageError

    images = []
    for p in paths:
        try:
            with warnings.catch_warnings():
                # an image over PIL's pixel limit warns (twice the limit raises): not 28x28 either
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(p) as im:
                    if im.size != (28, 28):  # before decoding: a huge image is never decompressed
                        raise BlockbenchError(
                            f"{p}: {im.size[0]}x{im.size[1]} pixels; expected 28x28"
                        )
                    gray = np.asarray(im.convert("L"), dtype=np.float32)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BlockbenchError(f"{p}: not a 28x28 image ({exc})") from None
        except (OSError, ValueError, UnidentifiedImageError) as exc:
            raise BlockbenchError(f"{p}: not a readable image ({exc})") from None
        images.append(gray)
    return list(paths), np.stack(images)


def predict(model_path: str | Path, pixels: np.ndarray) -> np.ndarray:
    """Class probabilities, N x 10."""
    module = standalone(model_path)
    with torch.no_grad():
        return module(torch.from_numpy(np.ascontiguousarray(pixels))).numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a trained model.pt (results/runs/<run>/)")
    p.add_argument("images", nargs="*", help="PNG files, or one .npy batch (N x 28 x 28)")
    p.add_argument("--export", metavar="OUT", help="write a torch.export file (.pt2) instead")
    args = p.parse_args(argv)
    try:
        if args.export:
            out = export(args.model, args.export)
            print(
                f"wrote {out}: a torch.export program (load: torch.export.load(path).module()), "
                "input N x 28 x 28 raw pixels (0-255), output N x 10 probabilities"
            )
            return 0
        if not args.images:
            raise BlockbenchError("no images given: name PNG files or one .npy batch")
        names, pixels = read_images(args.images)
        probs = predict(args.model, pixels)
        _, ckpt = load_checkpoint(args.model)
        for name, why in zip(names, unusual(pixels, float(ckpt.get("input_mean", 0.13)))):
            if why:
                print(f"warning: {name}: {why}", file=sys.stderr)
        for name, row in zip(names, probs):
            print(f"{name}\t{int(row.argmax())}\t{row.max():.4f}")
        return 0
    except BlockbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
