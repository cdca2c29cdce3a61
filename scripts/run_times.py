"""Print the per-run training figures recorded in results/runs/*/train.json and metrics.json.

.venv/bin/python scripts/run_times.py            # Markdown table for docs/benchmarks.md
"""

from __future__ import annotations

import json
from pathlib import Path

RUNS = Path("results/runs")


def main() -> None:
    print(
        "| run | remedy | seed | train images | epochs | s/epoch | train wall s | train img/s | "
        "selected epoch | val acc (selected) | val acc (last) | test acc | minority recall | "
        "threads | device |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    total = 0.0
    for d in sorted(RUNS.iterdir()):
        t = json.loads((d / "train.json").read_text())
        m = json.loads((d / "metrics.json").read_text()) if (d / "metrics.json").exists() else {}
        total += t["wall_seconds"]
        print(
            f"| {d.name} | {t.get('remedy', 'none')} | {t['seed']} | {t['n_train']:,} | "
            f"{t['config']['epochs']} | {t['seconds_per_epoch']:.2f} | {t['wall_seconds']:.0f} | "
            f"{t['train_images_per_second']:.0f} | {t['selected_epoch']} | "
            f"{100 * t['selected']['val_acc']:.2f}% | {100 * t['last_epoch']['val_acc']:.2f}% | "
            f"{100 * m.get('accuracy', float('nan')):.2f}% | "
            f"{m.get('minority_recall_mean', float('nan')):.3f} | {t['threads']} | {t['device']} |"
        )
    print(f"\ntotal training wall time: {total / 60:.1f} min over {len(list(RUNS.iterdir()))} runs")


if __name__ == "__main__":
    main()
