# The data: MNIST (or `digits`) downloaded once, then one prepared split per entry of params.yaml
# `splits`. Included by the Snakefile, whose helpers (code, cpus, RAW, ...) these rules use; paths in
# directives (conda, captions) are relative to this file, commands run in the repository root.


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
        "../envs/blockbench.yaml"
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
        "../envs/blockbench.yaml"
    shell:
        "python workflow/scripts/split.py --split {wildcards.split} 2>&1 | tee {log}"
