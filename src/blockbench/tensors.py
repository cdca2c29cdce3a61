"""A split as one resident tensor: images normalised once, channels_last, on one device.

Shared by training (which batches by index into it) and evaluation (which predicts in EVAL_BATCH
slices), so evaluation does not depend on the trainer's code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

EVAL_BATCH = 4096  # images per forward pass when predicting (on the CPU)
EVAL_BATCH_CUDA = 16384  # on a GPU: larger batches keep it busy (bf16 activations, < 1 GB each)


@dataclass
class Tensors:
    """A split's images (normalised float, N x 1 x 28 x 28, channels_last) and labels."""

    x: torch.Tensor
    y: torch.Tensor


def eval_batch(device: torch.device) -> int:
    """Images per forward pass when predicting on `device`."""
    return EVAL_BATCH_CUDA if device.type == "cuda" else EVAL_BATCH


def to_tensors(
    images: np.ndarray, labels: np.ndarray, mean: float, std: float, device: torch.device
) -> Tensors:
    x = torch.from_numpy(images).to(device).float().div_(255.0).sub_(mean).div_(std)
    x = x.unsqueeze(1).contiguous(memory_format=torch.channels_last)
    return Tensors(x, torch.from_numpy(labels).to(device))
