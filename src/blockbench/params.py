"""params.yaml: load, check against the schema, and resolve named splits and runs.

`splits.<name>` overrides the `split` defaults and `runs.<name>` overrides the `train` defaults;
`split_config` and `run_config` return the merged view a stage works with.

Runs are expanded here, once, for both engines (the Snakefile and the generated dvc.yaml call
`run_names`):

- `grids.<grid>` declares one run per base run x variant, named `<base>_<variant>`: the base run's
  overrides, then the variant's.
- `replicate_seeds: [s, ...]` (a train key, so a run, a variant or the defaults may set it) repeats
  a run with each further seed as `<run>_s<seed>`; the run itself keeps its `seed`. The top-level
  `seeds.<run>` replaces it for one logical run (a grid run included): the primary comparisons'
  seed counts in one place. The report
  pools a run and its replicates (mean ± std over seeds).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import reprlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ParamsError

DEFAULT_PARAMS = "params.yaml"


@functools.cache
def _schema() -> dict:
    text = resources.files("blockbench").joinpath("params.schema.yaml").read_text()
    return yaml.safe_load(text)


def _is_number(checker, instance) -> bool:
    """A finite int or float: NaN passes every range check (each comparison with it is false) and
    infinity passes a one-sided one, so neither is a number here."""
    if isinstance(instance, bool) or not isinstance(instance, (int, float)):
        return False
    return isinstance(instance, int) or math.isfinite(instance)


def _is_integer(checker, instance) -> bool:
    """An int, not a float without a fraction (JSON Schema's `integer` takes 2.0, range() not)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema's own validator with those two types: a finite number, a true integer
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": _is_number, "integer": _is_integer}
    ),
)


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _short(value: Any, limit: int = 60) -> str:
    """repr of a value cut to `limit` characters, so one line stays one line whatever the value."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = limit
    short.maxlist = short.maxdict = 6
    text = short.repr(value)
    return text if len(text) <= 2 * limit else text[: 2 * limit - 3] + "..."


def nearest(name: str, known) -> list[str]:
    """The known names closest to a misspelt one (difflib), best first; at most three."""
    return difflib.get_close_matches(str(name), [str(k) for k in known], n=3, cutoff=0.6)


def _unknown(name: str, known, what: str) -> str:
    """ "'c44' is not a named run; did you mean c4?" without listing every known name."""
    known = list(known)
    return f"{_short(name)} is not a named {what}{did_you_mean(name, known)} ({len(known)} known)"


def did_you_mean(name: str, known) -> str:
    close = nearest(name, known)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def _describe(error: jsonschema.ValidationError) -> str:
    """One line naming the key and what is allowed."""
    key = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = f"{key}." if error.absolute_path else ""
        hint = did_you_mean(extra[0], allowed) if len(extra) == 1 else ""
        return (
            f"unknown key {', '.join(where + _short(e)[1:-1] for e in extra)}{hint} "
            f"(allowed keys{' in ' + key if error.absolute_path else ''}: {', '.join(allowed)})"
        )
    if error.validator == "propertyNames":
        return (
            f"{key}: name {_short(error.instance)} is not allowed "
            "(lower case letters, digits and _, starting with a letter, at most 64 characters)"
        )
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"{key}: {_short(error.instance)} is not one of: {allowed}"
    if error.validator == "type":
        if isinstance(error.instance, float) and not math.isfinite(error.instance):
            return f"{key}: {error.instance} is not a finite number; write a number"
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"{key}: {_short(error.instance)} has the wrong type; expected {want}"
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        hint = ""
        if missing:  # a required key missing beside an unknown one is most likely misspelt
            spare = [k for k in error.instance if k not in error.schema.get("properties", {})]
            close = nearest(missing[0], spare)
            where = f"{key}." if error.absolute_path else ""
            hint = f" (is {where}{close[0]} a misspelling of it?)" if close else ""
        return (
            f"{key}: {error.message}{hint}"
            if not missing
            else (f"{key}: {missing[0]!r} is a required property{hint}")
        )
    if error.validator == "maximum" and error.schema == _schema()["$defs"]["seed"]:
        return (
            f"{key}: {_short(error.instance)} is too large for a seed; use 0 to "
            f"{error.validator_value} (2**32 - 1, the most numpy's seeding takes)"
        )
    name_pattern = _schema()["$defs"]["name"]["pattern"]
    if error.validator == "pattern" and error.validator_value == name_pattern:
        return (
            f"{key}: name {_short(error.instance)} is not allowed "
            "(lower case letters, digits and _, starting with a letter, at most 64 characters)"
        )
    return f"{key}: {_short(error.message, 120)[1:-1]}"


def validate(params: Any, source: str = DEFAULT_PARAMS) -> dict:
    """Check params against the schema and the cross-references between sections."""
    validator = _Validator(_schema())
    errors = sorted(
        validator.iter_errors(params), key=lambda e: (len(e.absolute_path), str(e.absolute_path))
    )
    if errors:
        # The deepest error is the most specific one (an `allOf` wrapper reports the same key
        # twice).
        best = jsonschema.exceptions.best_match(errors)
        # an unknown key beside a missing required one is most likely its misspelling: name it
        unknown = [
            e
            for e in errors
            if e.validator == "additionalProperties" and e.absolute_path == best.absolute_path
        ]
        raise ParamsError(f"{source}: {_describe(unknown[0] if unknown else best)}")
    for grid, spec in (params.get("grids") or {}).items():
        for base in spec["runs"]:
            if base not in params["runs"]:
                raise ParamsError(
                    f"{source}: grids.{grid}.runs: {_unknown(base, params['runs'], 'run')}"
                )
    try:
        expanded = expand_runs(params)
    except ParamsError as exc:
        raise ParamsError(f"{source}: {exc}") from None
    for entry in expanded.values():
        cfg = _config(params, entry)
        if cfg["split"] not in params["splits"]:
            raise ParamsError(
                f"{source}: {entry.where}.split: {cfg['split']!r} is not a named split; "
                f"known splits: {', '.join(params['splits'])}"
            )
        if cfg["loss_input"] == "softmax" and cfg["remedy"] in (
            "class_weights",
            "logit_adjust",
            "focal",
        ):
            raise ParamsError(
                f"{source}: {entry.where}: loss_input softmax cannot be combined with remedy "
                f"{cfg['remedy']} (both replace the loss)"
            )
    for sweep in params["study"]["sweeps"]:
        if sweep not in params["train"] and sweep not in params["split"]:
            raise ParamsError(
                f"{source}: study.sweeps.{sweep}: not a train or split key; allowed: "
                f"{', '.join(list(params['train']) + list(params['split']))}"
            )
    grids = params.get("grids") or {}
    remedies = params["study"].get("remedies")
    if remedies:
        if remedies["grid"] not in grids:
            raise ParamsError(
                f"{source}: study.remedies.grid: {remedies['grid']!r} is not a grid; "
                f"known grids: {', '.join(grids) or '(none)'}"
            )
        variants = grids[remedies["grid"]]["variants"]
        if remedies["reference"] not in variants:
            raise ParamsError(
                f"{source}: study.remedies.reference: {remedies['reference']!r} "
                f"is not a variant of grids.{remedies['grid']}; variants: {', '.join(variants)}"
            )
    for key in ("ablations", "split_seeds"):
        grid = params["study"].get(key)
        if grid and grid not in grids:
            raise ParamsError(
                f"{source}: study.{key}: {grid!r} is not a grid; "
                f"known grids: {', '.join(grids) or '(none)'}"
            )
    twins = params["study"].get("twins")
    if twins:
        if twins not in grids:
            raise ParamsError(
                f"{source}: study.twins: {twins!r} is not a grid; "
                f"known grids: {', '.join(grids) or '(none)'}"
            )
        if len(grids[twins]["variants"]) != 1:
            raise ParamsError(
                f"{source}: grids.{twins}: the twins grid needs exactly one variant "
                f"(it has {len(grids[twins]['variants'])})"
            )
    logical = logical_runs(params)
    for name in params.get("seeds") or {}:
        if name not in logical:
            raise ParamsError(
                f"{source}: seeds.{name}: {_unknown(name, logical, 'run or grid run')}"
            )
    for key, name in study_runs(params):
        if name not in logical:
            raise ParamsError(f"{source}: {key}: {_unknown(name, logical, 'run')}")
    for name in params["benchmark"]["runs"]:
        if name not in logical:
            raise ParamsError(f"{source}: benchmark.runs: {_unknown(name, logical, 'run')}")
    return params


def study_runs(params: dict) -> list[tuple[str, str]]:
    """(params key, run name) of every run the report refers to."""
    study = params["study"]
    out = [("study.mobilenet", study["mobilenet"]), ("study.plain", study["plain"])]
    out += [("study.block_counts", r) for r in study["block_counts"]]
    out += [("study.twins", twin) for twin in twin_table(params).values()]
    for sweep, pairs in study["sweeps"].items():
        for i, runs in enumerate(pairs):
            out += [(f"study.sweeps.{sweep}[{i}]", r) for r in runs]
    for base, variants in remedy_table(params).items():
        out += [("study.remedies", base)] + [("study.remedies", name) for name in variants.values()]
    return out


def plotted_runs(params: dict) -> list[str]:
    """The runs that get the per-run figure set (plot stage): those the report shows figures of --
    the headline pair and the mobilenet run's faithful twin, seed 0 each. Every other run gets
    metrics only; the report's figures across runs are drawn by the aggregate stage from their
    tables."""
    study = params["study"]
    twins = twin_table(params)
    names = [study["mobilenet"], study["plain"], twins.get(study["mobilenet"])]
    return list(dict.fromkeys(n for n in names if n))


def twin_table(params: dict) -> dict[str, str]:
    """Base run -> its faithful twin of the original study (`study.twins`; empty without it)."""
    grid_name = params["study"].get("twins")
    grid = (params.get("grids") or {}).get(grid_name) if grid_name else None
    if not grid:
        return {}
    (variant,) = grid["variants"]
    return {base: f"{base}_{variant}" for base in grid["runs"]}


def remedy_table(params: dict) -> dict[str, dict[str, str]]:
    """Per base run of the remedies grid: variant -> run name (empty without `study.remedies`)."""
    spec = params["study"].get("remedies")
    if not spec or spec["grid"] not in (params.get("grids") or {}):
        return {}
    grid = params["grids"][spec["grid"]]
    return {base: {v: f"{base}_{v}" for v in grid["variants"]} for base in grid["runs"]}


# ------------------------------------------------------------------------------------ run expansion
NOT_INHERITED = (
    "replicate_seeds",
)  # expansion keys: they decide which runs exist, not how one trains
# The keys only some remedies read: a run depends on them only when its remedy reads them.
REMEDY_KEYS = {
    "class_weights": ("class_weights", "cb_beta"),
    "logit_adjust": ("logit_tau",),
    "focal": ("focal_gamma",),
    "augment": ("augment_scope", "augment_degrees", "augment_translate", "augment_scale"),
}


def unread_keys(cfg: dict) -> set[str]:
    """The remedy keys a run config does not read (its remedy's own keys are read; `cb_beta` only
    with `class_weights: effective`)."""
    remedy = cfg.get("remedy", "none")
    unread = {k for r, keys in REMEDY_KEYS.items() if r != remedy for k in keys}
    if remedy == "class_weights" and cfg.get("class_weights") != "effective":
        unread.add("cb_beta")
    return unread


@dataclass
class Entry:
    """How a run name came about: its logical run, the params sections that override the defaults
    (in order), and the replicate seed (None: the run's own `seed`)."""

    logical: str
    sections: list[tuple[str, dict]]  # (params key prefix, the overrides it sets)
    seed: int | None = None

    @property
    def where(self) -> str:
        return self.sections[-1][0] if self.sections else f"runs.{self.logical}"


def _sections(params: dict) -> dict[str, list[tuple[str, dict]]]:
    """Logical run name -> the override sections (params key prefix, overrides), in order."""
    out = {name: [(f"runs.{name}", ov or {})] for name, ov in params["runs"].items()}
    for grid, spec in (params.get("grids") or {}).items():
        for base in spec["runs"]:
            for variant, ov in spec["variants"].items():
                name = f"{base}_{variant}"
                if name in out:
                    raise ParamsError(
                        f"grids.{grid}: run {name} ({base} x {variant}) is already declared"
                    )
                out[name] = [
                    (f"runs.{base}", params["runs"].get(base) or {}),
                    (f"grids.{grid}.variants.{variant}", ov or {}),
                ]
    return out


def logical_runs(params: dict) -> list[str]:
    """Named runs and the runs the grids declare, before replication."""
    return list(_sections(params))


def _seeds(params: dict, name: str, sections: list[tuple[str, dict]]) -> tuple[int, list[int]]:
    """A logical run's own seed and its `replicate_seeds` (or `seeds.<name>`)."""
    merged = {**params["train"]}
    for _, ov in sections:
        merged.update(ov)
    if name in (params.get("seeds") or {}):
        merged["replicate_seeds"] = params["seeds"][name]
    return merged["seed"], merged.get("replicate_seeds", [])


def _replicate_seeds(params: dict, name: str, sections: list[tuple[str, dict]]) -> list[int]:
    """The seeds a logical run is repeated with (`<name>_s<seed>`): its replicate seeds less its
    own seed."""
    own, seeds = _seeds(params, name, sections)
    return [s for s in seeds if s != own]


def expand_runs(params: dict) -> dict[str, Entry]:
    """Every run the engines build, in order: each logical run followed by its seed replicates."""
    out: dict[str, Entry] = {}
    for name, sections in _sections(params).items():
        for seed in [None] + _replicate_seeds(params, name, sections):
            run = name if seed is None else f"{name}_s{seed}"
            if run in out:
                raise ParamsError(
                    f"run {run} is declared twice "
                    f"(replicate seeds of {name} clash with a named run)"
                )
            out[run] = Entry(name, sections, seed)
    return out


def run_names(params: dict) -> list[str]:
    return list(expand_runs(params))


# One run looked up by its name, without expanding every run: the per-run functions below
# (run_config, run_param_keys, replicates) are called once per run by the engines and the report,
# so each must not cost time in proportion to the number of runs (that made them quadratic).
_REPLICATE_NAME = re.compile(r"(.+)_s(0|[1-9][0-9]*)")


def _logical_sections(params: dict, name: str) -> list[tuple[str, dict]] | None:
    """The override sections of a logical run (as `_sections` has them), None if not one."""
    runs = params["runs"]
    if name in runs:
        return [(f"runs.{name}", runs[name] or {})]
    for grid, spec in (params.get("grids") or {}).items():
        for variant, ov in spec["variants"].items():
            base = name[: -len(variant) - 1]
            if name == f"{base}_{variant}" and base in spec["runs"]:
                return [
                    (f"runs.{base}", runs.get(base) or {}),
                    (f"grids.{grid}.variants.{variant}", ov or {}),
                ]
    return None


def _lookup(params: dict, name: str) -> Entry | None:
    """`expand_runs(params)[name]` of validated params, or None where it has no such run."""
    if not isinstance(name, str):
        return None
    sections = _logical_sections(params, name)
    if sections is not None:
        return Entry(name, sections)
    match = _REPLICATE_NAME.fullmatch(name)
    if match:
        logical, seed = match[1], int(match[2])
        sections = _logical_sections(params, logical)
        if sections is not None:
            own, seeds = _seeds(params, logical, sections)
            if seed != own and seed in seeds:
                return Entry(logical, sections, seed)
    return None


def replicates(params: dict, logical: str) -> list[str]:
    """A logical run and its seed replicates."""
    sections = _logical_sections(params, logical) if isinstance(logical, str) else None
    if sections is None:
        return []
    return [logical] + [f"{logical}_s{s}" for s in _replicate_seeds(params, logical, sections)]


# params.yaml is a few kilobytes; a file far larger is a mistake (or an attack on the parser)
MAX_PARAMS_BYTES = 1 << 20


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases: a YAML alias bomb (a billion laughs) would expand
    to gigabytes in any consumer (ours, the schema's error message, Snakemake's config)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "aliases (*name) are not allowed in params.yaml; write values out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"  # `<<: {...}`: merges, not a key


def _refuse_silent_values(loader: yaml.SafeLoader, root: yaml.Node, path: Path) -> None:
    """What YAML accepts and a params file must not hold, named with its key and line: a key
    given twice in one mapping (PyYAML and Snakemake keep the last one silently, DVC refuses the
    file) and NaN or infinity (`.nan` passes every range in the schema: each comparison with it is
    false)."""
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, key = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    stack.append((value_node, key))
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                name = loader.construct_object(key_node)
                inner = f"{key}.{name}" if key else str(name)
                line = key_node.start_mark.line + 1
                if name in seen:
                    raise ParamsError(
                        f"{path}: {_short(inner)[1:-1]} is given twice (lines {seen[name]} and "
                        f"{line}); delete one of them"
                    )
                seen[name] = line
                stack.append((value_node, inner))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(
                (item, f"{key}.{i}" if key else str(i)) for i, item in enumerate(node.value)
            )
        elif node.tag == _FLOAT_TAG:
            try:
                finite = math.isfinite(loader.construct_yaml_float(node))
            except ValueError:
                finite = False
            if not finite:
                raise ParamsError(
                    f"{path}: {_short(key or '(top level)')[1:-1]} at line "
                    f"{node.start_mark.line + 1}: {_short(node.value)[1:-1]} is not a finite "
                    "number; write a number (NaN and infinity are not allowed)"
                )


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """Parse a small YAML file (params.yaml or a config this project wrote) into Python objects;
    a missing, oversized, binary or malformed file becomes a one-line ParamsError."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_PARAMS_BYTES:
            raise ParamsError(
                f"{path}: {size:,} bytes, more than a {what} can be ({MAX_PARAMS_BYTES:,}); "
                "is it the right file?"
            )
        text = path.read_bytes().decode("utf-8")
        loader = _NoAliasLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:  # an empty file
                return None
            _refuse_silent_values(loader, node, path)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except FileNotFoundError:
        raise ParamsError(
            f"{path}: file not found; run from the repository root or pass --params"
        ) from None
    except UnicodeDecodeError as exc:
        raise ParamsError(
            f"{path}: not a text file (byte {exc.start} is not UTF-8); restore it from git"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParamsError(
            f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None


def load(path: str | Path = DEFAULT_PARAMS) -> dict:
    """Read and validate a params file; every problem becomes a one-line ParamsError."""
    return validate(read_yaml(path, "params file"), str(path))


def split_config(params: dict, name: str) -> dict:
    """The `split` defaults overridden by `splits.<name>`."""
    if name not in params["splits"]:
        raise ParamsError(
            f"unknown split {_short(name)}{did_you_mean(name, params['splits'])} "
            f"({len(params['splits'])} splits in params.yaml)"
        )
    return {**params["split"], **(params["splits"][name] or {})}


def _entry(params: dict, name: str) -> Entry:
    entry = _lookup(params, name)
    if entry is None:
        expanded = expand_runs(params)
        raise ParamsError(
            f"unknown run {_short(name)}{did_you_mean(name, expanded)} ({len(expanded)} runs in "
            "params.yaml; results/configs/runs.yaml lists them)"
        )
    return entry


def run_config(params: dict, name: str) -> dict:
    """The `train` defaults overridden by the run's sections (its `runs` entry, a grid variant),
    with the replicate's seed; without the expansion keys."""
    return _config(params, _entry(params, name))


def _config(params: dict, entry: Entry) -> dict:
    cfg = {**params["train"]}
    for _, overrides in entry.sections:
        cfg.update(overrides)
    if entry.seed is not None:
        cfg["seed"] = entry.seed
    for key in [*NOT_INHERITED, *unread_keys(cfg)]:
        cfg.pop(key, None)
    return cfg


def run_param_keys(params: dict, name: str) -> list[str]:
    """The params keys a run's training reads, one by one: the keys its sections set (the last
    section to set a key wins) and the `train` defaults it inherits. Expansion keys are left
    out, and a replicate's seed is in its name, so adding a replicate seed makes no existing run
    stale."""
    entry = _entry(params, name)
    skip = (
        set(NOT_INHERITED)
        | ({"seed"} if entry.seed is not None else set())
        | unread_keys(_config(params, entry))
    )
    owner: dict[str, str] = {}
    for prefix, keys in entry.sections:
        for k in keys:
            owner[k] = prefix
    keys = [f"{owner[k]}.{k}" for k in owner if k not in skip]
    return keys + [f"train.{k}" for k in params["train"] if k not in owner and k not in skip]


def split_param_keys(params: dict, name: str) -> list[str]:
    """The params keys a split stage reads: its own overrides and the defaults it inherits."""
    own = params["splits"][name] or {}
    return [f"splits.{name}"] + [f"split.{k}" for k in params["split"] if k not in own]
