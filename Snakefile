# blockbench pipeline under Snakemake: `snakemake --cores 4 <target>`.
# params.yaml is the single source of truth; each rule carries the resolved params it reads as
# `params:`, so Snakemake's params trigger reruns exactly the jobs whose params changed.
import sys

from blockbench import params as bbp
from blockbench import dvcgen, paths, report

configfile: "params.yaml"

try:
    bbp.validate(config, "params.yaml")
except bbp.ParamsError as exc:
    sys.exit(f"error: {exc}")

DATASET = config["data"]["dataset"]
SPLITS = list(config["splits"])
RUNS = bbp.run_names(config)  # named runs, grid runs and seed replicates, as in dvc.yaml
SCRIPTS = "workflow/scripts"


wildcard_constraints:
    split="[a-z][a-z0-9_]*",
    run="[a-z][a-z0-9_]*",


rule all:
    input:
        expand(str(paths.split_counts("{split}")), split=SPLITS),
        expand(str(paths.metrics("{run}")), run=RUNS),
        expand(str(paths.filters_dir("{run}")), run=RUNS),
        str(report.SUMMARY),


rule download:
    input:
        script=f"{SCRIPTS}/download.py",
        library=dvcgen.DOWNLOAD_LIBRARY,
    output:
        raw=str(paths.raw(DATASET)),
        info=str(paths.raw_info(DATASET)),
    params:
        data=config["data"],
    log:
        "logs/download.log",
    benchmark:
        "benchmarks/download.tsv"
    threads: 1
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python {input.script} 2>&1 | tee {log}"


rule split:
    input:
        script=f"{SCRIPTS}/split.py",
        library=dvcgen.SPLIT_LIBRARY,
        raw=rules.download.output.raw,
    output:
        prepared=str(paths.prepared("{split}")),
        counts=str(paths.split_counts("{split}")),
        figure=str(paths.split_figure("{split}")),
    params:
        dataset=DATASET,
        split=lambda w: bbp.split_config(config, w.split),
    log:
        "logs/split/{split}.log",
    benchmark:
        "benchmarks/split/{split}.tsv"
    threads: 1
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python {input.script} --split {wildcards.split} 2>&1 | tee {log}"


rule train:
    input:
        script=f"{SCRIPTS}/train.py",
        library=dvcgen.TRAIN_LIBRARY,
        split=lambda w: str(paths.prepared(bbp.run_config(config, w.run)["split"])),
    output:
        model=str(paths.model("{run}")),
        history=str(paths.history("{run}")),
        info=str(paths.train_info("{run}")),
    params:
        run=lambda w: bbp.run_config(config, w.run),
    log:
        "logs/train/{run}.log",
    benchmark:
        "benchmarks/train/{run}.tsv"
    threads: 2
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python {input.script} --run {wildcards.run} --threads {threads} 2>&1 | tee {log}"


rule evaluate:
    input:
        script=f"{SCRIPTS}/evaluate.py",
        library=dvcgen.EVALUATE_LIBRARY,
        model=str(paths.model("{run}")),
        split=lambda w: str(paths.prepared(bbp.run_config(config, w.run)["split"])),
    output:
        predictions=str(paths.predictions("{run}")),
        metrics=str(paths.metrics("{run}")),
        confusion=str(paths.confusion("{run}")),
        roc=str(paths.roc("{run}")),
    params:
        minority=lambda w: bbp.split_config(config, bbp.run_config(config, w.run)["split"])["minority_classes"],
        evaluate=config["evaluate"],
    log:
        "logs/evaluate/{run}.log",
    benchmark:
        "benchmarks/evaluate/{run}.tsv"
    threads: 1
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python {input.script} --run {wildcards.run} 2>&1 | tee {log}"


rule plot:
    input:
        script=f"{SCRIPTS}/plot.py",
        library=dvcgen.PLOT_LIBRARY,
        model=str(paths.model("{run}")),
        history=str(paths.history("{run}")),
        info=str(paths.train_info("{run}")),
        metrics=str(paths.metrics("{run}")),
        predictions=str(paths.predictions("{run}")),
        split=lambda w: str(paths.prepared(bbp.run_config(config, w.run)["split"])),
    output:
        [str(paths.figures_dir("{run}") / f"{name}.png") for name in paths.RUN_FIGURES],
        filters=directory(str(paths.filters_dir("{run}"))),
    log:
        "logs/plot/{run}.log",
    benchmark:
        "benchmarks/plot/{run}.tsv"
    threads: 1
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python {input.script} --run {wildcards.run} 2>&1 | tee {log}"


rule aggregate:
    input:
        script=f"{SCRIPTS}/aggregate.py",
        library=dvcgen.AGGREGATE_LIBRARY,
        runs=dvcgen.aggregate_inputs(config),
    output:
        summary=str(report.SUMMARY),
        summary_json=str(report.SUMMARY_JSON),
        tables=directory(str(report.TABLES)),
        figures=directory(str(report.FIGURES)),
    params:
        study=config["study"],
    log:
        "logs/aggregate.log",
    benchmark:
        "benchmarks/aggregate.tsv"
    threads: 1
    conda:
        "workflow/envs/blockbench.yaml"
    shell:
        "python {input.script} 2>&1 | tee {log}"
