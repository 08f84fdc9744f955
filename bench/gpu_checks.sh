#!/usr/bin/env bash
# One prepared run of every check that needs a GPU, in one device command of < 10 minutes.
# Budget (the device's rules): 15 min of device time per session, the machine's start (a few
# minutes), idle time and give-back included; one command at most 600 s. So ONE call: timeout_s
# 600, GPU_CHECKS_DEADLINE_S default 560 (no step starts, or runs, past it; a step is killed at
# it + 10 s grace, then the last pack: ~575 s, + the poselib install before it: < 600 s).
# Start 1-4 min + 600 s + transfers leaves 1-4 min: too little to start another machine. Where
# the start took longer, the device cuts the command below 600 s without warning: the results
# are re-packed into $OUT every 20 s (GPU_CHECKS_PACK_EVERY_S), so a kill loses < 20 s of them.
# The steps' own estimates below add up to ~520 s, so the last step may be cut.
# Most important first (issue 9's targets: K=1 whole frame at 512 fp16 compiled, matching per
# pair with walk.FUSED_ROUNDS off and on, first frame after warm-up, K=4, peak memory; then
# TensorRT, 224, 384); every timing step runs alone on the GPU:
#   gpu_512       bench_gpu.py, full ViT-L (random weights), 512x384 fp16, reduce-overhead, K = 1
#                 then 4 (its JSON rewritten after each K): per stage, whole Localizer.localize
#                 on the network's own matches AND on realistic correspondences
#                 (realistic_pairs.py: PnP runs; the pose error is printed), first frame after
#                 warm-up vs median (network's matches: also with the warm-up before its
#                 keyframe preload, side by side), peak GPU memory, equivalence vs eager fp32
#                                                                           (~125 s, cold compile)
#   matching      bench_matching.py: the reciprocal walk on realistic 512x384 pairs, every variant
#                 the script has (torch, Triton with its TF32 screen, triton-ieee without it,
#                 triton-fixed, triton-graph: the matching's CUDA graph, and triton-fixed-prev /
#                 triton-graph-prev: the same with all 10 walk rounds and the screen's norms per
#                 search, as before; "prev/new" lines and the summary give the ratio; and
#                 triton-fused / triton-fixed-fused / triton-graph-fused: a walk round's
#                 bookkeeping in two Triton kernels, walk.FUSED_ROUNDS, "fused/new")     (~32 s)
#                 (its JSON rewritten after each pair and K, "incomplete" until the end)
#   tensorrt      bench_gpu.py at 512, TensorRT engines (K = 1 and 4): only where TensorRT imports
#                 (the lent machines have none: a one-line skip, no device time); the summary's
#                 TensorRT line says which                             (build: minutes; <= 300 s)
#   frame_host    bench_frame_host.py: host-side prepare (Pillow on the host vs the device
#                 resize) / encoding fetch                                                 (~20 s)
#   parallel      CPU-heavy work, nothing timed on the GPU (~150 s):
#                   pytest test/gpu, one process per test of test_compile_cuda.py (~85 s each,
#                   they compile) + one for the rest of the folder and test_nn_triton.py;
#                   bench_gpu.py --build-only for 224 and 384 reduce-overhead and 512 'default':
#                   fills TORCHINDUCTOR_CACHE_DIR so the timing steps below compile from it;
#                   bench_host.py (host CPU only; pinned to 2 cores apart from the compiles)
#   gpu_224       bench_gpu.py at 224, reduce-overhead                    (~45 s; cold ~110 s)
#   gpu_384       bench_gpu.py at 384, reduce-overhead                    (~45 s; cold ~110 s)
#   gpu_512_default  bench_gpu.py at 512, compile 'default'               (~45 s; cold ~100 s)
#   gpu_512_eager bench_gpu.py at 512, eager (the reference for the compiled rows; measured
#                 before on the network's matches, now with realistic ones too)          (~60 s)
#   sweep         bench_matching.py --sweep: the Triton search's block shapes / warps with and
#                 without the TF32 screen on one realistic 512x384 pair (bench/kernel_resources.py
#                 counts their registers without a GPU; GPU only, skipped by --smoke; only with
#                 --steps: it does not fit the default run's deadline)                 (~60-90 s)
#   retrieval     bench_retrieval.py at 1e5 keyframes (issue 12's figures; only with --steps)
# Each step has its own timeout (a slow compile costs its step only); step logs and JSON go to a
# scratch folder, re-packed into $OUT/results.tgz after every step and every 20 s, the console
# log is $OUT/gpu_checks_log.txt, and $OUT/gpu_summary.md (bench/gpu_summary.py: issue 9's "Must
# reach" lines, met / not met / not measured, with their figures) is rewritten with each pack and
# printed at the end: three files (the device returns at most 8).
# Usage: bash bench/gpu_checks.sh                 (on the GPU machine, from the repository root)
#        bash bench/gpu_checks.sh --steps gpu_224,gpu_384   (a rerun of some steps)
#        bash bench/gpu_checks.sh --smoke         (tiny config on the CPU: proves the script runs)
#        bash bench/gpu_checks.sh --help          (the options, step names and settings)
set -uo pipefail
SMOKE=0
STEPS="gpu_512,matching,tensorrt,frame_host,parallel,gpu_224,gpu_384,gpu_512_default,gpu_512_eager"
# every step the script knows (the default ones, then the --steps-only ones); the arguments and
# the GPU_CHECKS_* settings are checked here, before any Python or scratch folder: a typo in
# --steps ran nothing, exited 0 and left every verdict "not measured"
DEFAULT_STEPS=$STEPS VALID="$STEPS,sweep,retrieval"
USAGE="usage: bash bench/gpu_checks.sh [--smoke] [--steps NAME,...] [-h|--help]"
refuse() { echo "gpu_checks.sh: $*; $USAGE" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help)
      echo "$USAGE"
      echo "  (no option)   every default step on the GPU, in this order: $DEFAULT_STEPS"
      echo "  --steps A,B   only these steps (a rerun); valid: $VALID"
      echo "  --smoke       tiny config on the CPU: proves the script runs (minutes)"
      echo "environment: OUT (results folder; default a new \${TMPDIR:-/tmp}/gpu_checks_out.XXXXXX),"
      echo "  PYTHON (default python3), GPU_CHECKS_DEADLINE_S (default 560, --smoke: none),"
      echo "  GPU_CHECKS_PACK_EVERY_S (default 20). Details: docs/bench/README.md"
      exit 0 ;;
    --smoke) SMOKE=1 ;;
    --steps=*) STEPS=${1#--steps=} ;;
    --steps) case "${2---}" in --*) refuse "--steps needs a value (a comma-separated list of: $VALID)" ;; esac
             STEPS=$2; shift ;;
    *) refuse "unknown option '$1'" ;;
  esac
  shift
done
[ -n "$STEPS" ] || refuse "--steps names no step (valid: $VALID)"
case ",$STEPS," in *,,*) refuse "--steps '$STEPS' has an empty step name (valid: $VALID)" ;; esac
BAD=()
IFS=, read -r -a ASKED <<< "$STEPS"
for s in "${ASKED[@]}"; do case ",$VALID," in *",$s,"*) ;; *) BAD+=("'$s'") ;; esac; done
if [ ${#BAD[@]} -gt 0 ]; then
  [ ${#BAD[@]} = 1 ] && what="unknown step" || what="unknown steps"
  BADS=$(IFS=,; echo "${BAD[*]}"); refuse "$what ${BADS//,/, } in --steps (valid: $VALID)"
fi
for v in GPU_CHECKS_DEADLINE_S GPU_CHECKS_PACK_EVERY_S; do
  case "${!v-1}" in ''|*[!0-9]*|0*) refuse "$v='${!v}' must be a whole number of seconds > 0" ;; esac
done
PY=${PYTHON:-python3}
command -v "${PY%% *}" > /dev/null || refuse "PYTHON='$PY' is not a command (a python3 with torch)"
# a results folder of the script's own is removed where nothing was measured (no CUDA below)
OWN_OUT=0; [ -z "${OUT:-}" ] && OWN_OUT=1
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/gpu_checks_out.XXXXXX")}
R=$(mktemp -d "${TMPDIR:-/tmp}/gpu_checks_r.XXXXXX")
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/mast3r_inductor}
# a step dies with the process that started it (the kernel's parent-death signal, prctl
# PR_SET_PDEATHSIG, through util-linux's setpriv; Linux): a SIGKILL to the script's group (the
# device's limit) killed every process of the script but the steps, which ran on, in process
# groups of their own, to their limits; its TERM reaches the step's `timeout`, which stops the
# step's group as at its limit (TERM, then KILL 10 s later). Without setpriv --pdeathsig
# (an old util-linux, not Linux) the steps run as before, said in gpu.txt.
DIE=()
setpriv --pdeathsig TERM true > /dev/null 2>&1 && DIE=(setpriv --pdeathsig TERM)
start=$(date +%s)
NCPU=$(nproc 2>/dev/null || echo 2)
if [ "$SMOKE" = 1 ]; then
  export OMP_NUM_THREADS=1
  DEADLINE=${GPU_CHECKS_DEADLINE_S:-100000}
  G=(bench/bench_gpu.py --config tiny --device cpu --repeats 1)
  # compiling on the CPU takes minutes: the smoke run builds eager engines where the GPU
  # run compiles, and keeps the realistic whole frame to the first step
  RO=(eager); EAGER=(eager); DEF=(eager); S512=224; S384=224; S224=224
  KF=(--keyframes 1 2); KF_LATER=(--keyframes 1 --no-localize)
  M=(bench/bench_matching.py --smoke)
  FH=(bench/bench_frame_host.py --smoke)
  H=(bench/bench_host.py --frames 2 --repeats 1)
  Q=(bench/bench_retrieval.py --smoke)
  X=4  # step limits x4 on a loaded CPU
else
  DEADLINE=${GPU_CHECKS_DEADLINE_S:-560}
  G=(bench/bench_gpu.py --config full --device cuda --precision fp16 --repeats 10)
  RO=(reduce-overhead); EAGER=(eager); DEF=(default)
  S512=512; S384=384; S224=224
  KF=(--keyframes 1 4); KF_LATER=(--keyframes 1 4)
  M=(bench/bench_matching.py --device cuda --size 512 --repeats 20)
  FH=(bench/bench_frame_host.py --device cuda)
  H=(bench/bench_host.py --frames 8 --repeats 3)
  Q=(bench/bench_retrieval.py --keyframes 100000 --repeats 9 --threads 1 --score-threads 4
     --device cuda --backends numpy,faiss,torch --skip-tiny --skip-official)
  X=1
fi
want() { case ",$STEPS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
elapsed() { echo $(( $(date +%s) - start )); }
# pack: $R (every step's log and JSON so far, the running step's too) -> $OUT/results.tgz, then
# the summary; atomic (a part file of its own, renamed), so the periodic packer below and a
# step's end may overlap. tar's exit 1 (a file written while it read) still leaves an archive.
pack() { local part; part=$(mktemp "$OUT/.results.XXXXXX") || return 0
         tar -czf "$part" -C "$R" . 2>/dev/null; if [ $? -le 1 ]; then
           chmod 644 "$part"; mv -f "$part" "$OUT/results.tgz"; else rm -f "$part"; fi
         summarize --quiet; }
# the summary against issue 9's "Must reach" lines (bench/gpu_summary.py, standard library only:
# a fraction of a second), rewritten after every step so that a run cut short keeps it
SUMMARY_ARGS=(); [ "$SMOKE" = 1 ] && SUMMARY_ARGS=(--smoke)
summarize() { $PY bench/gpu_summary.py "$R" --log "$OUT/gpu_checks_log.txt" \
                --out "$OUT/gpu_summary.md" ${SUMMARY_ARGS[@]+"${SUMMARY_ARGS[@]}"} "$@" \
                || echo "gpu_summary.py failed (exit $?): the step logs and JSON are in results.tgz"; }
# limit LIMIT_S: the step's own limit, cut to what the deadline leaves (0: skip the step)
limit() { local t=$(( $1 * X )) left=$(( DEADLINE - $(elapsed) ));
          [ "$left" -lt "$t" ] && t=$left; [ "$t" -lt 15 ] && t=0; echo "$t"; }
# a stop (TERM or INT: `timeout 120 bash bench/gpu_checks.sh`, kill, Ctrl-C; a KILL: see DIE
# above and the packer below) must not leave the
# running steps behind: each runs under its own `timeout`, in a process group of its own that a
# signal to the script, or to the script's group, never reaches (a step ran on, init's child, to
# its own limit). So a step runs in the background and is waited for (a trap runs during
# `wait`, not during a command in the foreground); its timeout's pid, its group's id, is a file
# in $R.run while it runs (one each: the parallel step's jobs start and end together), and the
# trap below stops the steps' body ($R.body: no next step starts), the packer and every group
# listed.
mkdir -p "$R.run"
running() { : > "$R.run/$1"; }
ended() { rm -f "$R.run/$1"; }
stop_all() { local g
  [ -s "$R.body" ] && kill -TERM "$(cat "$R.body")" 2>/dev/null
  [ -n "${PACKER:-}" ] && kill -TERM "$PACKER" 2>/dev/null
  for g in "$R.run"/*; do
    g=${g##*/}; [ "$g" != "*" ] && kill -TERM -- "-$g" "$g" 2>/dev/null
  done
  rm -rf "$R.body" "$R.run" "$R.stop"; }
# stopped SIG: after stop_all on a TERM or INT, on the script's stderr (fd 9: a trap runs under
# the redirections of the command it interrupted; a pipe's tee may be gone), where the partial
# results are (the default OUT, a mktemp name, is said only at the normal end), or OUT removed
# when it is the default and no step had started; the scratch folder removed
exec 9>&2
stopped() { local steps; steps=$(find "$R" -maxdepth 1 -name '*.log' 2>/dev/null | head -n 1)
  if [ "$OWN_OUT" = 1 ] && [ -z "$steps" ]; then rm -rf "$OUT"
    echo "gpu_checks.sh: stopped ($1) before any step started: nothing kept" >&9
  else cp "$OUT/gpu_checks_log.txt" "$R/" 2>/dev/null; pack > /dev/null 2>&1
    echo "gpu_checks.sh: stopped ($1): the partial results are in $OUT/results.tgz (summary" \
         "$OUT/gpu_summary.md, log $OUT/gpu_checks_log.txt)" >&9; fi
  rm -rf "$R" "$R".pt*; }
trap stop_all EXIT
trap 'stop_all; stopped TERM; trap - EXIT; exit 143' TERM
trap 'stop_all; stopped INT; trap - EXIT; exit 130' INT
# step NAME LIMIT_S CMD...: run alone, log to $R/NAME.log, show its tail, re-pack
step() { local name=$1 t; t=$(limit "$2"); shift 2
         echo; echo "=== [$(elapsed) s] $name: $*"
         if [ "$t" = 0 ]; then echo "=== $name skipped: the ${DEADLINE} s deadline is near"; return; fi
         ${DIE[@]+"${DIE[@]}"} timeout -k 10 "$t" "$@" > "$R/$name.log" 2>&1 &
         local pid=$!; running "$pid"
         wait "$pid"; local rc=$?; ended "$pid"; tail -n 60 "$R/$name.log"
         echo "=== $name exit $rc (limit $t s)"; pack; }
# bg NAME CPUS CMD...: a background job of the parallel step (pinned to CPUS when given)
bg() { local name=$1 cpus=$2; shift 2; local pin=()
       [ -n "$cpus" ] && command -v taskset > /dev/null && pin=(taskset -c "$cpus")
       echo "--- [$(elapsed) s] $name: $*"
       ( ${DIE[@]+"${DIE[@]}"} timeout -k 10 "$PLIMIT" ${pin[@]+"${pin[@]}"} "$@" \
           > "$R/$name.log" 2>&1 &
         pid=$!; running "$pid"; wait "$pid"; rc=$?; ended "$pid"
         echo "exit $rc (limit $PLIMIT s)" >> "$R/$name.log" ) &
       JOBS+=("$name"); }

{
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null \
  || echo "nvidia-smi: not available"
$PY -V
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)"
$PY -c "import scipy, cv2, PIL; print('scipy', scipy.__version__, 'cv2', cv2.__version__, 'PIL', PIL.__version__)" 2>/dev/null \
  || echo "scipy/cv2/PIL: not all installed"
$PY -c "import tensorrt; print('tensorrt', tensorrt.__version__)" 2>/dev/null || echo "tensorrt: not installed"
$PY -c "import triton; print('triton', triton.__version__)" 2>/dev/null || echo "triton: not installed"
$PY -c "import poselib; print('poselib', poselib.__version__)" 2>/dev/null \
  || echo "poselib: NOT INSTALLED: PnP runs OpenCV's USAC, not the default backend (carry its wheel: docs/bench/README.md)"
$PY -c "import faiss; print('faiss', faiss.__version__)" 2>/dev/null || echo "faiss: not installed"
[ ${#DIE[@]} = 0 ] && echo "setpriv --pdeathsig: not available: a step outlives a SIGKILL to this script"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $NCPU CPUs, steps $STEPS, deadline $DEADLINE s"
} > "$R/gpu.txt" 2>&1
# no CUDA for this Python (a CPU torch wheel, no driver): every step would fail or time nothing,
# one after the other, for the whole deadline; say so at once instead
if [ "$SMOKE" = 0 ] && ! $PY -c "import sys, torch; sys.exit(not torch.cuda.is_available())" \
    > /dev/null 2>&1; then
  { cat "$R/gpu.txt"
    echo "gpu_checks.sh: $PY sees no CUDA device (torch.cuda.is_available() is False; versions"
    echo "above): nothing run. Use a Python whose torch has CUDA (PYTHON=...), or --smoke on a CPU."
    [ "$OWN_OUT" = 0 ] && echo "This log, the versions and the summary are in $OUT."
  } 2>&1 | tee "$OUT/gpu_checks_log.txt"
  if [ "$OWN_OUT" = 1 ]; then rm -rf "$OUT"; else cp "$OUT/gpu_checks_log.txt" "$R/"; pack; fi
  rm -rf "$R"
  exit 2
fi

# every PACK_EVERY s while the steps run: the device's own limit (timeout_s, or less where less
# device time is left than the machine's start took) kills the whole command without warning,
# and what is under $OUT comes back: the running step's JSON and log so far (bench_gpu.py
# rewrites its JSON after each K) must be there, not only the steps that finished
# (stopped by a flag, not killed: a pack killed mid-way would leave its part file in $OUT).
# It also watches the script: a SIGKILL to the script alone (no trap runs) left the steps'
# body starting step after step, and this loop packing for ever; once the script is gone (this
# subshell's parent is no longer it: /proc, Linux) it stops the steps as the trap does, packs a
# last time and removes the scratch folder.
PACK_EVERY=${GPU_CHECKS_PACK_EVERY_S:-20}
orphaned() { local stat; read -r stat 2> /dev/null < "/proc/$BASHPID/stat" || return 1
             set -- ${stat##*) }; [ "${2:-$$}" != "$$" ]; }  # field 4, after '(comm) state'
( renice -n 10 -p "$BASHPID" > /dev/null 2>&1  # behind the timed steps for the CPU
  while :; do for (( i = 0; i < PACK_EVERY; i++ )); do
    [ -e "$R.stop" ] && exit 0
    orphaned && { stop_all; pack; rm -rf "$R"; exit 0; }
    sleep 1; done; pack; done ) > /dev/null 2>&1 &
PACKER=$!
{
echo "$BASHPID" > "$R.body"
cat "$R/gpu.txt"
# 1. the whole frame at 512 compiled (the issue's targets; eager 512 is the last step)
want gpu_512 && step gpu_512 190 $PY "${G[@]}" --sizes "$S512" --variants "${RO[@]}" \
  "${KF[@]}" --json "$R/bench_gpu_512_fp16.json"
# 2. matching alone on realistic pairs
want matching && step matching 60 $PY "${M[@]}" --json "$R/bench_matching.json"
# 3. TensorRT where it is installed (never on the lent machines so far: a one-line skip, no
# device time): engines built from the ONNX export, at most 300 s (a build cut is reported as
# not measured); ahead of 224/384, which the issue asks to be reported, not met
if want tensorrt; then
  if $PY -c "import tensorrt" > /dev/null 2>&1; then
    step tensorrt 300 $PY "${G[@]}" --sizes "$S512" --variants tensorrt "${KF_LATER[@]}" \
      --json "$R/bench_gpu_512_fp16_tensorrt.json"
  else echo; echo "=== tensorrt: not installed here; skipped (no device time)"; fi
fi
# 4. host-side frame work (prepare, keyframe encodings fetch), once merged
want frame_host && [ -f bench/bench_frame_host.py ] && \
  step frame_host 45 $PY "${FH[@]}" --json "$R/bench_frame_host.json"
# 5. the parallel step: correctness on the GPU (no timing), inductor cache for steps 6-8, host PnP
if want parallel; then
  PLIMIT=$(limit 170)
  echo; echo "=== [$(elapsed) s] parallel (limit $PLIMIT s)"
  if [ "$PLIMIT" = 0 ]; then echo "=== parallel skipped: the ${DEADLINE} s deadline is near"; else
    JOBS=()
    HOST_CPUS=""; REST_CPUS=""
    if [ "$NCPU" -ge 8 ]; then HOST_CPUS="0,1"; REST_CPUS="2-$(( NCPU - 1 ))"; fi
    CT=(env "TORCHINDUCTOR_COMPILE_THREADS=${TORCHINDUCTOR_COMPILE_THREADS:-6}")  # 7 compiling
    bg bench_host "$HOST_CPUS" $PY "${H[@]}" --clock thread --json "$R/bench_host.json"
    PT=(-m pytest -q -rA --tb=short -p no:cacheprovider)
    i=0
    # the TensorRT test builds the CUDA reference before it skips: not run where TensorRT is absent
    if $PY -c "import tensorrt" 2>/dev/null; then NOTRT=NONE; else NOTRT=tensorrt; fi
    while read -r id; do
      case "$id" in *"$NOTRT"*) echo "--- $id: not run (no tensorrt here)"; continue ;; esac
      i=$(( i + 1 ))
      bg "pytest_compile_$i" "$REST_CPUS" "${CT[@]}" $PY "${PT[@]}" --basetemp "$R.pt$i" "$id"
    done < <($PY -m pytest --collect-only -q -p no:cacheprovider test/gpu/test_compile_cuda.py \
             2>/dev/null | grep '::')
    # + the Triton search's unit tests, on CUDA there (compiled kernels, real tensor cores)
    bg pytest_gpu "$REST_CPUS" "${CT[@]}" $PY "${PT[@]}" -v --basetemp "$R.pt0" test/gpu \
      --ignore=test/gpu/test_compile_cuda.py test/unit/test_nn_triton.py \
      --deselect test/unit/test_nn_triton.py::test_bench_matching_smoke
    bg build_384 "$REST_CPUS" "${CT[@]}" $PY "${G[@]}" --build-only --sizes "$S384" \
      --variants "${RO[@]}" "${KF[@]}"
    bg build_224 "$REST_CPUS" "${CT[@]}" $PY "${G[@]}" --build-only --sizes "$S224" \
      --variants "${RO[@]}" "${KF[@]}"
    bg build_512_default "$REST_CPUS" "${CT[@]}" $PY "${G[@]}" --build-only --sizes "$S512" \
      --variants "${DEF[@]}" "${KF[@]}"
    wait
    rm -rf "$R".pt*
    for j in "${JOBS[@]}"; do echo "--- $j"; tail -n 25 "$R/$j.log"; done
    echo "=== [$(elapsed) s] parallel done"; pack
  fi
fi
# 6-8. the other sizes (224 first: the cheaper one) and compile 'default', from the inductor
# cache the parallel step filled
want gpu_224 && step gpu_224 120 $PY "${G[@]}" --sizes "$S224" --variants "${RO[@]}" \
  "${KF_LATER[@]}" --json "$R/bench_gpu_224_fp16.json"
want gpu_384 && step gpu_384 120 $PY "${G[@]}" --sizes "$S384" --variants "${RO[@]}" \
  "${KF_LATER[@]}" --json "$R/bench_gpu_384_fp16.json"
want gpu_512_default && step gpu_512_default 120 $PY "${G[@]}" --sizes "$S512" \
  --variants "${DEF[@]}" "${KF_LATER[@]}" --json "$R/bench_gpu_512_fp16_default.json"
# eager at 512 (measured before on the network's own matches, 49.3 / 65.9 ms at K=1 / 4: the
# reference the compiled rows are read against), now with realistic correspondences too
want gpu_512_eager && step gpu_512_eager 90 $PY "${G[@]}" --sizes "$S512" \
  --variants "${EAGER[@]}" "${KF_LATER[@]}" --json "$R/bench_gpu_512_fp16_eager.json"
# 10. which Triton block shape is fastest here (the module's defaults are 32x128, 4 warps)
if want sweep; then
  if [ "$SMOKE" = 1 ]; then echo; echo "=== sweep: GPU only (the interpreter's timings mean nothing)"
  else step sweep 90 $PY bench/bench_matching.py --device cuda --size 512 --repeats 9 --pairs 1 \
    --backends triton --sweep --json "$R/bench_matching_sweep.json"; fi
fi
want retrieval && step retrieval 55 $PY "${Q[@]}" --json "$R/bench_retrieval.json"
echo "=== total $(elapsed) s; results in $OUT/results.tgz, summary in $OUT/gpu_summary.md"
rm -f "$R.body"
} 2>&1 | tee "$OUT/gpu_checks_log.txt" &
wait $!  # in the background: the trap runs at once (see stop_all)
touch "$R.stop"; wait "$PACKER" 2>/dev/null; rm -f "$R.stop"; PACKER=
cp "$OUT/gpu_checks_log.txt" "$R/" 2>/dev/null
pack
echo
summarize  # printed last: the device's reply shows the end of the output
rm -rf "$R"
