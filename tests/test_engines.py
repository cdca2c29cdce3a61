"""Both engines run the pipeline from params.yaml, agree byte for byte, and rerun only what changed."""

from __future__ import annotations

import pytest

from blockbench import dvcgen, params as bbp
from conftest import REPO, digits_params
from enginekit import dvc_stale, edit_params, make_copy, run, snakemake_planned

pytestmark = pytest.mark.engines

SPLIT_OUTPUTS = [
    "data/raw/digits.npz", "data/raw/digits.json",
    "data/prepared/imbalanced/split.npz",
    "results/splits/imbalanced/counts.json", "results/splits/imbalanced/class_distribution.png",
]


def test_committed_dvc_yaml_is_in_sync_with_params():
    assert (REPO / "dvc.yaml").read_text() == dvcgen.render(bbp.load(REPO / "params.yaml"))


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    params = digits_params()
    base = tmp_path_factory.mktemp("engines")
    dvc_repo = make_copy(base / "dvc", params, dvc=True)
    smk_repo = make_copy(base / "smk", params, dvc=False)
    targets = ["results/splits/imbalanced/counts.json"]
    run(["dvc", "repro", "split-imbalanced"], dvc_repo)
    run(["snakemake", "--cores", "2", *targets], smk_repo)
    return dvc_repo, smk_repo, targets


def test_both_engines_write_byte_identical_outputs(repos):
    dvc_repo, smk_repo, _ = repos
    for rel in SPLIT_OUTPUTS:
        a, b = (dvc_repo / rel).read_bytes(), (smk_repo / rel).read_bytes()
        assert a, rel
        assert a == b, f"{rel} differs between the engines"


def test_nothing_left_to_do_after_a_run(repos):
    dvc_repo, smk_repo, targets = repos
    assert dvc_stale(dvc_repo) == set()
    assert snakemake_planned(smk_repo, *targets) == {}


def test_changing_keep_fraction_makes_only_the_split_stale(repos):
    dvc_repo, smk_repo, targets = repos
    edit = lambda p: p["split"].update(keep_fraction=0.1)  # noqa: E731
    edit_params(dvc_repo, edit)
    edit_params(smk_repo, edit)
    assert dvc_stale(dvc_repo) == {"split-imbalanced"}
    assert snakemake_planned(smk_repo, *targets) == {"split": 1}
