"""Warm stage start-up: import the heavy libraries once, fork every stage from that process.

A stage process spends 2-5 s importing torch, torchvision, scikit-learn, pandas and matplotlib
before it does anything (docs/benchmarks.md, "Stage start-up"); on `digits` that is most of a
stage's time. For the quick look and the tests, a server imports them once and forks a child per
stage; the engines stay exactly as they are. They run `python workflow/scripts/<stage>.py ...`
through the PATH, and `install_shim` puts a `python` first on that PATH that hands such a command
(its arguments, working directory, environment, stdin, stdout and stderr) to the server and exits
with the stage's exit code. Anything else, or any command when the server is not there, runs the
real interpreter instead. A child runs the same entry script with the same code as a cold start
(tests/test_engines.py compares Snakemake's warm outputs with DVC's cold ones byte for byte).

    with warm.server(repo, env) as shim_dir:   # blockbench.quick does this
        env["PATH"] = f"{shim_dir}:{env['PATH']}"
        subprocess.run(["dvc", "repro"], env=env, ...)

The server stops when its standard input closes (its parent ended, even by SIGKILL) or on SIGTERM:
it stops the stages still running (SIGTERM, then SIGKILL after STOP_GRACE_S) and removes its
temporary directory. It ignores SIGINT: a stage's `python` (the shim) passes the engine's Ctrl-C on
to its stage, and the server runs in a session of its own, so the stage gets it once.

Linux only (file descriptors passed over a Unix socket, pidfd); elsewhere `server` yields None and
the stages start cold.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import runpy
import select
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

# what the stages import, at the top or inside their functions
PRELOAD = (
    "numpy",
    "pandas",
    "scipy.stats",
    "sklearn.metrics",
    "sklearn.manifold",
    "sklearn.model_selection",
    "torch",
    "torchvision",
    "torchvision.transforms.v2",
    "matplotlib.pyplot",
    "blockbench.stages.download",
    "blockbench.stages.split",
    "blockbench.stages.train",
    "blockbench.stages.evaluate",
    "blockbench.stages.plot",
    "blockbench.stages.benchmark",
    "blockbench.report",
)
# what a server shared by several copies of the repository preloads: the libraries only, so that
# each stage imports blockbench from its own copy (its PYTHONPATH), as a cold start does
LIBRARIES = tuple(m for m in PRELOAD if m.split(".")[0] != "blockbench")
PACKAGE = "blockbench"
_served_pythonpath = ""  # the server's own PYTHONPATH (serve() sets it)
STAGE_PREFIX = "workflow/scripts/"
READY = "warm: ready"
SHIM_NAMES = ("python", "python3")
STOP_GRACE_S = 5  # a stopped server's stages: seconds between SIGTERM and SIGKILL

_SHIM = '''#!{python} -IS
"""`python` for the engines while a warm server runs (blockbench.warm): stage scripts are handed
to the server, anything else runs {python}."""
import json, os, signal, socket, struct, sys

REAL, SOCKET, PREFIX = {python!r}, {socket!r}, {prefix!r}
args = sys.argv[1:]
if not (args and args[0].startswith(PREFIX) and args[0].endswith(".py")):
    os.execv(REAL, [REAL, *args])
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCKET)
except OSError:
    os.execv(REAL, [REAL, *args])
header = json.dumps({{"argv": args, "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
socket.send_fds(s, [b"F"], [0, 1, 2])
s.sendall(struct.pack("!I", len(header)) + header)
replies = s.makefile("r")
pid = json.loads(replies.readline())["pid"]
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, lambda n, _f: os.kill(pid, n))
line = replies.readline()
sys.exit(json.loads(line)["exit"] if line else 1)
'''


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open")


def install_shim(bin_dir: Path, socket_path: Path, python: str = sys.executable) -> Path:
    """Write `python` and `python3` into bin_dir that forward stage scripts to the server."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    text = _SHIM.format(python=python, socket=str(socket_path), prefix=STAGE_PREFIX)
    for name in SHIM_NAMES:
        path = bin_dir / name
        path.write_text(text)
        path.chmod(0o755)
    return bin_dir


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    size = struct.unpack("!I", _read(conn, 4))[0]
    return json.loads(_read(conn, size)), fds


def _read(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def _run_child(request: dict, fds: list[int], close: list) -> None:
    """In the forked child: become `python <argv>` in the client's directory, environment and
    standard streams; exit with the script's exit code (never returns)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)  # the server's, closed below
        for obj in close:
            if isinstance(obj, int):
                os.close(obj)
            else:
                obj.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        script = request["argv"][0]
        sys.argv = list(request["argv"])
        _own_code(request["env"].get("PYTHONPATH", ""))
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _own_code(pythonpath: str) -> None:
    """In a child whose PYTHONPATH is not the server's (another copy of the repository): sys.path
    as a cold start in that environment has it, and blockbench's modules unloaded, so that the
    stage imports that copy's code, not the server's."""
    server = _served_pythonpath
    if pythonpath == server:
        return

    def entries(value: str) -> list[str]:
        return [os.path.abspath(p) for p in value.split(os.pathsep) if p]

    old = set(entries(server))
    sys.path[1:] = entries(pythonpath) + [p for p in sys.path[1:] if p not in old]
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def served_log(socket_path: Path) -> Path:
    """The file in which the server records each command it ran (one line each)."""
    return Path(socket_path).parent / "served.log"


def serve(socket_path: Path, preload=PRELOAD) -> None:
    """Import `preload`, listen on socket_path and fork one child per request until terminated
    (SIGTERM) or until standard input closes; then stop the children still running and remove
    its files (and socket_path's directory, if that empties it)."""
    for name in preload:
        importlib.import_module(name)
    global _served_pythonpath
    _served_pythonpath = os.environ.get("PYTHONPATH", "")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(16)
    wake_r, wake_w = os.pipe()  # SIGTERM writes here (set_wakeup_fd): handled in the loop below
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a stage's Ctrl-C reaches it through its shim
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    sel.register(wake_r, selectors.EVENT_READ, "stop")
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stop")  # EOF: the parent is gone
    print(READY, flush=True)
    try:
        _loop(socket_path, listener, sel, [listener, sel, wake_r, wake_w])
    finally:
        _stop_children([k.data for k in sel.get_map().values() if isinstance(k.data, tuple)])
        _remove_own_files(Path(socket_path))


def _remove_own_files(socket_path: Path) -> None:
    """The socket, the log and the shim `server` put beside them, and their directory if that
    leaves it empty."""
    home = socket_path.parent
    for path in (socket_path, served_log(socket_path), *(home / "bin" / n for n in SHIM_NAMES)):
        path.unlink(missing_ok=True)
    for directory in (home / "bin", home):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _loop(socket_path: Path, listener: socket.socket, sel, close: list) -> None:
    while True:
        for key, _ in sel.select():
            if key.data == "stop":
                return
            if key.data is None:
                conn, _ = listener.accept()
                try:
                    request, fds = _receive(conn)
                except (OSError, ValueError):
                    conn.close()
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _run_child(request, fds, [*close, conn])
                for fd in fds:
                    os.close(fd)
                with open(served_log(socket_path), "a") as log:  # what ran warm, for the tests
                    log.write(" ".join(request["argv"]) + "\n")
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
                pidfd = os.pidfd_open(pid)
                sel.register(pidfd, selectors.EVENT_READ, (pid, pidfd, conn))
            else:
                pid, pidfd, conn = key.data
                sel.unregister(pidfd)
                os.close(pidfd)
                code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                code = 128 - code if code < 0 else code  # killed by signal n: 128 + n, as a shell
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
                conn.close()


def _stop_children(children: list[tuple[int, int, socket.socket]]) -> None:
    """SIGTERM to each (pid, pidfd, connection) still running, SIGKILL to any left after
    STOP_GRACE_S; reaped (their shims see the connection close and exit 1)."""
    for pid, _, _ in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for pid, pidfd, conn in children:
        if not select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(pidfd)
        conn.close()


@contextlib.contextmanager
def server(env: dict | None = None, preload=PRELOAD):
    """Run a warm server for the duration of the block; yields the directory of the `python`
    shim to put first on the engines' PATH (None where unsupported: stages then start cold).
    Leaving the block stops the server, the stages it still runs and removes its directory; if
    this process dies instead, the server sees its standard input close and does the same."""
    if not supported():
        yield None
        return
    tmp = Path(tempfile.mkdtemp(prefix="bb-warm-"))
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)  # if the server could not
        cmd = [sys.executable, "-m", "blockbench.warm", str(tmp / "socket"), *preload]
        # a session of its own: a terminal's Ctrl-C reaches a stage once, through its shim
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True}
        proc = subprocess.Popen(cmd, env=env, start_new_session=True, **pipes)
        cleanup.callback(_stop_server, proc)
        line = proc.stdout.readline()  # READY once preloaded; "" if the server died
        if line.strip() != READY:
            raise RuntimeError(f"warm server did not start: {line!r}")
        yield install_shim(tmp / "bin", tmp / "socket")


def _stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.stdin.close()
    proc.stdout.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(STOP_GRACE_S + 10)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), tuple(sys.argv[2:]))
