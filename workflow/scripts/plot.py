"""Stage plot: every figure of one run (curves, confusion, ROC, t-SNE, example grids, filters)."""

from blockbench import stage, stages

if __name__ == "__main__":
    p = stage.parser(__doc__)
    p.add_argument("--run", required=True, help="name of the run in params.yaml `runs`")
    stage.main(lambda args, params: stages.plot(params, args.run), p)
