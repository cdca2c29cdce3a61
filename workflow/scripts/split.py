"""Stage split: the imbalanced train/val split of one named split (`splits.<name>`)."""

from blockbench import stage, stages

if __name__ == "__main__":
    p = stage.parser(__doc__)
    p.add_argument("--split", required=True, help="name of the split in params.yaml `splits`")
    stage.main(lambda args, params: stages.split(params, args.split), p)
