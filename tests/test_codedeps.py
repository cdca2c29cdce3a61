"""Code dependencies are derived from imports, and both engines declare exactly them (and the
same params), so the lists cannot drift."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from blockbench import codedeps, keys

STAGES = list(codedeps.ENTRY_POINTS)


def dvc_stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def declared_code(stage: dict) -> list[str]:
    body = stage.get("do", stage)
    return sorted(d for d in body["deps"] if d.startswith(("src/", "workflow/scripts/")))


@pytest.mark.parametrize("stage", STAGES)
def test_dvc_yaml_declares_exactly_the_code_each_stage_imports(stage):
    assert declared_code(dvc_stages()[stage]) == codedeps.stage_code(stage, REPO)


def test_the_derivation_follows_imports_inside_functions_and_leaves_other_modules_out():
    train = codedeps.stage_code("train", REPO)
    for module in ("training", "models", "remedies", "tensors", "params", "configs", "storage"):
        assert f"src/blockbench/{module}.py" in train
    for module in ("figures", "report", "evaluation", "datasets", "codedeps", "keys"):
        assert f"src/blockbench/{module}.py" not in train
    # evaluation imports tensors only inside `predict`; the evaluate stage still depends on it
    assert "import" in (REPO / "src/blockbench/evaluation.py").read_text().split("def predict")[1]
    assert "src/blockbench/tensors.py" in codedeps.stage_code("evaluate", REPO)
    assert "src/blockbench/figures.py" not in codedeps.stage_code("evaluate", REPO)
    aggregate = codedeps.stage_code("aggregate", REPO)
    for module in ("__init__", "statistics", "claims", "runs", "tables", "prose_models"):
        assert f"src/blockbench/report/{module}.py" in aggregate  # a subpackage, relative imports
    for module in ("models", "training", "tensors", "evaluation"):  # no torch in aggregate
        assert f"src/blockbench/{module}.py" not in aggregate


_LOADED = """
import json, runpy, sys
runpy.run_path(sys.argv[1], run_name="not_main")  # imports the script's modules, runs no stage
print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items()
                        if n.split(".")[0] == "blockbench" and getattr(m, "__file__", None))))
"""


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "configs"])
def test_every_module_a_stage_loads_is_declared(stage):
    """What Python actually loads at start-up is a subset of the derived list (functions may
    import more, later)."""
    entry = str(REPO / codedeps.ENTRY_POINTS[stage])
    # this checkout's modules, not whichever blockbench the interpreter has installed
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", _LOADED, entry],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
    ).stdout
    loaded = {str(Path(p).relative_to(REPO)) for p in json.loads(out)}
    assert loaded <= set(codedeps.stage_code(stage, REPO))


def test_snakemake_rules_declare_the_derived_code(tmp_path):
    """Each rule's inputs (dry run over the whole DAG) hold exactly the stage's derived code."""
    from enginekit import make_copy, run
    from test_engines import engine_params

    repo = make_copy(tmp_path / "smk", engine_params(), dvc=False)
    out = run(["snakemake", "-n", "--forceall", "--cores", "1"], repo).stdout
    seen = set()
    for rule, inputs in re.findall(r"^rule (\w+):\n    input: (.*)$", out, re.M):
        if rule == "all":
            continue
        code = sorted(f for f in inputs.split(", ") if f.startswith(("src/", "workflow/scripts/")))
        assert code == codedeps.stage_code(rule, repo), rule
        seen.add(rule)
    assert seen == set(STAGES) - {"configs"}  # Snakemake writes the configs while it parses


def test_both_engines_declare_the_same_params_for_each_stage():
    """DVC's `params:` per stage are the sections Snakemake's fingerprints hash (keys.STAGE_PARAMS);
    train, evaluate and plot key on their run's config file in both engines instead."""
    stages = dvc_stages()
    for stage, keys_read in keys.STAGE_PARAMS.items():
        body = stages[stage].get("do", stages[stage])
        assert body.get("params", []) == keys_read, stage
    for stage in ("train",):
        assert "results/configs/${key}.yaml" in stages[stage]["do"]["deps"]
    for stage in ("evaluate", "plot"):
        assert "results/runs/${key}/config.yaml" in stages[stage]["do"]["deps"]
    assert "results/configs/splits/${key}.yaml" in stages["split"]["do"]["deps"]


def test_committed_keys_are_in_sync_with_params_and_code(tmp_path):
    """results/configs and results/code as committed are what params.yaml and the code give.

    Its one purpose: a commit never carries stale keys (run `python workflow/scripts/configs.py`
    after an edit). It fails on any edit of a stage's code, right or wrong, so it says nothing
    about behaviour: the mutation benchmark (scripts/mutation_benchmark.py) leaves it out, and
    every behaviour has its own test."""
    import shutil

    from blockbench import params as bbp

    for folder in ("src", "workflow"):
        shutil.copytree(
            REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    keys.write(bbp.load(REPO / "params.yaml"), tmp_path)
    for folder in ("results/configs", "results/code"):
        want = {
            p.relative_to(tmp_path): p.read_text()
            for p in (tmp_path / folder).rglob("*")
            if p.is_file()
        }
        have = {
            p.relative_to(REPO): p.read_text() for p in (REPO / folder).rglob("*") if p.is_file()
        }
        assert have == want, f"{folder} is out of date: run `python workflow/scripts/configs.py`"


_PARSE = """
import sys
from blockbench import codedeps, keys, params, paths  # what the Snakefile imports
p = params.load(sys.argv[1])
keys.write_configs(p, __import__("pathlib").Path(sys.argv[2]))
codedeps.stage_code("train", __import__("pathlib").Path(sys.argv[3]))
print(" ".join(sorted(m for m in ("torch", "pandas", "matplotlib", "sklearn") if m in sys.modules)))
"""


def test_building_the_dag_imports_neither_torch_nor_pandas(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", _PARSE, str(REPO / "params.yaml"), str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == ""


# ------------------------------------------ the derivation on a made-up project (exact answers)
def _project(root: Path) -> None:
    files = {
        "src/blockbench/__init__.py": "",
        "src/blockbench/a.py": "from . import b\nfrom blockbench.e import thing\n",
        "src/blockbench/b.py": "import os\n",
        "src/blockbench/d.py": "",
        "src/blockbench/e.py": "",
        "src/blockbench/sub/__init__.py": "",
        "src/blockbench/sub/f.py": "",
        "src/blockbench/sub/c.py": (
            "from ..d import x\nfrom .. import e\nfrom . import f\nimport blockbenchx\n"
            "def later():\n    import blockbench.a\n"
        ),
        "src/top.py": "",
        "workflow/scripts/s.py": "from . import nothing\nimport blockbench.sub.c\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_imports_are_resolved_exactly_on_a_made_up_project(tmp_path):
    _project(tmp_path)
    src = tmp_path / "src"
    assert codedeps._package_of(src / "blockbench/sub/c.py", tmp_path) == "blockbench.sub"
    assert codedeps._package_of(src / "top.py", tmp_path) is None  # no package: src/ itself
    assert codedeps._package_of(tmp_path / "workflow/scripts/s.py", tmp_path) is None
    assert codedeps._imported_modules(src / "blockbench/sub/c.py", tmp_path) == {
        "blockbench.d",  # from ..d import x (x may be a submodule: blockbench.d.x, not a file)
        "blockbench.d.x",
        "blockbench",  # from .. import e
        "blockbench.e",
        "blockbench.sub",  # from . import f
        "blockbench.sub.f",
        "blockbench.a",  # inside a function; blockbenchx is another package
    }
    assert codedeps._imported_modules(src / "blockbench/a.py", tmp_path) == {
        "blockbench",
        "blockbench.b",
        "blockbench.e",  # an absolute from-import
        "blockbench.e.thing",
    }
    # a relative import outside any package is skipped, the imports after it are not
    script = tmp_path / "workflow/scripts/s.py"
    assert codedeps._imported_modules(script, tmp_path) == {"blockbench.sub.c"}
    assert codedeps._with_parents("blockbench.sub.c") == [
        "blockbench",
        "blockbench.sub",
        "blockbench.sub.c",
    ]
    assert codedeps.closure(Path("workflow/scripts/s.py"), tmp_path) == [
        "src/blockbench/__init__.py",
        "src/blockbench/a.py",
        "src/blockbench/b.py",
        "src/blockbench/d.py",
        "src/blockbench/e.py",
        "src/blockbench/sub/__init__.py",
        "src/blockbench/sub/c.py",
        "src/blockbench/sub/f.py",
        "workflow/scripts/s.py",
    ]


def test_a_file_that_does_not_parse_is_named(tmp_path):
    bad = tmp_path / "src/blockbench/bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def (:\n")
    with pytest.raises(SyntaxError) as err:
        codedeps._imported_modules(bad, tmp_path)
    assert err.value.filename == str(bad)


def test_the_data_stages_code_leaves_out_how_runs_are_drawn():
    """Under Snakemake every training keys on the download and split stages' code stamps (data/ is
    rebuilt, not compared by content), so a module those stages import is, for Snakemake, code
    that every training depends on: an edit to how a run's figures are drawn must not be one. The
    split stage draws its one figure through blockbench.split_figure, not blockbench.figures."""
    for stage in ("download", "split", "train"):
        code = codedeps.stage_code(stage, REPO)
        assert "src/blockbench/figures.py" not in code, stage
        assert "src/blockbench/study_figures.py" not in code, stage
    assert "src/blockbench/split_figure.py" in codedeps.stage_code("split", REPO)
