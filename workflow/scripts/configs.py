"""Stage configs: write the files both engines key reruns on (blockbench.keys): one resolved config
per run and per split, the run list, and Snakemake's code fingerprints. Unchanged files are left
untouched."""

import argparse
import sys

from blockbench import keys, params
from blockbench.errors import BlockbenchError

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--params", default=params.DEFAULT_PARAMS, help="params file (default: params.yaml)"
    )
    args = p.parse_args()
    try:
        runs = keys.write(params.load(args.params))
    except BlockbenchError as exc:
        sys.exit(f"error: {exc}")
    print(f"configs: {len(runs)} runs")
