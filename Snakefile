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
import sys

from snakemake.exceptions import WorkflowError

from blockbench import checkout, codedeps, keys, params as bbp, paths, targets
from blockbench.errors import BlockbenchError, describe_os_error


def stop(exc):
    """A user's mistake: one line on stderr and exit status 2, as every stage script does."""
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)


# Our own loader first: it refuses YAML aliases and oversized files and names the line of a
# syntax error, where Snakemake's `configfile:` would expand an alias bomb or print nothing.
try:
    bbp.load("params.yaml")
except BlockbenchError as exc:
    stop(exc)

configfile: "params.yaml"

try:
    bbp.validate(config, "params.yaml")
    # one engine at a time (blockbench.checkout); not again in the jobs of a cluster run, which
    # parse this file again
    checkout.one_engine_at_a_time(workflow.is_main_process)
    RUNS = keys.write(config)  # run -> split; only files whose content changed are rewritten
    if workflow.is_main_process:  # a misspelt run or split as a target: one line, exit 2
        if bad := targets.unknown_target(sys.argv, RUNS, config["splits"]):
            stop(bad)
    if workflow.is_main_process and checkout.plans_jobs(sys.argv):
        # a run's committed files missing (rm -r, a killed training): the report reruns and
        # rebuilds them (blockbench.targets)
        if gone := targets.mark_incomplete(RUNS):
            shown = " ".join(gone[:8]) + (f" and {len(gone) - 8} more" if len(gone) > 8 else "")
            print(f"runs with committed files missing, to rebuild: {shown}", file=sys.stderr)
    if workflow.is_main_process and checkout.plans_jobs(sys.argv):
        # data/ up to date before the DAG (a fresh clone, a code edit every stage imports), or
        # Snakemake would plan every training behind a data job, or hide them (blockbench.checkout)
        checkout.update_data(config["data"]["dataset"], list(config["splits"]))
except BlockbenchError as exc:
    stop(exc)
except OSError as exc:  # a read-only checkout, a full disk: one line, as the stages say it
    stop(describe_os_error(exc))

PLOTTED = bbp.plotted_runs(config)  # the runs with a per-run figure set
DATASET = config["data"]["dataset"]
SPLITS = list(config["splits"])
RAW = str(paths.raw(DATASET))
BENCHMARKED = config["benchmark"]["runs"]  # the runs whose architectures the benchmark times


# `snakemake --report report.zip`: the summary, the study figures, the tables and the plotted runs'
# figures, each with a caption (workflow/report/)
report: "workflow/report/workflow.rst"

# The summary page goes into the report with the files it shows and links to (a copy of the page
# and of those files in one folder, made while a --report command line parses), and the report's
# run is quiet: blockbench.snakemake_report.
from blockbench import snakemake_report

REPORT_PAGE = []
if workflow.is_main_process and snakemake_report.is_report(sys.argv):
    try:
        REPORT_PAGE = [report(str(snakemake_report.assemble()), htmlindex="summary.html",
                              category="Summary", caption="workflow/report/summary.rst")]
    except BlockbenchError as exc:
        stop(exc)
    except OSError as exc:
        stop(describe_os_error(exc))
    snakemake_report.quiet_missing_metadata()


wildcard_constraints:
    split="[a-z][a-z0-9_]*",
    run="[a-z][a-z0-9_]*",


def code(stage):
    """A stage's code inputs: its files (ancient) and the fingerprint of them and its params."""
    return {"stamp": str(keys.stamp_path(stage)),
            "code": [ancient(f) for f in codedeps.stage_code(stage)]}


def split_of(wildcards):
    return ancient(str(paths.prepared(RUNS[wildcards.run])))


# Resources per job, for a cluster (workflow/profiles/slurm): `threads` is the CPU request, mem_mb
# (peak RSS on MNIST, measured, with headroom) and runtime (minutes) bound it; train asks for one
# GPU when `compute.device` is cuda. Run locally, Snakemake only checks them against --resources.
def cpus(wildcards, threads):
    return threads


GPUS = int((config.get("compute") or {}).get("device") == "cuda")

# The benchmark runs alone: it asks for every core Snakemake may use (--cores), so no other job
# starts beside it. A cluster run without --cores asks for its own thread count (on a shared node,
# `--set-resources benchmark:slurm_extra="'--exclusive'"` gives it the node).
try:
    ALL_CORES = workflow.cores
except WorkflowError:
    ALL_CORES = config["benchmark"]["threads"]


rule all:
    input:
        expand("results/runs/{run}/figures", run=PLOTTED),
        str(paths.SUMMARY),
        REPORT_PAGE,  # only under --report: the summary page (above)


rule data:
    input:
        RAW,
        expand("data/prepared/{split}/split.npz", split=SPLITS),


rule download:
    input:
        **code("download"),
    output:
        raw=RAW,
        info=str(paths.raw_info(DATASET)),
    log:
        "logs/download.log",
    benchmark:
        "benchmarks/download.tsv"
    threads: 1
    resources:
        cpus_per_task=cpus,
        mem_mb=2000,
        runtime=30,
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python workflow/scripts/download.py 2>&1 | tee {log}"


rule split:
    input:
        **code("split"),
        config="results/configs/splits/{split}.yaml",
        raw=RAW,
    output:
        prepared="data/prepared/{split}/split.npz",
        counts="results/splits/{split}/counts.json",
        figure="results/splits/{split}/class_distribution.png",
    log:
        "logs/split/{split}.log",
    benchmark:
        "benchmarks/split/{split}.tsv"
    threads: 1
    resources:
        cpus_per_task=cpus,
        mem_mb=2000,
        runtime=15,
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python workflow/scripts/split.py --split {wildcards.split} 2>&1 | tee {log}"


rule train:
    input:
        **code("train"),
        config="results/configs/{run}.yaml",
        data_code=[str(keys.stamp_path("download")), str(keys.stamp_path("split"))],
        split=split_of,
    output:
        trained_config="results/runs/{run}/config.yaml",
        model="results/runs/{run}/model.pt",
        info="results/runs/{run}/train.json",
        history="results/runs/{run}/history.csv",
    log:
        "logs/train/{run}.log",
    benchmark:
        "benchmarks/train/{run}.tsv"
    threads: 2
    resources:
        cpus_per_task=cpus,
        mem_mb=6000,
        runtime=120,
        gpu=GPUS,
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        # a fixed torch thread count, as in dvc.yaml: CPU reductions split by thread, so the same
        # count on every machine and under both engines gives the same weights
        "python workflow/scripts/train.py --run {wildcards.run} --threads 2 2>&1 | tee {log}"


rule evaluate:
    input:
        **code("evaluate"),
        config="results/runs/{run}/config.yaml",
        model=ancient("results/runs/{run}/model.pt"),
        data_code=str(keys.stamp_path("download")),
        test=ancient(RAW),
        split=split_of,  # the validation images
    output:
        metrics="results/runs/{run}/metrics.json",
        confusion="results/runs/{run}/confusion.csv",
        roc="results/runs/{run}/roc.csv",
        pr="results/runs/{run}/pr.csv",
        reliability="results/runs/{run}/reliability.csv",
    log:
        "logs/evaluate/{run}.log",
    benchmark:
        "benchmarks/evaluate/{run}.tsv"
    threads: 1
    resources:
        cpus_per_task=cpus,
        mem_mb=3000,
        runtime=20,
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python workflow/scripts/evaluate.py --run {wildcards.run} 2>&1 | tee {log}"


rule plot:
    input:
        **code("plot"),
        config="results/runs/{run}/config.yaml",
        model=ancient("results/runs/{run}/model.pt"),
        info=ancient("results/runs/{run}/train.json"),
        history=ancient("results/runs/{run}/history.csv"),
        metrics=ancient("results/runs/{run}/metrics.json"),
        confusion="results/runs/{run}/confusion.csv",
        data_code=str(keys.stamp_path("download")),
        test=ancient(RAW),
    output:
        figures=report(
            directory("results/runs/{run}/figures"),
            patterns=["{name}.png"],
            category="Per-run figures",
            subcategory="{run}",
            caption="workflow/report/run_figure.rst",
        ),
    log:
        "logs/plot/{run}.log",
    benchmark:
        "benchmarks/plot/{run}.tsv"
    threads: 1
    resources:
        cpus_per_task=cpus,
        mem_mb=3000,
        runtime=20,
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python workflow/scripts/plot.py --run {wildcards.run} 2>&1 | tee {log}"


rule benchmark:
    input:
        **code("benchmark"),
        config=str(paths.BENCHMARK_CONFIG),
    output:
        timings=[str(paths.benchmark(run)) for run in BENCHMARKED],
    log:
        "logs/benchmark.log",
    benchmark:
        "benchmarks/benchmark.tsv"
    threads: ALL_CORES
    resources:
        cpus_per_task=cpus,
        mem_mb=6000,
        runtime=30,
        gpu=GPUS,
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        # torch threads: benchmark.threads (params.yaml); `threads` here only keeps it alone
        "python workflow/scripts/benchmark.py 2>&1 | tee {log}"


rule aggregate:
    input:
        **code("aggregate"),
        runs=expand("results/runs/{run}/{file}", run=RUNS,
                    file=["train.json", "history.csv", "metrics.json", "confusion.csv", "pr.csv",
                          "reliability.csv"]),
        figures=expand("results/runs/{run}/figures", run=PLOTTED),
        benchmark=[str(paths.benchmark(run)) for run in BENCHMARKED],
        # touched when a run's files are missing (blockbench.targets): Snakemake would otherwise
        # call an up-to-date report done and never rebuild them
        complete=targets.COMPLETE_STAMP,
        # ancient: a fresh clone rebuilds the splits (same content); a split that really changes
        # changes its runs' configs, and so reruns this rule through the runs' files
        splits=[ancient(f) for f in expand("results/splits/{split}/{file}", split=SPLITS,
                                           file=["counts.json", "class_distribution.png"])],
    output:
        summary=str(paths.SUMMARY),
        summary_html=str(paths.SUMMARY_HTML),  # in the report with its files: REPORT_PAGE
        summary_json=str(paths.SUMMARY_JSON),
        tables=report(
            directory(str(paths.TABLES)),
            patterns=["{name}.csv"],
            category="Tables",
            caption="workflow/report/table.rst",
        ),
        figures=report(
            directory(str(paths.FIGURES)),
            patterns=["{name}.png"],
            category="Study figures",
            caption="workflow/report/study_figure.rst",
        ),
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    threads: 1
    resources:
        cpus_per_task=cpus,
        mem_mb=4000,
        runtime=30,
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python workflow/scripts/aggregate.py 2>&1 | tee {log}"
