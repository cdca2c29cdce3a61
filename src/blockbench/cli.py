"""What every stage entry point shares: argument parsing, params checking, one-line errors."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from . import params as params_mod
from .allocator import reuse_freed_memory
from .errors import BlockbenchError, describe_os_error


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
