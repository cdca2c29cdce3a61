"""Stage split: the imbalanced train/val split of one named split (`splits.<name>`)."""

from blockbench import cli
from blockbench.stages import split

if __name__ == "__main__":
    p = cli.parser(__doc__)
    p.add_argument("--split", required=True, help="name of the split in params.yaml `splits`")
    cli.main(lambda args, params: split.run(params, args.split), p)
