"""Imbalance severity (report section 9) on runs fabricated with a known answer: per curve, minority
recall is a logistic curve in log10 ρ that crosses 0.9 at a known ρ* (per seed, with a little
seed-to-seed spread) with a known steepness, and each minority test image is right with that
probability. The section must recover the paired threshold ratio ρ*(a) / ρ*(b) of every arm (no
remedy, each block type's chosen remedy, one remedy for both) with its verdict, and the pooled
model's interaction (how the a − b gap in log-odds changes per tenfold ρ)."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from test_report import sentence_numbers_missing_from_tables

from blockbench import paths, report
from blockbench.errors import BlockbenchError
from blockbench.report import prose_severity as severity
from blockbench.report import statistics
from blockbench.report.runs import Group, Run

MINORITY = [0, 4, 7]
N_MINOR, N_MAJOR = 400, 100  # test images per minority / majority class
MAJORITY_TRAIN = 5000
RHO = [2**k for k in range(11)]  # 1 ... 1024: one level per doubling
BASE_LEVEL = 3  # the split the base and remedies-grid runs train on (the study's own split)
SEEDS = range(8)
LOGIT_09 = math.log(0.9 / 0.1)
ARCH = {"a": {"n_conv": 1, "n_mobilenet": 3}, "b": {"n_conv": 4, "n_mobilenet": 0}}
REMEDY = {"none": "none", "la": "logit_adjust", "aug": "augment"}
# per curve (architecture, remedies variant): log10 ρ* (where recall crosses 0.9) and the
# steepness (log-odds lost per tenfold ρ). Known answers, a over b:
#   no remedy:     ρ* ratio 0.5, interaction +1.0 (a's curve is less steep: 2 against 3)
#   chosen remedy: a with la, b with aug: ratio 2.0, no interaction
#   same remedy:   a and b with la: ratio 1.0, no interaction
X_STAR = {("b", "none"): 1.6, ("b", "aug"): 2.2, ("b", "la"): 2.2 + math.log10(2)}
X_STAR[("a", "none")] = X_STAR[("b", "none")] + math.log10(0.5)
X_STAR[("a", "la")] = X_STAR[("b", "aug")] + math.log10(2.0)
# (the remedies' curves are flatter: near ρ 1 a curve of slope 3 gets every image right at every
# seed, where the interval of a difference of rates has no room)
SLOPE = {("a", "none"): 2.0, ("b", "none"): 3.0, ("a", "la"): 2.0, ("b", "aug"): 2.0}
SLOPE[("b", "la")] = 2.0
KNOWN = {  # arm: (threshold ratio, interaction, verdict)
    "none": (0.5, 1.0, "different, beyond the margin (lower)"),
    "chosen remedy": (2.0, 0.0, "different, beyond the margin (higher)"),
    "same remedy": (1.0, 0.0, "equivalent"),
}
SAYS = {  # arm: (how its lines start, what the ratio says, what the interaction says)
    "none": ("Without a remedy", "b tolerates more imbalance than a", "the a − b gap grows in a's"),
    "chosen remedy": (
        "With each block type's best remedy (logit_adjust / augment)",
        "a tolerates more imbalance than b",
        "no change of the a − b gap with ρ can be told from zero",
    ),
    "same remedy": (
        "With the same remedy for both (logit_adjust)",
        "the two tolerate the same imbalance within 1.25×",
        "no change of the a − b gap with ρ can be told from zero",
    ),
}
SEED_SPREAD = 0.02  # sd of log10 ρ* over seeds, per curve
# `more`: seeds beyond SEEDS at some levels only, and split draws at two levels.
# The no-remedy curves get seeds 8-13 at k3-k6 (both curves cross between k4 and k6: they count),
# 14 and 15 at k3 alone (one level: not used) and 16 at k5-k6 alone (a is below 0.9 at both: not
# used, b crosses there).
EXTRA = {**{s: (3, 4, 5, 6) for s in range(8, 14)}, 14: (3,), 15: (3,), 16: (5, 6)}
# At k5 and k6 (study.severity.split_draws) every curve's seeds 1-7, and the extra seeds, also
# train on their own split draws k<level>_d<s> (split seed = training seed; the names say nothing
# the report reads). Which images a split keeps moves a curve's log10 ρ* by split_shift(split
# seed), the same for both block types: the level's own split (seed 0) by +0.15, so every
# one-split run there is shifted alike (a narrow interval, and a biased ratio were they used),
# the draws by ±0.08.
DRAW_LEVELS = (5, 6)
DRAW_SEEDS = range(1, 8)


def split_shift(split_seed: int) -> float:
    return 0.15 if split_seed == 0 else 0.08 * (-1) ** split_seed


def _split(level: int, seed: int = 0) -> dict:
    """A level's split counts.json (its split seed: which minority images are kept)."""
    minor = round(MAJORITY_TRAIN / RHO[level])
    train = {str(c): minor if c in MINORITY else MAJORITY_TRAIN for c in range(10)}
    config = {"keep_fraction": minor / MAJORITY_TRAIN, "val_fraction": 0.2, "seed": seed}
    return {"config": config, "class_counts": {"train": train}}


def curve_recall(key: tuple[str, str], rho: float, x_star: float) -> float:
    """A curve's minority recall at ρ: 0.9 at log10 ρ = x_star, falling with its steepness."""
    return 1 / (1 + math.exp(-(LOGIT_09 - SLOPE.get(key, 3.0) * (math.log10(rho) - x_star))))


def _rho(level: int) -> float:
    return MAJORITY_TRAIN / _split(level)["class_counts"]["train"]["0"]  # as the report reads it


def _run(name, arch, variant, level, seed, x_star, rng, y, rare, val, split_seed=None) -> Run:
    """One run; with `split_seed`, on its level's split drawn with that seed (k<level>_d<s>)."""
    split = _split(level, split_seed or 0)
    p = curve_recall((arch, variant), _rho(level), x_star)
    right = np.where(rare, rng.random(len(y)) < p, rng.random(len(y)) < 0.99)
    pred = np.where(right, y, (y + 1) % 10)
    recall = {c: float(right[y == c].mean()) for c in range(10)}
    split_name = f"k{level}" if split_seed is None else f"k{level}_d{split_seed}"
    cfg = {**ARCH[arch], "remedy": REMEDY[variant], "split": split_name, "seed": seed}
    metrics = {
        "accuracy": float(right.mean()),
        "balanced_accuracy": float(np.mean(list(recall.values()))),
        "minority_recall_mean": float(np.mean([recall[c] for c in MINORITY])),
        "minority_classes": MINORITY,
        "validation": {"balanced_accuracy": val},
    }
    return Run(name, cfg, {}, metrics, pd.DataFrame(), y, pred, split)


def fabricate(root, same_remedy_levels=True, more=False) -> report.Study:
    """A Study of severity curves alone (no other section), runs in memory: the base runs a, b and
    the remedies grid's a_la, a_aug, b_la, b_aug on split k3 (a picks la on validation, b aug),
    and each curve's runs on every other level (b_la's only with `same_remedy_levels`); with
    `more`, the extra seeds and split draws above (EXTRA, DRAW_LEVELS)."""
    rng = np.random.default_rng(36)
    y = np.concatenate([np.full(N_MINOR if c in MINORITY else N_MAJOR, c) for c in range(10)])
    rare = np.isin(y, MINORITY)
    val = {("a", "la"): 0.9, ("a", "aug"): 0.8, ("b", "la"): 0.8, ("b", "aug"): 0.9}
    # each curve's threshold, per seed: the same at every level of the seed
    x_star = {
        (key, s): X_STAR.get(key, 1.0) + SEED_SPREAD * rng.standard_normal()
        for key in [(x, v) for x in ARCH for v in REMEDY]
        for s in SEEDS
    }
    groups = {}
    for arch in ARCH:
        for variant in ("none", "la", "aug"):
            template = arch if variant == "none" else f"{arch}_{variant}"
            curve = (arch, variant) in X_STAR and (
                same_remedy_levels or (arch, variant) != ("b", "la")
            )
            levels = range(len(RHO)) if curve else [BASE_LEVEL]
            for level in levels:
                name = template if level == BASE_LEVEL else f"{template}_k{level}"
                shift = split_shift(0) if more and level in DRAW_LEVELS else 0.0
                runs = [
                    _run(
                        name if s == 0 else f"{name}_s{s}",
                        arch,
                        variant,
                        level,
                        s,
                        x_star[((arch, variant), s)] + shift,
                        rng,
                        y,
                        rare,
                        val.get((arch, variant), 0.5),
                    )
                    for s in SEEDS
                ]
                groups[name] = Group(name, runs)
    if more:
        _more(groups, y, rare, val, x_star)
    splits = [f"k{i}" for i in range(len(RHO))]
    study_spec = {
        "mobilenet": "a",
        "plain": "b",
        "alpha": 0.05,
        "power": 0.8,
        "margins": {"accuracy": 0.5, "minority_recall": 2.0},
        "severity": {"splits": splits, "recall_threshold": 0.9},
    }
    if more:
        study_spec["severity"]["split_draws"] = [f"k{i}" for i in DRAW_LEVELS]
    study = report.Study.__new__(report.Study)  # the attributes the section reads, no run files
    study.params = {"splits": {s: {} for s in splits}, "grids": {}, "study": study_spec}
    study.root, study.study, study.groups = root, study_spec, groups
    study.alpha, study.margins = 0.05, study_spec["margins"]
    study.remedies = {x: {v: f"{x}_{v}" for v in ("la", "aug")} for x in ARCH}
    study.reference = None
    study.left_out = ()  # every declared run trained: no interim report
    study.tables = report.tables.Tables(root)
    (root / report.FIGURES).mkdir(parents=True, exist_ok=True)
    study.family = statistics.Family(0.05, 0.8)
    severity.declare(study)
    study.family.finish()
    return study


def _more(groups: dict, y, rare, val, x_star) -> None:
    """The extra seeds (replicates of the level's run, on its split) and the split-draw runs (one
    group each, named <curve's run>_x<s>), and two runs that are no draw: a split drawn with
    seed 21 trained with seed 20, and a k4 draw named as if it were k5's."""
    rng = np.random.default_rng(136)
    for s in EXTRA:
        for key in (("a", "none"), ("b", "none")):
            x_star[(key, s)] = X_STAR[key] + SEED_SPREAD * rng.standard_normal()
    for arch, variant in X_STAR:
        template = arch if variant == "none" else f"{arch}_{variant}"
        key = (arch, variant)
        v = val.get(key, 0.5)
        extra = list(EXTRA) if variant == "none" else []
        for level in range(len(RHO)):
            name = template if level == BASE_LEVEL else f"{template}_k{level}"
            for s in extra:
                if level in EXTRA[s] and level not in DRAW_LEVELS:
                    run = _run(
                        f"{name}_s{s}", arch, variant, level, s, x_star[(key, s)], rng, y, rare, v
                    )
                    groups[name].runs.append(run)
            if level not in DRAW_LEVELS:
                continue
            for s in [*DRAW_SEEDS, *(s for s in extra if level in EXTRA[s])]:
                draw = f"{name}_x{s}"
                groups[draw] = Group(
                    draw,
                    [
                        _run(
                            draw,
                            arch,
                            variant,
                            level,
                            s,
                            x_star[(key, s)] + split_shift(s),
                            rng,
                            y,
                            rare,
                            v,
                            split_seed=s,
                        )
                    ],
                )
    for name, level, seed, split_seed in (("a_k5_x20", 5, 20, 21), ("a_k5_y22", 4, 22, 22)):
        run = _run(
            name,
            "a",
            "none",
            level,
            seed,
            X_STAR[("a", "none")],
            rng,
            y,
            rare,
            0.5,
            split_seed=split_seed,
        )
        groups[name] = Group(name, [run])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("severity")
    study = fabricate(root)
    return root, study, severity.section(study)


def test_the_paired_threshold_ratio_of_every_arm_is_recovered_with_its_verdict(built):
    root, _, _ = built
    ratios = pd.read_csv(root / paths.TABLES / "severity_threshold_ratio.csv").set_index("arm")
    assert list(ratios.index) == list(KNOWN)
    assert list(ratios["remedies"]) == ["none / none", "logit_adjust / augment"] + [
        "logit_adjust / logit_adjust"
    ]
    for arm, (ratio, _, verdict) in KNOWN.items():
        r = ratios.loc[arm]
        assert r["seeds"] == len(SEEDS) and r["seeds not crossing"] == 0
        assert r["threshold ratio"] == pytest.approx(ratio, rel=0.08), arm
        assert r["threshold ratio lo"] < ratio < r["threshold ratio hi"], arm
        # hi / lo of the unrounded ends
        assert r["width ×"] == pytest.approx(
            r["threshold ratio hi"] / r["threshold ratio lo"], abs=0.02
        )
        assert r["verdict"] == verdict and r["margin ×"] == 1.25
        # the seeds a 1.5x-wide interval needs at this spread: few here (sd of ln ratio ~0.07)
        assert 2 <= r["seeds for width"] <= len(SEEDS)


def test_the_pooled_model_recovers_the_interaction(built):
    root, _, _ = built
    pooled = pd.read_csv(root / paths.TABLES / "severity_pooled_model.csv")
    for arm, (ratio, interaction, _) in KNOWN.items():
        rows = pooled[pooled["arm"] == arm].set_index("term")
        inter = rows.loc["a − b per tenfold rho"]
        assert inter["coefficient"] == pytest.approx(interaction, abs=0.15), arm
        assert inter["coefficient lo"] < interaction < inter["coefficient hi"], arm
        assert inter["odds ratio"] == pytest.approx(math.exp(inter["coefficient"]), abs=0.002)
        assert inter["runs"] == 2 * len(RHO) * len(SEEDS) and inter["levels"] == len(RHO)
        # b's own steepness, and a's offset at the centre: with equal slopes, the slope times
        # log10 of the threshold ratio
        slope = SLOPE[("b", {"none": "none", "chosen remedy": "aug"}.get(arm, "la"))]
        assert rows.loc["b: per tenfold rho", "coefficient"] == pytest.approx(-slope, abs=0.15)
        if interaction == 0:
            assert rows.loc["a − b at centre", "coefficient"] == pytest.approx(
                slope * math.log10(ratio), abs=0.1
            )


def _target_words(r: pd.Series, all_trained: bool = True) -> str:
    """What the answer says of the 1.5x width target: met, or not with the budget spent."""
    if r["width ×"] <= 1.5:
        return "narrower than the 1.5× target."
    spent = " with every declared seed trained: the budget is spent" if all_trained else ""
    need = f"{int(r['seeds for width'])} seeds would make it narrower"
    return f"wider than the 1.5× target{spent} ({need})."


def test_the_answer_says_whether_the_width_target_is_met_or_the_budget_spent(built):
    """Issue 36 item 3: seeds until the ratio's interval is narrower than 1.5x, or the budget is
    spent; say which. An interim report (runs left out) cannot say the budget is spent."""
    _, study, _ = built
    ratios = pd.read_csv(study.root / paths.TABLES / "severity_threshold_ratio.csv")
    narrow = ratios[ratios["width ×"] <= 1.5].iloc[0]  # the fabricated seeds are enough
    wide = narrow.copy()
    wide["width ×"], wide["seeds for width"] = 3.0, 30
    assert severity._ratio_words(wide, "a", "b").endswith(_target_words(wide)[:-1])
    assert "budget is spent" in severity._ratio_words(wide, "a", "b")
    interim = severity._ratio_words(wide, "a", "b", all_trained=False)
    assert "budget" not in interim and interim.endswith(_target_words(wide, False)[:-1])
    assert severity._ratio_words(narrow, "a", "b").endswith("narrower than the 1.5× target")


def test_the_answer_states_the_ratio_the_interaction_and_the_same_remedy(built):
    root, _, lines = built
    ratios = pd.read_csv(
        root / paths.TABLES / "severity_threshold_ratio.csv",
        dtype={"p (Holm)": str, "p equivalence (Holm)": str},
    ).set_index("arm")
    pooled = pd.read_csv(root / paths.TABLES / "severity_pooled_model.csv")
    answer = lines[lines.index("**The answer.**") :]
    for arm, (start, ratio_says, interaction_says) in SAYS.items():
        r = ratios.loc[arm]
        assert (
            f"- {start}: ρ*(a) / ρ*(b) = {r['threshold ratio']:.2f} "
            f"[{r['threshold ratio lo']:.2f}, {r['threshold ratio hi']:.2f}] over {len(SEEDS)} "
            "seeds, an interval "
            f"{r['width ×']:.2f}× wide: {r['verdict']} (Holm p {r['p (Holm)']} for a "
            f"difference, {r['p equivalence (Holm)']} for equivalence within 1.25×), so "
            f"{ratio_says}; the interval is " + _target_words(r)
        ) in answer
        i = pooled[(pooled["arm"] == arm) & (pooled["term"] == "a − b per tenfold rho")].iloc[0]
        line = next(ln for ln in answer if ln.startswith(f"- {start}, pooled over every level: "))
        assert interaction_says in line
        assert (
            f"{i['coefficient']:.3f} [{i['coefficient lo']:.3f}, {i['coefficient hi']:.3f}] "
            f"in log-odds per tenfold ρ (odds ratio {i['odds ratio']:.3f}"
        ) in line
    assert (
        "- The same remedy (logit_adjust) for both closes the gap in tolerated imbalance: its "
        f"threshold ratio is {ratios.loc['same remedy', 'threshold ratio']:.2f} (equivalent)."
    ) in answer
    text = "\n## 9. Imbalance severity\n" + "\n".join(lines[2:])
    assert sentence_numbers_missing_from_tables(text, root) == []


def test_the_same_remedy_arm_waits_for_its_runs(tmp_path):
    """b with a's remedy trained only on the study's own split: no same-remedy arm, and the
    answer says how many of its levels exist."""
    study = fabricate(tmp_path, same_remedy_levels=False)
    table = severity.curves(study)
    assert ("b", "logit_adjust") not in table and ("a", "augment") not in table
    assert [arm for arm, _, _ in severity.arms(study, table)] == ["none", "chosen remedy"]
    lines = severity.section(study)
    note = (
        f"- One remedy for both: not answered yet (b with logit_adjust has runs at 1 of {len(RHO)} "
        f"levels; a with augment has runs at 1 of {len(RHO)} levels); declare those runs as a grid"
    )
    assert any(line.startswith(note) for line in lines)


def test_seeds_for_width_is_the_first_n_whose_interval_is_narrow_enough():
    sd = 0.3
    n = severity.seeds_for_width(sd, 1.5)
    width = [math.exp(2 * sps.t.ppf(0.975, k - 1) * sd / math.sqrt(k)) for k in (n - 1, n)]
    assert width[0] > 1.5 >= width[1]
    assert severity.seeds_for_width(None) is None and severity.seeds_for_width(0.0) == 2


# ------------------------------------------------------------------ extra seeds and split draws
@pytest.fixture(scope="module")
def built_more(tmp_path_factory):
    root = tmp_path_factory.mktemp("severity_more")
    study = fabricate(root, more=True)
    return root, study, severity.section(study)


def _runs_per_curve(variant: str) -> int:
    """The runs of one curve the pooled model uses with `more`: 8 seeds at each level but the
    draw levels, the extra seeds on their levels, and at each draw level seed 0 and the draws."""
    extra = list(EXTRA) if variant == "none" else []
    plain = len(RHO) - len(DRAW_LEVELS)
    at_plain = sum(lv not in DRAW_LEVELS for s in extra for lv in EXTRA[s])
    at_draws = sum(lv in DRAW_LEVELS for s in extra for lv in EXTRA[s])
    return plain * len(SEEDS) + at_plain + len(DRAW_LEVELS) * (1 + len(DRAW_SEEDS)) + at_draws


def test_seeds_trained_at_some_levels_only_count_where_their_levels_bracket_the_crossing(
    built_more,
):
    """Seeds 8-13 exist at k3-k6 only: they count for the no-remedy ratio (14 seeds, not the 8
    every level has); 14 and 15 (k3 alone) and 16 (k5-k6, where a is already below 0.9) cannot,
    and the table says why. The pooled model takes every run; the level table each level's own."""
    root, _, _ = built_more
    ratios = pd.read_csv(root / paths.TABLES / "severity_threshold_ratio.csv").set_index("arm")
    assert ratios.loc["none", "seeds"] == len(SEEDS) + 6
    assert ratios.loc["none", "seeds not used"] == "2 on one level; 1 a below at every level"
    assert ratios.loc["none", "seeds on one level"] == 2
    assert ratios.loc["none", "seeds not crossing"] == 1
    for arm in ("chosen remedy", "same remedy"):
        assert (
            ratios.loc[arm, "seeds"] == len(SEEDS) and ratios.loc[arm, "seeds not used"] == "none"
        )
    pooled = pd.read_csv(root / paths.TABLES / "severity_pooled_model.csv")
    inter = pooled[pooled["term"] == "a − b per tenfold rho"].set_index("arm")
    assert inter.loc["none", "runs"] == 2 * _runs_per_curve("none") == 232
    assert inter.loc["chosen remedy", "runs"] == 2 * _runs_per_curve("la") == 176
    levels = pd.read_csv(root / paths.TABLES / "severity.csv")
    a_none = levels[(levels["architecture"] == "a") & (levels["remedy"] == "none")]
    seeds = dict(zip(a_none["split"], a_none["seeds"]))
    assert (seeds["k3"], seeds["k4"], seeds["k5"], seeds["k2"]) == (16, 14, 8, 8)
    cross = pd.read_csv(root / paths.TABLES / "severity_threshold.csv")
    a_cross = cross[(cross["architecture"] == "a") & (cross["remedy"] == "none")].iloc[0]
    assert (a_cross["seeds"], a_cross["crossed"], a_cross["seeds on one level"]) == (15, 14, 2)
    assert a_cross["below at every level"] == 1


def test_split_draws_are_found_from_the_configurations_and_their_widening_is_reported(
    built_more,
):
    """At k5 and k6 the draw runs (named <run>_x<s>: nothing the report parses) are each seed's
    run on its own split draw; the run trained with seed 20 on a split drawn with 21, and a k4
    draw, are not. The intervals there are wider with draws (fabricated: one split moves every
    seed alike) and the sentence quotes the table's range."""
    root, study, lines = built_more
    table = severity.curves(study)
    found = severity.draw_runs(study, table[("a", "none")]["k5"])
    want = {0: "a_k5", **{s: f"a_k5_x{s}" for s in [*DRAW_SEEDS, *range(8, 14), 16]}}
    assert {s: r.name for s, r in found.items()} == want
    assert severity.seed_runs(study, table, ("a", "none"), "k4").keys() == set(range(14))
    draws = pd.read_csv(root / paths.TABLES / "severity_split_draws.csv")
    assert len(draws) == len(X_STAR) * len(DRAW_LEVELS)  # every curve at both draw levels
    assert set(draws["split"]) == {"k5", "k6"} and (draws["seeds"] == len(SEEDS)).all()
    none = draws[draws["remedy"] == "none"]
    assert (none["seeds with draws"] == 1 + len(DRAW_SEEDS) + 7).all()
    assert (draws["width ×"] > 1).all()
    ratio = draws["width split draws (pp)"] / draws["width one split (pp)"]
    assert np.allclose(draws["width ×"], ratio, atol=0.03)
    w = draws["width ×"]
    assert (
        f"With each seed on its own split draw at k5, k6, the 95% interval of minority recall is "
        f"{w.min():.2f}× to {w.max():.2f}× as wide as on one split over the same seeds (wider for "
        f"{len(w)} of {len(w)} curves): which images were kept is now in the interval."
    ) in lines
    text = "\n## 9. Imbalance severity\n" + "\n".join(lines[2:])
    assert sentence_numbers_missing_from_tables(text, root) == []


def test_the_known_ratio_and_interaction_are_recovered_with_extra_seeds_and_split_draws(
    built_more,
):
    """The draws move ρ* by ±0.08 (log10) around the truth, the level's own split by +0.15 for
    every seed: the ratio is still recovered from the draws (the one-split runs would give 0.42
    [0.36, 0.48] for no remedy, excluding 0.5), and the pooled model's interaction too."""
    root, _, _ = built_more
    ratios = pd.read_csv(root / paths.TABLES / "severity_threshold_ratio.csv").set_index("arm")
    pooled = pd.read_csv(root / paths.TABLES / "severity_pooled_model.csv")
    for arm, (ratio, interaction, verdict) in KNOWN.items():
        r = ratios.loc[arm]
        assert r["threshold ratio"] == pytest.approx(ratio, rel=0.08), arm
        assert r["threshold ratio lo"] < ratio < r["threshold ratio hi"], arm
        assert r["verdict"] == verdict
        inter = pooled[(pooled["arm"] == arm) & (pooled["term"] == "a − b per tenfold rho")]
        inter = inter.iloc[0]
        assert inter["coefficient"] == pytest.approx(interaction, abs=0.15), arm
        assert inter["coefficient lo"] < interaction < inter["coefficient hi"], arm


def test_split_draws_must_name_levels_of_the_curve(built):
    _, study, _ = built
    study = copy.copy(study)
    study.study = {**study.study, "severity": {**study.study["severity"]}}
    study.study["severity"]["split_draws"] = ["k5", "nosuch"]
    with pytest.raises(BlockbenchError) as err:
        severity.draw_levels(study)
    assert str(err.value).count("\n") == 0 and "'nosuch'" in str(err.value)


def test_whether_the_gap_grows_is_read_from_the_interaction_holm_adjusted_over_the_arms(
    monkeypatch,
):
    """Three arms whose interactions have raw p 0.02, 0.03, 0.04: each is below 0.05 alone, none
    after Holm over the arms (0.06 each), so none may say the gap grows. With raw p 0.001, 0.2
    and 0.5 the first still does (Holm 0.003), in the direction of its coefficient."""
    study = SimpleNamespace(alpha=0.05, study={"mobilenet": "a"})
    arm_names = ["none", "chosen remedy", "same remedy"]
    monkeypatch.setattr(severity, "arms", lambda study, table: [(x, None, None) for x in arm_names])

    def pooled_with(ps, coefs):
        def fake(study, table, arm, ka, kb):
            i = arm_names.index(arm)
            base = {"arm": arm, "odds ratio": 1.0, "runs": 20}
            return [
                {**base, "term": "b: per tenfold rho", "coefficient": -1.0, "_p": 1e-6},
                {
                    **base,
                    "term": "a − b per tenfold rho",
                    "coefficient": coefs[i],
                    "coefficient lo": coefs[i] - 0.1,
                    "coefficient hi": coefs[i] + 0.1,
                    "odds ratio": math.exp(coefs[i]),
                    "p": str(ps[i]),
                    "_p": ps[i],
                },
            ]

        monkeypatch.setattr(severity, "pooled_model", fake)
        return severity.pooled_table(study, {})

    df = pooled_with([0.02, 0.03, 0.04], [0.3, 0.3, -0.3])
    inter = df[df["term"] == "a − b per tenfold rho"]
    assert list(inter["Holm p"]) == ["0.06", "0.06", "0.06"]
    assert set(inter["gap with rho"]) == {"not told from zero"}
    assert set(df.loc[df["term"] == "b: per tenfold rho", "Holm p"]) == {""}
    for _, rows in df.groupby("arm"):
        assert severity._interaction_words(rows, "a", "b").startswith("no change of the a − b")
    df = pooled_with([0.001, 0.2, 0.5], [-0.3, 0.3, 0.3])
    inter = df[df["term"] == "a − b per tenfold rho"].set_index("arm")
    assert list(inter["Holm p"]) == ["0.003", "0.4", "0.5"]
    assert list(inter["gap with rho"]) == ["grows against a"] + ["not told from zero"] * 2
    words = severity._interaction_words(df[df["arm"] == "none"], "a", "b")
    assert words.startswith("the a − b gap grows against a as ρ grows: ")
    assert words.endswith("; Holm p 0.003 over the arms")


def test_the_opening_answer_states_the_ratio_and_whether_the_gap_grows_per_arm(built):
    """Issue 36 item 5 in the report's opening answer, not only in section 9: per arm the ratio
    with its verdict, and what the pooled model's Holm-adjusted interaction says, with its Holm p
    as section 9's table prints it; below the threshold the section used."""
    root, study, _ = built
    answer = report.answers.q_severity(study)
    ratios = pd.read_csv(
        root / paths.TABLES / "severity_threshold_ratio.csv", dtype={"p (Holm)": str}
    )
    pooled = pd.read_csv(root / paths.TABLES / "severity_pooled_model.csv", dtype=str)
    assert "falls below 90%" in answer.words
    assert report.answers.sentences(answer.words) <= report.answers.MAX_SENTENCES
    assert max(report.answers.table_widths(answer.table)) <= report.answers.MAX_COLUMNS
    # the tables its numbers come from are linked beside its own (the Holm p values are in these)
    assert {"severity_threshold_ratio", "severity_pooled_model"} <= set(answer.sources)
    for _, r in ratios.iterrows():
        i = pooled[(pooled["arm"] == r["arm"]) & (pooled["term"] == "a − b per tenfold rho")]
        says, holm = i["gap with rho"].iloc[0], i["Holm p"].iloc[0]
        assert (
            f"{r['arm']} {r['threshold ratio']:.2f} [{r['threshold ratio lo']:.2f}, "
            f"{r['threshold ratio hi']:.2f}] ({r['verdict']}, Holm p {r['p (Holm)']}; "
            f"gap with ρ {says}, Holm p {holm})"
        ) in answer.words
        assert f"| {r['arm']} |" in answer.table and f"| {says} ({holm}) |" in answer.table
    # the known interactions: the no-remedy gap grows in a's favour, the others do not change
    assert "gap with ρ grows for a, Holm p" in answer.words
    assert answer.words.count("gap with ρ not told from zero") == 2
