#!/usr/bin/env bash
# One prepared run of every check that needs a GPU: CUDA correctness (test/gpu: fp16/bf16,
# torch.compile, CUDA graphs, TensorRT when installed), then bench_gpu.py on the full ViT-L
# (random weights) with K = 1 and 4 keyframes: per stage (encode, decode xK, matching, PnP),
# matching per keyframe pair (previous implementation vs the fused device path, same matches),
# the whole Localizer.localize on a fabricated map, peak GPU memory, first frame vs median.
#   512: eager fp16, reduce-overhead fp16, default fp16 (+ TensorRT when installed); bf16 eager
#   384, 224: eager + reduce-overhead fp16
# Budget: 7.5 minutes wall on an H200 (each step has its own timeout, so a slow compile costs its
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
step 60 pytest $PY -m pytest -q -p no:cacheprovider test/gpu
# 512 first and with every variant (the targets); CUDA graphs before plain compile so
# the second reuses inductor's cached kernels.
step 170 bench_512_fp16 $B --precision fp16 --sizes $S512 --repeats $R \
  --variants eager reduce-overhead default tensorrt --json "$OUT/bench_gpu_512_fp16.json"
step 45 bench_512_bf16 $B --precision bf16 --sizes $S512 --repeats $R --variants eager \
  --json "$OUT/bench_gpu_512_bf16.json"
step 85 bench_384 $B --precision fp16 --sizes $S384 --repeats $R --variants eager reduce-overhead \
  --json "$OUT/bench_gpu_384.json"
step 70 bench_224 $B --precision fp16 --sizes $S224 --repeats $R --variants eager reduce-overhead \
  --json "$OUT/bench_gpu_224.json"
echo "=== total $(( $(date +%s) - start )) s"
} 2>&1 | tee "$OUT/gpu_checks_log.txt"
