# blockbench pipeline under Snakemake: `snakemake --cores 4 <target>`.
# params.yaml is the single source of truth; each rule carries the resolved params it reads as
# `params:`, so Snakemake's params trigger reruns exactly the jobs whose params changed.
import sys

from blockbench import params as bbp
from blockbench import paths

configfile: "params.yaml"

try:
    bbp.validate(config, "params.yaml")
except bbp.ParamsError as exc:
    sys.exit(f"error: {exc}")

DATASET = config["data"]["dataset"]
SPLITS = list(config["splits"])
SCRIPTS = "workflow/scripts"


wildcard_constraints:
    split="[a-z][a-z0-9_]*",


rule all:
    input:
        expand(str(paths.split_counts("{split}")), split=SPLITS),


rule download:
    input:
        script=f"{SCRIPTS}/download.py",
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
