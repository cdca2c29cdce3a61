# One run: train, evaluate on the test set, and (for the plotted runs) draw its figures. Included by
# the Snakefile; paths in directives are relative to this file, commands run in the repository root.


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
        "../envs/blockbench.yaml"
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
        "../envs/blockbench.yaml"
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
            caption="../report/run_figure.rst",
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
        "../envs/blockbench.yaml"
    shell:
        "python workflow/scripts/plot.py --run {wildcards.run} 2>&1 | tee {log}"
