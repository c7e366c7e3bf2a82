# unav workflow: videos -> features -> localizer -> predictions -> metrics -> report.
#   snakemake --cores 2                      the offline demo (config.yaml)
#   snakemake --cores 8 --use-conda --configfile resources/presets/unav100.yaml
#   snakemake --profile workflow/profiles/slurm --configfile …
#   snakemake --report report.html           after a run
# Rules are thin: each calls one `unav …` command; the logic lives in the unav package.
import os

from snakemake.utils import min_version, validate

min_version("9.0")

# envs/*.post-deploy.sh install unav from here into each conda env
os.environ.update(UNAV_REPO=workflow.basedir)


configfile: os.path.join(workflow.basedir, "config.yaml")


# `--config key='{"a": true}'` arrives with every nested value a string: type them before validation
from snakemake.utils import update_config
from unav.pipeline.steps import typed_cli_config

for _key, _value in (workflow.config_settings.overwrite_config or {}).items():
    if isinstance(_value, (dict, list)):
        update_config(config, {_key: typed_cli_config(_value)})

validate(config, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"))


report: "workflow/report/workflow.rst"


wildcard_constraints:
    shard=r"\d+",


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/localize.smk"
include: "workflow/rules/report.smk"


if os.path.exists(os.path.join(workflow.basedir, "workflow/rules/detect.smk")):

    include: "workflow/rules/detect.smk"


# On the host that runs snakemake, never submitted: bookkeeping steps, and the weights fetch (it needs the
# internet, which cluster compute nodes often lack; downloads: see download.local).
localrules:
    all,
    download_collect,
    failures,
    annotations,
    features,
    weights,


rule all:
    default_target: True
    input:
        all_targets,
