"""bench/gpu_summary.py: the verdicts against issue 9's "Must reach" lines, read from fabricated
bench_gpu / bench_matching / bench_host JSON and pytest logs of a gpu_checks.sh run."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "bench") not in sys.path:
    sys.path.insert(0, str(REPO / "bench"))

import gpu_summary  # noqa: E402


def _st(ms):
    return {"median_ms": ms, "p90_ms": ms * 1.1, "min_ms": ms, "max_ms": ms, "n": 10}


def _localize(ms, first, localized=10):
    return {"total": _st(ms), "first_ms": first, "localized": localized, "frames": 10,
            "stages": {"inference": _st(ms * 0.5), "matching": _st(ms * 0.3),
                       "pnp": _st(ms * 0.2)},
            "pose_error_cm_median": 0.2 if localized else None, "peak_gpu_mib": 1500.0}


def _gpu(size, variant, ms=(18.0, 35.0), compiled=None):
    keyframes = {}
    for k, m in zip(("1", "4"), ms):
        keyframes[k] = {"stages": {"total": _st(m * 0.7)},
                        "equivalence_vs_eager_fp32": {"desc_max_abs": 1.7e-3,
                                                      "pts3d_rel_p99": 1.1e-2,
                                                      "match_jaccard_min": 0.98},
                        "localize": _localize(m * 0.9, m * 0.9, localized=0),
                        "localize_realistic": _localize(m, m * 0.98)}
    return {"device": "cuda", "sizes": {size: {"variants": {variant: {
        "compile_effective": compiled or gpu_summary.COMPILE_OF.get(variant, variant),
        "keyframes": keyframes}}}}, "fallbacks": {}}


def _matching(graph_ms=(1.5, 1.2), broken=None):
    doc = {"device": "cuda", "pairs": [
        {"triton": _st(1.0), "triton-ieee": _st(3.0), "screen_identical": True,
         "screen_broken": None}],
        "fallbacks": {"cuda_graph_matching": {"broken": broken, "captures": 2, "replays": 40}}}
    for k, ms in zip((1, 4), graph_ms):
        doc[f"match_and_fuse_K{k}_per_pair"] = {
            "torch": _st(9.0), "triton": _st(6.0), "triton-fixed": _st(4.0),
            "triton-graph": {**_st(ms), "identical_to_torch": True}}
    return doc


def _host(ms=2.5):
    return {"backend": "poselib", "clock": "thread", "scenarios": {
        "N=1000 outliers=10% K=1": {"new": {"solve_pnp": _st(ms - 0.5)}},
        "N=5000 outliers=25% K=4": {"new": {"solve_pnp": _st(ms)}},
        "N=3000 outliers=80% K=1": {"new": {"solve_pnp": _st(9.0)}}}}


PASSED_LOG = ("PASSED test/gpu/test_compile_cuda.py::test_compiled_equals_eager[default-fp16]\n"
              "============ 1 passed in 85.2s ============\nexit 0 (limit 170 s)\n")
CONSOLE = "".join(f"=== [{i * 10} s] {s}: python3 bench/x.py\n=== {s} exit 0 (limit 120 s)\n"
                  for i, s in enumerate(("gpu_512", "matching", "gpu_384")))


def write_run(folder: Path, **files) -> Path:
    """A gpu_checks.sh result folder: every step met its target unless ``files`` replaces a
    file (a dict: JSON, a str: text, None: absent)."""
    run = {"bench_gpu_512_fp16.json": _gpu("512", "reduce-overhead"),
           "bench_gpu_384_fp16.json": _gpu("384", "reduce-overhead"),
           "bench_gpu_224_fp16.json": _gpu("224", "reduce-overhead"),
           "bench_gpu_512_fp16_default.json": _gpu("512", "default"),
           "bench_matching.json": _matching(), "bench_host.json": _host(),
           "pytest_compile_1.log": PASSED_LOG, "gpu.txt": "NVIDIA H200, 143771 MiB\n",
           "gpu_checks_log.txt": CONSOLE}
    run.update(files)
    folder.mkdir(exist_ok=True)
    for name, content in run.items():
        if content is None:
            continue
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return folder


def verdicts(folder: Path, smoke: bool = False):
    _, rows = gpu_summary.summary(str(folder), str(folder / "gpu_checks_log.txt"), smoke)
    keys = ["frame_k1", "frame_k4", "memory", "matching", "first_frame", "equivalence", "host"]
    assert [r["line"] for r in rows] == [gpu_summary.MUST_REACH[k]
                                         for k in keys + ["sizes", "tensorrt"]]
    return {k: (r["verdict"], r["figure"]) for k, r in zip(keys, rows)}


def test_sizes_and_tensorrt_lines(tmp_path):
    """384 and 224 are reported per K in the table; TensorRT says why it did not run, or is
    judged on its equivalence where the tensorrt step ran."""
    folder = write_run(tmp_path, **{"gpu.txt": "NVIDIA H200\ntensorrt: not installed\n"})
    _, rows = gpu_summary.summary(str(folder), str(folder / "gpu_checks_log.txt"))
    sizes, trt = rows[-2:]
    assert sizes["verdict"] == "reported" and "384 K=4: 35.0 ms" in sizes["figure"]
    assert "224 K=1: 18.0 ms" in sizes["figure"], sizes
    assert trt["verdict"] == "not measured" and "not installed" in trt["figure"], trt
    folder = write_run(tmp_path / "trt", **{gpu_summary.TRT_FILE: _gpu("512", "tensorrt")})
    _, rows = gpu_summary.summary(str(folder), str(folder / "gpu_checks_log.txt"))
    assert rows[-1]["verdict"] == "not met" and "pts3d p99 1.1e-02" in rows[-1]["figure"]


def test_every_line_met(tmp_path):
    v = verdicts(write_run(tmp_path))
    assert {k: x[0] for k, x in v.items()} == dict.fromkeys(v, "met"), v
    assert v["frame_k1"][1].startswith("realistic correspondences: 18.0 ms [first 17.6]"), v
    assert v["memory"][1] == "K=1: 1500 MiB (1.57 GB); K=4: 1500 MiB (1.57 GB)", v
    assert "K=1: triton-graph 1.50 ms per pair" in v["matching"][1], v
    assert "16 of 16 within 1.00x (sizes 224, 384, 512)" in v["first_frame"][1], v
    assert "1 passed" in v["equivalence"][1] and "Jaccard 0.98" in v["equivalence"][1], v
    assert "hopeless frames (not judged): N=3000 outliers=80% K=1 9.0" in v["host"][1], v


def test_lines_not_met_say_their_figure(tmp_path):
    gpu = _gpu("512", "reduce-overhead", ms=(22.5, 41.0))
    kf4 = gpu["sizes"]["512"]["variants"]["reduce-overhead"]["keyframes"]["4"]
    kf4["localize_realistic"]["first_ms"] = 80.0
    kf4["localize"]["peak_gpu_mib"] = 2900.0  # 3.04 GB: over the 3 GB
    failed = PASSED_LOG.replace("PASSED", "FAILED").replace("1 passed", "1 failed")
    v = verdicts(write_run(tmp_path, **{
        "bench_gpu_512_fp16.json": gpu, "bench_matching.json": _matching((1.9, 2.4)),
        "bench_host.json": _host(4.2), "pytest_compile_1.log": failed}))
    assert {k: x[0] for k, x in v.items()} == dict.fromkeys(v, "not met"), v
    assert "22.5 ms" in v["frame_k1"][1] and "41.0 ms" in v["frame_k4"][1], v
    assert "K=4: 2900 MiB (3.04 GB)" in v["memory"][1], v
    assert "K=4: triton-graph 2.40 ms" in v["matching"][1], v
    assert "worst 1.95x: 512 reduce-overhead K=4 realistic first 80.0 vs median 41.0" in \
        v["first_frame"][1], v
    assert "FAILED test_compiled_equals_eager[default-fp16]" in v["equivalence"][1], v
    assert "4.2 ms" in v["host"][1], v


def test_not_measured_when_missing_cut_or_fallen_back(tmp_path):
    """No figure, a compile that fell back to eager, a realistic frame that never localized, a
    pytest log cut by its timeout, a host bench without poselib: 'not measured' or flagged, never
    'met' on a slow path's or a missing figure."""
    fell_back = _gpu("512", "reduce-overhead", compiled="none")
    v = verdicts(write_run(tmp_path, **{
        "bench_gpu_512_fp16.json": fell_back, "bench_matching.json": None,
        "bench_gpu_224_fp16.json": None,
        "pytest_compile_1.log": "collected 1 item\nexit 124 (limit 170 s)\n",
        "bench_host.json": {**_host(), "backend": "opencv"}}))
    assert v["frame_k1"] == ("not measured", v["frame_k1"][1]), v
    assert "fell back to compile 'none'" in v["frame_k1"][1], v
    assert v["matching"] == ("not measured", "no bench_matching.json"), v
    assert v["first_frame"][0] == "not measured" and "size 224 not measured" in \
        v["first_frame"][1], v
    assert v["equivalence"][0] == "not measured" and "timed out at 170 s" in \
        v["equivalence"][1], v
    assert "NOT the default poselib backend" in v["host"][1], v

    gpu = _gpu("512", "reduce-overhead")
    for kf in gpu["sizes"]["512"]["variants"]["reduce-overhead"]["keyframes"].values():
        kf["localize_realistic"]["localized"] = 0
    v = verdicts(write_run(tmp_path / "b", **{"bench_gpu_512_fp16.json": gpu}))
    assert v["frame_k1"][0] == "not measured" and "did not localize" in v["frame_k1"][1], v


def test_graph_fallback_and_cpu_figures_are_not_gpu_verdicts(tmp_path):
    v = verdicts(write_run(tmp_path, **{"bench_matching.json": _matching(
        broken="RuntimeError: capture failed")}))
    assert v["matching"][0] == "not measured", v
    assert "CUDA GRAPH FELL BACK (RuntimeError: capture failed)" in v["matching"][1], v
    m = _matching()
    m["fallbacks"]["tf32_screen_broken"] = "CompilationError: tl.dot tf32"
    v = verdicts(write_run(tmp_path / "s", **{"bench_matching.json": m}))
    assert v["matching"][0] == "not measured" and "TF32 SCREEN FELL BACK" in v["matching"][1]
    cpu = copy.deepcopy(_gpu("512", "reduce-overhead"))
    cpu["device"] = "cpu"
    v = verdicts(write_run(tmp_path / "b", **{"bench_gpu_512_fp16.json": cpu}))
    assert v["frame_k1"][0] == "not measured" and "device cpu, not a GPU" in v["frame_k1"][1]


def test_smoke_run_reads_the_eager_224_files_and_judges_nothing(tmp_path):
    smoke = {f: _gpu("224", "eager", ms=(1500.0, 1900.0)) for f in
             ("bench_gpu_512_fp16.json", "bench_gpu_384_fp16.json", "bench_gpu_224_fp16.json",
              "bench_gpu_512_fp16_default.json")}
    for doc in smoke.values():
        doc["device"] = "cpu"
    text, rows = gpu_summary.summary(str(write_run(tmp_path, **smoke)), None, smoke=True)
    assert [r["verdict"] for r in rows] == ["not measured"] * 9, rows
    assert "1500.0 ms" in rows[0]["figure"] and "SMOKE RUN" in text, rows
    assert "512 reduce-overhead (smoke: 224 eager)" in text, text


def test_steps_cut_or_timed_out_are_named(tmp_path):
    failing = ("FAILED test/gpu/test_cuda_matching_graph.py::test_graph_equals_eager - assert\n"
               "PASSED test/gpu/test_cuda.py::test_cuda_fp32\n"
               "======= 1 failed, 1 passed in 12.0s =======\nexit 1 (limit 170 s)\n")
    log = CONSOLE + ("=== [200 s] gpu_224: python3 bench/bench_gpu.py\n"
                     "=== gpu_224 exit 124 (limit 120 s)\n"
                     "=== [330 s] gpu_512_default: python3 bench/bench_gpu.py\n")
    text, _ = gpu_summary.summary(str(write_run(tmp_path, **{"gpu_checks_log.txt": log,
                                                             "pytest_gpu.log": failing})),
                                  str(tmp_path / "gpu_checks_log.txt"))
    assert ("- pytest_gpu: exit 1 (1 failed, 1 passed): "
            "test/gpu/test_cuda_matching_graph.py::test_graph_equals_eager") in text, text
    assert "- gpu_224: TIMED OUT at its 120 s limit" in text, text
    assert "- gpu_512_default: started at 330 s, NO EXIT LINE" in text, text
    assert "- gpu_384: exit 0" in text and "- pytest_compile_1: exit 0 (1 passed)" in text, text


def test_main_writes_the_file_and_refuses_a_missing_folder(tmp_path, capsys):
    folder = write_run(tmp_path / "r")
    out = tmp_path / "summary.md"
    assert gpu_summary.main([str(folder), "--out", str(out), "--log",
                             str(folder / "gpu_checks_log.txt")]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text() and "| Must reach | verdict | figure | from |" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "summary.md"]
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    assert gpu_summary.main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is not a folder" in err, err


@pytest.mark.parametrize("name", ["bench_matching.json", "bench_gpu_512_fp16.json"])
def test_a_truncated_json_is_not_measured_not_a_crash(tmp_path, name):
    v = verdicts(write_run(tmp_path, **{name: '{"device": "cuda", "sizes": {'}))
    row = "matching" if name == "bench_matching.json" else "frame_k1"
    assert v[row][0] == "not measured" and f"{name} unreadable" in v[row][1], v


def test_a_file_of_another_shape_fails_its_line_only(tmp_path):
    """A bench JSON of an unexpected shape (a later bench version, a hand-edited file): its own
    line is "not measured" and says why; the other lines are still judged."""
    odd = _matching()
    odd["match_and_fuse_K1_per_pair"] = [1.5, 1.2]
    odd["pairs"] = {"0": 1.0}
    v = verdicts(write_run(tmp_path, **{"bench_matching.json": odd,
                                        "bench_host.json": {"scenarios": [2.5]}}))
    assert v["matching"] == ("not measured", v["matching"][1]), v
    assert "K=1: no timed variant; K=4: triton-graph 1.20 ms" in v["matching"][1], v
    assert v["host"][0] == "not measured" and "could not read it" in v["host"][1], v
    assert v["frame_k1"][0] == "met", v
    text, _ = gpu_summary.summary(str(tmp_path), str(tmp_path / "gpu_checks_log.txt"))
    assert "other figures: the summary could not read it" in text and "## Steps" in text, text


def test_the_previous_walk_ratio_is_summarised(tmp_path):
    """bench_matching.py's -prev variants (all walk rounds, norms per search): the summary
    gives their ratio to the current path, and that the matches were the same."""
    doc = _matching()
    for k in (1, 4):
        row = doc[f"match_and_fuse_K{k}_per_pair"]
        row["triton-graph-prev"] = {**_st(2.4), "identical_to_torch": True}
        row["prev_over_new"] = {"triton-graph": {"median_ms": 1.6, "identical": True}}
        row["first_rounds"], row["graph_frames_with_longer_walks"] = 6, 0
    text, rows = gpu_summary.summary(str(write_run(tmp_path, **{"bench_matching.json": doc})),
                                     str(tmp_path / "gpu_checks_log.txt"))
    assert ("match_and_fuse_K4_per_pair previous walk / now: triton-graph 1.60x (same matches "
            "True); first rounds 6, graph frames with longer walks 0") in text
    assert "K=1: triton-graph 1.50 ms per pair" in rows[3]["figure"]


def test_the_fused_walk_rounds_ratio_is_summarised(tmp_path):
    """bench_matching.py's -fused variants (`walk.FUSED_ROUNDS`, off by default): the summary
    gives their ratio to the current path and whether the matches were the same, so the GPU
    run says whether to flip the default; the variant the default config runs stays the one
    judged."""
    doc = _matching()
    for k in (1, 4):
        row = doc[f"match_and_fuse_K{k}_per_pair"]
        row["triton-graph-fused"] = {**_st(1.2), "identical_to_torch": True}
        row["fused_over_new"] = {"triton-graph": {"median_ms": 0.8, "identical": True}}
    text, rows = gpu_summary.summary(str(write_run(tmp_path, **{"bench_matching.json": doc})),
                                     str(tmp_path / "gpu_checks_log.txt"))
    assert ("match_and_fuse_K1_per_pair fused walk rounds / now: triton-graph 0.80x (same "
            "matches True) (below 1.00x for K=1 and K=4, same matches: walk.FUSED_ROUNDS = "
            "True)") in text
    assert "K=1: triton-graph 1.50 ms per pair" in rows[3]["figure"]


def test_first_frame_line_shows_the_previous_warmup_side_by_side(tmp_path):
    """bench_gpu.py measures each network-matches frame again with the warm-up as it was
    before its keyframe preload (issue 9); the summary names the worst old ratio next to the
    new ones, so one GPU run shows what the change bought."""
    gpu = _gpu("512", "reduce-overhead")
    kf1 = gpu["sizes"]["512"]["variants"]["reduce-overhead"]["keyframes"]["1"]
    kf1["localize"]["old_warmup"] = {"first_ms": 21.0, "median_ms": 20.0, "warmup_s": 1.0}
    v = verdicts(write_run(tmp_path, **{"bench_gpu_512_fp16.json": gpu}))
    assert v["first_frame"][1].endswith(
        "; with the previous warm-up worst 1.05x (512 reduce-overhead K=1)"), v
