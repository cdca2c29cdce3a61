"""The benchmark stage: paired, interleaved timings per architecture, one JSON per run."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import digits_params

from blockbench import N_CLASSES, architecture, keys, paths
from blockbench import params as bbp
from blockbench.benchmark import order
from blockbench.errors import BlockbenchError, ParamsError
from blockbench.stages import benchmark as benchmark_stage

MACHINE = ("cpu_model", "logical_cpus", "threads", "torch", "device", "python", "platform")


def tiny_params() -> dict:
    """digits params (benchmark: 2 steps, 64 images, 2 repeats) on the CPU, with narrow networks."""
    params = digits_params(widths=[8, 16, 16, 32])
    params["compute"]["device"] = "cpu"
    params["benchmark"].update(runs=["c1m3", "c4"], threads=1)
    return bbp.validate(params)


def test_the_stage_writes_paired_interleaved_timings_per_run(tmp_path, capsys):
    params = tiny_params()
    spec = params["benchmark"]
    keys.write_configs(params, tmp_path)
    benchmark_stage.run(params, root=tmp_path)

    written = sorted(p.name for p in (tmp_path / paths.BENCHMARK).iterdir())
    assert written == ["c1m3.json", "c4.json"]
    results = {r: json.loads((tmp_path / paths.benchmark(r)).read_text()) for r in spec["runs"]}
    for run, r in results.items():
        cfg = bbp.run_config(params, run)
        assert r["run"] == run
        assert r["blocks"] == f"C{cfg['n_conv']}+M{cfg['n_mobilenet']}"
        assert (r["batch_size"], r["steps_per_repeat"]) == (cfg["batch_size"], spec["steps"])
        assert (r["images_per_repeat"], r["repeats"]) == (spec["images"], spec["repeats"])
        for key in ("train_step_seconds", "inference_seconds_per_image", "order"):
            assert len(r[key]) == spec["repeats"], key
        assert all(t > 0 for t in r["train_step_seconds"] + r["inference_seconds_per_image"])
        # the same counts as the report's closed form (and train.json's torch counts)
        costs = architecture.totals(architecture.plan_of(cfg), N_CLASSES)
        assert (r["parameters"], r["macs_per_image"]) == (costs["parameters"], costs["macs"])
        assert set(MACHINE) <= set(r["machine"])
        assert r["machine"]["device"] == "cpu" and r["machine"]["threads"] == 1
    # within each repeat the two runs take both places, alternating from repeat to repeat
    assert results["c1m3"]["order"] == [0, 1] and results["c4"]["order"] == [1, 0]
    assert results["c1m3"]["machine"] == results["c4"]["machine"]
    err = capsys.readouterr().err
    assert "benchmark: warm-up: c1m3 " in err
    assert f"benchmark: repeat {spec['repeats']} of {spec['repeats']}: c1m3 " in err


def test_the_order_alternates_so_repeats_pair_in_time():
    assert [order(["a", "b"], i) for i in range(4)] == [["a", "b"], ["b", "a"]] * 2
    assert order(["a", "b", "c"], 1) == ["c", "b", "a"]


def test_a_stale_key_file_is_refused(tmp_path):
    params = tiny_params()
    keys.write_configs(params, tmp_path)
    changed = copy.deepcopy(params)
    changed["runs"]["c4"]["batch_size"] = 128
    with pytest.raises(BlockbenchError, match="out of date with params.yaml"):
        benchmark_stage.run(changed, root=tmp_path)
    assert not (tmp_path / paths.BENCHMARK).exists()


def test_only_what_the_benchmark_reads_changes_its_key_file(tmp_path):
    params = tiny_params()
    keys.write_configs(params, tmp_path)
    key = tmp_path / paths.BENCHMARK_CONFIG
    before = key.read_text()
    params["runs"]["c4"]["epochs"] = 3  # training length: not what a step costs
    keys.write_configs(params, tmp_path)
    assert key.read_text() == before
    params["runs"]["c4"]["batch_size"] = 128
    keys.write_configs(params, tmp_path)
    assert key.read_text() != before


def test_an_unknown_benchmark_run_is_a_one_line_params_error():
    params = digits_params()
    params["benchmark"]["runs"] = ["c1m3", "c5"]
    with pytest.raises(ParamsError) as info:
        bbp.validate(params)
    msg = str(info.value)
    assert "\n" not in msg
    assert "benchmark.runs" in msg and "'c5' is not a named run" in msg
    assert "did you mean c3m5?" in msg  # the nearest run, not the whole list


def test_the_benchmark_section_is_checked_by_the_schema():
    params = digits_params()
    params["benchmark"]["repeats"] = 0
    with pytest.raises(ParamsError, match="benchmark.repeats"):
        bbp.validate(params)
    params = digits_params()
    params["benchmark"]["warmup"] = 1
    with pytest.raises(ParamsError, match="benchmark.warmup"):
        bbp.validate(params)
