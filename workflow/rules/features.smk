# flow -> i3d (rgb + flow streams), vggish -> features (one folder, one provenance file per video). One job per
# shard of videos; inside, each video is taken from the per-video cache (outputs complete, newer than their
# inputs, provenance equal to the config's settings) or computed, and a failing video is recorded in the
# shard's manifest while the others go on.
if config["extract"]["cache"]:
    fail(
        "extract.cache was removed: the per-video cache of the shard jobs replaces Snakemake's between-workflow "
        "cache (a video whose features match the settings is never recomputed); set it to false"
    )


rule weights:
    output:
        [f"{WEIGHTS_DIR}/{f}" for f in WEIGHT_FILES.values()],
    log:
        f"{LOGS}/weights.log",
    benchmark:
        f"{BENCH}/weights.tsv"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        names=" ".join(WEIGHT_FILES),
        dir=lambda w, output: os.path.dirname(output[0]),
    shell:
        "unav weights fetch {params.names} --weights-dir {params.dir} > {log} 2>&1"


# Extraction options, shared by flow, i3d and vggish; part of each shard's params, so changing one reruns the
# shards and the per-video cache recomputes exactly the videos whose recorded settings differ.
EXTRACT_OPTS = (
    f"--weights {EXT['weights']} --seed {EXT['seed']} --crop {EXT['crop']} --min-side {EXT['min_side']} "
    f"--batch-size {EXT['batch_size']} --hop {EXT['hop']} --flow-method {FLOW['method']} "
    f"--precision {EXT['precision']} --weights-dir {WEIGHTS_DIR}"
)
FLOW_OPTS = (
    f"--flow-method {FLOW['method']} --weights {FLOW['weights']} --seed {EXT['seed']} "
    f"--dis-preset {FLOW['dis_preset']} --flow-updates {FLOW['updates']} --batch-size {FLOW['batch_size']} "
    f"--crop {EXT['crop']} --min-side {EXT['min_side']} --precision {EXT['precision']} --weights-dir {WEIGHTS_DIR}"
)
# I3D reads the flow files with the flow settings they record; it computes flow itself only when they are gone
I3D_FLOW_OPTS = f"--dis-preset {FLOW['dis_preset']} --flow-updates {FLOW['updates']} --flow-weights {FLOW['weights']}"


rule flow:
    input:
        downloaded=OK_LIST,
        videos=upstream("trim"),
        weights=weight_inputs("raft") if FLOW_PRETRAINED else [],
    output:
        f"{SHARD_DIR}/flow/{{shard}}.tsv",
    log:
        f"{LOGS}/flow/{{shard}}.log",
    benchmark:
        f"{BENCH}/flow/{{shard}}.tsv"
    group:
        "shard"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=4000 if FLOW["method"] == "raft" else 1500,
        runtime=shard_runtime("flow"),
        gpu=GPU if FLOW["method"] == "raft" else 0,
    params:
        opts=FLOW_OPTS,
        device=DEVICE if FLOW["method"] == "raft" else "cpu",
        flow=f"{RES}/flow",
        i3d=f"{PARTS}/i3d",
        videos=shard_videos(),
        upstream=upstream_option("trim"),
    shell:
        "unav workflow-step shard flow --manifest {output} {params.upstream} --flow-dir {params.flow} "
        "--i3d-dir {params.i3d} {params.opts} --device {params.device}{RECOMPUTE[flow]} "
        "-- {params.videos} > {log} 2>&1"


rule i3d:
    input:
        downloaded=OK_LIST,
        flow=f"{SHARD_DIR}/flow/{{shard}}.tsv",
        weights=weight_inputs("i3d_rgb", "i3d_flow") if PRETRAINED else [],
    output:
        f"{SHARD_DIR}/i3d/{{shard}}.tsv",
    log:
        f"{LOGS}/i3d/{{shard}}.log",
    benchmark:
        f"{BENCH}/i3d/{{shard}}.tsv"
    group:
        "shard"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=shard_runtime("i3d"),
        gpu=GPU,
    params:
        opts=EXTRACT_OPTS,
        flow_opts=I3D_FLOW_OPTS,
        keep="--keep-flow" if FLOW["keep"] else "",
        flow=f"{RES}/flow",
        out=f"{PARTS}/i3d",
        videos=shard_videos(),
    shell:
        "unav workflow-step shard i3d --manifest {output} --upstream {input.flow} --flow-dir {params.flow} "
        "{params.keep} --out-dir {params.out} {params.opts} {params.flow_opts} --device {DEVICE}"
        "{RECOMPUTE[i3d]} -- {params.videos} > {log} 2>&1"


rule vggish:
    input:
        downloaded=OK_LIST,
        videos=upstream("trim"),
        weights=weight_inputs("vggish") if PRETRAINED else [],
    output:
        f"{SHARD_DIR}/vggish/{{shard}}.tsv",
    log:
        f"{LOGS}/vggish/{{shard}}.log",
    benchmark:
        f"{BENCH}/vggish/{{shard}}.tsv"
    group:
        "shard"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=shard_runtime("vggish"),
    params:
        opts=EXTRACT_OPTS,
        out=f"{PARTS}/vggish",
        videos=shard_videos(),
        upstream=upstream_option("trim"),
    shell:
        "unav workflow-step shard vggish --manifest {output} {params.upstream} --out-dir {params.out} "
        "{params.opts} --device cpu{RECOMPUTE[vggish]} -- {params.videos} > {log} 2>&1"


rule features:
    input:
        downloaded=OK_LIST,
        i3d=f"{SHARD_DIR}/i3d/{{shard}}.tsv",
        vggish=f"{SHARD_DIR}/vggish/{{shard}}.tsv",
    output:
        f"{SHARD_DIR}/features/{{shard}}.tsv",
    log:
        f"{LOGS}/features/{{shard}}.log",
    benchmark:
        f"{BENCH}/features/{{shard}}.tsv"
    group:
        "shard"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=shard_runtime("features"),
    params:
        parts=f"{PARTS}/i3d {PARTS}/vggish",
        out=FEATURES,
        ids=shard_ids("ok"),
    shell:
        "unav workflow-step shard features --manifest {output} --upstream {input.i3d} --upstream {input.vggish} "
        "--parts {params.parts} --out-dir {params.out}{RECOMPUTE[features]} -- {params.ids} > {log} 2>&1"
