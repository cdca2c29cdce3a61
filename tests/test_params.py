import copy

import pytest
import yaml
from conftest import REPO

from blockbench import params as bbp
from blockbench.errors import ParamsError


def base():
    return copy.deepcopy(yaml.safe_load((REPO / "params.yaml").read_text()))


def error_for(mutate) -> str:
    p = base()
    mutate(p)
    with pytest.raises(ParamsError) as info:
        bbp.validate(p)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_repo_params_are_valid():
    bbp.load(REPO / "params.yaml")


def test_unknown_key_is_named_with_the_allowed_ones():
    msg = error_for(lambda p: p["split"].update(keep_fracton=0.1))
    assert "split.keep_fracton" in msg and "keep_fraction" in msg


def test_unknown_key_in_a_run_is_named():
    msg = error_for(lambda p: p["runs"]["c4"].update(learning_rate=0.1))
    assert "runs.c4.learning_rate" in msg and "lr" in msg


def test_unknown_top_level_section():
    msg = error_for(lambda p: p.update(trian={}))
    assert "trian" in msg and "train" in msg


def test_out_of_range_value_names_key_and_limit():
    msg = error_for(lambda p: p["split"].update(keep_fraction=1.5))
    assert "split.keep_fraction" in msg and "1.5" in msg and "maximum of 1" in msg


def test_wrong_type_names_key_and_type():
    msg = error_for(lambda p: p["train"].update(epochs="many"))
    assert "train.epochs" in msg and "integer" in msg


def test_bad_choice_lists_the_choices():
    msg = error_for(lambda p: p["data"].update(dataset="cifar"))
    assert "data.dataset" in msg and "mnist" in msg and "digits" in msg


def test_run_pointing_at_unknown_split():
    msg = error_for(lambda p: p["runs"]["c4"].update(split="nope"))
    assert "runs.c4.split" in msg and "imbalanced" in msg


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        bbp.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        bbp.load(bad)


def test_run_config_merges_defaults_and_keys_list_inherited_defaults():
    p = base()
    p["runs"]["c4"]["lr"] = 0.05
    cfg = bbp.run_config(p, "c4")
    assert cfg["lr"] == 0.05 and cfg["epochs"] == p["train"]["epochs"]
    keys = bbp.run_param_keys(p, "c4")
    assert "runs.c4.lr" in keys and "train.epochs" in keys and "train.lr" not in keys


def test_grid_runs_merge_base_run_then_variant_and_list_their_keys():
    p = base()
    cfg = bbp.run_config(p, "c1m3_focal")
    assert (cfg["n_conv"], cfg["n_mobilenet"], cfg["remedy"], cfg["focal_gamma"]) == (
        1,
        3,
        "focal",
        2.0,
    )
    keys = bbp.run_param_keys(p, "c1m3_focal")
    assert {"runs.c1m3.n_conv", "grids.remedies.variants.focal.remedy", "train.focal_gamma"} <= set(
        keys
    )
    # a run reads only its own remedy's keys: changing focal_gamma cannot make c4 stale
    assert "train.focal_gamma" not in bbp.run_param_keys(
        p, "c4"
    ) and "focal_gamma" not in bbp.run_config(p, "c4")
    assert bbp.run_config(p, "c4_balanced")["split"] == "balanced"


def test_replicate_seeds_add_runs_without_touching_the_existing_one():
    p = base()
    p["seeds"] = {}
    before = (bbp.run_config(p, "c1m3"), bbp.run_param_keys(p, "c1m3"))
    p["runs"]["c1m3"]["replicate_seeds"] = [0, 1, 2]  # 0 is the run's own seed: no duplicate
    variants = p["grids"]["remedies"]["variants"]
    variants["class_weights"].pop("replicate_seeds", None)
    variants["focal"]["replicate_seeds"] = []
    assert bbp.replicates(p, "c1m3") == ["c1m3", "c1m3_s1", "c1m3_s2"]
    assert (bbp.run_config(p, "c1m3"), bbp.run_param_keys(p, "c1m3")) == before
    assert bbp.run_config(p, "c1m3_s2")["seed"] == 2 and "train.seed" not in bbp.run_param_keys(
        p, "c1m3_s2"
    )
    assert bbp.replicates(p, "c1m3_class_weights") == [  # inherited by grid runs ...
        "c1m3_class_weights",
        "c1m3_class_weights_s1",
        "c1m3_class_weights_s2",
    ]
    assert bbp.replicates(p, "c1m3_focal") == ["c1m3_focal"]  # ... unless the variant sets its own


def test_seeds_section_replaces_one_runs_replicate_seeds_only():
    p = base()
    p["seeds"] = {"c4_focal": [3, 5]}  # a grid run: its sibling c1m3_focal keeps the variant's
    assert bbp.replicates(p, "c4_focal") == ["c4_focal", "c4_focal_s3", "c4_focal_s5"]
    assert bbp.replicates(p, "c1m3_focal") == ["c1m3_focal", "c1m3_focal_s1", "c1m3_focal_s2"]
    assert bbp.run_config(p, "c4_focal_s5")["seed"] == 5
    assert "seeds" not in " ".join(bbp.run_param_keys(p, "c4_focal_s5"))
    msg = error_for(lambda q: q.update(seeds={"c9_focal": [1]}))
    assert msg.count("\n") == 0 and "seeds.c9_focal" in msg and "not a named run" in msg


def test_grid_errors_are_one_line():
    msg = error_for(lambda p: p["grids"]["remedies"]["runs"].append("c9"))
    assert "grids.remedies.runs" in msg and "'c9'" in msg
    msg = error_for(lambda p: p["runs"].update(c4_focal={"n_conv": 2}))
    assert "c4_focal" in msg and "already declared" in msg
    msg = error_for(lambda p: p["study"]["remedies"].update(reference="nope"))
    assert "study.remedies.reference" in msg
    msg = error_for(
        lambda p: p["grids"]["remedies"]["variants"]["focal"].update(loss_input="softmax")
    )
    assert "grids.remedies.variants.focal" in msg and "cannot be combined" in msg
