"""Stage aggregate: the study's tables, comparison figures, results/summary.md and summary.json."""

from blockbench import cli, report


def arguments():
    p = cli.parser(__doc__)
    p.add_argument(
        "--interim",
        action="store_true",
        help="leave out the declared runs not trained with their current config yet, and say so "
        "under the report's title (by hand only; the engines' stage never passes it)",
    )
    return p


if __name__ == "__main__":
    cli.main(
        lambda args, params: report.aggregate(params, require_current=not args.interim), arguments()
    )
