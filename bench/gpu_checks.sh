#!/usr/bin/env bash
# One prepared run of every check that needs a GPU: CUDA correctness (test/gpu: fp16/bf16,
# torch.compile, CUDA graphs, TensorRT when installed), then bench_gpu.py on the full ViT-L
# (random weights) with K = 1 and 4 keyframes: per stage (encode, decode xK, matching, PnP),
# matching per keyframe pair (previous implementation vs the fused device path, same matches),
# the whole Localizer.localize on a fabricated map, peak GPU memory, first frame vs median.
#   512: eager fp16, reduce-overhead fp16 (+ TensorRT when installed), then default fp16
#   384, 224: eager + reduce-overhead fp16
# Budget: about 9 minutes wall (one device call is at most 10) on an H200 (each step has its own timeout, so a slow compile costs its
# step only; every variant rewrites its JSON, so a timeout keeps what finished). Logs and JSON go
# to $OUT (default docs/bench/).
# Usage: bash bench/gpu_checks.sh            (on the GPU machine, from the repository root)
#        bash bench/gpu_checks.sh --smoke    (tiny config on the CPU: proves the script runs)
set -uo pipefail
OUT=${OUT:-docs/bench}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
# Inductor's compiled kernels persist here between the steps (same graphs, other sizes differ).
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/mast3r_inductor}
PY=${PYTHON:-python3}
start=$(date +%s)
if [ "${1:-}" = "--smoke" ]; then
  B="$PY bench/bench_gpu.py --config tiny --device cpu --keyframes 1 4"
  export OMP_NUM_THREADS=1; R=1 S512=224 S384=224 S224=224   # CPU: tiny network at 224; the timeouts scale by T
  T=10
else
  B="$PY bench/bench_gpu.py --config full --device cuda --keyframes 1 4"
  R=10 S512=512 S384=384 S224=224 T=1
fi
{
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null \
  || echo "nvidia-smi: not available"
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)"
$PY -c "import tensorrt; print('tensorrt', tensorrt.__version__)" 2>/dev/null \
  || echo "tensorrt: not installed (TensorRT figures stay unmeasured)"
} | tee "$OUT/gpu.txt"
step() { local t=$(( $1 * T )) name=$2; shift 2; echo; echo "=== [$(( $(date +%s) - start )) s] $name: $*";
         timeout "$t" "$@" > >(tee "$OUT/$name.log") 2>&1; echo "=== $name exit $? (limit $t s)"; }
{
# Limits from the H200 run of 2026-11-30: test/gpu compiles tiny graphs (~4 min in all);
# a full ViT-L reduce-overhead variant builds in ~30 s, `default` did not finish in 100 s.
step 180 pytest $PY -m pytest -q -p no:cacheprovider test/gpu
step 150 bench_512_fp16 $B --precision fp16 --sizes $S512 --repeats $R \
  --variants eager reduce-overhead tensorrt --json "$OUT/bench_gpu_512_fp16.json"
step 80 bench_384 $B --precision fp16 --sizes $S384 --repeats $R --variants eager reduce-overhead \
  --json "$OUT/bench_gpu_384.json"
step 70 bench_224 $B --precision fp16 --sizes $S224 --repeats $R --variants eager reduce-overhead \
  --json "$OUT/bench_gpu_224.json"
# last, so a slow inductor build costs only itself
step 60 bench_512_default $B --precision fp16 --sizes $S512 --repeats $R --variants default \
  --no-localize --json "$OUT/bench_gpu_512_default.json"
echo "=== total $(( $(date +%s) - start )) s"
} 2>&1 | tee "$OUT/gpu_checks_log.txt"
