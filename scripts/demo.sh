#!/usr/bin/env bash
# Set up .venv/ and run the offline demo end to end (synthetic data, seeded random weights).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/unav demo --out demo_out "$@"
