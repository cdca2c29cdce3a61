"""The aggregate stage: tables, comparison figures and results/summary.md, all derived from run
files (no torch: parameters and MACs come from train.json and blockbench.architecture).

Order of work: load every configuration's seeds (`runs`), declare the report's whole family of
seed-level comparisons and correct it with Holm-Bonferroni (`statistics`), then write the
sections (`prose_models`, `prose_imbalance`), the claims table (`claims`) and last the headline,
which is placed first. Every number in a sentence is read from a table this module wrote
(`tables`); every comparative word comes from a corrected test or a computed rule.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..declarations import check as check_declarations
from ..errors import ParamsError
from ..params import remedy_table, twin_table
from ..storage import write_json, write_text
from . import (
    answers,
    capacity,
    claims,
    dvc_plots,
    flat_metrics,
    prose_answers,
    prose_imbalance,
    prose_models,
    prose_severity,
    statistics,
    summary_html,
)
from .runs import Group, accuracy, last, load_groups, minority_recall, val_balanced_accuracy
from .tables import Tables, p_value, seeds_text

SUMMARY, SUMMARY_JSON, TABLES, FIGURES = (
    paths.SUMMARY,
    paths.SUMMARY_JSON,
    paths.TABLES,
    paths.FIGURES,
)

# metric name -> (getter, unit of a difference, scale to that unit, digits, study.margins key)
METRICS = {
    "accuracy": (accuracy, "pp", 100.0, 2, "accuracy"),
    "minority recall": (minority_recall, "pp", 100.0, 2, "minority_recall"),
    "validation loss, last epoch": (last("val_loss"), "loss", 1.0, 4, None),
    # the benchmark's paired repeats, ln(seconds): a − b is the log of the time ratio
    "training step time": (None, "ln ratio", 1.0, 4, None),
    "inference time per image": (None, "ln ratio", 1.0, 4, None),
}
RATES = ("accuracy", "minority recall")  # in [0, 1]: their intervals stay inside what they can be
# study.primary's metric names -> the report's
PRIMARY_METRIC = {"accuracy": "accuracy", "minority_recall": "minority recall"}
PRIMARY, SECONDARY = "primary", "secondary"


class Study:
    def __init__(self, params: dict, root: Path, left_out: tuple[str, ...] = ()):
        """`left_out`: declared runs not trained yet, which an interim report leaves out."""
        self.params, self.root, self.study = params, root, params["study"]
        self.left_out = tuple(left_out)
        self.alpha = self.study["alpha"]
        self.margins = self.study.get("margins") or {}
        self.target_mde = self.study.get("target_mde") or {}
        self.groups: dict[str, Group] = load_groups(params, root, frozenset(left_out))
        self.family = statistics.Family(self.alpha, self.study.get("power", 0.8))
        self.tables = Tables(root)
        (root / FIGURES).mkdir(parents=True, exist_ok=True)
        self.twins = {b: t for b, t in twin_table(params).items() if t in self.groups}
        self.remedies = remedy_table(params)
        self.reference = (self.study.get("remedies") or {}).get("reference")
        self.declare()
        self.family.finish()

    # ---------------------------------------------------------------------------- comparisons
    def margin(self, metric: str) -> float | None:
        """The equivalence margin of a metric in its own units (None: not declared)."""
        key = METRICS[metric][4]
        if key is None or key not in self.margins:
            return None
        return self.margins[key] / METRICS[metric][2]

    def compare(
        self,
        question: str,
        a: str,
        b: str,
        metric: str,
        family: str = SECONDARY,
        kind: str = "difference",
    ) -> str | None:
        if a not in self.groups or b not in self.groups:
            return None
        get = METRICS[metric][0]
        return self.family.add(
            question,
            a,
            b,
            metric,
            self.groups[a].by_seed(get),
            self.groups[b].by_seed(get),
            family,
            kind,
            self.margin(metric),
            rate=metric in RATES,
        )

    def cmp_key(self, a: str, b: str, metric: str) -> str | None:
        key = f"{a} vs {b}: {metric}"
        return key if key in self.family.items else None

    def declare(self) -> None:
        """The report's comparisons: the primary family of `study.primary` first, then every other
        seed-level comparison a section or claim reads (secondary, exploratory)."""
        s = self.study
        a, b = s["mobilenet"], s["plain"]
        primary = s.get("primary") or {}
        if "architecture" in primary:
            h = primary["architecture"]
            metric = PRIMARY_METRIC[h.get("metric", "accuracy")]
            self.compare("1 architectures", a, b, metric, PRIMARY, h["kind"])
        speed = primary.get("training_speed")
        prose_answers.declare_speed(
            self, PRIMARY if speed else SECONDARY, speed["kind"] if speed else "difference"
        )
        for base in self.remedies:
            best = self.selected_remedy(base)
            for name, other in (
                ("remedy_vs_none", base),
                ("remedy_vs_reference", self.remedies[base][self.reference]),
            ):
                if best and name in primary:
                    h = primary[name]
                    metric = PRIMARY_METRIC[h.get("metric", "minority_recall")]
                    self.compare("8 remedies", best, other, metric, PRIMARY, h["kind"])
        self.compare("1 architectures", a, b, "accuracy")
        self.compare("1 architectures", a, b, "validation loss, last epoch")
        for n in s["block_counts"][1:]:
            self.compare("2 block counts", n, s["block_counts"][0], "accuracy")
        for key, pairs in s["sweeps"].items():
            for col in (0, 1):
                for pair in pairs[1:]:
                    self.compare(f"7 {key}", pair[col], pairs[0][col], "accuracy")
            if key == "lr":
                self.compare("7 lr", pairs[-1][0], pairs[-1][1], "accuracy")
        for base in (a, b):
            if base in self.twins:
                self.compare("the original's pipeline", self.twins[base], base, "accuracy")
        if a in self.twins and b in self.twins:
            self.compare("the original's pipeline", self.twins[a], self.twins[b], "accuracy")
        # the original's small differences, twin against twin (its own pipeline)
        for n in s["block_counts"][1:]:
            if n in self.twins and s["block_counts"][0] in self.twins:
                self.compare(
                    "the original's pipeline",
                    self.twins[n],
                    self.twins[s["block_counts"][0]],
                    "accuracy",
                )
        for key, pairs in s["sweeps"].items():
            for col in (0, 1):
                for pair in pairs[1:]:
                    if pair[col] in self.twins and pairs[0][col] in self.twins:
                        self.compare(
                            "the original's pipeline",
                            self.twins[pair[col]],
                            self.twins[pairs[0][col]],
                            "accuracy",
                        )
        for run, base in self.ablation_pairs():
            for metric in ("accuracy", "minority recall"):
                self.compare("ablation", run, base, metric)
        for base, variants in self.remedies.items():
            for variant, run in variants.items():
                if variant != self.reference:
                    self.compare("8 remedies", run, base, "minority recall")
            best = self.selected_remedy(base)
            if best:
                self.compare("8 remedies", best, base, "accuracy")
                self.compare("8 remedies", best, variants[self.reference], "accuracy")
        prose_severity.declare(self)
        capacity.declare(self)
        prose_answers.declare_softmax_by_split(self)

    def ablation_pairs(self) -> list[tuple[str, str]]:
        """(ablation run, its base run) for the study's ablations grid and its twins grid: each of
        the twin's changes alone, and both."""
        grid = (self.params.get("grids") or {}).get(self.study.get("ablations") or "")
        if not grid:
            return []
        out = []
        for base in grid["runs"]:
            runs = [f"{base}_{v}" for v in grid["variants"]] + [self.twins.get(base)]
            out += [(r, base) for r in runs if r in self.groups and base in self.groups]
        return out

    def units(self, c: statistics.Comparison) -> tuple[str, float, int]:
        _, unit, scale, digits, _ = METRICS[c.metric]
        return unit, scale, digits

    def comparison_row(self, key: str) -> dict:
        c = self.family[key]
        unit, scale, digits = self.units(c)
        r, eq = c.result, c.equivalence

        def conv(x):
            return None if x is None else round(scale * x, digits)

        row = {
            "family": c.family,
            "question": c.question,
            "a": c.a,
            "b": c.b,
            "metric": c.metric,
            "unit": unit,
            "seeds": r["n"],
            "a mean": conv(r["mean_a"]),
            "b mean": conv(r["mean_b"]),
            "a − b": conv(r["diff"]),
            "a − b lo": conv(r["lo"]),
            "a − b hi": conv(r["hi"]),
            # the family's Bonferroni-simultaneous 95% interval (Holm's verdicts agree with it)
            "a − b, simultaneous 95%": conv(r["diff"]) if c.simultaneous else None,
            "a − b, simultaneous 95% lo": conv((c.simultaneous or (None, None))[0]),
            "a − b, simultaneous 95% hi": conv((c.simultaneous or (None, None))[1]),
            "p": p_value(r["p"]),
            "p (Holm)": p_value(c.p_holm),
            "kind": c.kind,
            "margin ±": conv(c.margin),
            "90% lo": conv(eq.get("lo90")),
            "90% hi": conv(eq.get("hi90")),
            "p equivalence (Holm)": p_value(c.p_equiv_holm),
            "verdict": self.verdict_label(c),
            "MDE": conv(c.mde),
        }
        target = self.target_for(c)
        row["target MDE"] = target
        row["seeds needed"] = (
            statistics.seeds_needed(r.get("sd"), target / scale, c.threshold, self.family.power)
            if target is not None and c.threshold is not None
            else None
        )
        return row

    def target_for(self, c: statistics.Comparison) -> float | None:
        """The primary rows' target minimum detectable effect, in the row's unit."""
        key = METRICS[c.metric][4]
        if c.family != PRIMARY or key is None:
            return None
        return self.target_mde.get(key)

    def verdict_label(self, c: statistics.Comparison) -> str:
        """'different (higher)', 'different, beyond the margin (lower)', 'different, within the
        margin (higher)', 'equivalent' or 'inconclusive'; 'not tested' without a test."""
        if c.result["p"] is None:
            return "not tested"
        if statistics.is_different(c.verdict):
            return f"{c.verdict} ({'higher' if c.result['diff'] > 0 else 'lower'})"
        return c.verdict

    def holm_text(self, c: statistics.Comparison) -> str:
        """The verdict and the p value behind it: 'different (higher), Holm p = 0.012',
        'equivalent within ±0.50 pp, TOST Holm p = 0.003', 'inconclusive (...)'; or why
        untested."""
        if c.result["p"] is None:
            return f"not tested: {seeds_text(c.result['n'])} shared"
        unit, scale, digits = self.units(c)
        p, peq = _p_is(c.p_holm), _p_is(c.p_equiv_holm)
        margin = f"±{scale * c.margin:.{digits}f} {unit}" if c.margin is not None else None
        mde = f"{scale * c.mde:.{digits}f} {unit}" if c.mde is not None else "n/a"
        if c.verdict == statistics.WITHIN:
            return f"{self.verdict_label(c)} {margin}: Holm p {p}, TOST Holm p {peq}"
        if statistics.is_different(c.verdict):
            return f"{self.verdict_label(c)}, Holm p {p}"
        if c.verdict == statistics.EQUIVALENT:
            return f"equivalent within {margin}, TOST Holm p {peq}"
        eq = f"; equivalence within {margin}: TOST Holm p {peq}" if margin else ""
        return f"inconclusive (difference: Holm p {p}{eq}; detectable: {mde})"

    def verdict_words(self, c: statistics.Comparison) -> str:
        """'c3m5 − c1m3 = −0.38 pp [−0.90, +0.14] over 3 seeds (97.10 vs 97.48): inconclusive
        (...)' -- the numbers of the comparisons table: the difference, its interval and the two
        means are over the seeds the test used."""
        unit, scale, digits = self.units(c)
        r = c.result
        if r["p"] is None:
            return f"{c.a} vs {c.b}: {seeds_text(r['n'])} shared, not tested"
        diff = f"{scale * r['diff']:+.{digits}f}"
        ci = f"[{scale * r['lo']:+.{digits}f}, {scale * r['hi']:+.{digits}f}]"
        means = f"{scale * r['mean_a']:.{digits}f} vs {scale * r['mean_b']:.{digits}f}"
        return (
            f"{c.a} − {c.b} = {diff} {unit} {ci} over {seeds_text(r['n'])} ({means}): "
            f"{self.holm_text(c)}"
        )

    def comparisons_table(self, question_prefix: str, name: str) -> str:
        import pandas as pd

        rows = [
            self.comparison_row(k)
            for k, c in self.family.items.items()
            if c.question.startswith(question_prefix)
        ]
        return self.tables(pd.DataFrame(rows), name) if rows else ""

    # ---------------------------------------------------------------------------- helpers
    def twin_of(self, name: str) -> str | None:
        return self.twins.get(name)

    def time_verdict(self, a: str, b: str) -> tuple[str, str]:
        """Whether a trains and infers faster than b, from the benchmark stage's paired repeats
        (train.json's timings shared the cores with other work: provenance, not evidence)."""
        comps = [
            self.family[k]
            for m in prose_answers.SPEED_METRICS
            if (k := self.cmp_key(a, b, m)) is not None
        ]
        if not comps:
            return "cannot be tested here", f"no benchmark of {a} and {b} (benchmark stage)"
        why = prose_answers.speed_words(prose_answers.speed_table(self), a, b)
        faster = [statistics.is_different(c.verdict) and c.result["diff"] < 0 for c in comps]
        slower_or_same = [
            c.verdict == statistics.EQUIVALENT
            or (statistics.is_different(c.verdict) and c.result["diff"] > 0)
            for c in comps
        ]
        if all(faster):
            return "holds", why
        return ("does not hold" if any(slower_or_same) else "inconclusive"), why

    def literal_augment_run(self, base: str) -> str | None:
        """The remedies-grid run of `base` that augments only the repeated classes' draws."""
        for run in self.remedies.get(base, {}).values():
            cfg = self.groups[run].cfg
            if cfg.get("remedy") == "augment" and cfg.get("augment_scope") == "repeated":
                return run
        return None

    def remedy_candidates(self, base: str) -> dict[str, str]:
        return {v: r for v, r in self.remedies.get(base, {}).items() if v != self.reference}

    def selection_seeds(self, base: str) -> set[int]:
        """The seeds every remedy candidate of `base` has: the remedy is chosen on these alone,
        so that seeds added to the chosen one later cannot change the choice."""
        cands = [r for r in self.remedy_candidates(base).values() if r in self.groups]
        if not cands:
            return set()
        seeds = [set(self.groups[r].by_seed(val_balanced_accuracy)) for r in cands]
        return set.intersection(*seeds) or set.union(*seeds)

    def selection_score(self, run: str, base: str) -> float | None:
        """Mean validation balanced accuracy of `run` over its base's selection seeds."""
        vals = self.groups[run].by_seed(val_balanced_accuracy)
        mine = [vals[s] for s in self.selection_seeds(base) if s in vals]
        return sum(mine) / len(mine) if mine else None

    def selected_remedy(self, base: str) -> str | None:
        """The remedy with the highest mean validation balanced accuracy over the selection
        seeds (`selection_seeds`)."""
        cands = [r for r in self.remedy_candidates(base).values() if r in self.groups]
        if not cands:
            return None
        return max(cands, key=lambda run: self.selection_score(run, base))

    def figure(self, name: str) -> Path:
        return self.root / FIGURES / f"{name}.png"

    def run_figure(self, group: str, name: str) -> Path:
        """A per-run figure of the group's first run (the plot stage's)."""
        first = self.groups[group].first
        return self.root / paths.run_figures(first.name, first.cfg)[name]

    # ---------------------------------------------------------------------------- the report
    def build(self) -> tuple[str, dict]:
        body: list[str] = []
        claims_md, claims_df = prose_models.section_claims(self)
        body += claims_md
        body += capacity.section(self)
        body += prose_answers.section_primary(self)
        body += prose_answers.section_ablations(self)
        body += prose_answers.section_split_seeds(self)
        body += prose_models.section_architectures(self)
        body += prose_models.section_block_counts(self)
        body += prose_models.section_confusion(self)
        body += prose_models.section_examples(self)
        body += prose_models.section_filters(self)
        body += prose_models.section_side_by_side(self)
        body += prose_imbalance.section_sweeps(self)
        body += prose_imbalance.section_remedies(self)
        body += prose_severity.section(self)
        body += prose_answers.section_comparisons(self)
        head = answers.page(self, prose_answers.headline(self, claims_df), claims_df, body)
        if self.left_out:  # an interim report says so under its title, before any number
            head[1:1] = ["", interim_banner(self.left_out)]
        summary = {
            "runs": {
                name: {
                    "seeds": g.n,
                    "accuracy": g.mean(accuracy),
                    "minority_recall_mean": g.mean(minority_recall),
                    "parameters": g.first.train["parameters"],
                }
                for name, g in self.groups.items()
            },
            "comparisons": {
                k: {
                    "difference": c.result["diff"],
                    "p": c.result["p"],
                    "p_holm": c.p_holm,
                    "family": c.family,
                    "verdict": c.verdict,
                    "p_equivalence": c.equivalence.get("p"),
                    "p_equivalence_holm": c.p_equiv_holm,
                    "mde": c.mde,
                    "seeds": c.result["n"],
                }
                for k, c in self.family.items.items()
            },
            "family_size": {
                f: self.family.size_of(f) for f in (PRIMARY, SECONDARY, capacity.FAMILY)
            },
            "claims": claims.counts(claims_df),
            "interim": {"left_out": list(self.left_out)} if self.left_out else None,
        }
        return "\n".join(head) + "\n", summary


def _p_is(p: float | None) -> str:
    """'= 0.012' or '<1e-4'."""
    text_p = p_value(p)
    return text_p if text_p.startswith("<") else f"= {text_p}"


def stale_runs(params: dict, root: Path) -> list[str]:
    """The runs whose model was trained with another config than params.yaml now resolves
    (results/runs/<run>/config.yaml against configs.resolve), or not trained at all."""
    import yaml

    from ..configs import resolve
    from ..params import run_names

    out = []
    for run in run_names(params):
        path = root / paths.trained_config(run)
        try:
            trained = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            out.append(run)
            continue
        if trained != resolve(params, run):
            out.append(run)
    return out


def listed(runs, first: int) -> str:
    """'a, b, c and 5 more': the first `first` names of `runs`."""
    more = f" and {len(runs) - first} more" if len(runs) > first else ""
    return ", ".join(runs[:first]) + more


def interim_banner(left_out) -> str:
    shown = listed(left_out, 12)
    return (
        f"> **Interim report** (`python workflow/scripts/aggregate.py --interim`): {len(left_out)} "
        f"declared run(s) are not trained with their current config yet and are left out: {shown}. "
        "Every number below uses only the runs that are; the declared seed counts and their power "
        "hold only once `dvc repro` (or `snakemake --cores 2 results/summary.md`) has trained them."
    )


def aggregate(params: dict, root: Path = Path("."), require_current: bool = True) -> None:
    """Write the report. Every run must have been trained with the config params.yaml gives it
    now; with `require_current` False (`aggregate.py --interim`, never an engine's stage) the
    runs that are not are left out and the report says so under its title."""
    stale = stale_runs(params, root)
    if require_current:
        if stale:
            shown = listed(stale, 8)
            raise ParamsError(
                f"aggregate: {len(stale)} run(s) not trained with the config params.yaml gives "
                f"them now: {shown}; bring them up to date with `dvc repro` (or `snakemake "
                "--cores 2 results/summary.md`) before the report"
            )
    check_declarations(params)  # before reading any run (keys.write checked it before planning)
    study = Study(params, root, left_out=tuple(stale))
    text_md, summary = study.build()
    flat_metrics.write([r for g in study.groups.values() for r in g.runs], study, root)
    dvc_plots.write(params, study.groups, root)
    write_json(root / SUMMARY_JSON, summary)
    write_text(root / SUMMARY, text_md)
    write_text(root / paths.SUMMARY_HTML, summary_html.render(text_md))
    print(
        f"aggregate: wrote {SUMMARY}, {SUMMARY_JSON} and "
        f"{len(list((root / TABLES).glob('*.csv')))} tables"
    )
