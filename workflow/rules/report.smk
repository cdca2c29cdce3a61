# The study: the speed benchmark (alone on the machine) and the aggregate report. Included by the
# Snakefile; paths in directives are relative to this file, commands run in the repository root.


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
        "../envs/blockbench.yaml"
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
            caption="../report/table.rst",
        ),
        figures=report(
            directory(str(paths.FIGURES)),
            patterns=["{name}.png"],
            category="Study figures",
            caption="../report/study_figure.rst",
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
        "../envs/blockbench.yaml"
    shell:
        "python workflow/scripts/aggregate.py 2>&1 | tee {log}"
