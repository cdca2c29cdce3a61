"""Keep freed memory for reuse: glibc's malloc tuned for a training loop.

By default glibc serves every block above a dynamic threshold (at most 32 MB) with its own mmap and
unmaps it on free, and trims freed heap memory back to the OS. A training step allocates and frees
activation tensors of tens of MB each time, so the next step faults the same memory back in page by
page (zero-filled by the kernel): on this project's 2-core machine that cost up to half of the step
time (docs/benchmarks.md, "Keeping freed memory"). Raising both thresholds and keeping one arena
makes freed blocks be reused instead. Where tensors live changes; what is computed does not
(tested).
"""

from __future__ import annotations

import ctypes
import sys

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_KEEP_BYTES = 1 << 30
_applied = False  # set once `reuse_freed_memory` has succeeded in this process


def reuse_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for the next step instead of handing it back to the OS.

    Sets one arena, no mmap for blocks under 1 GiB and no trimming under 1 GiB free. It changes
    where tensors live, never what is computed. Returns False (and changes nothing) where the C
    library has no `mallopt` (not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = (
        (_M_ARENA_MAX, 1),
        (_M_MMAP_THRESHOLD, _KEEP_BYTES),
        (_M_TRIM_THRESHOLD, _KEEP_BYTES),
    )
    global _applied
    _applied = all([mallopt(param, value) == 1 for param, value in settings])
    return _applied


def freed_memory_reused() -> bool:
    """Whether `reuse_freed_memory` took effect in this process (stage entry points call it)."""
    return _applied
