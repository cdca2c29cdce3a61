"""The warm server runs a stage script as `python` would: same arguments, directory, environment,
streams and exit code; other commands and a missing server fall back to the real interpreter.
(That a warm stage writes the same bytes as a cold one: tests/test_engines.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import time

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
