"""Stage evaluate: test-set metrics, per-image predictions and ROC table of one run."""

from blockbench import cli
from blockbench.stages import evaluate

if __name__ == "__main__":
    p = cli.parser(__doc__)
    p.add_argument("--run", required=True, help="name of the run (results/configs/<run>.yaml)")
    cli.main(lambda args, params: evaluate.run(params, args.run), p)
