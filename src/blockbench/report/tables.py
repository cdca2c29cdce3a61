"""Tables: rounded numbers, CSV files under results/tables/, and their Markdown view.

A table's CSV holds the numbers exactly as the report prints them (rounded once, here), so a
sentence quotes the table and tests/test_report.py can check every number of every sentence
against the tables its section links. In the Markdown view, a column `X` followed by `X lo` and
`X hi` is shown as one cell `X [lo, hi]` (a 95% interval over seeds).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from .. import paths
from ..storage import atomic_path
from .runs import Group

# A share of images (accuracy, recall, precision, F1) is printed in percent, whatever the table:
# one unit per quantity. Scores that are not a share of images (ROC AUC, average precision, ECE)
# stay fractions ("rate").
PCT_DIGITS = 2  # shares of images and their differences, in percent / percentage points
RATE_DIGITS = 3  # average precision, ROC AUC, ECE (fractions)


def pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, PCT_DIGITS)


def rate(x: float | None, digits: int = RATE_DIGITS) -> float | None:
    return None if x is None else round(x, digits)


def outward(lo: float | None, hi: float | None, scale: str) -> tuple[float | None, float | None]:
    """An interval's ends rounded outwards (lo down, hi up) to the digits of `scale` ('pct':
    percent, 2 digits; else a rate, 3 digits): rounding never narrows an interval, so an exact
    interval such as [0, 0.0004] stays wider than zero."""
    factor = 100.0 if scale == "pct" else 1.0
    digits = PCT_DIGITS if scale == "pct" else RATE_DIGITS
    unit = 10.0**-digits

    def down(x):
        return None if x is None else round(math.floor(round(factor * x / unit, 6)) * unit, digits)

    def up(x):
        return None if x is None else round(math.ceil(round(factor * x / unit, 6)) * unit, digits)

    return down(lo), up(hi)


def num(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def p_value(p: float | None) -> str:
    """'0.031', '0.0012' (two significant digits) or '<1e-4'; '' without a test."""
    if p is None:
        return ""
    return "<1e-4" if p < 1e-4 else f"{p:.2g}"


def text(x, digits: int) -> str:
    """A table number as a sentence prints it (the same rounding as the CSV)."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def summary_columns(name: str, g: Group, get, scale: str = "pct") -> dict:
    """`name`, `name lo`, `name hi`: the mean of a rate over the group's seeds and its 95%
    interval, inside [0, 1] (`Group.interval`), then scaled and rounded: in percent (`scale`
    'pct', for a share of images; name it with '%') or as a fraction ('rate', for a score such as
    ROC AUC)."""
    d = g.interval(get)
    r = pct if scale == "pct" else rate
    lo, hi = outward(d["lo"], d["hi"], scale)
    return {name: r(d["mean"]), f"{name} lo": lo, f"{name} hi": hi}


def seeds_text(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def group_cell(g: Group, get, scale: str = "pct") -> str:
    """'96.89% [96.50, 97.28] (5 seeds)' or '0.930 [0.91, 0.95] (3 seeds)'."""
    cols = summary_columns("x", g, get, scale)
    digits = PCT_DIGITS if scale == "pct" else RATE_DIGITS
    unit = "%" if scale == "pct" else ""
    ci = (
        f" [{text(cols['x lo'], digits)}, {text(cols['x hi'], digits)}]"
        if cols["x lo"] is not None
        else ""
    )
    return f"{text(cols['x'], digits)}{unit}{ci} ({seeds_text(g.n)})"


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def markdown(df: pd.DataFrame) -> str:
    """The Markdown view: `X`, `X lo`, `X hi` merged into `X [lo, hi]`."""
    df = df.rename(columns=str)
    cols = list(df.columns)
    shown = [c for c in cols if not (c.endswith(" lo") or c.endswith(" hi"))]
    lines = ["| " + " | ".join(shown) + " |", "|" + "|".join("---" for _ in shown) + "|"]
    for _, row in df.iterrows():
        cells = []
        for c in shown:
            v = _cell(row[c])
            lo, hi = f"{c} lo", f"{c} hi"
            if lo in cols and hi in cols and _cell(row[lo]) != "":
                v = f"{v} [{_cell(row[lo])}, {_cell(row[hi])}]"
            cells.append(v)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


TRAINING_CLOCK = ("s/epoch", "inference µs/image")


class Tables:
    """Writes tables under results/tables/ and returns their Markdown with a link to the CSV."""

    def __init__(self, root: Path):
        self.root = root
        (root / paths.TABLES).mkdir(parents=True, exist_ok=True)
        self.written: list[str] = []

    def __call__(
        self, df: pd.DataFrame, name: str, note: str = "", shown: list | None = None
    ) -> str:
        """Write the whole table; show the `shown` columns (default: all)."""
        with atomic_path(self.root / paths.TABLES / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False)
        self.written.append(name)
        link = link_to(paths.TABLES / f"{name}.csv")
        view = df if shown is None else df[shown]
        # wall-clock seconds measured during training (other jobs beside it) stay in the CSV; the
        # page shows speed only from the benchmark stage, which repeats it in isolation
        view = view[[c for c in view.columns if not str(c).startswith(TRAINING_CLOCK)]]
        return f"{markdown(view)}\n\n<sub>Table: [`tables/{name}.csv`]({link}){note}</sub>\n"


def link_to(path: Path) -> str:
    """`path` (under results/, absolute or relative to the repository) as a link from
    results/summary.md, so the Markdown renders on a code host."""
    parts = Path(path).parts
    if "results" in parts:
        i = len(parts) - 1 - parts[::-1].index("results")
        return "/".join(parts[i + 1 :])
    return os.path.relpath(path, paths.RESULTS).replace(os.sep, "/")


def image(path: Path, alt: str) -> str:
    return f"![{alt}]({link_to(path)})"
