"""What every writer leaves behind (issue 35, item 9): each kind of output gets the usual mode
under the user's umask, the config writer rewrites nothing that did not change, and it removes the
files of runs and splits params.yaml no longer declares."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from conftest import digits_params

from blockbench import keys, paths
from blockbench import params as bbp
from blockbench.storage import save_npz, write_bytes, write_json, write_text, write_text_if_changed

WRITERS = {
    "text": lambda p: write_text(p, "x"),
    "bytes": lambda p: write_bytes(p, b"x"),
    "json": lambda p: write_json(p, {"a": 1}),
    "npz": lambda p: save_npz(p, a=np.zeros(3)),
    "if_changed": lambda p: write_text_if_changed(p, "y"),
}


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_every_writer_gives_the_mode_the_umask_asks_for(tmp_path, kind, umask, mode):
    old = os.umask(umask)
    try:
        WRITERS[kind](tmp_path / f"out.{kind}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / f"out.{kind}").stat().st_mode) == mode


def test_a_second_config_write_rewrites_no_file(tmp_path):
    params = digits_params()
    keys.write_configs(params, tmp_path)
    files = sorted((tmp_path / paths.CONFIGS).rglob("*.yaml"))
    assert len(files) > 10
    for f in files:
        os.utime(f, (1000, 1000))
    keys.write_configs(params, tmp_path)
    touched = [f.name for f in files if f.stat().st_mtime != 1000]
    assert touched == []  # run configs, split configs, the run list and the benchmark's key
    # a changed file is rewritten, and only it
    p = digits_params(lr=0.02)
    keys.write_configs(p, tmp_path)
    assert (tmp_path / paths.run_config("c4")).stat().st_mtime != 1000


def test_a_split_params_no_longer_declares_loses_its_config(tmp_path):
    params = digits_params()
    keys.write_configs(params, tmp_path)
    assert (tmp_path / paths.split_config("keep0p2")).exists()
    fewer = digits_params()
    for run, entry in list(fewer["runs"].items()):
        if (entry or {}).get("split") == "keep0p2":
            del fewer["runs"][run]
    for grid in list((fewer.get("grids") or {}).values()):
        for v, over in list(grid["variants"].items()):
            if (over or {}).get("split") == "keep0p2":
                del grid["variants"][v]
    del fewer["splits"]["keep0p2"]
    keys.write_configs(bbp.validate(fewer), tmp_path)
    assert not (tmp_path / paths.split_config("keep0p2")).exists()
    assert (tmp_path / paths.split_config("imbalanced")).exists()
