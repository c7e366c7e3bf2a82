#!/usr/bin/env bash
# Install unav itself in editable mode from the repository the Snakefile lives in (the Snakefile exports
# UNAV_REPO), so the env always runs that checkout's current code: Snakemake rebuilds an env only when its env
# file or this script changes, never on a code update. No dependencies (--no-deps): the env file pins them, so a
# dependency change edits the env file and rebuilds the env; it also lists the setuptools that builds unav here.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation -e "${UNAV_REPO:?UNAV_REPO is not set (run through the Snakefile)}"
