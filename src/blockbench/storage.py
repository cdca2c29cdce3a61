"""Atomic, deterministic file output: every stage writes through these helpers.

A file is written to a temporary sibling and renamed into place, so an interrupted stage never
leaves a half-written output. `.npz` files are written with fixed zip timestamps so the same arrays
give the same bytes (both engines must produce byte-identical outputs).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import BlockbenchError

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, else delete it.

    The temporary name carries the writer's process id (`.<name>.<pid>-<random>.tmp<suffix>`): a
    writer killed with SIGKILL cannot delete its file, so the next write of the same output
    deletes the temporary files of writers that no longer run (`remove_stale_temporaries`).

    An OSError that names the temporary file or no file (a full disk, a file too large: write()
    names none) is raised naming `path`, the output a user knows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = None
    try:
        fd, name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp" + path.suffix
        )
        os.close(fd)
        tmp = Path(name)
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give outputs the usual mode
        os.replace(tmp, path)
    except OSError as exc:
        named = _naming(exc, path, tmp)
        if named is exc:
            raise
        raise named from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _naming(exc: OSError, path: Path, tmp: Path | None) -> OSError:
    """`exc` with `path` as its file where it names none or a temporary file of `path`'s; else
    `exc` itself (an error about another file, an input read inside the block, stays as it is)."""
    if exc.errno is None:
        return exc
    named = exc.filename is None or (tmp is not None and str(exc.filename) == str(tmp))
    named = named or Path(str(exc.filename)).name.startswith(f".{path.name}.")
    if not named:
        return exc
    return OSError(exc.errno, exc.strerror, str(path))  # OSError picks the errno's subclass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporary files that killed writers of `path` left beside it; returns them.
    A file whose writer still runs (on this machine) is kept."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)-[^/]*\.tmp{re.escape(path.suffix)}")
    removed = []
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"))
    except OSError:
        return removed
    for candidate in candidates:
        match = pattern.fullmatch(candidate.name)
        if match and not _alive(int(match[1])):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_text_if_changed(path: str | Path, text: str) -> bool:
    """Write `text` unless the file already holds exactly it, so an unchanged file keeps its
    modification time (Snakemake keys reruns on it); True if the file was written."""
    path = Path(path)
    if path.is_file() and path.read_text() == text:
        return False
    write_text(path, text)
    return True


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_json(path: str | Path) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BlockbenchError(f"{path}: not found; run the stage that makes it first") from None
    except json.JSONDecodeError as exc:
        raise BlockbenchError(
            f"{path}: corrupt JSON ({exc.msg} at line {exc.lineno}); delete it and rerun its stage"
        ) from None


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """Like np.savez_compressed, but atomic and byte-for-byte reproducible."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(
                        fh, np.ascontiguousarray(arrays[name]), allow_pickle=False
                    )


def load_npz(path: str | Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Load every array of an .npz (never pickles) and check the required names are there."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise BlockbenchError(f"{path}: not found; run the stage that makes it first") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise BlockbenchError(
            f"{path}: corrupt or not an .npz ({exc}); delete it and rerun its stage"
        ) from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise BlockbenchError(
            f"{path}: missing arrays {', '.join(missing)}; delete it and rerun its stage"
        )
    return arrays


def array_sha256(array: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes, so equal arrays from any source hash the same."""
    h = hashlib.sha256()
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
