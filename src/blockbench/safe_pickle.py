"""A restricted unpickler that admits numpy arrays and nothing else.

Pickles can run arbitrary code on load; this one refuses every global except the few numpy needs
to rebuild an ndarray, so a hostile pickle fails with UnsafePickleError instead of running.
"""

from __future__ import annotations

import io
import pickle

from .errors import BlockbenchError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class UnsafePickleError(BlockbenchError):
    """The pickle asked for something other than numpy arrays."""


class ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise UnsafePickleError(
                f"refusing to unpickle {module}.{name}: only numpy arrays are allowed"
            )
        if module == "numpy.core.multiarray":  # numpy 2 moved it; avoid the deprecation shim
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def loads_arrays(data: bytes, encoding: str = "latin1"):
    """Unpickle `data` admitting only numpy arrays (and the tuples/lists holding them)."""
    return ArraysOnlyUnpickler(io.BytesIO(data), encoding=encoding).load()
