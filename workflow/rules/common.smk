# What the rules share: params.yaml loaded and checked, the keys written, the helpers the rules
# call. Included first by the Snakefile; paths in directives are relative to this file.
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



# The summary page goes into the report with the files it shows and links to (a copy of the page
# and of those files in one folder, made while a --report command line parses), and the report's
# run is quiet: blockbench.snakemake_report.
from blockbench import snakemake_report

REPORT_PAGE = []
if workflow.is_main_process and snakemake_report.is_report(sys.argv):
    try:  # its caption path is relative to the root Snakefile, whose `all` uses the page
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
