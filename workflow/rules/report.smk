# Tables and figures for `snakemake --report report.html` (metrics, per-class AP, timelines, curves, stats,
# the videos that failed and why).
REPORT = config["report"]


rule failures:
    input:
        manifests=all_manifests,
        # the downloads' own table: keeps the checkpoint a declared part of the DAG
        downloads=(
            [f"{RES}/download/failures.tsv"] if SOURCE in ("youtube", "demo") else []
        ),
    output:
        f"{RES}/failures.tsv",
    log:
        f"{LOGS}/failures.log",
    benchmark:
        f"{BENCH}/failures.tsv"
    conda:
        f"{ENVS}/media.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    shell:
        "unav workflow-step failures {input.manifests} --out {output} > {log} 2>&1"


rule report:
    input:
        metrics=rules.evaluate.output.metrics,
        predictions=rules.predict.output,
        annotations=rules.annotations.output,
        run=rules.train.output.metrics,
        failures=[] if SOURCE == "features" else [f"{RES}/failures.tsv"],
    output:
        metrics=report(
            f"{RES}/report/metrics.tsv",
            category="1. Metrics",
            caption="../report/metrics.rst",
        ),
        per_class=report(
            f"{RES}/report/per_class_ap.tsv",
            category="2. Per-class AP",
            caption="../report/per_class_ap.rst",
        ),
        summary=f"{RES}/report/summary.json",
        failures=report(
            f"{RES}/report/failures.tsv",
            category="6. Failed videos",
            caption="../report/failures.rst",
        ),
        timelines=report(
            directory(f"{RES}/report/timelines"),
            patterns=["{name}.png"],
            category="4. Timelines",
            caption="../report/timeline.rst",
        ),
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCH}/report.tsv"
    conda:
        f"{ENVS}/train.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        out=lambda w, output: os.path.dirname(output.summary),
        run=lambda w, input: os.path.dirname(input.run),
        failures=lambda w, input: (
            f"--failures {input.failures}" if input.failures else ""
        ),
        split=config["predict"]["split"],
        n=REPORT["timelines"],
        threshold=REPORT["threshold"],
    shell:
        "unav report --metrics {input.metrics} --predictions {input.predictions} --annotations {input.annotations} --out-dir {params.out} --run {params.run} {params.failures} --split {params.split} --timelines {params.n} --threshold {params.threshold} > {log} 2>&1"
