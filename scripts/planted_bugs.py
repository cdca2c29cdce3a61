"""The example bugs of the issue "Tests that fail when the code is wrong", planted by hand one at a
time in a copy of the repository; each must make a fast test fail (the stamp test left out).

    python scripts/planted_bugs.py            # prints KILLED or SURVIVED per planted bug

A check of the oracles, beside the mutation benchmark (scripts/mutation_benchmark.py): these are
the bugs a reader would plant, the mutants are the ones a tool generates.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutation_benchmark import copy_repository  # noqa: E402

STAMP_TEST = "tests/test_codedeps.py::test_committed_keys_are_in_sync_with_params_and_code"
# (bug, file, text, planted text, fast test files that must notice)
PLANTS = [
    (
        "minority recall read from the precision column",
        "src/blockbench/evaluation.py",
        'recall = {c: per_class[str(c)]["recall"] for c in labels}',
        'recall = {c: per_class[str(c)]["precision"] for c in labels}',
        "tests/test_oracles.py",
    ),
    (
        "removed runs' configs never deleted",
        "src/blockbench/keys.py",
        "old != root / paths.RUN_LIST:\n            old.unlink()",
        "old != root / paths.RUN_LIST:\n            pass",
        "tests/test_oracles.py",
    ),
    (
        "Holm p not capped at 1",
        "src/blockbench/report/statistics.py",
        "min(1.0, ",
        "(",
        "tests/test_oracles.py",
    ),
    (
        "verdict on the raw p",
        "src/blockbench/report/statistics.py",
        "c.verdict = verdict(c.kind, p, p_eq, self.alpha)",
        "c.verdict = verdict(c.kind, c.result['p'], p_eq, self.alpha)",
        "tests/test_oracles.py",
    ),
    (
        "claim rule direction flipped",
        "src/blockbench/report/claims.py",
        'return "holds" if (up if want == "higher" else down) else "does not hold"',
        'return "holds" if (down if want == "higher" else up) else "does not hold"',
        "tests/test_oracles.py",
    ),
    (
        "speed verdict direction flipped",
        "src/blockbench/report/__init__.py",
        'faster = [c.verdict == statistics.DIFFERENT and c.result["diff"] < 0 for c in comps]',
        'faster = [c.verdict == statistics.DIFFERENT and c.result["diff"] > 0 for c in comps]',
        "tests/test_oracles.py",
    ),
    (
        "inside the twin's PI negated",
        "src/blockbench/report/claims.py",
        'row["reproduced by the twin"] = "n/a" if inside is None else "yes" if inside else "no"',
        'row["reproduced by the twin"] = "n/a" if inside is None else "no" if inside else "yes"',
        "tests/test_oracles.py",
    ),
    (
        "bootstrap at 50%",
        "src/blockbench/evaluation.py",
        "level: float = CI_LEVEL,",
        "level: float = 0.5,",
        "tests/test_oracles.py tests/test_evaluation.py",
    ),
    (
        "floor for the kept minority count",
        "src/blockbench/split.py",
        "int(round(keep_fraction * len(idx)))",
        "int(keep_fraction * len(idx))",
        "tests/test_oracles.py tests/test_split.py",
    ),
    (
        "majority dropped without stratification",
        "src/blockbench/split.py",
        "n_major_keep, stratify=y[major], random_state=seed)",
        "n_major_keep, random_state=seed)",
        "tests/test_oracles.py tests/test_split.py",
    ),
    (
        "augment_degrees ignored",
        "src/blockbench/remedies.py",
        'degrees=cfg.get("augment_degrees", 10.0)',
        "degrees=10.0",
        "tests/test_oracles.py tests/test_remedies.py",
    ),
    (
        "validation balanced accuracy = accuracy",
        "src/blockbench/evaluation.py",
        '"balanced_accuracy": float(np.mean(recall)),',
        '"balanced_accuracy": float(skm.accuracy_score(y_val, y_pred)),',
        "tests/test_oracles.py tests/test_evaluation.py",
    ),
    # issue 35 item 9: the key files and every output's mode
    (
        "split configs never removed",
        "src/blockbench/keys.py",
        'if old.stem not in params["splits"]:\n            old.unlink()',
        'if old.stem not in params["splits"]:\n            pass',
        "tests/test_outputs.py",
    ),
    (
        "write only if changed always rewriting",
        "src/blockbench/storage.py",
        "if path.is_file() and path.read_text() == text:",
        "if False:",
        "tests/test_outputs.py",
    ),
    (
        "outputs left with mode 0600",
        "src/blockbench/storage.py",
        "os.chmod(tmp, 0o666 & ~_umask())",
        "None",
        "tests/test_outputs.py",
    ),
    # issue 35 items 2 and 6: bad inputs stop in one line, exit 2, nothing written
    (
        "evaluate takes another run's model.pt",
        "src/blockbench/stages/evaluate.py",
        "    check_model(ckpt, cfg, run, model_path)\n",
        "",
        "tests/test_bad_inputs.py",
    ),
    (
        "evaluate takes 20x20 raw images",
        "src/blockbench/stages/evaluate.py",
        '    check_images(test, "test", raw, "delete it and rerun the download stage", '
        "every_class=True)\n",
        "",
        "tests/test_bad_inputs.py",
    ),
    (
        "aggregate takes a metrics.json of {}",
        "src/blockbench/report/runs.py",
        "    error = jsonschema.exceptions.best_match(",
        "    error = None and jsonschema.exceptions.best_match(",
        "tests/test_bad_inputs.py",
    ),
    (
        "predict takes a .npy of strings",
        "src/blockbench/predict.py",
        "np.issubdtype(batch.dtype, np.integer) or np.issubdtype(batch.dtype, np.floating)",
        "True",
        "tests/test_bad_inputs.py",
    ),
    (
        "predict lets DecompressionBombError through",
        "src/blockbench/predict.py",
        "except (Image.DecompressionBombError, Image.DecompressionBombWarning)",
        "except (Image.DecompressionBombWarning,)",
        "tests/test_bad_inputs.py",
    ),
]


def main() -> int:
    work = Path(os.environ.get("PLANT_DIR", "/tmp/blockbench-planted"))
    copy_repository(work, fresh=False)
    survived = 0
    for name, rel, old, new, tests in PLANTS:
        path = work / rel
        text = path.read_text()
        if old not in text:
            print(f"NOT FOUND {name}: the code changed, update this script")
            survived += 1
            continue
        path.write_text(text.replace(old, new, 1))
        try:
            cmd = [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-x"]
            cmd += ["-p", "no:cacheprovider", "--deselect", STAMP_TEST, *tests.split()]
            env = {**os.environ, "PYTHONPATH": str(work / "src")}
            r = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env)
            failed = [line for line in r.stdout.splitlines() if line.startswith("FAILED")]
            survived += r.returncode == 0
            print(f"{'KILLED  ' if r.returncode else 'SURVIVED'} {name}: {failed[:1]}", flush=True)
        finally:
            path.write_text(text)
    print(f"{len(PLANTS) - survived} of {len(PLANTS)} planted bugs make a fast test fail")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
