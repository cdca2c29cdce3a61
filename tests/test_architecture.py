"""The closed-form costs the report reads (no torch at aggregate time) equal torch's counts."""

from __future__ import annotations

import pytest

from blockbench import N_CLASSES, architecture, models


@pytest.mark.parametrize(
    "n_conv, n_mobilenet, widths, strides",
    [
        (4, 0, [32, 64, 64, 128], [1, 2, 2, 2]),
        (1, 3, [32, 64, 64, 128], [1, 2, 2, 2]),
        (3, 5, [32, 64, 64, 128], [1, 2, 2, 2]),
        (2, 2, [8, 12], [2, 1, 2]),  # odd sizes: 28 -> 14 -> 14 -> 7 -> 7
    ],
)
def test_closed_form_costs_equal_torchs_counts(n_conv, n_mobilenet, widths, strides):
    cfg = {"n_conv": n_conv, "n_mobilenet": n_mobilenet, "widths": widths, "strides": strides}
    model = models.build_model(cfg)
    total = architecture.totals(architecture.plan_of(cfg), N_CLASSES)
    assert total["parameters"] == models.count_parameters(model)
    assert total["macs"] == models.macs_per_image(model)
    blocks = architecture.block_costs(architecture.plan_of(cfg))
    for row, module in zip(blocks, model.features):
        assert row["parameters"] == models.count_parameters(module)


def test_separable_share_is_one_over_n_plus_one_ninth():
    spec = architecture.BlockSpec("mobilenet", 64, 128, 2)
    (row,) = architecture.block_costs([spec], image_size=14)
    assert row["output_size"] == 7
    assert row["separable_macs"] / row["plain_macs"] == pytest.approx(1 / 128 + 1 / 9)
    assert row["macs"] == row["separable_macs"] == 49 * (9 * 64 + 64 * 128)
