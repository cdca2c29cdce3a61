import copy

import numpy as np
import pandas as pd
import pytest
import torch

from blockbench import keys, models, paths, remedies, training
from blockbench.errors import BlockbenchError
from blockbench.params import run_config, split_config
from blockbench.split import make_split
from blockbench.stages import split as split_stage
from blockbench.stages import train as train_stage


def cfg(n_conv, n_mobilenet, **kw):
    return {
        "n_conv": n_conv,
        "n_mobilenet": n_mobilenet,
        "widths": [32, 64, 64, 128],
        "strides": [1, 2, 2, 2],
        **kw,
    }


def test_c1m3_last_block_is_depthwise_64_then_pointwise_128():
    net = models.build_model(cfg(1, 3))
    w = models.last_conv_weights(net)
    assert tuple(w["depthwise"].shape) == (64, 1, 3, 3)
    assert tuple(w["pointwise"].shape) == (128, 64, 1, 1)
    dw = [m for m in net.features[-1].modules() if isinstance(m, torch.nn.Conv2d)][0]
    assert dw.groups == 64


def test_c4_has_the_same_channel_plan_with_plain_blocks():
    plan_c4 = models.plan_of(cfg(4, 0))
    plan_c1m3 = models.plan_of(cfg(1, 3))
    strip = lambda plan: [(s.in_channels, s.out_channels, s.stride) for s in plan]  # noqa: E731
    assert (
        strip(plan_c4) == strip(plan_c1m3) == [(1, 32, 1), (32, 64, 2), (64, 64, 2), (64, 128, 2)]
    )
    assert [s.kind for s in plan_c4] == ["conv"] * 4
    assert tuple(models.last_conv_weights(models.build_model(cfg(4, 0)))["conv"].shape) == (
        128,
        64,
        3,
        3,
    )


def test_network_outputs_logits_and_mobilenet_blocks_cost_less():
    c4, c1m3 = models.build_model(cfg(4, 0)), models.build_model(cfg(1, 3))
    out = c1m3(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)
    assert models.count_parameters(c1m3) < models.count_parameters(c4)
    assert models.macs_per_image(c1m3) < models.macs_per_image(c4)


def test_macs_match_a_hand_count_for_one_block():
    net = models.BlockNet(models.block_plan(1, 0, [16], [1]))
    # 3x3 conv 1->16 at 28x28, then a 16->10 linear layer
    assert models.macs_per_image(net) == 28 * 28 * 16 * 9 + 16 * 10
    net = models.BlockNet(models.block_plan(1, 0, [8], [2]))
    assert models.macs_per_image(net) == 14 * 14 * 8 * 9 + 8 * 10  # stride 2: 14x14 outputs


def test_blocks_past_the_lists_keep_the_last_width_at_stride_1():
    plan = models.plan_of(cfg(3, 5))
    assert [(s.out_channels, s.stride) for s in plan] == [
        (32, 1),
        (64, 2),
        (64, 2),
        (128, 2),
        (128, 1),
        (128, 1),
        (128, 1),
        (128, 1),
    ]
    assert [s.kind for s in plan] == ["conv"] * 3 + ["mobilenet"] * 5


def test_softmax_ablation_feeds_probabilities_to_cross_entropy():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    y = torch.tensor([0, 2])
    counts = torch.tensor([5, 5, 5])
    plain = remedies.loss_function({"loss_input": "logits"}, counts)(logits, y)
    double = remedies.loss_function({"loss_input": "softmax"}, counts)(logits, y)
    assert plain == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)))
    assert double == pytest.approx(
        float(torch.nn.functional.cross_entropy(torch.softmax(logits, 1), y))
    )
    assert double > plain  # probabilities squashed in [0, 1] cannot make the loss small


@pytest.fixture(scope="module")
def digits_split(digits_arrays):
    from conftest import digits_params

    arrays, _ = make_split(digits_arrays, split_config(digits_params(), "imbalanced"))
    return arrays


def small_run(**kw):
    from conftest import digits_params

    return {**run_config(digits_params(), "c1m3"), "epochs": 3, "batch_size": 128, **kw}


def test_same_seed_gives_the_same_history_on_cpu(digits_split):
    a = training.train(small_run(), digits_split, threads=1, device=torch.device("cpu"))
    b = training.train(small_run(), digits_split, threads=1, device=torch.device("cpu"))
    drop = lambda h: [{k: v for k, v in row.items() if k != "seconds"} for row in h]  # noqa: E731
    assert drop(a.history) == drop(b.history)
    c = training.train(small_run(seed=1), digits_split, threads=1, device=torch.device("cpu"))
    assert drop(c.history) != drop(a.history)


def test_model_selection_best_val_and_last(digits_split):
    best = training.train(small_run(select="best_val"), digits_split, threads=1)
    losses = [r["val_loss"] for r in best.history]
    assert best.info["selected_epoch"] == int(np.argmin(losses)) + 1
    assert best.info["selected"]["val_loss"] == min(losses)
    assert best.info["last_epoch"]["val_loss"] == losses[-1]
    last = training.train(small_run(select="last"), digits_split, threads=1)
    assert last.info["selected_epoch"] == 3


def test_train_stage_writes_loadable_model_history_and_facts(
    tmp_path, params, digits_arrays, monkeypatch
):
    from blockbench import allocator
    from blockbench.storage import save_npz

    # a test earlier in this worker process may have run a stage through cli.main, which tunes
    # the allocator once per process: start from untuned, so that the check below sees what
    # train_stage.run itself did
    monkeypatch.setattr(allocator, "_applied", False)

    save_npz(tmp_path / paths.raw("digits"), **digits_arrays)
    keys.write_configs(params, tmp_path)
    split_stage.run(params, "imbalanced", root=tmp_path)
    train_stage.run(params, "c1m3", threads=1, root=tmp_path)
    hist = pd.read_csv(tmp_path / paths.history("c1m3"))
    assert list(hist.columns) == [
        "epoch",
        "train_loss",
        "val_loss",
        "train_acc",
        "val_acc",
        "seconds",
    ]
    ckpt = torch.load(tmp_path / paths.model("c1m3"), weights_only=True)
    assert ckpt["config"]["n_mobilenet"] == 3
    model, _ = models.load_checkpoint(tmp_path / paths.model("c1m3"))
    import json

    info = json.loads((tmp_path / paths.train_info("c1m3")).read_text())
    assert info["parameters"] == models.count_parameters(model)
    for key in (
        "macs_per_image",
        "wall_seconds",
        "train_images_per_second",
        "device",
        "torch_version",
        "seed",
    ):
        assert key in info
    assert (
        info["inference"]["images"] == info["n_val"] and info["inference"]["seconds_per_image"] > 0
    )
    assert (
        info["reuse_freed_memory"] is False
    )  # only the stage entry point (cli.main) tunes the allocator


def test_train_stage_refuses_a_config_file_out_of_date_with_params(tmp_path, params, digits_arrays):
    from blockbench.errors import BlockbenchError
    from blockbench.storage import save_npz

    save_npz(tmp_path / paths.raw("digits"), **digits_arrays)
    keys.write_configs(params, tmp_path)
    params["runs"]["c1m3"]["lr"] = 0.5
    with pytest.raises(
        BlockbenchError, match="results/configs/c1m3.yaml is out of date with params.yaml"
    ):
        train_stage.run(params, "c1m3", threads=1, root=tmp_path)


def test_same_weights_give_the_same_model_file_bytes(tmp_path):
    """torch.save to a path names the archive after the random temporary file; ours does not."""
    cfg = small_run()
    torch.manual_seed(0)
    model = models.build_model(cfg)
    a, b = tmp_path / "a" / "model.pt", tmp_path / "b" / "model.pt"
    models.save_checkpoint(a, model, cfg, input_mean=0.1, input_std=0.3, selected_epoch=2)
    models.save_checkpoint(
        b, copy.deepcopy(model), cfg, input_mean=0.1, input_std=0.3, selected_epoch=2
    )
    assert a.read_bytes() == b.read_bytes()
    with torch.no_grad():
        next(model.parameters())[0].flatten()[0] += 1e-3
    models.save_checkpoint(b, model, cfg, input_mean=0.1, input_std=0.3, selected_epoch=2)
    assert a.read_bytes() != b.read_bytes()  # and different weights, different bytes


_TRAIN_TWICE = """
import json, sys, numpy as np, torch
from blockbench import allocator, training
if sys.argv[1] == "on":
    allocator.reuse_freed_memory()
rng = np.random.default_rng(0)
split = {f"{k}_{part}": v for part, n in (("train", 300), ("val", 100)) for k, v in
         (("x", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)), ("y", rng.integers(0, 10, n)))}
cfg = json.loads(sys.argv[2])
r = training.train(cfg, split, threads=1, device=torch.device("cpu"))
losses = [[h["train_loss"], h["val_loss"]] for h in r.history]
print(json.dumps([r.info["reuse_freed_memory"], losses]))
"""


def test_reusing_freed_memory_changes_no_number():
    import json
    import platform
    import subprocess
    import sys

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is glibc's")
    cfg = json.dumps(small_run(batch_size=64))
    out = {
        mode: json.loads(
            subprocess.run(
                [sys.executable, "-c", _TRAIN_TWICE, mode, cfg],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.splitlines()[-1]
        )
        for mode in ("on", "off")
    }
    assert out["on"][0] is True and out["off"][0] is False
    assert out["on"][1] == out["off"][1]  # bit-identical losses, epoch by epoch


def test_a_corrupt_model_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(BlockbenchError, match="not a readable blockbench model"):
        models.load_checkpoint(bad)
