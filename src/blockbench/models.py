"""Plain-conv and MobileNet blocks and the network built from them.

- Plain block: 3x3 conv + BatchNorm + ReLU.
- MobileNet block (MobileNet v1): depthwise 3x3 conv + BN + ReLU, then pointwise 1x1 conv + BN +
  ReLU.
- Network: `n_conv` plain blocks, then `n_mobilenet` MobileNet blocks, global average pool, linear
  classifier returning logits.

Channel and downsampling plan (params `widths` and `strides`): block i (counting from 0) has
`widths[i]` output channels and stride `strides[i]` (in its 3x3 conv, the depthwise one for a
MobileNet block); blocks past the end of a list keep its last width and have stride 1. At the
defaults (`widths: [32, 64, 64, 128]`, `strides: [1, 2, 2, 2]`) every 4-block network runs
32 -> 64 -> 64 -> 128 channels at 28 -> 14 -> 7 -> 4 pixels, so C4 and C1+M3 differ only in block
type, and C1+M3's last block is a depthwise layer of 64 filters [64, 1, 3, 3] and a pointwise layer
of 128 filters [128, 64, 1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from . import N_CLASSES
from .architecture import BlockSpec, block_plan, plan_of  # noqa: F401  (re-exported)


def conv_bn_relu(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    """Conv2d (no bias, "same" padding), BatchNorm2d, ReLU: what torchvision.ops'
    Conv2dNormActivation builds with its defaults (same modules, order, state_dict keys and
    initialisation), without importing torchvision, whose ops load torch._dynamo: seconds of every
    cold stage's start (docs/benchmarks.md, "What the test time is made of")."""
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding=(kernel_size - 1) // 2,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def conv_block(spec: BlockSpec) -> nn.Module:
    return conv_bn_relu(spec.in_channels, spec.out_channels, kernel_size=3, stride=spec.stride)


def mobilenet_block(spec: BlockSpec) -> nn.Module:
    return nn.Sequential(
        conv_bn_relu(
            spec.in_channels,
            spec.in_channels,
            kernel_size=3,
            stride=spec.stride,
            groups=spec.in_channels,
        ),  # depthwise
        conv_bn_relu(spec.in_channels, spec.out_channels, kernel_size=1),  # pointwise
    )


class BlockNet(nn.Module):
    def __init__(self, plan: list[BlockSpec], n_classes: int = N_CLASSES):
        super().__init__()
        self.plan = plan
        self.features = nn.Sequential(
            *[conv_block(s) if s.kind == "conv" else mobilenet_block(s) for s in plan]
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(plan[-1].out_channels, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the pooled output of the last block."""
        return torch.flatten(self.pool(self.features(x)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def build_model(cfg: dict) -> BlockNet:
    return BlockNet(plan_of(cfg))


def last_conv_weights(model: BlockNet) -> dict[str, torch.Tensor]:
    """The learned filters of the last block: {"depthwise", "pointwise"} or {"conv"}."""
    block = model.features[-1]
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if model.plan[-1].kind == "mobilenet":
        return {
            "depthwise": convs[0].weight.detach().cpu(),
            "pointwise": convs[1].weight.detach().cpu(),
        }
    return {"conv": convs[0].weight.detach().cpu()}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def macs_per_image(model: nn.Module, image_size: int = 28) -> int:
    """Multiply-accumulates for one image, from torch's flop counter (FLOPs / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, 1, image_size, image_size, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2


def save_checkpoint(path, model: BlockNet, cfg: dict, **extra) -> None:
    """state_dict + the run config (+ extra plain values); torch.load(weights_only=True) reads it.

    Serialised in memory first: `torch.save` to a path names the archive after the (random)
    temporary file, so the same weights would get new bytes at every save."""
    import io

    from .storage import write_bytes

    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "config": cfg, **extra}, buffer)
    write_bytes(path, buffer.getvalue())


def load_checkpoint(path) -> tuple[BlockNet, dict]:
    """Rebuild the model of a checkpoint; returns (model in eval mode, checkpoint dict)."""
    from pathlib import Path

    from .errors import BlockbenchError

    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = build_model(ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
    except FileNotFoundError:
        raise BlockbenchError(f"{path}: not found; run its train stage first") from None
    except Exception as exc:  # a truncated or foreign file: one line, not a traceback
        raise BlockbenchError(
            f"{path}: not a readable blockbench model ({type(exc).__name__}); "
            f"delete it and rerun its train stage"
        ) from None
    return model.eval(), ckpt
