# download -> collect (checkpoint: failed downloads drop out) -> trim. Source youtube and demo only.
# One job per shard of videos (common.smk); each video is cached, retried or recorded as failed inside it.
# Not a param: where a video is fetched from does not change it (and the demo's file:// URL is absolute, so
# a moved working directory would otherwise redo every download).
URL_TEMPLATE = url_template()


# download.local: the downloads run on the host that runs snakemake, never submitted to a cluster (compute nodes
# often have no internet); locally this changes nothing. Snakemake never runs a grouped rule locally, so the
# download shards form the group "download" only when submitted.
DOWNLOAD_LOCAL = config["download"]["local"]
if DOWNLOAD_LOCAL:

    localrules:
        download,


rule download:
    input:
        # demo: the generated list (a checkpoint) names the videos
        listing=lambda w: (
            [checkpoints.demo_videos.get().output.csv] if SOURCE == "demo" else []
        ),
    output:
        f"{SHARD_DIR}/download/{{shard}}.tsv",
    log:
        f"{LOGS}/download/{{shard}}.log",
    benchmark:
        f"{BENCH}/download/{{shard}}.tsv"
    group:
        None if DOWNLOAD_LOCAL else "download"
    conda:
        f"{ENVS}/media.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=shard_runtime("download", "listed"),
        downloads=1,
    params:
        raw=f"{RES}/raw",  # a video is written only on success; its status JSON says which
        status=f"{RES}/download/status",
        retries=config["download"]["retries"],
        extra=" ".join(
            f"--{k.replace('_', '-')} {config['download'][k]}"
            for k in ("rate_limit", "cookies", "proxy", "timeout")
            if config["download"][k] is not None
        ),
        retry=download_retry_token,
        retry_failed=config["download"]["retry_failed"],
        ids=shard_ids("listed"),
    shell:
        "unav workflow-step shard download --manifest {output} --raw-dir {params.raw} --status-dir {params.status} "
        "--url-template {URL_TEMPLATE:q} --retries {params.retries} --retry-failed {params.retry_failed} {params.extra}"
        "{RECOMPUTE[download]} -- {params.ids} > {log} 2>&1"


checkpoint download_collect:
    input:
        manifests("download", "listed"),
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
    params:
        status=f"{RES}/download/status",
    shell:
        "unav workflow-step collect-downloads {input} --status-dir {params.status} --failures {output.failures} "
        "--ok-list {output.ok} > {log} 2>&1"


rule trim:
    input:
        downloaded=OK_LIST,
        videos=trim_inputs,
    output:
        f"{SHARD_DIR}/trim/{{shard}}.tsv",
    log:
        f"{LOGS}/trim/{{shard}}.log",
    benchmark:
        f"{BENCH}/trim/{{shard}}.tsv"
    group:
        "shard"
    conda:
        f"{ENVS}/media.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=shard_runtime("trim"),
    params:
        listing=DEMO_CSV if SOURCE == "demo" else VIDEOS_CSV,
        raw=f"{RES}/raw",
        clips=f"{RES}/clips",
        windows=trim_windows,
        sources=trim_sources,
        ids=shard_ids("ok"),
    shell:
        "unav workflow-step shard trim --manifest {output} --list {params.listing:q} --raw-dir {params.raw} "
        "--clips-dir {params.clips} --threads {threads}{RECOMPUTE[trim]} -- {params.ids} > {log} 2>&1"
