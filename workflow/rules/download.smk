# download -> collect (checkpoint: failed downloads drop out) -> trim. Source youtube and demo only.
# Not a param: where a video is fetched from does not change it (and the demo's file:// URL is absolute, so
# a moved working directory would otherwise redo every download).
URL_TEMPLATE = url_template()


# download.local: the downloads run on the host that runs snakemake, never submitted to a cluster (compute nodes
# often have no internet); locally this changes nothing. Snakemake never runs a grouped rule locally, so the
# downloads form the group "download" (many per submitted job, group-components) only when submitted.
DOWNLOAD_LOCAL = config["download"]["local"]
if DOWNLOAD_LOCAL:

    localrules:
        download,


rule download:
    output:
        status=f"{RES}/download/status/{{id}}.json",
    log:
        f"{LOGS}/download/{{id}}.log",
    benchmark:
        f"{BENCH}/download/{{id}}.tsv"
    group:
        None if DOWNLOAD_LOCAL else "download"
    conda:
        f"{ENVS}/media.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
        downloads=1,
    params:
        video=f"{RES}/raw/{{id}}.mp4",  # written only on success; the status says which
        retries=config["download"]["retries"],
        extra=" ".join(
            f"--{k.replace('_', '-')} {config['download'][k]}"
            for k in ("rate_limit", "cookies", "proxy", "timeout")
            if config["download"][k] is not None
        ),
        retry=download_retry_token,
    shell:
        "unav download --id={wildcards.id} --url-template {URL_TEMPLATE:q} --out {params.video} --status {output.status} --record-failure --retries {params.retries} {params.extra} > {log} 2>&1"


checkpoint download_collect:
    input:
        lambda w: expand(f"{RES}/download/status/{{id}}.json", id=listed_ids()),
    output:
        failures=f"{RES}/download/failures.tsv",
        ok=f"{RES}/download/ok.txt",
    log:
        f"{LOGS}/download_collect.log",
    benchmark:
        f"{BENCH}/download_collect.tsv"
    conda:
        f"{ENVS}/media.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    shell:
        "unav download collect {input} --failures {output.failures} --ok-list {output.ok} > {log} 2>&1"


rule trim:
    input:
        video=f"{RES}/raw/{{id}}.mp4",  # present for every id of the ok list (checkpoint download_collect)
        status=f"{RES}/download/status/{{id}}.json",
        listing=[DEMO_CSV] if SOURCE == "demo" else [],  # the [start, end] windows come from the list
    output:
        f"{RES}/clips/{{id}}.mp4",
    log:
        f"{LOGS}/trim/{{id}}.log",
    benchmark:
        f"{BENCH}/trim/{{id}}.tsv"
    group:
        "video"
    conda:
        f"{ENVS}/media.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=video_runtime("trim"),
    params:
        window=lambda w: "--start {0.start} --end {0.end}".format(entry(w.id)),
    shell:
        "unav trim {input.video} {params.window} --out {output} --threads {threads} > {log} 2>&1"
