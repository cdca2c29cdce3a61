"""Statistics at the level of training seeds, the unit of replication.

- `describe`: mean, sample standard deviation and the 95% t-interval of the mean over seeds.
- `paired`: a difference between two configurations over the seeds they share (same seed: same
  split, same initialisation order), as a paired t-test on the per-seed differences with its
  95% t-interval.
- `holm`: Holm-Bonferroni adjusted p-values over a family of comparisons (step-down, monotone).
- `Family`: the report's comparisons, declared up front so every verdict is corrected for all of
  them; "significant" means a Holm-adjusted p below the family-wise level.
- `separated`: whether two sets of timings do not overlap at all (a speed word needs that).
- `prediction_interval`: where one more run of a configuration is expected (95%), to ask whether
  a single number from elsewhere (the original study's one run) fits a configuration.
- `mcnemar`: exact McNemar test on two runs' per-image outcomes -- a test-set check only: it says
  nothing about training noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

LEVEL = 0.95


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


def prediction_interval(values) -> tuple[float, float] | None:
    """95% interval for one further run: mean ± t · sd · sqrt(1 + 1/n) (None under 2 values)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n < 2:
        return None
    half = float(sps.t.ppf((1 + LEVEL) / 2, n - 1)) * v.std(ddof=1) * math.sqrt(1 + 1 / n)
    return float(v.mean() - half), float(v.mean() + half)


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
    out.update(lo=desc["lo"], hi=desc["hi"])
    if np.allclose(d, d[0], rtol=0, atol=1e-15):
        out["p"] = 1.0 if abs(d[0]) < 1e-15 else 0.0
    else:
        out["p"] = float(sps.ttest_1samp(d, 0.0).pvalue)
    return out


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


def separated(a, b) -> bool:
    """True when every value of a lies below every value of b, or every one above."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(a.max() < b.min() or a.min() > b.max())


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
    """One seed-level comparison a - b of a metric; filled in by Family.finish."""

    key: str
    question: str
    a: str
    b: str
    metric: str
    result: dict = field(default_factory=dict)
    p_holm: float | None = None
    significant: bool = False


class Family:
    """The report's family of comparisons: declare them all, then `finish` applies Holm."""

    def __init__(self, alpha: float):
        self.alpha = alpha
        self.items: dict[str, Comparison] = {}
        self.finished = False

    def add(self, question: str, a: str, b: str, metric: str, values_a, values_b) -> str:
        """Declare a - b on `metric` ({seed: value} each); returns its key (idempotent)."""
        if self.finished:
            raise RuntimeError("the family is closed: declare every comparison before finish()")
        key = f"{a} vs {b}: {metric}"
        if key not in self.items:
            c = Comparison(key, question, a, b, metric, paired(values_a, values_b))
            self.items[key] = c
        return key

    def finish(self) -> None:
        comps = list(self.items.values())
        adjusted = holm([c.result["p"] for c in comps])
        for c, p in zip(comps, adjusted):
            c.p_holm = p
            c.significant = p is not None and p < self.alpha
        self.finished = True

    def __getitem__(self, key: str) -> Comparison:
        if not self.finished:
            raise RuntimeError("call finish() before reading a verdict")
        return self.items[key]

    @property
    def size(self) -> int:
        return sum(c.result["p"] is not None for c in self.items.values())
