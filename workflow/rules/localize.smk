# annotations of the videos that have features -> train -> predict -> evaluate; stats of the annotation file.
from unav.data.stats import PLOT_FILES as STATS_PLOTS

TRAIN = config["train"]
GPUS = int(TRAIN["gpus"]) if CUDA else 1
LAUNCH = f"torchrun --standalone --nproc_per_node {GPUS} -m unav.cli" if GPUS > 1 else "unav"


rule annotations:
    input:
        annotations=ANNOTATIONS,
        features=all_features,
    output:
        f"{RES}/annotations.used.json",
    params:
        features=FEATURES,
    log:
        f"{LOGS}/annotations.log",
    benchmark:
        f"{BENCH}/annotations.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        f"{ENVS}/features.yaml"
    shell:
        "unav workflow-step subset-annotations --annotations {input.annotations} --features {params.features} --out {output} > {log} 2>&1"


rule train:
    input:
        annotations=rules.annotations.output,
        config=train_config(),
        features=all_features,
    output:
        config=f"{RUN}/config.yaml",
        metrics=f"{RUN}/metrics.jsonl",
        last=f"{RUN}/last.pt",
        best=f"{RUN}/best.pt",
        curves=report(f"{RUN}/training_curves.png", category="3. Training", caption="../report/curves.rst"),
    params:
        features=FEATURES,
        out=RUN,
        set=" ".join(["--set"] + [str(s) for s in TRAIN["set"]]) if TRAIN["set"] else "",
    log:
        f"{LOGS}/train.log",
    benchmark:
        f"{BENCH}/train.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=24 * 60,
        gpu=GPUS if CUDA else 0,
    conda:
        f"{ENVS}/train.yaml"
    shell:
        "{LAUNCH} train --config {input.config} --annotations {input.annotations} --features {params.features} --out-dir {params.out} --device {DEVICE} {params.set} > {log} 2>&1"


rule predict:
    input:
        checkpoint=rules.train.output.best,
        annotations=rules.annotations.output,
        features=all_features,
    output:
        f"{RUN}/predictions.json",
    params:
        features=FEATURES,
        split=config["predict"]["split"],
    log:
        f"{LOGS}/predict.log",
    benchmark:
        f"{BENCH}/predict.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPU,
    conda:
        f"{ENVS}/train.yaml"
    shell:
        "unav predict --checkpoint {input.checkpoint} --annotations {input.annotations} --features {params.features} --split {params.split} --device {DEVICE} --out {output} > {log} 2>&1"


rule evaluate:
    input:
        predictions=rules.predict.output,
        annotations=rules.annotations.output,
    output:
        metrics=f"{RUN}/metrics.json",
        plot=report(f"{RUN}/metrics_per_class_ap.png", category="2. Per-class AP", caption="../report/per_class_ap.rst"),
    params:
        split=config["predict"]["split"],
    log:
        f"{LOGS}/evaluate.log",
    benchmark:
        f"{BENCH}/evaluate.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        f"{ENVS}/train.yaml"
    shell:
        "unav evaluate --annotations {input.annotations} --predictions {input.predictions} --split {params.split} --out {output.metrics} --plot {output.plot} > {log} 2>&1"


rule stats:
    input:
        ANNOTATIONS,
    output:
        stats=f"{RES}/stats/stats.json",
        plots=[report(f"{RES}/stats/{name}", category="5. Dataset statistics", caption="../report/stats.rst")
               for name in STATS_PLOTS],
    params:
        out=f"{RES}/stats",
    log:
        f"{LOGS}/stats.log",
    benchmark:
        f"{BENCH}/stats.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        f"{ENVS}/train.yaml"
    shell:
        "unav stats --annotations {input} --out-dir {params.out} > {log} 2>&1"
