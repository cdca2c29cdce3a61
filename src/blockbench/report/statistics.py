"""Statistics at the level of training seeds, the unit of replication.

- `describe`: mean, sample standard deviation and the 95% t-interval of the mean over seeds.
- `paired`: a difference between two configurations over the seeds they share (same seed: same
  split, same initialisation order), as a paired t-test on the per-seed differences with its
  95% t-interval.
- `holm`: Holm-Bonferroni adjusted p-values over a family of comparisons (step-down, monotone).
- `Family`: the report's comparisons, declared up front so every verdict is corrected for all of
  them; "significant" means a Holm-adjusted p below the family-wise level.
- `prediction_interval`: where one more run of a configuration is expected (95%), to ask whether
  a single number from elsewhere (the original study's one run) fits a configuration.
- `mcnemar`: exact McNemar test on two runs' per-image outcomes -- a test-set check only: it says
  nothing about training noise.
- `bounded`: an interval of a mean clipped to what the quantity can be (intersecting a confidence
  interval with the parameter space keeps its coverage), and, where every seed gives the same
  value, the exact (Clopper-Pearson) interval of the pooled counts instead of a zero-width one.
- `tost`: two one-sided tests of equivalence within ±margin (statsmodels), with the 90% interval
  (1 - 2α) that must lie inside the margin.
- `mde` and `seeds_needed`: the power analysis of a paired t-test (statsmodels): the smallest
  difference found with the given power at a level, and the seeds a target difference needs.
- `verdict`: everything the difference test and the TOST say together: different beyond the
  margin, different within the margin, different (size undecided), equivalent, inconclusive.
- `tost_power`, `tost_seeds_needed`: the power of the paired TOST and the seeds it needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, special
from scipy import stats as sps
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

LEVEL = 0.95
MAX_SEEDS = 100_000  # seeds_needed answers None past this: no study trains more
DIFFERENT, EQUIVALENT, INCONCLUSIVE = "different", "equivalent", "inconclusive"
# the two outcomes a margin adds to "different": the difference is shown to exceed the margin
# (the simultaneous interval lies beyond it), or it is different and equivalent at once
BEYOND, WITHIN = "different, beyond the margin", "different, within the margin"


def is_different(verdict: str) -> bool:
    """The difference test rejected (whatever the margin says)."""
    return verdict in (DIFFERENT, BEYOND, WITHIN)


def is_same(verdict: str) -> bool:
    """The TOST rejected: the difference lies within the margin."""
    return verdict in (EQUIVALENT, WITHIN)


def describe(values) -> dict:
    """n, mean, sd and the 95% t-interval of the mean (None for one value)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    mean = float(v.mean())
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "lo": None, "hi": None}
    sd = float(v.std(ddof=1))
    half = float(sps.t.ppf((1 + LEVEL) / 2, n - 1)) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "lo": mean - half, "hi": mean + half}


def bounded(values, lo: float, hi: float, pooled: tuple[int, int] | None = None) -> dict:
    """`describe`, with a 95% interval that stays inside (lo, hi) by its construction, not by
    clipping: the t-interval of the mean built on the logit scale of the mean's position u in the
    range (delta method: standard error se / ((hi - lo) u (1 - u)) around logit u, t quantile
    with n - 1 df), then transformed back. Far from the ends it is the t-interval; near one it
    bends, as a rate's interval must. Where every value is the same (sd 0) or there is one value,
    the exact Clopper-Pearson interval of `pooled` (successes, trials over all seeds), scaled to
    [lo, hi] -- an interval of the test-set rate only: one seed says nothing of training noise."""
    d = describe(values)
    if (d["sd"] is None or d["sd"] == 0) and pooled is not None:
        k, n = pooled
        ci = sps.binomtest(int(k), int(n)).proportion_ci(confidence_level=LEVEL, method="exact")
        return {**d, "lo": lo + (hi - lo) * ci.low, "hi": lo + (hi - lo) * ci.high}
    if d["sd"] is None:
        return d
    if d["sd"] == 0:
        return {**d, "lo": d["mean"], "hi": d["mean"]}
    if _at_end(d["mean"], lo, hi):  # the mean on an end of the range: no logit; resample the seeds
        return {**d, **_bootstrap_interval(values)}
    return {**d, **_logit_interval(d["mean"], d["sd"], d["n"], lo, hi)}


END_TOLERANCE = 1e-9  # of the range: a mean nearer an end than this is on it (rounding, not data)


def _at_end(mean: float, lo: float, hi: float) -> bool:
    """The mean on an end of [lo, hi] or outside it, up to rounding: a mean of rates over test
    images (thousands) and seeds (tens to hundreds) is never nearer an end than 1e-9 unless it is
    on it, and the logit of a position rounded to 0 or 1 is infinite."""
    u = (mean - lo) / (hi - lo)
    return not END_TOLERANCE < u < 1 - END_TOLERANCE


def _bootstrap_interval(values, resamples: int = 10_000, level: float = LEVEL) -> dict:
    """The 95% percentile bootstrap interval of the mean over seeds (seeded: the same numbers
    every build); it stays within the values' own range."""
    res = sps.bootstrap(
        (np.asarray(values, dtype=float),),
        np.mean,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(0),
    )
    return {"lo": float(res.confidence_interval.low), "hi": float(res.confidence_interval.high)}


def _logit_interval(
    mean: float, sd: float, n: int, lo: float, hi: float, level: float = LEVEL
) -> dict:
    """The delta-method t-interval of a mean on the logit scale of the range [lo, hi]."""
    u = (mean - lo) / (hi - lo)
    t = float(sps.t.ppf((1 + level) / 2, n - 1))
    se_logit = sd / math.sqrt(n) / ((hi - lo) * u * (1 - u))
    centre = math.log(u / (1 - u))
    ends = [float(special.expit(centre + k * t * se_logit)) for k in (-1, 1)]  # no overflow
    return {"lo": lo + (hi - lo) * ends[0], "hi": lo + (hi - lo) * ends[1]}


def _gain_range(mean_d: float, mean_b: float) -> tuple[float, float]:
    """What a gain a - b of rates can be: from -b's mean to 1 - b's mean; but where the mean gain
    sits on an end of that, a sat on 0 or 1 at every seed (gain -b or 1 - b, per seed), and the
    gain's interval is then b's, mirrored: [-1, 0] or [0, 1], where the logit interval has room."""
    lo, hi = -mean_b, 1.0 - mean_b
    if not _at_end(mean_d, lo, hi):
        return lo, hi
    return (0.0, 1.0) if abs(mean_d - hi) <= abs(mean_d - lo) else (-1.0, 0.0)


def bounded_gain(a: dict[int, float], b: dict[int, float]) -> dict:
    """`paired` a - b of a rate in [0, 1] with its interval inside what a gain can be: from -b's
    mean (a falls to 0) to 1 - b's mean (a reaches 1), by `bounded` on that range. Where a is 1
    (or 0) at every seed, the gain is 1 - b (or -b) per seed, on that end of the range: its
    interval is then `bounded` on [0, 1] (or [-1, 0]), b's own interval mirrored."""
    r = paired(a, b)
    if r["n"] < 2 or r["mean_b"] is None:
        return r
    d = bounded(r["differences"], *_gain_range(r["diff"], r["mean_b"]))
    return {**r, "lo": d["lo"], "hi": d["hi"]}


def prediction_interval(values) -> tuple[float, float] | None:
    """95% interval for one further run: mean ± t · sd · sqrt(1 + 1/n) (None under 2 values)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n < 2:
        return None
    half = float(sps.t.ppf((1 + LEVEL) / 2, n - 1)) * v.std(ddof=1) * math.sqrt(1 + 1 / n)
    return float(v.mean() - half), float(v.mean() + half)


def rate_prediction_interval(values, eps: float = 1e-4) -> tuple[float, float] | None:
    """`prediction_interval` of a rate in [0, 1], built on the logit scale of the values (each
    kept eps from the ends, where a logit is infinite) and transformed back: it stays inside
    (0, 1) by construction. None under 2 values; identical values give a zero-width interval."""
    v = np.clip(np.asarray(values, dtype=float), eps, 1 - eps)
    pi = prediction_interval(np.log(v / (1 - v)))
    if pi is None:
        return None
    return float(1 / (1 + math.exp(-pi[0]))), float(1 / (1 + math.exp(-pi[1])))


def paired(a: dict[int, float], b: dict[int, float]) -> dict:
    """a - b over the seeds both have ({seed: value}): mean difference, its 95% t-interval and
    the two-sided p of a paired t-test (None with fewer than 2 shared seeds; with identical
    differences, p is 1 for zero and 0 otherwise)."""
    seeds = sorted(set(a) & set(b))
    d = np.array([a[s] - b[s] for s in seeds], dtype=float)
    out = {
        "seeds": seeds,
        "n": len(seeds),
        "mean_a": float(np.mean([a[s] for s in seeds])) if seeds else None,
        "mean_b": float(np.mean([b[s] for s in seeds])) if seeds else None,
        "diff": float(d.mean()) if len(d) else None,
        "lo": None,
        "hi": None,
        "p": None,
    }
    if len(d) < 2:
        return out
    desc = describe(d)
    out.update(lo=desc["lo"], hi=desc["hi"], sd=desc["sd"], differences=d.tolist())
    if np.allclose(d, d[0], rtol=0, atol=1e-15):
        out["p"] = 1.0 if abs(d[0]) < 1e-15 else 0.0
    else:
        out["p"] = float(sps.ttest_1samp(d, 0.0).pvalue)
    return out


def tost(differences, margin: float | None) -> dict:
    """Equivalence of paired differences within ±margin: the TOST p (the larger of the two
    one-sided t-test p values; statsmodels' ttost_paired) and the 90% t-interval of the mean
    difference (equivalence at α = 0.05 is that interval inside the margin). With identical
    differences the answer is exact: p 0 inside the margin, 1 outside. None without a margin or
    with fewer than 2 differences."""
    d = np.asarray(differences, dtype=float)
    if margin is None or len(d) < 2:
        return {"p": None, "lo90": None, "hi90": None}
    if np.allclose(d, d[0], rtol=0, atol=1e-15):
        return {"p": 0.0 if abs(d[0]) < margin else 1.0, "lo90": float(d[0]), "hi90": float(d[0])}
    p, _, _ = ttost_paired(d, np.zeros_like(d), -margin, margin)
    half = float(sps.t.ppf(1 - (1 - LEVEL), len(d) - 1)) * d.std(ddof=1) / math.sqrt(len(d))
    return {"p": float(p), "lo90": float(d.mean() - half), "hi90": float(d.mean() + half)}


def mde(sd: float | None, n: int, alpha: float, power: float) -> float | None:
    """The smallest true mean difference a two-sided paired t-test over n seeds finds with
    `power` at level `alpha`, for a seed-level standard deviation `sd` of the differences."""
    if sd is None or n < 2:
        return None
    d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power)
    return float(d) * sd


def seeds_needed(sd: float | None, target: float, alpha: float, power: float) -> int | None:
    """The seeds a two-sided paired t-test needs to find a true difference `target` with `power`
    at level `alpha`, for a seed-level standard deviation `sd` (at least 2; None past
    MAX_SEEDS)."""
    if sd is None:
        return None
    if sd == 0:
        return 2
    effect = target / sd
    # power grows with n: double n until it suffices, then bisect for the smallest n that does
    lo, hi = 2, 2
    while _power(effect, hi, alpha) < power:
        if hi >= MAX_SEEDS:
            return None
        lo, hi = hi + 1, min(2 * hi, MAX_SEEDS)
    while lo < hi:
        mid = (lo + hi) // 2
        if _power(effect, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo


def tost_power(sd: float, n: int, margin: float, alpha: float, true_diff: float = 0.0) -> float:
    """Power of the paired TOST over n seeds at level `alpha` (each one-sided test at alpha) for a
    seed-level sd of the differences and a true mean difference: the chance that the whole
    (1 - 2 alpha) t-interval lies inside ±margin. Exact: given the sample sd s, the mean is normal,
    so the power is the normal mass of |mean| < margin - t * s / sqrt n, integrated over s
    (s^2 (n - 1) / sd^2 is chi-square with n - 1 degrees of freedom)."""
    if n < 2 or sd <= 0:
        return float(abs(true_diff) < margin) if n >= 2 else 0.0
    df = n - 1
    crit = float(sps.t.ppf(1 - alpha, df))
    se = sd / math.sqrt(n)

    def given(q: float) -> float:  # q = s^2 df / sd^2
        half = margin - crit * sd * math.sqrt(q / df) / math.sqrt(n)
        if half <= 0:
            return 0.0
        upper = sps.norm.cdf((half - true_diff) / se)
        lower = sps.norm.cdf((-half - true_diff) / se)
        return (upper - lower) * sps.chi2.pdf(q, df)

    q_max = df * (margin * math.sqrt(n) / (crit * sd)) ** 2  # past it the interval is too wide
    value, _ = integrate.quad(given, 0.0, q_max, limit=200)
    return float(min(1.0, max(0.0, value)))


def tost_seeds_needed(
    sd: float, margin: float, alpha: float, power: float, true_diff: float = 0.0
) -> int | None:
    """The fewest seeds whose paired TOST reaches `power` (None past MAX_SEEDS; TOST power grows
    with n, so double then bisect as seeds_needed does)."""
    if abs(true_diff) >= margin:
        return None
    lo, hi = 2, 2
    while tost_power(sd, hi, margin, alpha, true_diff) < power:
        if hi >= MAX_SEEDS:
            return None
        lo, hi = hi + 1, min(2 * hi, MAX_SEEDS)
    while lo < hi:
        mid = (lo + hi) // 2
        if tost_power(sd, mid, margin, alpha, true_diff) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _power(effect: float, n: int, alpha: float) -> float:
    """Power of a two-sided paired t-test over n pairs for a standardised effect: the mass of the
    noncentral t (df n - 1, noncentrality effect * sqrt n) beyond the critical values. statsmodels'
    TTestPower.power gives the same numbers but NaN for large effects at small n (d = 10, n = 3),
    which would make a study ask for one seed more than it needs. The lower tail is taken as the
    upper tail of the mirrored distribution: scipy's nct.cdf there is NaN at some large
    noncentralities (d = 1, n = 100), its sf is not."""
    df, nc = n - 1, effect * math.sqrt(n)
    crit = sps.t.ppf(1 - alpha / 2, df)
    return float(sps.nct.sf(crit, df, nc) + sps.nct.sf(crit, df, -nc))


def verdict(
    p_diff: float | None,
    p_equiv: float | None,
    alpha: float,
    margin: float | None = None,
    simultaneous: tuple[float, float] | None = None,
) -> str:
    """Everything the two Holm-adjusted tests say, whatever kind was declared:
    - both reject: "different, within the margin" (a real difference smaller than the margin);
    - only the difference test: "different, beyond the margin" where the simultaneous interval
      lies wholly outside ±margin, else "different" (its size against the margin undecided);
    - only the TOST: "equivalent"; neither: "inconclusive"."""
    diff = p_diff is not None and p_diff < alpha
    equiv = p_equiv is not None and p_equiv < alpha
    if diff and equiv:
        return WITHIN
    if diff:
        if margin is not None and simultaneous is not None:
            lo, hi = simultaneous
            if lo > margin or hi < -margin:
                return BEYOND
        return DIFFERENT
    return EQUIVALENT if equiv else INCONCLUSIVE


def simultaneous_interval(
    differences, m: int, alpha: float, bounds: tuple[float, float] | None = None
) -> tuple[float, float] | None:
    """The Bonferroni-simultaneous interval (level 1 - alpha / m) of a mean paired difference:
    valid together for all m tests of a family (Holm's own compatible intervals are not simple;
    Bonferroni's contain them). With `bounds` (what a difference of rates can be), built as
    `bounded` builds its interval, on the logit scale of that range, so it never leaves it."""
    d = np.asarray(differences, dtype=float)
    if len(d) < 2 or m < 1:
        return None
    level = 1 - alpha / m
    if bounds is not None and d.std(ddof=1) > 0:
        lo, hi = bounds
        if not _at_end(float(d.mean()), lo, hi):
            r = _logit_interval(float(d.mean()), float(d.std(ddof=1)), len(d), lo, hi, level)
        else:
            r = _bootstrap_interval(d, level=level)
        return r["lo"], r["hi"]
    half = float(sps.t.ppf(1 - alpha / (2 * m), len(d) - 1)) * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None and does not count in the family)."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    m = len(idx)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test: a binomial test on the discordant pairs (b = images only run a gets
    right, c = only run b); each discordant image is a fair coin under the null hypothesis."""
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if correct_a.shape != correct_b.shape:
        raise ValueError("McNemar needs predictions on the same test images")
    b = int(np.sum(correct_a & ~correct_b))
    c = int(np.sum(~correct_a & correct_b))
    p = 1.0 if b + c == 0 else float(sps.binomtest(b, b + c, 0.5).pvalue)
    return {"only_a_correct": b, "only_b_correct": c, "p_value": p}


@dataclass
class Comparison:
    """One seed-level comparison a - b of a metric, in a family (primary or secondary), with its
    declared kind (difference or equivalence) and equivalence margin (the metric's unit; None:
    no equivalence test); filled in by Family.finish."""

    key: str
    question: str
    a: str
    b: str
    metric: str
    result: dict = field(default_factory=dict)
    family: str = "secondary"
    kind: str = "difference"
    margin: float | None = None
    p_holm: float | None = None
    significant: bool = False
    equivalence: dict = field(default_factory=dict)
    p_equiv_holm: float | None = None
    verdict: str = INCONCLUSIVE
    threshold: float | None = None  # the first Holm threshold of its family: alpha / m
    mde: float | None = None  # minimum detectable effect at `threshold` with the family's power
    simultaneous: tuple[float, float] | None = None  # Bonferroni interval over the family's tests
    rate: bool = False  # a difference of rates in [0, 1]: its intervals stay inside what it can be


class Family:
    """The report's comparisons, declared up front in families (primary: the few the study exists
    for; secondary: the exploratory rest); `finish` applies Holm within each family, to the
    difference tests and to the equivalence tests, and gives every row its verdict and its
    minimum detectable effect at the family's first Holm threshold."""

    def __init__(self, alpha: float, power: float = 0.8):
        self.alpha, self.power = alpha, power
        self.items: dict[str, Comparison] = {}
        self.finished = False

    def add(
        self,
        question: str,
        a: str,
        b: str,
        metric: str,
        values_a,
        values_b,
        family: str = "secondary",
        kind: str = "difference",
        margin: float | None = None,
        rate: bool = False,
    ) -> str:
        """Declare a - b on `metric` ({seed: value} each); returns its key (idempotent: the first
        declaration of a key decides its family). For a rate in [0, 1] (`rate`), the difference's
        interval stays inside what it can be (`bounded_gain`); the test is the same."""
        if self.finished:
            raise RuntimeError("the family is closed: declare every comparison before finish()")
        key = f"{a} vs {b}: {metric}"
        if key not in self.items:
            r = bounded_gain(values_a, values_b) if rate else paired(values_a, values_b)
            c = Comparison(key, question, a, b, metric, r, family, kind, margin, rate=rate)
            c.equivalence = tost(r.get("differences", []), margin)
            self.items[key] = c
        return key

    def members(self, family: str) -> list[Comparison]:
        return [c for c in self.items.values() if c.family == family]

    def tests_in(self, family: str) -> int:
        """The tests Holm corrects together in a family: each comparison's difference test and,
        where it has a margin, its TOST."""
        comps = self.members(family)
        return sum(c.result["p"] is not None for c in comps) + sum(
            c.equivalence.get("p") is not None for c in comps
        )

    def finish(self) -> None:
        """One Holm-Bonferroni per family over all its tests, difference tests and TOSTs
        together (they are different hypotheses about the same data: correcting them apart
        would let a family make up to twice its error rate)."""
        for name in dict.fromkeys(c.family for c in self.items.values()):
            comps = self.members(name)
            k = len(comps)
            adjusted = holm([c.result["p"] for c in comps] + [c.equivalence["p"] for c in comps])
            m = self.tests_in(name)
            for c, p, p_eq in zip(comps, adjusted[:k], adjusted[k:]):
                c.p_holm, c.p_equiv_holm = p, p_eq
                c.significant = p is not None and p < self.alpha
                c.threshold = self.alpha / m if m else None
                r = c.result
                bounds = _gain_range(r["diff"], r["mean_b"]) if c.rate and r["n"] >= 2 else None
                c.simultaneous = simultaneous_interval(
                    r.get("differences", []), m, self.alpha, bounds
                )
                c.verdict = verdict(p, p_eq, self.alpha, c.margin, c.simultaneous)
                if c.threshold is not None:
                    c.mde = mde(c.result.get("sd"), c.result["n"], c.threshold, self.power)
        self.finished = True

    def __getitem__(self, key: str) -> Comparison:
        if not self.finished:
            raise RuntimeError("call finish() before reading a verdict")
        return self.items[key]

    @property
    def size(self) -> int:
        return sum(c.result["p"] is not None for c in self.items.values())

    def size_of(self, family: str) -> int:
        return sum(c.result["p"] is not None for c in self.members(family))
