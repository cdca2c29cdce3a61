# blockbench under Snakemake: `snakemake --cores 4 results/summary.md`. params.yaml is the one source
# of truth; dvc.yaml describes the same DAG for DVC.
#
# How reruns stay exact (README, "Caching"). Snakemake reruns a job when an input is newer than
# its outputs, or when a job of the same invocation rewrites one of its non-ancient inputs. It keeps
# no record of jobs run elsewhere (a fresh clone), and a clone writes files in path order. So:
# - rules key on small files rewritten only when their content changes, written here at parse
#   time by blockbench.keys: results/configs/<run>.yaml (train), results/configs/splits/<split>.yaml
#   (split), results/configs/benchmark/runs.yaml (benchmark) and results/code/<stage>.sha256 (a
#   stage's code, derived from its imports, and the params sections it reads); all sort before the
#   outputs made from them;
# - a rule's non-ancient inputs from upstream rules sort before its outputs (train's copy of the
#   config, results/runs/<run>/config.yaml, links it to evaluate and plot; evaluate's
#   confusion.csv links it to plot; aggregate writes after runs/, speed/ and splits/), so a fresh clone
#   has nothing to do and a rerun still reruns what follows;
# - the rest is ancient(): code files (declared; keyed by the fingerprint), data/ (rebuilt on a
#   clone and brought up to date before planning: blockbench.checkout), and outputs already linked
#   by another file.
# Parsing imports neither torch nor pandas.
include: "workflow/rules/common.smk"


# `snakemake --report report.zip`: the summary, the study figures, the tables and the plotted runs'
# figures, each with a caption (workflow/report/)
report: "workflow/report/workflow.rst"


rule all:
    input:
        expand("results/runs/{run}/figures", run=PLOTTED),
        str(paths.SUMMARY),
        REPORT_PAGE,  # only under --report: the summary page (workflow/rules/common.smk)


# The rules, one file per step (as the Snakemake workflow catalog lays them out)
include: "workflow/rules/data.smk"
include: "workflow/rules/runs.smk"
include: "workflow/rules/report.smk"
