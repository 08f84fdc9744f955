#!/usr/bin/env bash
# One prepared run of every check that needs a GPU, sized for a ~6-minute device call:
#   A  CUDA correctness (test/gpu: fp32 = CPU, fp16/bf16 autocast, reduce-overhead fp16 vs eager,
#      matching on CUDA; the Triton NN kernels compiled) -- in parallel with the host-path bench
#      (bench_host.py: PnP-RANSAC, refinement, covariance on the host CPU; no GPU used)
#   B  bench_gpu.py, full ViT-L (random weights), 512x384 fp16, K = 1 and 4: eager vs
#      reduce-overhead side by side, per stage, whole Localizer.localize after warm-up, peak GPU
#      memory, weights' bytes, first frame vs median, equivalence vs eager fp32
#   C  bench_matching.py: the reciprocal walk on realistic synthetic 512x384 pairs, torch vs Triton
#   D  bench_retrieval.py: ASMK scoring among 1e5 fabricated keyframes, device vs host backends
# Each step has its own timeout (a slow compile costs its step only); results are re-packed into
# $OUT/results.tgz after every step, so a cut run still returns what finished.
# Usage: bash bench/gpu_checks.sh            (on the GPU machine, from the repository root)
#        bash bench/gpu_checks.sh --smoke    (tiny config on the CPU: proves the script runs)
set -uo pipefail
OUT=${OUT:-docs/bench}
R="$OUT/r"
mkdir -p "$R"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/mast3r_inductor}
PY=${PYTHON:-python3}
start=$(date +%s)
if [ "${1:-}" = "--smoke" ]; then
  export OMP_NUM_THREADS=1
  B="$PY bench/bench_gpu.py --config tiny --device cpu --keyframes 1 4 --sizes 224 --repeats 1"
  M="$PY bench/bench_matching.py --smoke"
  H="$PY bench/bench_host.py --frames 2 --repeats 1"
  Q="$PY bench/bench_retrieval.py --smoke"
  TESTS="test/gpu"
  T=10
else
  B="$PY bench/bench_gpu.py --config full --device cuda --keyframes 1 4 --sizes 512 --repeats 10"
  M="$PY bench/bench_matching.py --device cuda --size 512 --repeats 20"
  H="$PY bench/bench_host.py --frames 8 --repeats 3"
  Q="$PY bench/bench_retrieval.py --keyframes 100000 --repeats 9 --threads 1 --score-threads 4 --device cuda --backends numpy,faiss,torch --skip-tiny --skip-official"
  TESTS="test/gpu/test_cuda.py test/gpu/test_compile_cuda.py::test_compiled_equals_eager[reduce-overhead-fp16]"
  T=1
fi
pack() { tar -czf "$OUT/results.tgz" -C "$R" . 2>/dev/null; }
step() { local t=$(( $1 * T )) name=$2; shift 2; echo; echo "=== [$(( $(date +%s) - start )) s] $name: $*";
         timeout "$t" "$@" > "$R/$name.log" 2>&1; local rc=$?; tail -n 40 "$R/$name.log";
         echo "=== $name exit $rc (limit $t s)"; pack; }
{
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null \
  || echo "nvidia-smi: not available"
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)"
$PY -c "import triton; print('triton', triton.__version__)" 2>/dev/null || echo "triton: not installed"
$PY -c "import poselib; print('poselib', poselib.__version__)" 2>/dev/null || echo "poselib: not installed"
$PY -c "import faiss; print('faiss', faiss.__version__)" 2>/dev/null || echo "faiss: not installed"
} > "$R/gpu.txt" 2>&1
cat "$R/gpu.txt"
{
# A: correctness on the GPU while the host bench uses the CPU (its figures are thread-clock based
# per stage; the compile steps of A share the 16 cores).
( step 75 bench_host $H --clock thread --json "$R/bench_host.json" ) &
step 75 pytest $PY -m pytest -q -rA --tb=short -p no:cacheprovider $TESTS
wait
# B: the whole frame, eager vs compiled, side by side (alone on the GPU)
step 180 bench_512_fp16 $B --precision fp16 --variants eager reduce-overhead \
  --json "$R/bench_gpu_512_fp16.json"
# C: matching
step 45 bench_matching $M --json "$R/bench_matching.json"
# D: retrieval at 1e5
step 55 bench_retrieval $Q --json "$R/bench_retrieval.json"
echo "=== total $(( $(date +%s) - start )) s"
} 2>&1 | tee "$OUT/gpu_checks_log.txt"
pack
