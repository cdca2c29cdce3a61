"""Stage evaluate: test-set metrics, predictions, confusion and ROC tables of one run."""

from blockbench import stage, stages

if __name__ == "__main__":
    p = stage.parser(__doc__)
    p.add_argument("--run", required=True, help="name of the run in params.yaml `runs`")
    stage.main(lambda args, params: stages.evaluate(params, args.run), p)
