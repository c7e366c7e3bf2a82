# The offline demo's data: synthetic videos with sound, their download list and annotations.
# A checkpoint: the video ids are known only once the list is written.
checkpoint demo_videos:
    output:
        csv=DEMO_CSV,
        annotations=f"{RES}/demo/annotations.json",
        videos=directory(f"{RES}/demo/videos"),
        info=f"{RES}/demo/info.json",
    log:
        f"{LOGS}/demo_videos.log",
    benchmark:
        f"{BENCH}/demo_videos.tsv"
    conda:
        f"{ENVS}/media.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        out=lambda w, output: os.path.dirname(output.csv),
        num=config["demo"]["num"],
        seed=config["demo"]["seed"],
        size=config["demo"]["size"],
    shell:
        "unav demo-videos --out-dir {params.out} --num {params.num} --seed {params.seed} --size {params.size} > {log} 2>&1"
