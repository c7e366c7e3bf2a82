# flow -> i3d (rgb + flow streams), vggish -> features (one folder, one provenance file per video).
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


rule flow:
    input:
        video=CLIP,
        weights=weight_inputs("raft") if FLOW_PRETRAINED else [],
    output:
        (lambda p: p if FLOW["keep"] else temp(p))(f"{RES}/flow/{{id}}.flow"),
    log:
        f"{LOGS}/flow/{{id}}.log",
    benchmark:
        f"{BENCH}/flow/{{id}}.tsv"
    group:
        "video"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=4000 if FLOW["method"] == "raft" else 1500,
        runtime=video_runtime("flow"),
        gpu=GPU if FLOW["method"] == "raft" else 0,
    params:
        opts=(
            f"--flow-method {FLOW['method']} --weights {FLOW['weights']} --seed {EXT['seed']} "
            f"--dis-preset {FLOW['dis_preset']} --flow-updates {FLOW['updates']} --batch-size {FLOW['batch_size']} "
            f"--crop {EXT['crop']} --min-side {EXT['min_side']} --weights-dir {WEIGHTS_DIR}"
        ),
        device=DEVICE if FLOW["method"] == "raft" else "cpu",
    shell:
        "unav flow {input.video} --out {output} {params.opts} --device {params.device} --no-progress > {log} 2>&1"


# Extraction options, shared by i3d and vggish (and part of the between-workflow cache key).
EXTRACT_OPTS = (
    f"--weights {EXT['weights']} --seed {EXT['seed']} --crop {EXT['crop']} --min-side {EXT['min_side']} "
    f"--batch-size {EXT['batch_size']} --hop {EXT['hop']} --flow-method {FLOW['method']} "
    f"--weights-dir {WEIGHTS_DIR}"
)
CACHE = bool(EXT["cache"])


rule i3d:
    input:
        video=CLIP,
        flow=f"{RES}/flow/{{id}}.flow",
        weights=weight_inputs("i3d_rgb", "i3d_flow") if PRETRAINED else [],
    output:
        rgb=f"{PARTS}/i3d/{{id}}_rgb.npy",
        flow=f"{PARTS}/i3d/{{id}}_flow.npy",
        json=f"{PARTS}/i3d/{{id}}.json",
    log:
        f"{LOGS}/i3d/{{id}}.log",
    benchmark:
        None if CACHE else f"{BENCH}/i3d/{{id}}.tsv"
    cache: "omit-software" if CACHE else False
    group:
        "video"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=video_runtime("i3d"),
        gpu=GPU,
    params:
        id=lambda w: w.id,  # the cache key ignores wildcards: the id and every option are params
        opts=EXTRACT_OPTS,
        flow_opts=f"{FLOW['method']} {FLOW['weights']} {FLOW['dis_preset']} {FLOW['updates']}",
        out=lambda w, output: os.path.dirname(output.rgb),
    shell:
        "unav extract {input.video} --streams rgb,flow --flow {input.flow} --out-dir {params.out} {params.opts} --device {DEVICE} --no-progress > {log} 2>&1"


rule vggish:
    input:
        video=CLIP,
        weights=weight_inputs("vggish") if PRETRAINED else [],
    output:
        vggish=f"{PARTS}/vggish/{{id}}_vggish.npy",
        json=f"{PARTS}/vggish/{{id}}.json",
    log:
        f"{LOGS}/vggish/{{id}}.log",
    benchmark:
        None if CACHE else f"{BENCH}/vggish/{{id}}.tsv"
    cache: "omit-software" if CACHE else False
    group:
        "video"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=video_runtime("vggish"),
    params:
        id=lambda w: w.id,
        opts=EXTRACT_OPTS,
        out=lambda w, output: os.path.dirname(output.vggish),
    shell:
        "unav extract {input.video} --streams vggish --out-dir {params.out} {params.opts} --device cpu --no-progress > {log} 2>&1"


rule features:
    input:
        i3d=rules.i3d.output,
        vggish=rules.vggish.output,
    output:
        rgb=f"{FEATURES}/{{id}}_rgb.npy",
        flow=f"{FEATURES}/{{id}}_flow.npy",
        vggish=f"{FEATURES}/{{id}}_vggish.npy",
        json=f"{FEATURES}/{{id}}.json",
    log:
        f"{LOGS}/features/{{id}}.log",
    benchmark:
        f"{BENCH}/features/{{id}}.tsv"
    group:
        "video"
    conda:
        f"{ENVS}/features.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=video_runtime("features"),
    params:
        parts=f"{PARTS}/i3d {PARTS}/vggish",
        out=lambda w, output: os.path.dirname(output.rgb),
    shell:
        "unav workflow-step merge-features --parts {params.parts} --out-dir {params.out} -- {wildcards.id} > {log} 2>&1"
