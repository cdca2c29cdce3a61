"""Block type at equal cost (report/capacity.py) on fabricated runs with known answers, and the
declaration in params.yaml: its power, its matching and its place in git history."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from blockbench import declarations, paths
from blockbench import params as bbp
from blockbench.architecture import plan_of, totals
from blockbench.errors import ParamsError
from blockbench.report import capacity, statistics
from blockbench.report.runs import Group, Run
from blockbench.report.tables import Tables
from blockbench.storage import write_json

ROOT = Path(__file__).resolve().parent.parent
FAMILY_SEEDS = list(range(12, 20))
WIDE_A = [92, 184, 184, 368]


def _cfg(n_conv, n_mobilenet, widths, seed):
    return {
        "n_conv": n_conv,
        "n_mobilenet": n_mobilenet,
        "widths": widths,
        "strides": [1, 2, 2, 2],
        "seed": seed,
        "split": "imbalanced",
    }


def _run(name, cfg, acc, minority):
    y = np.repeat(np.arange(10), 100)
    pred = y.copy()
    pred[: int(round((1 - acc) * 1000))] = (y[: int(round((1 - acc) * 1000))] + 1) % 10
    metrics = {"accuracy": acc, "minority_recall_mean": minority, "minority_classes": [0, 4, 7]}
    return Run(name, cfg, {}, metrics, pd.DataFrame(), y, pred, {})


def _group(name, shape, accs: dict[int, float], minority: dict[int, float]):
    runs = [
        _run(name if s == min(accs) else f"{name}_s{s}", _cfg(*shape, s), accs[s], minority[s])
        for s in sorted(accs)
    ]
    return Group(name, runs)


@pytest.fixture
def study(tmp_path):
    rng = np.random.default_rng(3)
    seeds = [0, *FAMILY_SEEDS]  # seed 0: trained before the declaration, must not count

    def values(mean, sd):
        return {s: float(np.clip(mean + sd * rng.standard_normal(), 0, 1)) for s in seeds}

    base_acc, base_min = values(0.97, 0.003), values(0.90, 0.01)
    # wide MobileNet: 2 pp more accurate than plain (beyond the 1 pp margin), the same minority
    # recall (within 0.1 pp); seed 0 is far off and would flip both answers if it counted
    wide_acc = {s: base_acc[s] + 0.02 + 0.001 * rng.standard_normal() for s in seeds}
    wide_min = {s: base_min[s] + 0.001 * rng.standard_normal() for s in seeds}
    wide_acc[0], wide_min[0] = base_acc[0] - 0.5, base_min[0] - 0.5
    small_acc, small_min = values(0.96, 0.003), values(0.88, 0.01)
    groups = {
        "m1": _group("m1", (1, 3, [32, 64, 64, 128]), small_acc, small_min),
        "mw": _group("mw", (1, 3, WIDE_A), wide_acc, wide_min),
        "p1": _group("p1", (4, 0, [32, 64, 64, 128]), base_acc, base_min),
        "pn": _group("pn", (4, 0, [12, 24, 24, 48]), values(0.955, 0.003), values(0.87, 0.01)),
    }
    for run, step in (("mw", [1.9, 2.0, 2.1]), ("p1", [0.4, 0.41, 0.42])):
        write_json(tmp_path / paths.benchmark(run), {"train_step_seconds": step})
    spec = {
        "declared_in": "abc1234",
        "seeds": FAMILY_SEEDS,
        "sweep": {"mobilenet": ["m1", "mw"], "plain": ["pn", "p1"]},
        "pairs": {
            "macs_at_plain": {"a": "mw", "b": "p1", "matched": "macs", "tolerance": 0.1},
            "time_at_plain": {
                "a": "mw",
                "b": "p1",
                "matched": "train_step_seconds",
                "tolerance": 0.15,
            },
        },
        "metrics": {
            "accuracy": {"kind": "equivalence", "margin": 1.0, "planning_sd": 0.7},
            "minority_recall": {"kind": "equivalence", "margin": 3.0, "planning_sd": 2.0},
        },
    }
    (tmp_path / "figures").mkdir()
    s = SimpleNamespace(
        study={"capacity": spec},
        groups=groups,
        family=statistics.Family(0.05),
        alpha=0.05,
        root=tmp_path,
        tables=Tables(tmp_path),
        figure=lambda name: tmp_path / "figures" / f"{name}.png",
    )
    # the pairs share runs: the time pair's comparisons are the same keys (declared once)
    capacity.declare(s)
    s.family.finish()
    return s


def test_the_matched_pairs_use_only_the_family_seeds_and_say_beyond_and_within(study):
    c_acc = study.family["mw vs p1: accuracy"]
    c_min = study.family["mw vs p1: minority recall"]
    assert c_acc.result["seeds"] == FAMILY_SEEDS == c_min.result["seeds"]
    assert c_acc.family == capacity.FAMILY and c_acc.margin == pytest.approx(0.01)
    # 2 pp against a 1 pp margin, 8 seeds of 0.1 pp noise: beyond the margin
    assert c_acc.verdict == statistics.BEYOND and c_acc.result["diff"] > 0
    assert c_min.verdict == statistics.EQUIVALENT
    # one Holm over the family's 4 tests (2 comparisons x difference + TOST)
    assert study.family.tests_in(capacity.FAMILY) == 4
    assert c_acc.threshold == pytest.approx(0.05 / 4)


def test_matching_reads_macs_in_closed_form_and_time_from_the_benchmark(study):
    df = capacity.match_table(study).set_index("pair")
    macs_a = totals(plan_of(study.groups["mw"].cfg), 10)["macs"]
    macs_b = totals(plan_of(study.groups["p1"].cfg), 10)["macs"]
    assert df.loc["macs_at_plain", "a / b"] == pytest.approx(round(macs_a / macs_b, 3))
    assert df.loc["macs_at_plain", "within"] == "yes"  # 6.98 M vs 6.83 M: +2.3%
    assert df.loc["time_at_plain", "a / b"] == pytest.approx(round(2.0 / 0.41, 3))
    assert df.loc["time_at_plain", "within"] == "no"  # 4.9x: not time-matched


def test_the_section_draws_the_pareto_figure_and_quotes_its_table(study):
    lines = capacity.section(study)
    text = "\n".join(lines)
    assert (study.root / "figures" / "capacity_pareto.png").stat().st_size > 10_000
    assert "abc1234" in text and "12–19" in text
    pairs = pd.read_csv(study.root / paths.TABLES / "capacity_pairs.csv")
    assert len(pairs.columns) <= 10 and len(pairs) == 2
    for _, r in pairs.iterrows():  # each sentence quotes its row
        assert f"{r['a − b (pp)']:.2f} pp" in text and r["verdict"] in text
    sweep = pd.read_csv(study.root / paths.TABLES / "capacity_sweep.csv")
    assert set(sweep["seeds"]) == {len(FAMILY_SEEDS)}  # seed 0 left out everywhere
    assert (sweep["accuracy % lo"] < sweep["accuracy %"]).all()
    assert (sweep["accuracy % hi"] <= 100).all()


def test_the_headline_opens_with_the_verdicts_counted_over_the_pairs(study):
    """The equal-cost headline line starts with what the tests say over all the pre-registered
    comparisons, counted from the pairs' table (one beyond the margin, one equivalent here)."""
    line = capacity.headline(study)
    verdicts = list(capacity.pair_rows(study)["verdict"])
    assert sorted(verdicts) == sorted([statistics.BEYOND, statistics.EQUIVALENT])
    lead = line.split(" (declared in")[0]
    for v in set(verdicts):
        assert f"{v} in {verdicts.count(v)}" in lead, (v, lead)
    assert lead.endswith(f"of the {len(verdicts)} pre-registered comparisons")


# ------------------------------------------------------------------ the declaration in params.yaml
def _capacity():
    return bbp.load(ROOT / "params.yaml")["study"]["capacity"]


def test_the_declared_seeds_give_every_confirmatory_row_80_percent_tost_power():
    spec = _capacity()
    tests = 2 * len(spec["pairs"]) * len(spec["metrics"])  # a difference test and a TOST each
    for metric in spec["metrics"].values():
        need = statistics.tost_seeds_needed(
            metric["planning_sd"] / 100, metric["margin"] / 100, 0.05 / tests, spec["power"]
        )
        assert need is not None and need <= len(spec["seeds"]), (metric, need)


def test_the_matched_pairs_are_matched_within_their_tolerance_in_macs():
    params = bbp.load(ROOT / "params.yaml")
    spec = params["study"]["capacity"]
    macs = {
        run: totals(plan_of(bbp.run_config(params, run)), 10)["macs"]
        for side in spec["sweep"].values()
        for run in side
    }
    for name, pair in spec["pairs"].items():
        if pair["matched"] == "macs":
            ratio = macs[pair["a"]] / macs[pair["b"]]
            assert abs(ratio - 1) <= pair["tolerance"], (name, ratio)
    mob = [macs[r] for r in spec["sweep"]["mobilenet"]]
    plain = [macs[r] for r in spec["sweep"]["plain"]]
    overlap = min(max(mob), max(plain)) / max(min(mob), min(plain))
    assert overlap >= 10  # the two block types' MAC ranges overlap over a factor of 10


def _git(*args) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_family_was_declared_before_any_of_its_runs_was_committed():
    """declared_in is an ancestor of HEAD whose params.yaml already holds the same pairs and
    seeds, and no capacity-family run's weights are in it: every family seed was added later."""
    try:
        _git("rev-parse", "--git-dir")
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("not a git checkout")
    spec = _capacity()
    commit = spec["declared_in"]
    try:
        _git("merge-base", "--is-ancestor", commit, "HEAD")
    except subprocess.CalledProcessError:
        pytest.skip(f"{commit} is not in this clone's history (a shallow clone)")
    import yaml

    then = yaml.safe_load(_git("show", f"{commit}:params.yaml"))["study"]["capacity"]
    assert then["pairs"] == spec["pairs"] and then["seeds"] == spec["seeds"]
    assert then["metrics"] == spec["metrics"]
    tree = _git("ls-tree", "-r", "--name-only", commit, "--", "results/runs").splitlines()
    params = bbp.load(ROOT / "params.yaml")
    family_runs = {
        capacity.run_seeds(params, run)[seed]
        for pair in spec["pairs"].values()
        for run in (pair["a"], pair["b"])
        for seed in spec["seeds"]
    }
    assert not [p for p in tree if p.split("/")[2] in family_runs]


def test_the_declaration_is_checked_against_the_runs():
    """By the report, and before either engine plans (keys.write): both remove a job's outputs
    before running it, so a report refused there would cost its committed files."""
    params = bbp.load(ROOT / "params.yaml")
    declarations.check_capacity(params)  # the committed one is consistent
    pair = next(iter(params["study"]["capacity"]["pairs"].values()))
    params["study"]["capacity"]["seeds"] = [*params["study"]["capacity"]["seeds"], 99]
    for check in (declarations.check_capacity, declarations.check):
        with pytest.raises(ParamsError, match=r"has no seed 99; add them to seeds\."):
            check(params)
    params["study"]["capacity"]["seeds"].pop()
    params["study"]["capacity"]["sweep"]["mobilenet"].remove(pair["a"])
    for check in (declarations.check_capacity, declarations.check):
        with pytest.raises(ParamsError, match="is not in study.capacity.sweep.mobilenet"):
            check(params)
    params["study"]["capacity"]["sweep"]["mobilenet"].append("c1m3_nosuch")
    with pytest.raises(ParamsError, match="sweep.mobilenet: 'c1m3_nosuch' is not a run"):
        declarations.check(params)


def test_the_primary_familys_fresh_seeds_are_those_its_declaring_commit_added():
    """study.primary_fresh.first_seed: per run, one past the largest seed the parent of the
    declaring commit had (the seeds trained before the family was declared)."""
    try:
        _git("rev-parse", "--git-dir")
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("not a git checkout")
    import yaml

    spec = bbp.load(ROOT / "params.yaml")["study"]["primary_fresh"]
    try:
        before = yaml.safe_load(_git("show", f"{spec['declared_in']}^:params.yaml"))
    except subprocess.CalledProcessError:
        pytest.skip("the declaring commit is not in this clone's history")
    for run, first in spec["first_seed"].items():
        seeds = [e.seed or 0 for name, e in bbp.expand_runs(before).items() if e.logical == run]
        assert seeds and first == max(seeds) + 1, (run, seeds, first)


def test_the_quick_look_tests_the_capacity_family_on_its_own_seeds_and_writes_plain_yaml():
    """The quick preset trains every capacity width on the quick seeds, and the params file it
    writes has no YAML aliases (shared lists would become &id anchors, which the loader refuses)."""
    import yaml

    from blockbench import quick

    p = quick.quick_params(bbp.load(ROOT / "params.yaml"))
    spec = p["study"]["capacity"]
    assert spec["seeds"] == list(range(quick.QUICK_SEEDS))
    declarations.check_capacity(p)  # every pair's runs have every family seed
    text = yaml.safe_dump(p)
    assert "&id" not in text and "*id" not in text
    assert bbp.validate(yaml.safe_load(text)) == p
