"""The figures' common ground: headless matplotlib (Agg) and one way to write a PNG (titled by
the caller, deterministic bytes, written atomically). blockbench.figures (a run's figures) and
blockbench.split_figure (the split stage's one figure) both draw through `figure`."""

from __future__ import annotations

import contextlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .storage import atomic_path  # noqa: E402

DPI = 120


@contextlib.contextmanager
def figure(path: str | Path, **subplots_kw):
    """Yield (fig, axes); save the figure atomically to `path` as a PNG and close it."""
    fig, axes = plt.subplots(**subplots_kw)
    try:
        yield fig, axes
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    finally:
        plt.close(fig)
