"""Stage aggregate: the study's tables, comparison figures, results/summary.md and summary.json."""

from blockbench import cli, report

if __name__ == "__main__":
    cli.main(lambda args, params: report.aggregate(params), cli.parser(__doc__))
