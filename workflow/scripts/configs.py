"""Stage configs: write the files both engines key reruns on (blockbench.keys): one resolved config
per run and per split, the run list, and Snakemake's code fingerprints. Unchanged files are left
untouched.

`--plan` writes nothing and lists the stages a params change will rerun (what `dvc status` cannot
name before this stage has run). `--in-dvc` is how dvc.yaml runs it: DVC reads the run list
(results/configs/runs.yaml) when it parses dvc.yaml, before this stage rewrites it, so a run added
to (or removed from) params.yaml is not in the DAG of the `dvc repro` that adds it; the stage then
writes the new list and stops that repro with one line saying to run it again.
"""

import argparse
import sys

from blockbench import keys, params
from blockbench.errors import BlockbenchError, describe_os_error


def main(args: argparse.Namespace) -> int:
    cfg = params.load(args.params)
    if args.plan:
        changes = keys.plan(cfg)
        for stage, why in changes:
            print(f"{stage:<40} {why}")
        print(
            f"configs: {len(changes)} stages change with params.yaml"
            + ("; `dvc repro` reruns them and what follows" if changes else "")
        )
        return 0
    before = keys.listed_runs()
    runs = keys.write(cfg)
    print(f"configs: {len(runs)} runs")
    if args.in_dvc and before is not None and set(runs) != set(before):
        added = [r for r in runs if r not in before]
        removed = [r for r in before if r not in runs]
        change = "; ".join(
            f"{what} {', '.join(names[:5])}{' …' if len(names) > 5 else ''} ({len(names)})"
            for what, names in (("adds", added), ("removes", removed))
            if names
        )
        print(
            f"error: params.yaml {change}: this `dvc repro` read the old run list, so it stops "
            "before training; run `dvc repro` again (results/configs/runs.yaml is now current)",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--params", default=params.DEFAULT_PARAMS, help="params file (default: params.yaml)"
    )
    p.add_argument(
        "--plan", action="store_true", help="write nothing; list the stages a change reruns"
    )
    p.add_argument(
        "--in-dvc",
        action="store_true",
        help="as DVC's configs stage: stop (exit 2) when the run list changes",
    )
    args = p.parse_args()
    try:
        sys.exit(main(args))
    except BlockbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        sys.exit(2)
