"""Issue 35, items 4, 5 and 8 (part): values YAML accepts and a run must not (NaN, infinity, a key
given twice, a seed numpy cannot take), a training that diverges, OS errors that named a temporary
file or no file, and run expansion that grew with the square of the runs."""

from __future__ import annotations

import copy
import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, digits_params

from blockbench import keys, paths, storage, training
from blockbench import params as bbp
from blockbench.errors import BlockbenchError, ParamsError
from blockbench.quick import engine_env
from blockbench.split import make_split
from blockbench.stages import split as split_stage
from blockbench.stages import train as train_stage


def params_text() -> str:
    return (REPO / "params.yaml").read_text()


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def load_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError) as err:
        bbp.load(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    return msg


# ------------------------------------------------------------------ 4. silently wrong params
@pytest.mark.parametrize(
    "old, new, key",
    [
        ("  keep_fraction: 0.065", "  keep_fraction: .nan", "split.keep_fraction"),
        ("  lr: 0.01", "  lr: .NaN", "train.lr"),
        ("  weight_decay: 0.0", "  weight_decay: .inf", "train.weight_decay"),
        (
            "  augment_scale: [0.9, 1.1]",
            "  augment_scale: [0.9, 1.0e+999]",
            "train.augment_scale.1",
        ),
        (
            "  ratio2: {train_over_test: 2.0}",
            "  ratio2: {train_over_test: -.Inf}",
            "splits.ratio2.train_over_test",
        ),
    ],
)
def test_nan_or_infinity_in_the_params_file_is_refused_naming_key_and_line(tmp_path, old, new, key):
    text = params_text()
    assert old in text
    text = text.replace(old, new, 1)
    msg = load_error(tmp_path, text)
    assert f"{key}" in msg and f"at line {line_of(text, new)}:" in msg, msg
    assert "not a finite number" in msg


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("split", "keep_fraction", float("nan")),  # gave a balanced split, exit 0
        ("train", "lr", float("nan")),  # a training traceback
        ("train", "weight_decay", float("inf")),  # passes `minimum: 0`
        ("train", "cb_beta", float("nan")),
    ],
)
def test_nan_or_infinity_in_a_params_dict_is_refused(section, key, value):
    p = digits_params()
    p[section][key] = value
    with pytest.raises(
        ParamsError, match=rf"^params.yaml: {section}.{key}: .* not a finite number"
    ):
        bbp.validate(p)


def test_a_float_where_an_integer_is_expected_is_refused():
    p = digits_params()
    p["train"]["epochs"] = 2.0  # JSON Schema's `integer` takes it; range() does not
    with pytest.raises(
        ParamsError, match=r"train.epochs: 2.0 has the wrong type; expected integer"
    ):
        bbp.validate(p)


@pytest.mark.parametrize(
    "old, new, key",
    [  # `new` holds both lines, the first given first
        (
            "\n  c4: {n_conv: 4, n_mobilenet: 0}\n",
            "\n  c4: {n_conv: 4, n_mobilenet: 0}\n  c4: {n_conv: 3}\n",
            "runs.c4",
        ),
        ("\n  lr: 0.01\n", "\n  lr: 0.5\n  lr: 0.01\n", "train.lr"),
        ("\ncompute:", "\ncompute: {device: cpu}\ncompute:", "compute"),
    ],
)
def test_a_key_given_twice_is_refused_naming_it_and_both_lines(tmp_path, old, new, key):
    text = params_text()
    assert old in text
    first = text.index(old) + 1  # offset of `new`'s first line
    text = text.replace(old, new, 1)
    a = text.count("\n", 0, first) + 1
    msg = load_error(tmp_path, text)
    assert f"{key} is given twice (lines {a} and {a + 1})" in msg, msg


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda p: p["train"].update(seed=2**70), "train.seed"),  # crashed torch.manual_seed
        (lambda p: p["split"].update(seed=2**32), "split.seed"),  # numpy: seed < 2**32
        (lambda p: p["data"].update(seed=2**32), "data.seed"),
        (lambda p: p["runs"]["c4"].update(replicate_seeds=[1, 2**32]), "runs.c4.replicate_seeds.1"),
    ],
)
def test_a_seed_numpy_or_torch_cannot_take_is_refused(mutate, key):
    p = digits_params()
    mutate(p)
    with pytest.raises(
        ParamsError,
        match=rf"^params.yaml: {key}: \d+ is too large for a seed; use 0 to 4294967295 \(2\*\*32",
    ):
        bbp.validate(p)


def test_the_largest_seed_numpy_takes_is_allowed():
    p = digits_params()
    p["train"]["seed"] = p["split"]["seed"] = 2**32 - 1
    bbp.validate(p)


# --------------------------------------------------------------- 5. a diverged run saves nothing
@pytest.fixture(scope="module")
def digits_split(digits_arrays):
    arrays, _ = make_split(digits_arrays, bbp.split_config(digits_params(), "imbalanced"))
    return arrays


def nan_weights_in_epoch(monkeypatch, bad_epoch: int) -> None:
    """The real epoch, then a NaN in the first weight in epoch `bad_epoch` (what a step with an
    infinite gradient leaves), with the epoch's finite train loss."""
    real = training.train_one_epoch
    calls = []

    def epoch(model, *args, **kw):
        out = real(model, *args, **kw)
        calls.append(1)
        if len(calls) == bad_epoch:
            with torch.no_grad():
                next(model.parameters()).view(-1)[0] = float("nan")
        return out

    monkeypatch.setattr(training, "train_one_epoch", epoch)


def test_a_run_diverged_under_select_last_stops_and_its_stage_writes_nothing(
    tmp_path, digits_arrays, monkeypatch
):
    params = digits_params(epochs=2, select="last")
    storage.save_npz(tmp_path / paths.raw("digits"), **digits_arrays)
    keys.write_configs(params, tmp_path)
    split_stage.run(params, "imbalanced", root=tmp_path)
    nan_weights_in_epoch(monkeypatch, bad_epoch=2)
    with pytest.raises(BlockbenchError) as err:
        train_stage.run(params, "c4", threads=1, root=tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and "c4: training diverged in epoch 2 of 2" in msg, msg
    assert "lower lr (0.01)" in msg
    run_dir = tmp_path / paths.run_dir("c4")
    assert not run_dir.exists() or list(run_dir.iterdir()) == []
    # the resume point is the last finite epoch's
    assert torch.load(tmp_path / paths.checkpoint("c4"), weights_only=True)["epoch"] == 1


def test_weights_gone_nan_stop_the_run_even_where_the_losses_are_finite(digits_split, monkeypatch):
    nan_weights_in_epoch(monkeypatch, bad_epoch=1)
    monkeypatch.setattr(training, "evaluate", lambda *a: (0.5, 0.5))
    cfg = {**bbp.run_config(digits_params(), "c4"), "epochs": 2, "batch_size": 256}
    with pytest.raises(BlockbenchError, match=r"diverged in epoch 1 of 2 \(train loss \d"):
        training.train(cfg, digits_split, threads=1, device=torch.device("cpu"))


# ----------------------------------------------------- 8. OS errors name the output, not a temp
def test_a_file_too_large_is_one_line_naming_the_output_and_keeps_the_old_one(tmp_path):
    """`ulimit -f` makes a large write fail with EFBIG (write() names no file, as with ENOSPC)."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(digits_params()))
    out = tmp_path / "results" / "model.pt"
    out.parent.mkdir()
    out.write_text("old")
    code = (
        "from blockbench import cli, storage; cli.main(lambda a, p: storage.write_bytes("
        "'results/model.pt', bytes(200_000)), cli.parser('a stage'))"
    )
    proc = subprocess.run(
        ["bash", "-c", f'ulimit -f 20 && exec {sys.executable} -c "{code}"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=engine_env(),
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: results/model.pt: File too large;"), proc.stderr
    assert proc.stderr.count("\n") == 1
    assert out.read_text() == "old" and os.listdir(out.parent) == ["model.pt"]


def test_os_errors_of_an_atomic_write_name_the_output(tmp_path, monkeypatch):
    out = tmp_path / "c4.yaml"
    out.write_text("old")
    # no file named (a full disk: write() names none)
    with pytest.raises(OSError) as err:
        with storage.atomic_path(out):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(out)
    # a directory where the output goes: os.replace names the temporary file
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(IsADirectoryError) as err:
        storage.write_text(tmp_path / "dir.yaml", "x")
    assert err.value.filename == str(tmp_path / "dir.yaml")
    # the temporary file cannot be made (a read-only file system): mkstemp names it
    real = storage.tempfile.mkstemp

    def read_only(dir, prefix, suffix):
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/{prefix}x1y2{suffix}")

    monkeypatch.setattr(storage.tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as err:
        storage.write_text(out, "new")
    assert err.value.errno == errno.EROFS and err.value.filename == str(out)
    monkeypatch.setattr(storage.tempfile, "mkstemp", real)
    # an error about another file, an input read inside the block, keeps its own name
    with pytest.raises(FileNotFoundError) as err:
        with storage.atomic_path(out):
            (tmp_path / "input.npz").read_bytes()
    assert err.value.filename == str(tmp_path / "input.npz")
    assert out.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["c4.yaml", "dir.yaml"]


# ------------------------------------------------------------------- 8. run expansion is linear
def many_runs(n: int) -> dict:
    """The repository's params with `n` more runs: named runs, a grid over them and seeds."""
    p = copy.deepcopy(yaml.safe_load(params_text()))
    for i in range(n):
        p["runs"][f"x{i}"] = {"n_conv": 2, "replicate_seeds": [1, 2]}
    p["grids"]["many"] = {"runs": ["x0", "x1"], "variants": {"v1": {"lr": 0.1}, "v2": {}}}
    p["seeds"]["x1_v1"] = [5, 6]
    p["runs"]["x2"]["seed"] = 1  # its replicate seed 1 is itself: no run x2_s1
    return p


def test_looking_up_one_run_agrees_with_expanding_every_run():
    for p in (digits_params(), bbp.validate(many_runs(3))):
        expanded = bbp.expand_runs(p)
        for name, entry in expanded.items():
            assert bbp._lookup(p, name) == entry, name
        for logical in bbp.logical_runs(p):
            want = [n for n, e in expanded.items() if e.logical == logical]
            assert bbp.replicates(p, logical) == want, logical
    assert "x1_v1_s5" in expanded and "x0_v2_s2" in expanded  # seeds.<run>; a variant's replicate
    for name in ("x0_s3", "x0_s01", "x0_s0", "x2_s1", "x1_v1_s1", "x2_v1", "x0_v3", "v1", "c4_"):
        assert name not in expanded and bbp._lookup(p, name) is None, name
    assert bbp._lookup(p, "x1_v1_s5").seed == 5 and bbp.replicates(p, "x0_s1") == []


def test_the_per_run_functions_do_not_expand_every_run(monkeypatch):
    p = bbp.validate(many_runs(20))
    names = bbp.run_names(p)
    calls = []
    for fn in ("expand_runs", "_sections"):
        real = getattr(bbp, fn)
        monkeypatch.setattr(bbp, fn, lambda *a, _r=real, _f=fn: calls.append(_f) or _r(*a))
    for name in names:
        bbp.run_config(p, name)
        bbp.run_param_keys(p, name)
        bbp.replicates(p, name)
    assert calls == []


def test_checking_and_resolving_3000_runs_takes_seconds_not_minutes():
    """CPU seconds, not wall: a busy machine (a training queue beside the tests) stretches the
    wall time many times over."""
    p = many_runs(1000)  # 3,000 runs: about 0.5 s; quadratic (as before), about 25 s
    start = time.process_time()
    bbp.validate(p)
    for name in bbp.run_names(p):
        bbp.run_config(p, name)
    assert time.process_time() - start < 8
