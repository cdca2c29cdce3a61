"""The warm server runs a stage script as `python` would: same arguments, directory, environment,
streams and exit code; other commands and a missing server fall back to the real interpreter.
(That a warm stage writes the same bytes as a cold one: tests/test_engines.py.)"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blockbench import warm

pytestmark = pytest.mark.skipif(not warm.supported(), reason="warm start needs Linux (pidfd)")

SCRIPT = """\
import os, sys
print("argv", sys.argv[1:], "cwd", os.path.basename(os.getcwd()), "env", os.environ.get("BB_T"))
print("to stderr", file=sys.stderr)
print("stdin", sys.stdin.read().strip())
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def scratch(tmp_path):
    """A directory with workflow/scripts/ holding a test script and a sleeping one."""
    scripts = tmp_path / "workflow" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "echo.py").write_text(SCRIPT)
    (scripts / "sleep.py").write_text(
        "import sys, time\n"
        "try:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n"
        "    print('interrupted', file=sys.stderr)\n    sys.exit(130)\n"
    )
    (scripts / "crash.py").write_text("raise ValueError('boom')\n")
    (scripts / "pid_sleep.py").write_text(  # says which process runs it, then sleeps
        "import os, time\nopen('stage.pid', 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    )
    return tmp_path


@pytest.fixture
def shim(scratch):
    with warm.server(env=dict(os.environ), preload=()) as shim_dir:
        yield shim_dir


def call(shim_dir, cwd, *args, stdin="", env=None):
    env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(shim_dir / "python"), *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_stage_script_runs_in_the_server_with_the_callers_everything(shim, scratch):
    r = call(
        shim,
        scratch,
        "workflow/scripts/echo.py",
        "3",
        "--x",
        stdin="hello\n",
        env={"BB_T": "t1"},
    )
    assert r.returncode == 3
    assert f"argv ['3', '--x'] cwd {scratch.name} env t1" in r.stdout
    assert "stdin hello" in r.stdout
    assert r.stderr.strip() == "to stderr"
    served = warm.served_log(shim.parent / "socket").read_text().splitlines()
    assert served == ["workflow/scripts/echo.py 3 --x"]


def test_a_stage_of_another_copy_imports_that_copys_code(scratch):
    """One server for several copies of the repository (the tests' engine runs): a stage whose
    PYTHONPATH names another copy's src/ imports blockbench from there, as a cold start would,
    even after the server (and an earlier stage) imported the server's own; with the server's
    PYTHONPATH it gets the server's."""
    src = Path(warm.__file__).resolve().parents[1]
    copy = scratch / "copy" / "src" / "blockbench"
    copy.mkdir(parents=True)
    (copy / "__init__.py").write_text("")
    (copy / "paths.py").write_text("WHO = 'the copy'\n")
    (scratch / "workflow/scripts/who.py").write_text(
        "import blockbench, blockbench.paths as p\n"
        "print(blockbench.__file__, getattr(p, 'WHO', 'the server'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    with warm.server(env=env, preload=("blockbench.paths",)) as shim_dir:
        for pythonpath, who in ((str(src), "the server"), (str(copy.parent), "the copy")):
            r = call(shim_dir, scratch, "workflow/scripts/who.py", env={"PYTHONPATH": pythonpath})
            assert r.returncode == 0, r.stderr
            assert r.stdout.split()[0].startswith(pythonpath) and r.stdout.endswith(f"{who}\n")


def test_it_runs_in_a_fork_of_the_server_not_a_new_interpreter(shim, scratch):
    """The child's parent is the server, not the shim (a cold start would be the shim's child)."""
    (scratch / "workflow/scripts/ppid.py").write_text("import os\nprint(os.getppid())\n")
    r = call(shim, scratch, "workflow/scripts/ppid.py")
    assert r.returncode == 0, r.stderr
    ppid = int(r.stdout)
    cmdline = open(f"/proc/{ppid}/cmdline", "rb").read().split(b"\0")
    assert b"blockbench.warm" in cmdline


def test_an_exception_exits_1_with_its_traceback(shim, scratch):
    r = call(shim, scratch, "workflow/scripts/crash.py")
    assert r.returncode == 1 and "ValueError: boom" in r.stderr


def test_sigint_to_the_shim_interrupts_the_stage(shim, scratch):
    p = subprocess.Popen(
        [str(shim / "python"), "workflow/scripts/sleep.py"],
        cwd=scratch,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130 and "interrupted" in err


def test_other_commands_and_a_stopped_server_use_the_real_interpreter(scratch):
    with warm.server(env=dict(os.environ), preload=()) as shim_dir:
        r = call(shim_dir, scratch, "-c", "import sys; print(sys.flags.isolated)")
        assert r.returncode == 0 and r.stdout.strip() == "0"  # not the shim's -I interpreter
    # the server is gone: the shim still works, cold (the temporary directory too, so recreate it)
    shim_dir.mkdir(parents=True)
    warm.install_shim(shim_dir, shim_dir.parent / "socket")
    r = call(shim_dir, scratch, "workflow/scripts/echo.py", "0")
    assert r.returncode == 0 and "argv ['0']" in r.stdout


def _running_stage(scratch, shim_dir) -> tuple[subprocess.Popen, int]:
    """The sleeping stage started through the shim, and the pid of the server's child running it."""
    shim = subprocess.Popen(
        [str(shim_dir / "python"), "workflow/scripts/pid_sleep.py"], cwd=scratch
    )
    deadline = time.monotonic() + 120
    while not (scratch / "stage.pid").exists() or not (scratch / "stage.pid").read_text():
        assert shim.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return shim, int((scratch / "stage.pid").read_text())


def _ended(pid: int, wait_s: float = 60) -> bool:
    """Whether `pid` ended (or is a zombie) within wait_s seconds."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_leaving_the_block_stops_the_stages_still_running_and_removes_the_directory(scratch):
    with warm.server(env=dict(os.environ), preload=()) as shim_dir:
        shim, stage = _running_stage(scratch, shim_dir)
    try:
        assert _ended(stage, 0.1)  # stopped before the block ended
        assert shim.wait(timeout=60) == 1  # its shim saw the server go
        assert not shim_dir.parent.exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stage, signal.SIGKILL)


def test_the_server_stops_when_its_parent_is_killed(scratch):
    """The process holding the server killed outright (SIGKILL): the server sees its standard
    input close, stops the stage it runs and removes its directory."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time; from blockbench import warm\n"
            "with warm.server(env=dict(os.environ), preload=()) as shim_dir:\n"
            "    print(shim_dir, flush=True); time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    shim_dir = Path(holder.stdout.readline().strip())
    shim, stage = _running_stage(scratch, shim_dir)
    server = int(Path(f"/proc/{stage}/stat").read_text().rsplit(")", 1)[1].split()[1])
    try:
        holder.kill()
        holder.wait()
        assert _ended(stage) and _ended(server)
        assert shim.wait(timeout=60) == 1
        assert not shim_dir.parent.exists()
    finally:
        for pid in (stage, server):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        holder.stdout.close()
