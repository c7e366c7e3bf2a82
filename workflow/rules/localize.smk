# annotations of the videos that have features -> train -> predict -> evaluate; stats of the annotation file.
from unav.data.stats import PLOT_FILES as STATS_PLOTS

TRAIN = config["train"]
GPUS = int(TRAIN["gpus"]) if CUDA else 1
# Snakemake's local executor counts GPU jobs but does not say which GPU is a job's: a one-GPU job runs seeing one
# free GPU, locked while it runs (unav/gpu_pool.py; with one visible GPU, as under SLURM, nothing changes).
# torchrun's ranks take cuda:0 … cuda:N-1 themselves.
ON_FREE_GPU = "unav workflow-step on-free-gpu -- " if CUDA else ""
LAUNCH = (
    f"torchrun --standalone --nproc_per_node {GPUS} -m unav.cli"
    if GPUS > 1
    else f"{ON_FREE_GPU}unav"
)


rule annotations:
    input:
        annotations=ANNOTATIONS,
        features=all_feature_manifests,
    output:
        f"{RES}/annotations.used.json",
    log:
        f"{LOGS}/annotations.log",
    benchmark:
        f"{BENCH}/annotations.tsv"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        features=FEATURES,
    shell:
        "unav workflow-step subset-annotations --annotations {input.annotations} --features {params.features} --out {output} > {log} 2>&1"


rule train:
    input:
        annotations=rules.annotations.output,
        config=train_config(),
        features=all_feature_manifests,
    output:
        config=f"{RUN}/config.yaml",
        metrics=f"{RUN}/metrics.jsonl",
        last=f"{RUN}/last.pt",
        best=f"{RUN}/best.pt",
        curves=report(
            f"{RUN}/training_curves.png",
            category="3. Training",
            caption="../report/curves.rst",
        ),
    log:
        f"{LOGS}/train.log",
    benchmark:
        f"{BENCH}/train.tsv"
    conda:
        f"{ENVS}/train.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=24 * 60,
        gpu=GPUS if CUDA else 0,
    params:
        features=FEATURES,
        out=lambda w, output: os.path.dirname(output.config),
        set=" ".join(["--set"] + [str(s) for s in TRAIN["set"]]) if TRAIN["set"] else "",
    shell:
        "{LAUNCH} train --config {input.config} --annotations {input.annotations} --features {params.features} --out-dir {params.out} --device {DEVICE} {params.set} > {log} 2>&1"


rule predict:
    input:
        checkpoint=rules.train.output.best,
        annotations=rules.annotations.output,
        features=all_feature_manifests,
    output:
        f"{RUN}/predictions.json",
    log:
        f"{LOGS}/predict.log",
    benchmark:
        f"{BENCH}/predict.tsv"
    conda:
        f"{ENVS}/train.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPU,
    params:
        features=FEATURES,
        split=config["predict"]["split"],
    shell:
        "{ON_FREE_GPU}unav predict --checkpoint {input.checkpoint} --annotations {input.annotations} --features {params.features} --split {params.split} --device {DEVICE} --out {output} > {log} 2>&1"


rule evaluate:
    input:
        predictions=rules.predict.output,
        annotations=rules.annotations.output,
    output:
        metrics=f"{RUN}/metrics.json",
        plot=report(
            f"{RUN}/metrics_per_class_ap.png",
            category="2. Per-class AP",
            caption="../report/per_class_ap.rst",
        ),
    log:
        f"{LOGS}/evaluate.log",
    benchmark:
        f"{BENCH}/evaluate.tsv"
    conda:
        f"{ENVS}/train.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        split=config["predict"]["split"],
    shell:
        "unav evaluate --annotations {input.annotations} --predictions {input.predictions} --split {params.split} --out {output.metrics} --plot {output.plot} > {log} 2>&1"


rule stats:
    input:
        ANNOTATIONS,
    output:
        stats=f"{RES}/stats/stats.json",
        plots=[
            report(
                f"{RES}/stats/{name}",
                category="5. Dataset statistics",
                caption="../report/stats.rst",
            )
            for name in STATS_PLOTS
        ],
    log:
        f"{LOGS}/stats.log",
    benchmark:
        f"{BENCH}/stats.tsv"
    conda:
        f"{ENVS}/train.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        out=lambda w, output: os.path.dirname(output.stats),
    shell:
        "unav stats --annotations {input} --out-dir {params.out} > {log} 2>&1"
