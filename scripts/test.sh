#!/usr/bin/env bash
# Set up .venv/ (and the Debian packages the tests use) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --system
if [ -z "${UNAV_SHARED:-}" ] && [ -d ../shared/media ]; then export UNAV_SHARED="$(cd ../shared && pwd)"; fi
exec .venv/bin/python -m pytest "$@"
