#!/usr/bin/env bash
# Install unav itself (no dependencies: the env file lists them) from the repository the Snakefile lives in;
# the Snakefile exports UNAV_REPO.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation "${UNAV_REPO:?UNAV_REPO is not set (run through the Snakefile)}"
