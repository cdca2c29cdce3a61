"""Stage aggregate: the study's tables, comparison figures, results/summary.md and summary.json."""

from blockbench import report, stage

if __name__ == "__main__":
    stage.main(lambda args, params: report.aggregate(params), stage.parser(__doc__))
