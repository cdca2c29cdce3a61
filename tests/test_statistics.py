"""report/statistics against independent computations on asymmetric inputs: every key of what
each function returns, the edges of its cases (one value, two values, identical values, a range
that does not start at 0) and the Family's bookkeeping. The textbook cases are in test_report.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.power import TTestPower

from blockbench.report import statistics

T975 = {1: 12.706205, 2: 4.302653, 3: 3.182446}  # t(0.975, df), from tables
T95 = {2: 2.919986, 3: 2.353363}  # t(0.95, df): the one-sided 95% point of a 90% interval


def test_describe_of_one_value_and_of_two():
    assert statistics.describe([0.25]) == {"n": 1, "mean": 0.25, "sd": None, "lo": None, "hi": None}
    d = statistics.describe([1.0, 4.0])  # mean 2.5, sd 3 / sqrt 2, half = t(1) * sd / sqrt 2
    assert d["n"] == 2 and d["mean"] == 2.5 and d["sd"] == pytest.approx(3 / math.sqrt(2))
    assert (d["lo"], d["hi"]) == pytest.approx((2.5 - T975[1] * 1.5, 2.5 + T975[1] * 1.5))


def test_bounded_scales_the_exact_interval_to_a_range_that_does_not_start_at_zero():
    """Percent-like range [10, 110]: the Clopper-Pearson interval of 3 of 10 is [0.0667, 0.6525]
    (scipy's binomtest, computed independently from the beta quantiles)."""
    low, high = sps.beta.ppf(0.025, 3, 8), sps.beta.ppf(0.975, 4, 7)
    r = statistics.bounded([0.3, 0.3], 10.0, 110.0, pooled=(3, 10))
    assert (r["lo"], r["hi"]) == pytest.approx((10 + 100 * low, 10 + 100 * high))
    assert r["n"] == 2 and r["mean"] == 0.3 and r["sd"] == 0.0
    # identical values without counts: a zero-width interval at the mean
    same = statistics.bounded([0.4, 0.4, 0.4], 0.0, 1.0)
    assert same["lo"] == pytest.approx(0.4) and same["hi"] == pytest.approx(0.4)


def test_bounded_is_the_delta_method_t_interval_on_the_logit_scale():
    """By hand: values 50, 60, 70 in [10, 110]: mean 60, u = 0.5, sd 10, se 10/sqrt 3;
    on the logit scale se / (100 * 0.25), t(0.975, 2) = 4.302653; back through the logistic."""
    r = statistics.bounded([50.0, 60.0, 70.0], 10.0, 110.0)
    half = T975[2] * (10 / math.sqrt(3)) / (100 * 0.25)
    want = [10 + 100 / (1 + math.exp(-x)) for x in (-half, half)]
    assert (r["lo"], r["hi"]) == pytest.approx(want)
    # near an end it bends instead of crossing it: the clipped t-interval would reach 10.0 exactly
    near = statistics.bounded([12.0, 11.0, 30.0], 10.0, 110.0)
    t = statistics.describe([12.0, 11.0, 30.0])
    assert t["lo"] < 10.0 < near["lo"] < near["mean"] < near["hi"] < 110.0
    # three seeds far apart in [0, 1]: inside (0, 1), never on an end
    wide = statistics.bounded([0.2, 0.4, 0.99], 0.0, 1.0)
    assert 0.0 < wide["lo"] < wide["mean"] < wide["hi"] < 1.0


def test_a_gain_stays_inside_what_was_missing():
    """A remedy's gain over a baseline at mean 0.223 can be at most 0.777: three seeds spread as
    the issue's severity row (62.48 [19.79, 105.17] pp by a t-interval) stay under it."""
    base = {0: 0.22, 1: 0.25, 2: 0.20}
    remedy = {0: 0.99, 1: 0.60, 2: 0.95}
    t = statistics.paired(remedy, base)
    g = statistics.bounded_gain(remedy, base)
    most = 1 - np.mean(list(base.values()))
    assert t["hi"] > most  # the t-interval passes the bound
    assert -np.mean(list(base.values())) < g["lo"] < g["diff"] < g["hi"] < most
    assert g["p"] == t["p"] and g["diff"] == t["diff"]  # the test is unchanged


def test_a_gain_where_the_remedy_is_right_at_every_seed_has_the_base_interval_mirrored():
    """Minority recall 1.0 at every seed against a base of 0.97, 0.97, 0.98: the gain 1 - b sits
    on the top end of [-mean b, 1 - mean b], inside it only by rounding (bounded's logit divided
    by zero there; with a base of 1/3, 0.01, 1/3 its exp overflowed). The gain is then 1 - b per
    seed: its interval is b's delta-method logit t-interval (by hand here) mirrored, in [0, 1];
    0.0 at every seed gives -b's, in [-1, 0]; the Family's simultaneous interval stays in [0, 1]."""
    base = {0: 0.97, 1: 0.97, 2: 0.98}
    b = np.array(list(base.values()))
    u, se = b.mean(), b.std(ddof=1) / math.sqrt(3)
    half = T975[2] * se / (u * (1 - u))
    lo_b, hi_b = (1 / (1 + math.exp(-(math.log(u / (1 - u)) + k * half))) for k in (-1, 1))
    top = statistics.bounded_gain(dict.fromkeys(base, 1.0), base)
    assert top["diff"] == pytest.approx(1 - u)
    assert (top["lo"], top["hi"]) == (pytest.approx(1 - hi_b), pytest.approx(1 - lo_b))
    assert 0 < top["lo"] < top["diff"] < top["hi"] < 1
    bottom = statistics.bounded_gain(dict.fromkeys(base, 0.0), base)
    assert (bottom["lo"], bottom["hi"]) == (pytest.approx(-hi_b), pytest.approx(-lo_b))
    spread = {0: 1 / 3, 1: 0.01, 2: 1 / 3}
    g = statistics.bounded_gain(dict.fromkeys(spread, 1.0), spread)
    assert 0 < g["lo"] < g["diff"] < g["hi"] < 1
    family = statistics.Family(0.05)
    key = family.add("q", "a", "b", "recall", dict.fromkeys(base, 1.0), base, rate=True)
    family.finish()
    lo, hi = family[key].simultaneous
    assert (lo, hi) == (pytest.approx(top["lo"]), pytest.approx(top["hi"]))  # one test: 95%


def test_rate_prediction_interval_stays_inside_0_1():
    pi = statistics.rate_prediction_interval([0.36, 0.95, 0.7])
    plain = statistics.prediction_interval([0.36, 0.95, 0.7])
    assert plain[1] > 1.0 and 0.0 < pi[0] < pi[1] < 1.0
    assert statistics.rate_prediction_interval([0.5]) is None


def test_tost_power_matches_a_simulation_and_needs_more_seeds_than_it_has_not():
    """The exact TOST power against 40,000 simulated studies (sd 0.7, margin 0.5, true
    difference 0.1, level 0.01, 12 seeds) and the seed count it implies."""
    rng = np.random.default_rng(1)
    n, sd, margin, alpha, delta = 12, 0.7, 0.5, 0.01, 0.1
    d = rng.normal(delta, sd, (40_000, n))
    half = sps.t.ppf(1 - alpha, n - 1) * d.std(1, ddof=1) / math.sqrt(n)
    sim = np.mean((d.mean(1) - half > -margin) & (d.mean(1) + half < margin))
    exact = statistics.tost_power(sd, n, margin, alpha, delta)
    assert exact == pytest.approx(sim, abs=0.01) and 0.05 < exact < 0.2
    need = statistics.tost_seeds_needed(sd, margin, alpha, 0.8)
    assert statistics.tost_power(sd, need, margin, alpha) >= 0.8
    assert statistics.tost_power(sd, need - 1, margin, alpha) < 0.8
    assert statistics.tost_seeds_needed(sd, margin, alpha, 0.8, true_diff=0.6) is None


def test_one_holm_over_the_difference_tests_and_the_tosts_of_a_family():
    """Two comparisons, each with a difference test and a TOST: Holm over all four p values."""
    fam = statistics.Family(0.05)
    k1 = fam.add("q", "x", "y", "m1", {0: 1.0, 1: 1.1, 2: 1.3}, {0: 0.0, 1: 0.0, 2: 0.1}, margin=5)
    k2 = fam.add("q", "u", "v", "m2", {0: 0.5, 1: 0.1, 2: 0.3}, {0: 0.2, 1: 0.3, 2: 0.0}, margin=1)
    ps = [fam.items[k].result["p"] for k in (k1, k2)] + [
        fam.items[k].equivalence["p"] for k in (k1, k2)
    ]
    fam.finish()
    want = statistics.holm(ps)
    got = [fam[k1].p_holm, fam[k2].p_holm, fam[k1].p_equiv_holm, fam[k2].p_equiv_holm]
    assert got == pytest.approx(want)
    assert fam.tests_in("secondary") == 4 and fam[k1].threshold == pytest.approx(0.05 / 4)
    lo, hi = fam[k1].simultaneous
    d = np.array([1.0, 1.1, 1.2])
    half = sps.t.ppf(1 - 0.05 / 8, 2) * d.std(ddof=1) / math.sqrt(3)
    assert (lo, hi) == pytest.approx((d.mean() - half, d.mean() + half))


def test_prediction_interval_needs_two_values_and_widens_by_sqrt_1_plus_1_over_n():
    assert statistics.prediction_interval([0.5]) is None
    lo, hi = statistics.prediction_interval([1.0, 4.0])
    half = T975[1] * (3 / math.sqrt(2)) * math.sqrt(1.5)
    assert (lo, hi) == pytest.approx((2.5 - half, 2.5 + half))
    lo, hi = statistics.prediction_interval([2.0, 3.0, 7.0, 8.0])  # mean 5, sd sqrt(26/3)
    half = T975[3] * math.sqrt(26 / 3) * math.sqrt(1.25)
    assert (lo, hi) == pytest.approx((5 - half, 5 + half))


def test_paired_reports_both_means_the_differences_and_their_sd():
    a = {3: 0.9, 1: 0.7, 2: 0.6}
    b = {1: 0.5, 2: 0.5, 3: 0.6, 9: 0.1}
    r = statistics.paired(a, b)
    assert r["seeds"] == [1, 2, 3] and r["n"] == 3
    assert r["mean_a"] == pytest.approx(2.2 / 3) and r["mean_b"] == pytest.approx(1.6 / 3)
    assert r["differences"] == pytest.approx([0.2, 0.1, 0.3])
    assert r["diff"] == pytest.approx(0.2) and r["sd"] == pytest.approx(0.1)
    half = T975[2] * 0.1 / math.sqrt(3)
    assert (r["lo"], r["hi"]) == pytest.approx((0.2 - half, 0.2 + half))
    assert r["p"] == pytest.approx(sps.ttest_rel([0.7, 0.6, 0.9], [0.5, 0.5, 0.6]).pvalue)
    # no shared seed: nothing to say; one shared seed: a difference but no test
    none = statistics.paired({0: 1.0}, {1: 1.0})
    assert none == {
        "seeds": [],
        "n": 0,
        "mean_a": None,
        "mean_b": None,
        "diff": None,
        "lo": None,
        "hi": None,
        "p": None,
    }
    one = statistics.paired({0: 0.75, 5: 0.5}, {0: 0.5})
    assert (one["n"], one["diff"], one["mean_a"], one["p"]) == (1, 0.25, 0.75, None)
    # identical non-zero differences: certainly different (p 0); identical zero ones: p 1
    assert statistics.paired({0: 0.5, 1: 0.75}, {0: 0.25, 1: 0.5})["p"] == 0.0
    tiny = statistics.paired({0: 0.5, 1: 0.5 + 1e-9}, {0: 0.5, 1: 0.5})  # not identical
    assert 0.0 < tiny["p"] < 1.0


def test_tost_gives_the_90_percent_interval_and_exact_answers_at_the_margin():
    d = [0.1, 0.4, -0.2]  # mean 0.1, sd sqrt(0.09) = 0.3
    r = statistics.tost(d, 1.0)
    half = T95[2] * 0.3 / math.sqrt(3)
    assert (r["lo90"], r["hi90"]) == pytest.approx((0.1 - half, 0.1 + half))
    upper = sps.ttest_1samp(d, 1.0, alternative="less").pvalue
    lower = sps.ttest_1samp(d, -1.0, alternative="greater").pvalue
    assert r["p"] == pytest.approx(max(upper, lower))
    assert statistics.tost([0.1], 1.0) == {"p": None, "lo90": None, "hi90": None}
    assert statistics.tost([-0.3, -0.3], 0.5) == {"p": 0.0, "lo90": -0.3, "hi90": -0.3}
    assert statistics.tost([0.5, 0.5], 0.5)["p"] == 1.0  # on the margin: not inside it


def test_mde_and_seeds_needed_at_their_edges():
    assert statistics.mde(None, 5, 0.05, 0.8) is None
    assert statistics.mde(1.0, 1, 0.05, 0.8) is None
    # scaled by sd; the effect size is statsmodels' answer at n = 2 (at least 2 seeds)
    d2 = statistics.mde(1.0, 2, 0.05, 0.8)
    assert d2 > 1 and statistics.mde(3.0, 2, 0.05, 0.8) == pytest.approx(3 * d2)
    assert statistics.seeds_needed(None, 1.0, 0.05, 0.8) is None
    assert statistics.seeds_needed(0.0, 1.0, 0.05, 0.8) == 2
    # an effect of 10 sd: 2 seeds have power 0.73 (df 1), 3 have 0.99999 (statsmodels says NaN)
    n = statistics.seeds_needed(0.1, 1.0, 0.05, 0.8)
    assert n == 3
    assert statistics.mde(0.1, n, 0.05, 0.8) <= 1.0 < statistics.mde(0.1, n - 1, 0.05, 0.8)
    # a target no affordable study reaches: None, not a number
    assert statistics.seeds_needed(1.0, 1e-3, 0.05, 0.8) is None


def test_holm_keeps_order_ties_and_the_none_entries():
    assert statistics.holm([None, 0.01, None]) == [None, 0.01, None]  # a family of one
    assert statistics.holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    assert statistics.holm([]) == []


def test_family_bookkeeping():
    fam = statistics.Family(0.05, power=0.9)
    assert (fam.alpha, fam.power, fam.finished) == (0.05, 0.9, False)
    a, b = {0: 1.0, 1: 2.0, 2: 3.5}, {0: 0.5, 1: 1.0, 2: 3.0}
    k1 = fam.add("q1", "x", "y", "acc", a, b, "primary", "equivalence", 2.0)
    assert k1 == "x vs y: acc"
    assert fam.add("again", "x", "y", "acc", b, a, "secondary") == k1  # the first one stays
    k2 = fam.add("q2", "x", "z", "acc", a, {0: 1.0}, margin=0.5)  # one shared seed: no test
    k3 = fam.add("q3", "z", "y", "acc", a, {0: 0.0, 1: 0.1, 2: 0.1})
    with pytest.raises(RuntimeError) as err:
        fam[k1]
    assert str(err.value) == "call finish() before reading a verdict"
    assert fam.size == 2 and fam.size_of("primary") == 1 and fam.size_of("secondary") == 1
    assert [c.key for c in fam.members("secondary")] == [k2, k3]
    fam.finish()
    c1 = fam[k1]
    assert (c1.question, c1.family, c1.kind, c1.margin) == ("q1", "primary", "equivalence", 2.0)
    # a family of one comparison with a margin: two tests, its difference test and its TOST
    assert c1.result["diff"] == pytest.approx(2 / 3) and c1.threshold == 0.025
    assert c1.equivalence == statistics.tost([0.5, 1.0, 0.5], 2.0)
    both = statistics.holm([c1.result["p"], c1.equivalence["p"]])
    assert [c1.p_holm, c1.p_equiv_holm] == pytest.approx(both)
    want = statistics.mde(c1.result["sd"], 3, 0.025, 0.9)  # the family's power, not 0.8
    assert c1.mde == pytest.approx(want) and c1.mde != statistics.mde(
        c1.result["sd"], 3, 0.025, 0.8
    )
    c2 = fam[k2]
    assert c2.kind == "difference" and c2.equivalence == {"p": None, "lo90": None, "hi90": None}
    assert c2.p_holm is None and c2.verdict == statistics.INCONCLUSIVE and c2.mde is None
    assert c2.threshold == 0.05 and not c2.significant  # its family's one test sets the threshold
    c3 = fam[k3]
    assert c3.p_holm == pytest.approx(c3.result["p"]) and c3.significant == (c3.p_holm < 0.05)
    with pytest.raises(RuntimeError) as err:
        fam.add("late", "p", "q", "acc", a, b)
    assert str(err.value) == "the family is closed: declare every comparison before finish()"
    empty = statistics.Family(0.05)
    assert empty.power == 0.8  # the default power
    empty.add("q", "x", "y", "acc", {0: 1.0}, {0: 1.0})
    empty.finish()
    assert empty["x vs y: acc"].threshold is None  # no test in the family


def test_mcnemar_on_boolean_arrays_of_any_shape():
    a = np.array([[True, True, False], [True, False, False]])
    b = np.array([[True, False, False], [False, False, True]])
    r = statistics.mcnemar(a, b)
    assert r == {
        "only_a_correct": 2,
        "only_b_correct": 1,
        "p_value": pytest.approx(sps.binomtest(2, 3, 0.5).pvalue),
    }
    assert r["p_value"] == 1.0  # 2 of 3: the exact two-sided p is 1
    # truthy values count as right whatever their bits: 2 is right (~2 would still be odd)
    even = statistics.mcnemar([1, 1, 0], [2, 0, 4])
    assert (even["only_a_correct"], even["only_b_correct"]) == (1, 1)
    assert statistics.mcnemar(np.ones(9, bool), np.zeros(9, bool))["p_value"] == pytest.approx(
        2 * 0.5**9
    )


def test_power_is_statsmodels_paired_t_power_where_that_is_defined():
    for effect, n in [(0.5, 34), (2.0, 3), (1.0, 5), (10.0, 2)]:
        want = TTestPower().power(effect_size=effect, nobs=n, alpha=0.05)
        assert statistics._power(effect, n, 0.05) == pytest.approx(want, rel=1e-9)
    assert statistics._power(0.5, 34, 0.05) == pytest.approx(0.8078, abs=1e-4)  # G*Power
    assert statistics.seeds_needed(0.01, 1.0, 0.05, 0.8) == 2  # 100 sd: the fewest, 2


def test_power_stays_a_number_where_scipys_lower_tail_is_nan():
    # scipy's nct.cdf(-crit) is NaN here; the power is 1 to 15 digits (statsmodels agrees at d = 1)
    assert statistics._power(1.0, 100, 0.05) == pytest.approx(1.0)
    assert statistics._power(0.3, 10_000, 0.05) == pytest.approx(1.0)


def test_seeds_needed_is_the_smallest_n_a_seed_by_seed_scan_finds():
    """The answer against the first n from 2 up whose statsmodels power reaches 0.8 (answers of
    5 to 285 seeds: the doubling and the bisection both reached), and the cap."""

    def scan(sd, target):
        n = 2
        while TTestPower().power(effect_size=target / sd, nobs=n, alpha=0.05) < 0.8:
            n += 1
        return n

    for sd, target in [(0.5, 1.0), (1.0, 1.0), (2.0, 1.0), (1.3, 0.3), (3.0, 0.5)]:
        assert statistics.seeds_needed(sd, target, 0.05, 0.8) == scan(sd, target), (sd, target)
    # a target of 1e-3 sd needs about 7.8 million seeds: past the cap, None
    assert statistics.seeds_needed(1.0, 1e-3, 0.05, 0.8) is None
    # under the cap, a number: statsmodels' power is 0.7999974 at 78,490 seeds, 0.8000024 at 78,491
    assert statistics.seeds_needed(1.0, 0.01, 0.05, 0.8) == 78_491


def test_a_p_value_equal_to_alpha_is_not_significant():
    assert statistics.verdict(0.5, 0.05, 0.05) == statistics.INCONCLUSIVE
    assert statistics.verdict(0.05, 0.5, 0.05) == statistics.INCONCLUSIVE
    fam = statistics.Family(0.05)
    key = fam.add("q", "x", "y", "acc", {0: 1.0, 1: 2.0}, {0: 0.0, 1: 0.5})
    fam.items[key].result["p"] = 0.05
    fam.finish()
    assert fam[key].p_holm == 0.05 and not fam[key].significant


def test_nearly_identical_differences_are_tested_not_taken_as_identical():
    """The exact answers are for differences identical to 1e-15 (absolute): 0.2 and 0.2000001
    are tested like any others (a relative tolerance would call them identical)."""
    r = statistics.paired({0: 0.2, 1: 0.2000001}, {0: 0.0, 1: 0.0})
    assert 0.0 < r["p"] == pytest.approx(sps.ttest_1samp([0.2, 0.2000001], 0.0).pvalue)
    t = statistics.tost([0.2, 0.2000001], 0.5)
    assert 0.0 < t["p"] < 1e-3 and t["lo90"] < 0.2 < 0.2000001 < t["hi90"]
    assert 0.0 < statistics.tost([0.0, 1e-10], 0.5)["p"]  # 1e-10 apart: not identical either
    # identical differences of 1e-15: not zero, so certainly different
    assert statistics.paired({0: 1e-15, 1: 1e-15}, {0: 0.0, 1: 0.0})["p"] == 0.0


def test_a_simultaneous_interval_of_rates_stays_inside_what_a_difference_can_be():
    """Two seeds and twelve tests: the t-based Bonferroni interval of a 2.8 pp accuracy gap
    spans hundreds of points; built on the logit scale of [-mean_b, 1 - mean_b] it cannot."""
    fam = statistics.Family(0.05)
    a, b = {0: 0.66, 1: 0.70}, {0: 0.65, 1: 0.655}
    k = fam.add("q", "x", "y", "acc", a, b, margin=0.01, rate=True)
    for i in range(5):  # other members: 12 tests in all
        fam.add("q", f"o{i}", "y", "acc", {0: 0.5, 1: 0.6}, b, margin=0.01, rate=True)
    fam.finish()
    lo, hi = fam[k].simultaneous
    mean_b = np.mean(list(b.values()))
    assert -mean_b < lo < fam[k].result["diff"] < hi < 1 - mean_b
    plain = statistics.simultaneous_interval([0.01, 0.045], 12, 0.05)
    assert plain[1] - plain[0] > 1.0  # the unbounded one leaves [-1, 1]
