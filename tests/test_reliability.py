"""What attacking the pipeline found (issue "The mission's commands alone"), one test per finding:
two engines at once, temporary files left by a kill, a newline in a name, a YAML alias bomb,
tracebacks on a full disk, a read-only or binary file and a long name, exit codes, a diverged
training, a batch larger than the training set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, digits_params

from blockbench import checkout, cli, configs, keys, training
from blockbench import params as bbp
from blockbench.errors import BlockbenchError, describe_os_error
from blockbench.quick import copy_pipeline, engine_env
from blockbench.split import make_split
from blockbench.storage import atomic_path, remove_stale_temporaries, write_text


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a failed command (exit 2), with no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def snakemake_dry_run(repo: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["snakemake", "-n", "--cores", "1"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=engine_env(repo),
        timeout=timeout,
    )


# ------------------------------------------------------------------ 1. two engines in one checkout
HOLD_DVC_LOCK = (  # DVC's own lock class, as `dvc repro` takes it
    "import sys, time, zc.lockfile; l = zc.lockfile.LockFile('.dvc/tmp/lock'); "
    "print('locked', flush=True); time.sleep(60)"
)
HOLD_AS_SNAKEFILE = (
    "import time; from blockbench import checkout; checkout.hold_dvc_lock(); "
    "print('locked', flush=True); time.sleep(60)"
)


def hold(code: str, cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
        env=engine_env(),
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_snakemake_refuses_to_start_while_dvc_runs(tmp_path):
    repo = copy_pipeline(REPO, tmp_path / "repo", digits_params())
    (repo / ".dvc" / "tmp").mkdir(parents=True)
    holder = hold(HOLD_DVC_LOCK, repo)
    try:
        proc = snakemake_dry_run(repo)
    finally:
        holder.kill()
    assert "a DVC command is running in this checkout" in one_line_error(proc)
    assert not (repo / "data").exists()  # refused before building anything


def test_dvc_refuses_to_start_while_snakemake_runs(tmp_path):
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True, env=engine_env())
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  s:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n"
    )
    holder = hold(HOLD_AS_SNAKEFILE, tmp_path)
    try:
        proc = subprocess.run(
            ["dvc", "repro"], cwd=tmp_path, capture_output=True, text=True, env=engine_env()
        )
    finally:
        holder.kill()
    assert proc.returncode != 0 and "Unable to acquire lock" in proc.stderr, proc.stderr
    assert not (tmp_path / "out.txt").exists()
    # once Snakemake has exited, DVC runs
    holder.wait()
    subprocess.run(["dvc", "repro", "-q"], cwd=tmp_path, check=True, env=engine_env())


def test_without_dvc_the_lock_is_not_taken(tmp_path):
    assert checkout.hold_dvc_lock(tmp_path) is False
    assert not (tmp_path / ".dvc").exists()


FAKE_STAGE = """import sys, pathlib
root = pathlib.Path('.')
with open('calls.log', 'a') as fh:
    fh.write(' '.join(sys.argv[1:]) or 'download')
    fh.write('\\n')
if len(sys.argv) > 2:
    out = root / 'data/prepared' / sys.argv[2] / 'split.npz'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text('split')
else:
    for name in ('digits.npz', 'digits.json'):
        (root / 'data/raw').mkdir(parents=True, exist_ok=True)
        (root / 'data/raw' / name).write_text('raw')
"""


def test_data_is_rebuilt_where_missing_or_older_than_what_it_is_made_from(tmp_path):
    """What the Snakefile runs before planning (blockbench.checkout.update_data), judged by
    modification times as Snakemake would: missing outputs, a newer code fingerprint, a newer
    split config, newer raw data."""
    for script in ("download.py", "split.py"):
        (tmp_path / "workflow/scripts").mkdir(parents=True, exist_ok=True)
        (tmp_path / "workflow/scripts" / script).write_text(FAKE_STAGE)
    keys = {
        "download": tmp_path / "results/code/download.sha256",
        "split": tmp_path / "results/code/split.sha256",
        "a": tmp_path / "results/configs/splits/a.yaml",
        "b": tmp_path / "results/configs/splits/b.yaml",
    }
    for path in keys.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("key")
        os.utime(path, (1000, 1000))

    def update() -> list[str]:
        (tmp_path / "calls.log").write_text("")
        checkout.update_data("digits", ["a", "b"], tmp_path)
        return (tmp_path / "calls.log").read_text().split("\n")[:-1]

    def touch(key: str) -> None:
        """The key newer than every output built before, by explicit times: the kernel's file
        times can be coarser than its clock (a write and a following utime(None) may carry the
        same or even reversed times), which made this test depend on the machine."""
        now = time.time()
        for out in (tmp_path / "data").rglob("*"):
            if out.is_file():
                os.utime(out, (now - 10, now - 10))
        os.utime(keys[key], (now - 5, now - 5))  # still older than the rebuild that follows

    assert update() == ["download", "--split a", "--split b"]  # a fresh clone
    assert update() == []  # up to date: nothing runs
    touch("a")
    assert update() == ["--split a"]
    touch("split")
    assert update() == ["--split a", "--split b"]
    touch("download")
    assert update() == ["download", "--split a", "--split b"]  # newer raw data: every split
    assert update() == []


# ------------------------------------------------------------- 2. temporary files left by a kill
KILLED_WRITER = (
    "import os, signal, sys; from blockbench.storage import atomic_path\n"
    "with atomic_path(sys.argv[1]) as tmp:\n"
    "    tmp.write_text('half')\n"
    "    os.kill(os.getpid(), signal.SIGKILL)\n"
)


def test_a_writer_killed_mid_write_leaves_a_temp_file_the_next_write_removes(tmp_path):
    out = tmp_path / "runs" / "c4" / "roc.csv"
    write_text(out, "old\n")
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(out)], env=engine_env())
    assert proc.returncode == -signal.SIGKILL
    left = [p for p in out.parent.iterdir() if p != out]
    assert len(left) == 1 and left[0].name.startswith(".roc.csv.")  # what SIGKILL leaves
    assert out.read_text() == "old\n"
    write_text(out, "new\n")  # the stage's next run
    assert sorted(out.parent.iterdir()) == [out] and out.read_text() == "new\n"


def test_a_live_writers_temp_file_is_kept(tmp_path):
    out = tmp_path / "roc.csv"
    with atomic_path(out) as tmp:  # this process is alive: its temporary file must stay
        assert remove_stale_temporaries(out) == []
        assert tmp.exists()
    dead = tmp_path / f".roc.csv.{2**22 + 12345}-abc.tmp.csv"  # beyond pid_max: no such process
    dead.write_text("x")
    other = tmp_path / ".metrics.json.4-abc.tmp.json"  # another output's: not this write's business
    other.write_text("x")
    assert remove_stale_temporaries(out) == [dead]
    assert other.exists()


def test_temp_files_are_ignored_by_git_and_dvc():
    for name in (".gitignore", ".dvcignore"):
        patterns = (REPO / name).read_text().splitlines()
        assert ".*.tmp" in patterns and ".*.tmp.*" in patterns, name
    proc = subprocess.run(
        [
            "git",
            "check-ignore",
            "results/runs/c4/.roc.csv.123-abc.tmp.csv",
            "results/study_figures/.twins.png.9-x.tmp.png",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 2


# ---------------------------------------------------------------------- 3. names and 5. long names
@pytest.mark.parametrize("name", ["c9\n", "c" * 65, "C9", "9c", "c-9"])
def test_a_run_name_that_is_not_plain_is_refused_in_one_line(name):
    p = digits_params()
    p["runs"][name] = {"n_conv": 1, "n_mobilenet": 0}
    with pytest.raises(bbp.ParamsError) as err:
        bbp.validate(p)
    assert "is not allowed" in str(err.value) and "\n" not in str(err.value).replace("\\n", "")
    assert len(str(err.value)) < 300


def test_the_longest_allowed_run_name_makes_files(tmp_path):
    p = digits_params()
    name = "c" * 64
    p["runs"] = {name: {**p["runs"]["c4"], "replicate_seeds": [1]}}
    p["grids"] = {}
    p["seeds"] = {}
    p["study"].update(mobilenet=name, plain=name, block_counts=[name], sweeps={})
    for key in ("remedies", "ablations", "split_seeds", "twins"):
        p["study"].pop(key, None)
    p["benchmark"]["runs"] = [name]
    runs = keys.write_configs(bbp.validate(p), tmp_path)
    assert set(runs) == {name, f"{name}_s1"}
    assert (tmp_path / "results" / "configs" / f"{name}_s1.yaml").is_file()


# ------------------------------------------------------------------------- 4. a YAML alias bomb
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n"
    for i in range(9)
)


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    base = (REPO / "params.yaml").read_text()
    bombed = base.replace(
        "\ntrain:", "\n" + BOMB.replace("\n", "\n  ").join(["bomb:\n  ", ""]) + "\ntrain:", 1
    )
    path = tmp_path / "params.yaml"
    path.write_text(bombed)
    start = time.perf_counter()
    with pytest.raises(bbp.ParamsError) as err:
        bbp.load(path)
    assert time.perf_counter() - start < 5  # not 9**10 strings
    assert "aliases" in str(err.value) and "line" in str(err.value)


def test_an_oversized_params_file_is_refused(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("# padding\n" * 200_000)
    with pytest.raises(bbp.ParamsError, match="more than a params file can be"):
        bbp.load(path)


def test_a_huge_value_is_cut_in_the_error_message():
    p = digits_params()
    p["train"]["epochs"] = ["x" * 1000] * 1000
    with pytest.raises(bbp.ParamsError) as err:
        bbp.validate(p)
    assert len(str(err.value)) < 300 and "train.epochs" in str(err.value)


# ------------------------------------------------------- 5. OS errors and binary files: one line
def test_a_full_disk_is_one_line_exit_2_and_leaves_nothing(tmp_path):
    """`ulimit -f` makes the first large write fail with EFBIG, as a full disk does with ENOSPC."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(digits_params()))
    proc = subprocess.run(
        [
            "bash",
            "-c",
            f"ulimit -f 20 && exec {sys.executable} {REPO}/workflow/scripts/download.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=engine_env(),
    )
    line = one_line_error(proc)
    assert "File too large" in line and "ulimit" in line
    raw = tmp_path / "data" / "raw"
    assert not raw.exists() or [p.name for p in raw.iterdir()] == [], list(raw.iterdir())


@pytest.mark.parametrize(
    "exc, words",
    [
        (PermissionError(13, "Permission denied", "results/runs/c4/metrics.json"), "writable"),
        (OSError(30, "Read-only file system", "results/runs/c4/roc.csv"), "read-only"),
        (OSError(36, "File name too long", "results/configs/ccc.yaml"), "shorter name"),
        (OSError(28, "No space left on device", "data/raw/mnist.npz"), "free some space"),
    ],
)
def test_os_errors_become_one_line_naming_the_file_and_the_fix(
    tmp_path, monkeypatch, capsys, exc, words
):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(digits_params()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["stage"])

    def body(args, params):
        raise exc

    with pytest.raises(SystemExit) as code:
        cli.main(body, cli.parser("a stage"))
    assert code.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and exc.filename in err and words in err
    assert describe_os_error(exc) in err


def test_binary_bytes_in_a_config_file_are_one_line(tmp_path):
    params = digits_params()
    keys.write_configs(params, tmp_path)
    (tmp_path / "results/configs/c4.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe binary")
    with pytest.raises(BlockbenchError, match="corrupt YAML; delete it"):
        configs.read_current(params, "c4", tmp_path)
    (tmp_path / "params.yaml").write_bytes(b"train:\n  lr: \xff\xfe\n")
    with pytest.raises(bbp.ParamsError, match="not a text file"):
        bbp.load(tmp_path / "params.yaml")


# ------------------------------------------------------------------------------- 6. exit codes
def test_configs_and_the_snakefile_exit_2_with_one_line_on_bad_params(tmp_path):
    repo = copy_pipeline(REPO, tmp_path / "repo", digits_params())
    params = repo / "params.yaml"
    good = params.read_text()
    params.write_text(good.replace("  lr: 0.01", "  lrr: 0.01", 1))
    for cmd in (["python", "workflow/scripts/configs.py"], ["snakemake", "-n", "--cores", "1"]):
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=engine_env(repo))
        assert "unknown key train.lrr; did you mean lr?" in one_line_error(proc), cmd
    params.write_text(good + "\n  : [unclosed\n")  # invalid YAML: Snakemake alone printed nothing
    proc = snakemake_dry_run(repo)
    assert "not valid YAML at line" in one_line_error(proc)
    params.write_text(
        good.replace("\ntrain:", "\nbomb:\n  " + BOMB.replace("\n", "\n  ") + "\ntrain:", 1)
    )
    proc = snakemake_dry_run(repo, timeout=120)
    assert "aliases" in one_line_error(proc)
    # a study declaration the report would refuse: refused before either engine plans (DVC's
    # first stage is configs), where a refused aggregate job would have cost the report's
    # committed outputs (both engines remove a job's outputs before running it)
    cut = yaml.safe_load(good)
    cut["study"]["capacity"]["seeds"].append(99)
    params.write_text(yaml.safe_dump(cut, sort_keys=False))
    for cmd in (["python", "workflow/scripts/configs.py"], ["snakemake", "-n", "--cores", "1"]):
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=engine_env(repo))
        assert "has no seed 99; add them to seeds." in one_line_error(proc), cmd


def test_the_snakefile_is_lint_clean(tmp_path):
    """`snakemake --lint` finds nothing (the Snakemake catalog's bar): rules with log, benchmark,
    conda and no absolute paths, and no file of workflow/rules/ mixing rules with functions."""
    repo = copy_pipeline(REPO, tmp_path / "repo", digits_params())
    proc = subprocess.run(
        ["snakemake", "--lint"], cwd=repo, capture_output=True, text=True, env=engine_env(repo)
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out and "in a good condition" in out, out


# -------------------------------------------------- 7. a diverged training, an oversized batch
@pytest.fixture(scope="module")
def digits_split(digits_arrays):
    arrays, _ = make_split(digits_arrays, bbp.split_config(digits_params(), "imbalanced"))
    return arrays


def small_run(**kw):
    return {**bbp.run_config(digits_params(), "c4"), "epochs": 2, "batch_size": 128, **kw}


def test_a_diverged_training_is_one_line_naming_lr(digits_split, monkeypatch):
    real = training.evaluate
    monkeypatch.setattr(training, "evaluate", lambda *a: (float("nan"), real(*a)[1]))
    with pytest.raises(BlockbenchError, match=r"diverged in epoch 1 of 2.*lower lr \(10"):
        training.train(small_run(lr=10.0), digits_split, threads=1, device=torch.device("cpu"))


def test_a_real_huge_lr_either_trains_or_says_it_diverged(digits_split):
    try:
        result = training.train(
            small_run(lr=1e6), digits_split, threads=1, device=torch.device("cpu")
        )
    except BlockbenchError as exc:
        assert "diverged" in str(exc)
    else:
        assert np.isfinite(result.info["selected"]["val_loss"])


def test_a_batch_larger_than_the_training_set_is_one_full_batch_per_epoch(digits_split):
    n = len(digits_split["y_train"])
    big = training.train(
        small_run(batch_size=n * 10), digits_split, threads=1, device=torch.device("cpu")
    )
    full = training.train(
        small_run(batch_size=n), digits_split, threads=1, device=torch.device("cpu")
    )
    drop = lambda h: [{k: v for k, v in row.items() if k != "seconds"} for row in h]  # noqa: E731
    assert drop(big.history) == drop(full.history)  # the same single step per epoch
    assert all(np.isfinite(r["val_loss"]) for r in big.history)


def test_progress_lines_say_epoch_k_of_n_and_the_time_left(digits_split, capsys):
    training.train(
        small_run(epochs=3), digits_split, threads=1, device=torch.device("cpu"), name="c4"
    )
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("c4: epoch")]
    assert [ln.split(":")[1].strip() for ln in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("left)" in ln for ln in lines) and lines[-1].endswith("~0s left)")


def test_progress_time_left_is_the_mean_epoch_times_the_epochs_to_go():
    progress = training._Progress(10, "c4")
    row = {"train_loss": 1.0, "val_loss": 1.0, "val_acc": 0.5}
    progress.line({**row, "epoch": 1, "seconds": 10.0})
    assert progress.line({**row, "epoch": 2, "seconds": 20.0}).endswith("(20.0s, ~2m 00s left)")
