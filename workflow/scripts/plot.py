"""Stage plot: every figure of one run (curves, confusion, ROC, t-SNE, example grids, filters)."""

from blockbench import cli
from blockbench.stages import plot

if __name__ == "__main__":
    p = cli.parser(__doc__)
    p.add_argument("--run", required=True, help="name of the run (results/configs/<run>.yaml)")
    cli.main(lambda args, params: plot.run(params, args.run), p)
