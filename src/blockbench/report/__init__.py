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
from ..params import remedy_table, twin_table
from ..storage import write_json, write_text
from . import claims, prose_imbalance, prose_models, statistics
from .runs import Group, accuracy, last, load_groups, minority_recall, val_balanced_accuracy
from .tables import Tables, p_value, seeds_text, text

SUMMARY, SUMMARY_JSON, TABLES, FIGURES = (
    paths.SUMMARY,
    paths.SUMMARY_JSON,
    paths.TABLES,
    paths.FIGURES,
)

# metric name -> (getter, unit of a difference, scale to that unit, digits)
METRICS = {
    "accuracy": (accuracy, "pp", 100.0, 2),
    "minority recall": (minority_recall, "pp", 100.0, 2),
    "validation loss, last epoch": (last("val_loss"), "loss", 1.0, 4),
}


class Study:
    def __init__(self, params: dict, root: Path):
        self.params, self.root, self.study = params, root, params["study"]
        self.alpha = self.study["alpha"]
        self.groups: dict[str, Group] = load_groups(params, root)
        self.family = statistics.Family(self.alpha)
        self.tables = Tables(root)
        (root / FIGURES).mkdir(parents=True, exist_ok=True)
        self.twins = {b: t for b, t in twin_table(params).items() if t in self.groups}
        self.remedies = remedy_table(params)
        self.reference = (self.study.get("remedies") or {}).get("reference")
        self.declare()
        self.family.finish()

    # ---------------------------------------------------------------------------- comparisons
    def compare(self, question: str, a: str, b: str, metric: str) -> str | None:
        if a not in self.groups or b not in self.groups:
            return None
        get = METRICS[metric][0]
        return self.family.add(
            question, a, b, metric, self.groups[a].by_seed(get), self.groups[b].by_seed(get)
        )

    def cmp_key(self, a: str, b: str, metric: str) -> str | None:
        key = f"{a} vs {b}: {metric}"
        return key if key in self.family.items else None

    def declare(self) -> None:
        """The report's family: every seed-level comparison any section or claim reads."""
        s = self.study
        a, b = s["mobilenet"], s["plain"]
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
        for base, variants in self.remedies.items():
            for variant, run in variants.items():
                if variant != self.reference:
                    self.compare("8 remedies", run, base, "minority recall")
            best = self.selected_remedy(base)
            if best:
                self.compare("8 remedies", best, base, "accuracy")
                self.compare("8 remedies", best, variants[self.reference], "accuracy")

    def comparison_row(self, key: str) -> dict:
        c = self.family[key]
        _, unit, scale, digits = METRICS[c.metric]
        r = c.result

        def conv(x):
            return None if x is None else round(scale * x, digits)

        return {
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
            "p": p_value(r["p"]),
            "p (Holm)": p_value(c.p_holm),
            "significant": "yes" if c.significant else "no",
        }

    def holm_text(self, c: statistics.Comparison) -> str:
        """'significant, Holm p = 0.012' or 'not significant, Holm p = 0.41'; or why untested."""
        if c.result["p"] is None:
            return f"not tested: {seeds_text(c.result['n'])} shared"
        p = p_value(c.p_holm)
        sig = "significant" if c.significant else "not significant"
        return f"{sig}, Holm p {p if p.startswith('<') else '= ' + p}"

    def verdict_words(self, c: statistics.Comparison) -> str:
        """'c3m5 − c1m3 = −0.38 pp [−0.90, +0.14] over 3 seeds, Holm p = 0.41: no significant
        difference' -- the numbers of the comparisons table."""
        _, unit, scale, digits = METRICS[c.metric]
        r = c.result
        if r["p"] is None:
            return f"{c.a} vs {c.b}: {seeds_text(r['n'])} shared, not tested"
        diff = f"{scale * r['diff']:+.{digits}f}"
        ci = f"[{scale * r['lo']:+.{digits}f}, {scale * r['hi']:+.{digits}f}]"
        what = {"accuracy": "accurate", "minority recall": "minority recall"}.get(c.metric)
        if c.significant:
            direction = "more" if r["diff"] > 0 else "less"
            if c.metric == "minority recall":
                words = f"{c.a} has significantly {'higher' if r['diff'] > 0 else 'lower'} {what}"
            elif what:
                words = f"{c.a} is significantly {direction} {what} than {c.b}"
            else:
                words = (
                    f"{c.a}'s {c.metric} is significantly {'higher' if r['diff'] > 0 else 'lower'}"
                )
        else:
            words = "no significant difference"
        p = p_value(c.p_holm)
        return (
            f"{c.a} − {c.b} = {diff} {unit} {ci} over {seeds_text(r['n'])}, "
            f"Holm p {p if p.startswith('<') else '= ' + p}: {words}"
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

    def time_verdict(self, ga: Group, gb: Group) -> tuple[str, str]:
        """A speed word only when the seeds' timings do not overlap."""
        ta = ga.values(lambda r: r.train["seconds_per_epoch"])
        tb = gb.values(lambda r: r.train["seconds_per_epoch"])
        why = (
            f"seconds per epoch {ga.name} {text(ta.mean(), 2)} (range {text(ta.min(), 2)}–"
            f"{text(ta.max(), 2)}) vs {gb.name} {text(tb.mean(), 2)} (range {text(tb.min(), 2)}–"
            f"{text(tb.max(), 2)})"
        )
        if not statistics.separated(ta, tb):
            return "cannot be confirmed: no measurable difference", why
        return ("holds" if ta.mean() < tb.mean() else "does not hold"), why

    def literal_augment_run(self, base: str) -> str | None:
        """The remedies-grid run of `base` that augments only the repeated classes' draws."""
        for run in self.remedies.get(base, {}).values():
            cfg = self.groups[run].cfg
            if cfg.get("remedy") == "augment" and cfg.get("augment_scope") == "repeated":
                return run
        return None

    def remedy_candidates(self, base: str) -> dict[str, str]:
        return {v: r for v, r in self.remedies.get(base, {}).items() if v != self.reference}

    def selected_remedy(self, base: str) -> str | None:
        """The remedy with the highest mean validation balanced accuracy over its seeds."""
        cands = self.remedy_candidates(base)
        if not cands:
            return None
        return max(cands.values(), key=lambda r: self.groups[r].mean(val_balanced_accuracy))

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
        body += prose_models.section_architectures(self)
        body += prose_models.section_block_counts(self)
        body += prose_models.section_confusion(self)
        body += prose_models.section_examples(self)
        body += prose_models.section_filters(self)
        body += prose_models.section_side_by_side(self)
        body += prose_imbalance.section_sweeps(self)
        body += prose_imbalance.section_remedies(self)
        body += prose_imbalance.section_comparisons(self)
        head = prose_imbalance.headline(self, claims_df)
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
                    "significant": c.significant,
                    "seeds": c.result["n"],
                }
                for k, c in self.family.items.items()
            },
            "family_size": self.family.size,
            "claims": claims.counts(claims_df),
        }
        return "\n".join(head + body) + "\n", summary


def aggregate(params: dict, root: Path = Path(".")) -> None:
    text_md, summary = Study(params, root).build()
    write_json(root / SUMMARY_JSON, summary)
    write_text(root / SUMMARY, text_md)
    print(
        f"aggregate: wrote {SUMMARY}, {SUMMARY_JSON} and "
        f"{len(list((root / TABLES).glob('*.csv')))} tables"
    )
