"""What every stage entry point shares: argument parsing, params checking, one-line errors, and
one engine at a time while any stage of it runs (`hold_engine_lock`)."""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
from pathlib import Path
from typing import Callable

from . import params as params_mod
from .allocator import reuse_freed_memory
from .errors import BlockbenchError, describe_os_error

STARTED = (os.getpid(), os.getppid())  # this process and its parent as the entry script began
ENGINE_ENV = "BLOCKBENCH_ENGINE"  # "snakemake" in Snakemake's jobs (blockbench.checkout sets it)
_WHO = {"dvc": "a DVC stage", "snakemake": "Snakemake"}
_engine_locks: list = []  # the open lock file, kept for the life of the process


def engine(environ=os.environ) -> str | None:
    """The engine running this stage: "snakemake", "dvc" (DVC sets DVC_STAGE for a stage's
    command) or None (run by hand)."""
    name = environ.get(ENGINE_ENV)
    return name if name in _WHO else ("dvc" if "DVC_STAGE" in environ else None)


def engine_lock_file(name: str, root: Path = Path(".")) -> Path:
    return root / ".dvc" / "tmp" / f"blockbench-{name}.lock"


def _flock(fh, op: int) -> bool:
    """False where another process holds a conflicting lock (True where the file system has no
    locks: nothing can be enforced there)."""
    try:
        fcntl.flock(fh.fileno(), op)
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True


def hold_engine_lock(name: str, root: Path = Path("."), alone: bool = False) -> bool:
    """Hold engine `name`'s lock file, shared, until this process (and its forks) exit; refuse
    (BlockbenchError) while any process of the other engine holds its own, and with `alone` (the
    Snakemake process) while another process of `name` holds this one. DVC releases its repository
    lock while a stage's command runs, so every stage takes this too. An flock ends with its
    holder, so a killed one never blocks. False where there is no .dvc/ (DVC cannot run there)."""
    if _engine_locks or not (root / ".dvc").is_dir():
        return bool(_engine_locks)
    path = engine_lock_file(name, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = open(path, "a+")
    busy = None
    if alone and not _flock(mine, fcntl.LOCK_EX | fcntl.LOCK_NB):
        busy = f"another {_WHO[name]}", path, "two would write the same files"
    else:
        _flock(mine, fcntl.LOCK_SH)  # waits out another process's probe (an instant) at most
        other = "dvc" if name == "snakemake" else "snakemake"
        with open(engine_lock_file(other, root), "a+") as fh:
            if not _flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB):
                busy = _WHO[other], fh.name, "each engine deletes outputs the other reads"
    if busy:
        mine.close()
        who, held, why = busy
        raise BlockbenchError(
            f"{who} is running in this checkout ({held} is locked; `fuser -v {held}` lists its "
            f"processes): wait for it to finish; run one engine at a time ({why})"
        )
    _engine_locks.append(mine)
    return True


def die_with_parent() -> None:
    """End this stage with the job shell that started it (Linux; SIGTERM when it exits), so that
    a killed Snakemake job leaves no trainer behind to write outputs after the job failed. Raises
    BlockbenchError where that shell is gone already. Changes nothing that is computed."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    pid, parent = STARTED
    if pid == os.getpid() and os.getppid() != parent:  # (cli imported in this process)
        raise BlockbenchError("the job that started this stage has ended; nothing was run")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--params", default=params_mod.DEFAULT_PARAMS, help="params file (default: params.yaml)"
    )
    return p


def main(body: Callable[[argparse.Namespace, dict], None], p: argparse.ArgumentParser) -> None:
    """Parse args, load and check params, run `body`; a user mistake exits 2 with one line."""
    args = p.parse_args()
    reuse_freed_memory()  # speed only: every stage allocates large arrays over and over
    try:
        if name := engine():  # run by an engine: stop with its job, keep the other engine out
            if name == "snakemake":
                die_with_parent()
            hold_engine_lock(name)
        body(args, params_mod.load(args.params))
    except BlockbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # full disk, read-only results/, a name too long for the file system
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: no output was written", file=sys.stderr)
        sys.exit(130)
