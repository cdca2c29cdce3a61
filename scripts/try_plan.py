"""Train one run of params.yaml with another channel/downsampling plan and print its \
validation figures.

How the default plan was chosen (docs/benchmarks.md, "Choosing the channel plan"):

    .venv/bin/python scripts/try_plan.py --run c1m3 --widths 16,32,64,128 --strides 1,2,2,2 --seed 0

`--cosine` decays the learning rate to 0 over the epochs (a one-off check; blockbench itself keeps
it constant). Appends one JSON line per run to --out.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from blockbench import params, paths, training
from blockbench.storage import load_npz


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="c1m3", help="a run of params.yaml; its other keys are kept")
    p.add_argument("--widths", type=ints, help="e.g. 32,64,64,128 (default: the run's)")
    p.add_argument("--strides", type=ints, help="e.g. 1,2,2,2 (default: the run's)")
    p.add_argument("--seed", type=int)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--cosine", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--out", default="logs/try_plan.jsonl", help="JSON lines file (logs/ is git-ignored)"
    )
    args = p.parse_args()

    cfg = dict(params.run_config(params.load(), args.run))
    for key, value in (
        ("widths", args.widths),
        ("strides", args.strides),
        ("seed", args.seed),
        ("weight_decay", args.weight_decay),
    ):
        if value is not None:
            cfg[key] = value
    if args.cosine:
        epoch_fn, state = training.train_one_epoch, {"epoch": 0}

        def cosine_epoch(model, optimizer, *rest, **kw):
            for group in optimizer.param_groups:
                group["lr"] = (
                    0.5 * cfg["lr"] * (1 + math.cos(math.pi * state["epoch"] / cfg["epochs"]))
                )
            state["epoch"] += 1
            return epoch_fn(model, optimizer, *rest, **kw)

        training.train_one_epoch = cosine_epoch

    split = load_npz(paths.prepared(cfg["split"]))
    result = training.train(cfg, split, threads=args.threads, name=args.run)
    info = result.info
    row = {
        "run": args.run,
        "widths": cfg["widths"],
        "strides": cfg["strides"],
        "seed": cfg["seed"],
        "weight_decay": cfg["weight_decay"],
        "cosine": args.cosine,
        "parameters": info["parameters"],
        "macs_per_image": info["macs_per_image"],
        "selected_epoch": info["selected_epoch"],
        "val_acc_selected": info["selected"]["val_acc"],
        "val_acc_last": info["last_epoch"]["val_acc"],
        "seconds_per_epoch": info["seconds_per_epoch"],
    }
    print(json.dumps(row))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
