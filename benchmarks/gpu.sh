#!/usr/bin/env bash
# Every GPU figure of the README in one run, each benchmark under its own time limit (a lent GPU machine is held
# for minutes: DEVELOPERS.md says how to run this there). Logs go to $OUT (or ./gpu-results).
#   bash benchmarks/gpu.sh            # about 9 minutes on an H200
#   STEPS=train_step,e2e bash benchmarks/gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-results}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export UNAV_SHARED=${UNAV_SHARED:-$PWD/../shared}
steps=${STEPS:-train_step,e2e,precision,amp}

if [ -d .whl ]; then   # packages the machine's image lacks, carried as wheels
  $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site" || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
$py -c "import torch, unav; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__)" \
  || exit 1
[ -d "$UNAV_SHARED/media" ] || { echo "gpu.sh: no clips under $UNAV_SHARED/media (set UNAV_SHARED)"; exit 1; }

run() {   # run NAME LIMIT_S COMMAND...: one benchmark, its log in $out/NAME.log
  local name=$1 limit=$2 start rc
  shift 2
  case ",$steps," in *",$name,"*) ;; *) return 0 ;; esac
  echo "== $name (limit ${limit} s): $*"
  start=$(date +%s)
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $(( $(date +%s) - start )) s"
}

# Training step, paper config, batch 16: fp32 unav vs the re-statement, bf16, then torch.compile (bf16, fp32);
# then batch 4, the small config and checkpointing (rows print as measured: a stop at the limit keeps the first).
run train_step 240 $py benchmarks/bench_train_step.py --device cuda --steps 10 --compile reduce-overhead
# Extraction end to end on the three real clips, whole: s per video-second and GPU idle share, per precision.
run e2e 110 $py benchmarks/bench_extract_end_to_end.py --device cuda --seconds 0 --precision fp32,tf32,bf16 \
  --video "$UNAV_SHARED"/media/*.mp4
# Feature deviation of tf32 / bf16 from fp32 per stream on the real clips.
run precision 70 $py benchmarks/bench_precision.py --device cuda --seconds 2
# The bf16 training mode against fp32 at the paper's widths: mAP after the same steps, and speed.
run amp 120 $py benchmarks/bench_amp.py --device cuda --paper --seeds 1,2
