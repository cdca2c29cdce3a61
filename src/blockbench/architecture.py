"""The block plan of a network and its costs, in plain Python (no torch).

A run's `n_conv`, `n_mobilenet`, `widths` and `strides` give a list of blocks (`block_plan`);
models.py builds the torch modules from it, and the report reads parameters and multiply-
accumulates (MACs) from here, computed in closed form. tests/test_architecture.py checks every
count against torch (parameters of the built model, MACs from torch's flop counter).

- Plain block: 3x3 conv (no bias) + BatchNorm + ReLU: 9·M·N weights + 2·N BatchNorm parameters,
  9·M·N MACs per output pixel.
- MobileNet block: depthwise 3x3 (9·M weights, 9·M MACs per pixel) + BN, then pointwise 1x1
  (M·N weights and MACs per pixel) + BN. Per output pixel the separable block costs
  (9·M + M·N) / (9·M·N) = 1/N + 1/9 of the plain block (MobileNet v1, eq. 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KERNEL = 3


@dataclass(frozen=True)
class BlockSpec:
    kind: str  # "conv" or "mobilenet"
    in_channels: int
    out_channels: int
    stride: int


def block_plan(
    n_conv: int, n_mobilenet: int, widths: list[int], strides: list[int], in_channels: int = 1
) -> list[BlockSpec]:
    plan, cin = [], in_channels
    for i in range(n_conv + n_mobilenet):
        cout = widths[min(i, len(widths) - 1)]
        stride = strides[i] if i < len(strides) else 1
        plan.append(BlockSpec("conv" if i < n_conv else "mobilenet", cin, cout, stride))
        cin = cout
    return plan


def plan_of(cfg: dict) -> list[BlockSpec]:
    """The block plan of a run config."""
    return block_plan(cfg["n_conv"], cfg["n_mobilenet"], cfg["widths"], cfg["strides"])


def _plain(m: int, n: int) -> tuple[int, int]:
    """(parameters, MACs per output pixel) of a plain 3x3 block from m to n channels."""
    return KERNEL * KERNEL * m * n + 2 * n, KERNEL * KERNEL * m * n


def _separable(m: int, n: int) -> tuple[int, int]:
    """(parameters, MACs per output pixel) of a MobileNet block from m to n channels."""
    return KERNEL * KERNEL * m + 2 * m + m * n + 2 * n, KERNEL * KERNEL * m + m * n


def block_costs(plan: list[BlockSpec], image_size: int = 28) -> list[dict]:
    """Per block: channels, output size, parameters and MACs of the block as built, and the MACs
    the same block would cost as a plain and as a separable block."""
    rows, size = [], image_size
    for i, spec in enumerate(plan):
        out = math.ceil(size / spec.stride)  # 3x3 conv, padding 1
        pixels = out * out
        plain_params, plain_macs = _plain(spec.in_channels, spec.out_channels)
        sep_params, sep_macs = _separable(spec.in_channels, spec.out_channels)
        is_plain = spec.kind == "conv"
        rows.append(
            {
                "block": i,
                "kind": spec.kind,
                "in_channels": spec.in_channels,
                "out_channels": spec.out_channels,
                "output_size": out,
                "parameters": plain_params if is_plain else sep_params,
                "macs": pixels * (plain_macs if is_plain else sep_macs),
                "plain_macs": pixels * plain_macs,
                "separable_macs": pixels * sep_macs,
            }
        )
        size = out
    return rows


def totals(plan: list[BlockSpec], n_classes: int, image_size: int = 28) -> dict:
    """Parameters and MACs per image of the whole network (blocks + linear classifier)."""
    blocks = block_costs(plan, image_size)
    width = plan[-1].out_channels
    return {
        "parameters": sum(b["parameters"] for b in blocks) + width * n_classes + n_classes,
        "macs": sum(b["macs"] for b in blocks) + width * n_classes,
    }
