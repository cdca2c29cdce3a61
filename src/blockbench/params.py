"""params.yaml: load, check against the schema, and resolve named splits and runs.

`splits.<name>` overrides the `split` defaults and `runs.<name>` overrides the `train` defaults;
`split_config` and `run_config` return the merged view a stage works with.
"""

from __future__ import annotations

import functools
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


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    """One line naming the key and what is allowed."""
    key = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = f"{key}." if error.absolute_path else ""
        return (f"unknown key {', '.join(where + e for e in extra)}; "
                f"allowed keys{' in ' + key if error.absolute_path else ''}: {', '.join(allowed)}")
    if error.validator == "propertyNames":
        return f"{key}: name {error.instance!r} is not allowed (lower case letters, digits and _, starting with a letter)"
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"{key}: {error.instance!r} is not one of: {allowed}"
    if error.validator == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"{key}: {error.instance!r} has the wrong type; expected {want}"
    if error.validator == "required":
        return f"{key}: {error.message}"
    return f"{key}: {error.message}"


def validate(params: Any, source: str = DEFAULT_PARAMS) -> dict:
    """Check params against the schema and the cross-references between sections."""
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        # The deepest error is the most specific one (an `allOf` wrapper reports the same key twice).
        best = jsonschema.exceptions.best_match(errors)
        raise ParamsError(f"{source}: {_describe(best)}")
    for name in params["runs"]:
        split = run_config(params, name)["split"]
        if split not in params["splits"]:
            raise ParamsError(f"{source}: runs.{name}.split: {split!r} is not a named split; "
                              f"known splits: {', '.join(params['splits'])}")
        cfg = run_config(params, name)
        if cfg["max_width"] < cfg["base_width"]:
            raise ParamsError(f"{source}: runs.{name}: max_width ({cfg['max_width']}) is below "
                              f"base_width ({cfg['base_width']})")
    for sweep in params["study"]["sweeps"]:
        if sweep not in params["train"] and sweep not in params["split"]:
            raise ParamsError(f"{source}: study.sweeps.{sweep}: not a train or split key; allowed: "
                              f"{', '.join(list(params['train']) + list(params['split']))}")
    for key, name in study_runs(params):
        if name not in params["runs"]:
            raise ParamsError(f"{source}: {key}: {name!r} is not a named run; known runs: {', '.join(params['runs'])}")
    return params


def study_runs(params: dict) -> list[tuple[str, str]]:
    """(params key, run name) of every run the report refers to."""
    study = params["study"]
    out = [("study.mobilenet", study["mobilenet"]), ("study.plain", study["plain"])]
    out += [("study.block_counts", r) for r in study["block_counts"]]
    if study.get("double_softmax"):
        out.append(("study.double_softmax", study["double_softmax"]))
    for sweep, pairs in study["sweeps"].items():
        for i, runs in enumerate(pairs):
            out += [(f"study.sweeps.{sweep}[{i}]", r) for r in runs]
    return out


def load(path: str | Path = DEFAULT_PARAMS) -> dict:
    """Read and validate a params file; every problem becomes a one-line ParamsError."""
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found; run from the repository root or pass --params") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ParamsError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return validate(params, str(path))


def split_config(params: dict, name: str) -> dict:
    """The `split` defaults overridden by `splits.<name>`."""
    if name not in params["splits"]:
        raise ParamsError(f"unknown split {name!r}; known splits: {', '.join(params['splits'])}")
    return {**params["split"], **(params["splits"][name] or {})}


def run_config(params: dict, name: str) -> dict:
    """The `train` defaults overridden by `runs.<name>`."""
    if name not in params["runs"]:
        raise ParamsError(f"unknown run {name!r}; known runs: {', '.join(params['runs'])}")
    return {**params["train"], **(params["runs"][name] or {})}


def run_param_keys(params: dict, name: str) -> list[str]:
    """The params keys a run's training reads: its own overrides and the defaults it inherits."""
    own = params["runs"][name] or {}
    return [f"runs.{name}"] + [f"train.{k}" for k in params["train"] if k not in own]


def split_param_keys(params: dict, name: str) -> list[str]:
    """The params keys a split stage reads: its own overrides and the defaults it inherits."""
    own = params["splits"][name] or {}
    return [f"splits.{name}"] + [f"split.{k}" for k in params["split"] if k not in own]
