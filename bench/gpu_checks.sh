#!/usr/bin/env bash
# One prepared run of every check that needs a GPU: CUDA correctness (test/gpu: fp16/bf16,
# torch.compile, CUDA graphs, TensorRT when installed), then bench_gpu.py on the full ViT-L
# (random weights) at 512, 384 and 224 with 1 and 4 keyframes: eager vs compiled vs TensorRT.
# Budget: about 8 minutes on an H200 (each step has its own timeout, so a slow compile costs its
# step only). Logs and JSON go to $OUT (default docs/bench/). Usage: bash bench/gpu_checks.sh
set -uo pipefail
OUT=${OUT:-docs/bench}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
# Inductor's compiled kernels persist here between the steps (same graphs, other sizes differ).
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/mast3r_inductor}
start=$(date +%s)
{
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)"
python3 -c "import tensorrt; print('tensorrt', tensorrt.__version__)" 2>/dev/null \
  || echo "tensorrt: not installed (TensorRT figures stay unmeasured)"
} | tee "$OUT/gpu.txt"
step() { local t=$1; shift; echo; echo "=== [$(( $(date +%s) - start )) s] $*"; timeout "$t" "$@";
         echo "=== exit $?"; }
B="python3 bench/bench_gpu.py --config full --device cuda --precision fp16 --keyframes 1 4"
{
step 120 python3 -m pytest -q -p no:cacheprovider test/gpu
# 512 first and with every variant (the targets); CUDA graphs before plain compile so
# the second reuses inductor's cached kernels.
step 200 $B --sizes 512 --repeats 20 --variants eager reduce-overhead default tensorrt \
  --json "$OUT/bench_gpu_512.json"
step 100 $B --sizes 384 --repeats 15 --variants eager reduce-overhead --json "$OUT/bench_gpu_384.json"
step 70 $B --sizes 224 --repeats 15 --variants eager reduce-overhead --json "$OUT/bench_gpu_224.json"
echo "=== total $(( $(date +%s) - start )) s"
} 2>&1 | tee "$OUT/gpu_checks_log.txt"
