#!/usr/bin/env bash
# Set up .venv/ and run the offline demo pipeline: the Snakemake DAG of config.yaml (synthetic videos with sound ->
# local "download" -> trim -> DIS flow -> I3D + VGGish with seeded random weights -> train -> predict -> evaluate ->
# report), then the HTML report. Extra arguments go to snakemake (e.g. --cores 8).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
snakemake --cores 2 "$@"
snakemake --cores 1 --report results/report.html >/dev/null 2>&1 || echo "demo: snakemake --report failed (see above)"
metrics=$(ls results/runs/*/metrics.json | head -n 1)
echo
echo "unav demo — synthetic videos, seeded random extractor weights (a pipeline check, not the paper's numbers)"
python - "$metrics" <<'PY'
import json, sys
from unav.evaluation.metrics import format_table
print(format_table(json.load(open(sys.argv[1]))))
PY
echo "metrics: $metrics"
echo "report:  results/report.html (metrics table, per-class AP, training curves, timelines)"
