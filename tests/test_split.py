import numpy as np
import pytest

from blockbench.errors import BlockbenchError
from blockbench.params import split_config
from blockbench.split import (
    _drop_majority,
    make_split,
    n_train_after_holdout,
    pool_for_train_size,
)


def test_minority_classes_keep_their_fraction_and_test_is_untouched(params, digits_arrays):
    cfg = split_config(params, "imbalanced")
    out, rec = make_split(digits_arrays, cfg)
    y = digits_arrays["y_train"]
    for c in range(10):
        kept = np.sum(out["y_train"] == c) + np.sum(out["y_val"] == c)
        if c in cfg["minority_classes"]:
            assert kept == max(2, round(cfg["keep_fraction"] * np.sum(y == c)))
        else:
            assert kept == np.sum(y == c)
    assert np.array_equal(out["x_test"], digits_arrays["x_test"])
    assert rec["class_counts"]["test"] == {
        str(c): int(np.sum(digits_arrays["y_test"] == c)) for c in range(10)
    }
    # every image comes from the official training set, none twice, train and val disjoint
    both = np.concatenate([out["idx_train"], out["idx_val"]])
    assert len(np.unique(both)) == len(both)
    assert np.array_equal(out["x_train"], digits_arrays["x_train"][out["idx_train"]])


def test_validation_holdout_is_stratified(params, digits_arrays):
    cfg = split_config(params, "imbalanced")
    out, rec = make_split(digits_arrays, cfg)
    n_val, n_all = rec["sizes"]["val"], rec["sizes"]["val"] + rec["sizes"]["train"]
    assert abs(n_val / n_all - cfg["val_fraction"]) < 0.01
    for c in range(10):
        if c not in cfg["minority_classes"]:
            v, t = rec["class_counts"]["val"][str(c)], rec["class_counts"]["train"][str(c)]
            assert abs(v / (v + t) - cfg["val_fraction"]) < 0.03


def test_split_is_deterministic_and_seeded(params, digits_arrays):
    cfg = split_config(params, "imbalanced")
    a, _ = make_split(digits_arrays, cfg)
    b, _ = make_split(digits_arrays, cfg)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c, _ = make_split(digits_arrays, {**cfg, "seed": 1})
    assert not np.array_equal(a["idx_train"], c["idx_train"])


def test_train_over_test_counts_train_after_the_holdout(params, digits_arrays):
    """The original study's ratio: training images after the validation hold-out per test image.
    digits: 360 test images, so train/test = 2.0 is exactly 720 training images."""
    cfg = split_config(params, "imbalanced")
    base, base_rec = make_split(digits_arrays, cfg)
    assert base_rec["train_over_test"]["achieved"] == pytest.approx(
        len(base["y_train"]) / len(base["y_test"]), abs=1e-6
    )
    out, rec = make_split(digits_arrays, {**cfg, "train_over_test": 2.0})
    assert len(out["y_test"]) == 360
    assert len(out["y_train"]) == 720
    assert rec["train_over_test"]["achieved"] == 2.0
    assert rec["train_plus_val_over_test"] == pytest.approx(
        (len(out["y_train"]) + len(out["y_val"])) / 360, abs=1e-6
    )
    assert len(out["y_val"]) == pytest.approx(0.2 * (720 + len(out["y_val"])), abs=1)
    for c in cfg["minority_classes"]:
        n_base = base_rec["class_counts"]["train"][str(c)] + base_rec["class_counts"]["val"][str(c)]
        n_new = rec["class_counts"]["train"][str(c)] + rec["class_counts"]["val"][str(c)]
        assert n_new == n_base
    assert (
        rec["sizes"]["train"] + rec["sizes"]["val"]
        < base_rec["sizes"]["train"] + base_rec["sizes"]["val"]
    )
    assert np.array_equal(out["y_test"], digits_arrays["y_test"])


def test_unreachable_ratio_is_a_clear_error(params, digits_arrays):
    cfg = split_config(params, "imbalanced")
    with pytest.raises(BlockbenchError, match="train_over_test is unreachable"):
        make_split(digits_arrays, {**cfg, "train_over_test": 0.05})


@pytest.mark.parametrize("n_train", [1, 7, 720, 20000, 34513])
@pytest.mark.parametrize("val_fraction", [0.1, 0.2, 0.25, 0.3])
def test_pool_for_train_size_is_the_smallest_pool(n_train, val_fraction):
    n = pool_for_train_size(n_train, val_fraction)
    assert n_train_after_holdout(n, val_fraction) == n_train
    assert n_train_after_holdout(n - 1, val_fraction) < n_train


def test_a_level_leaving_a_class_under_two_images_fails_in_one_line(
    tmp_path, params, digits_arrays
):
    """digits has about 143 training images per class: keep 0.01 leaves 1 (a stratified hold-out
    needs 2 of every class); 0.015 leaves 2 and works."""
    cfg = {**split_config(params, "imbalanced"), "keep_fraction": 0.01}
    with pytest.raises(BlockbenchError) as err:
        make_split(digits_arrays, cfg)
    message = str(err.value)
    assert "\n" not in message and "leaves class 0 1 of its" in message
    assert "raise keep_fraction to 0.014 or more" in message
    out, _ = make_split(digits_arrays, {**cfg, "keep_fraction": 0.015})
    assert np.sum(out["y_val"] == 0) + np.sum(out["y_train"] == 0) == 2
    # the stage names the split the error comes from
    from blockbench import keys, paths
    from blockbench import params as bbp
    from blockbench.stages import split as stage
    from blockbench.storage import save_npz

    p = {**params, "splits": {**params["splits"], "tiny": {"keep_fraction": 0.01}}}
    p = bbp.validate(p)
    keys.write_configs(p, tmp_path)
    save_npz(tmp_path / paths.raw("digits"), **digits_arrays)
    with pytest.raises(BlockbenchError, match=r"^params.yaml: splits.tiny: keep_fraction 0.01 "):
        stage.run(p, "tiny", tmp_path)


# -------------------------------------------- boundaries and the counts record (issue 23's oracles)
def _ten_by_ten():
    """10 classes of 10 training images, 50 test images."""
    y = np.repeat(np.arange(10), 10)
    return {
        "x_train": np.arange(100, dtype=np.float32).reshape(100, 1, 1, 1),
        "y_train": y,
        "x_test": np.zeros((50, 1, 1, 1), np.float32),
        "y_test": np.repeat(np.arange(10), 5),
    }


def test_drop_majority_reaches_two_per_majority_class_and_not_one_image_fewer():
    y = np.repeat(np.arange(10), 10)
    pool = np.arange(100)
    kept = _drop_majority(pool, y, [0, 4, 7], 30 + 2 * 7, seed=3)  # 30 minority images stay
    assert np.bincount(y[kept]).tolist() == [10, 2, 2, 2, 10, 2, 2, 10, 2, 2]
    assert np.array_equal(kept, _drop_majority(pool, y, [0, 4, 7], 44, seed=3))  # seeded
    with pytest.raises(BlockbenchError) as err:
        _drop_majority(pool, y, [0, 4, 7], 43, seed=3)
    assert str(err.value).endswith("cannot go below (train + val) = 44")


def test_the_counts_record_holds_the_config_the_official_counts_and_the_ratio_before(params):
    arrays = _ten_by_ten()
    cfg = {**split_config(params, "imbalanced"), "keep_fraction": 0.5, "seed": 0}
    out, rec = make_split(arrays, cfg)
    assert rec["config"] == cfg
    assert rec["class_counts"]["official_train"] == {str(c): 10 for c in range(10)}
    assert rec["sizes"] == {"official_train": 100, "train": 68, "val": 17, "test": 50}
    assert rec["train_over_test"] == {
        "requested": None,
        "before_drop": 1.36,
        "achieved": 1.36,
        "note": "train / test, train counted after the validation hold-out",
    }
    kept = np.concatenate([out["idx_train"], out["idx_val"]])
    assert len(np.unique(kept)) == len(kept) == 85  # drawn without replacement
    # 85 images kept (3 classes at 5), the hold-out takes ceil(0.2 * 85) = 17: 68 / 50 test images
    assert rec["train_over_test"]["before_drop"] == 1.36
    assert out["idx_train"].dtype == np.int64 and out["idx_val"].dtype == np.int64
    # exactly the ratio there is already: nothing is dropped
    same, rec2 = make_split(arrays, {**cfg, "train_over_test": 68 / 50})
    assert all(np.array_equal(out[k], same[k]) for k in out) and rec2["sizes"] == rec["sizes"]
    # a lower one drops majority images, the same ones every time
    low = {**cfg, "train_over_test": 1.0}
    a, _ = make_split(arrays, low)
    b, _ = make_split(arrays, low)
    assert len(a["y_train"]) == 50 and np.array_equal(a["idx_train"], b["idx_train"])


def test_a_class_the_training_set_lacks_has_no_kept_fraction(params):
    arrays = _ten_by_ten()
    arrays = {**arrays, "x_train": arrays["x_train"][:90], "y_train": arrays["y_train"][:90]}
    _, rec = make_split(arrays, {**split_config(params, "imbalanced"), "keep_fraction": 0.5})
    assert rec["kept_fraction_per_class"]["9"] is None
    assert rec["kept_fraction_per_class"]["0"] == 0.5 and rec["kept_fraction_per_class"]["8"] == 1.0
