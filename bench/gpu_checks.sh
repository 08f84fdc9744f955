#!/usr/bin/env bash
# One prepared run of every check that needs a GPU (CUDA correctness, fp16/bf16, latency and
# memory at full size). Results go to $OUT (or ./gpu_out). Usage: bash bench/gpu_checks.sh
set -uo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)" \
  | tee -a "$OUT/gpu.txt"
step() { local t=$1; shift; echo; echo "=== $*"; timeout "$t" "$@"; echo "=== exit $?"; }
{
step 90 python3 -m pytest -q -p no:cacheprovider test/gpu
for prec in fp16 bf16; do
  step 80 python3 bench/bench_network.py --config full --device cuda --precision "$prec" \
    --keyframes 1 4 --repeats 10 --json "$OUT/network_full_$prec.json"
done
if [ -f bench/bench_localize.py ]; then
  step 220 python3 bench/bench_localize.py --device cuda --gpu-full --replay-frames 500 \
    --json "$OUT/localize_cuda.json"
fi
} 2>&1 | tee "$OUT/log.txt"
