"""bench/realistic_pairs.py: the fabricated pairs give PnP the query's true pose through the real
matcher, and `RealisticEngine` picks each keyframe's pair by its encoding; bench/gpu_checks.sh
--smoke runs end to end (slow)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "bench") not in sys.path:
    sys.path.insert(0, str(REPO / "bench"))

from realistic_pairs import FIELDS, RealisticEngine, fabricate_pair, make_scene  # noqa: E402

from mast3r_ros.core.geometry import apply_homography, pose_error, transform_points  # noqa: E402
from mast3r_ros.core.matching import fast_reciprocal_matches, filter_border  # noqa: E402
from mast3r_ros.core.model.engine import Encoding, PairPrediction  # noqa: E402
from mast3r_ros.core.model.preprocess import resize_crop  # noqa: E402
from mast3r_ros.core.pnp import solve_pnp  # noqa: E402

SIZE = 224


@pytest.fixture(scope="module")
def scene():
    keyframes, query = make_scene(2, seed=1)
    net, plan = resize_crop(query.rgb, SIZE)
    return keyframes, query, np.asarray(plan.to_orig(), np.float64), net.shape[:2]


def test_fabricated_pair_gives_the_true_pose(scene):
    keyframes, query, to_orig, hw = scene
    for j, kf in enumerate(keyframes[:1]):
        p = fabricate_pair(kf, query, to_orig, to_orig, hw, 24, seed=j)
        assert p["desc_1"].shape == (*hw, 24) and p["pts3d_1"].shape == (*hw, 3)
        assert 0.5 < p["seen"] <= 1.0
        assert float(p["conf_1"].min()) > 1.0 and float(p["desc_conf_2"].min()) > 1.001
        a, b = fast_reciprocal_matches(p["desc_1"], p["desc_2"], subsample=8)
        a, b = filter_border(a, b, hw, hw, 3)
        assert len(a) > 400, len(a)  # 28 x 28 start points at 224
        X = transform_points(kf.map_from_cam, p["pts3d_1"][a[:, 1], a[:, 0]].double().numpy())
        res = solve_pnp(X, apply_homography(to_orig, b.numpy()), query.intrinsics, seed=0)
        assert res.success, res.reason
        ratio = res.num_inliers / len(a)
        assert 0.6 < ratio < 0.95, ratio  # outliers as on real images, most matches right
        dt, dr = pose_error(query.map_from_cam, res.map_from_cam)
        assert dt < 0.01 and dr < 0.2, (dt, dr)


class _StubEngine:
    """The engine API the wrapper needs; decode returns zeros of the real output shapes."""

    has_descriptors = True

    def __init__(self, hw):
        self.hw, self.calls = hw, 0

    def prepare(self, rgb, size):
        net, plan = resize_crop(rgb, size)
        return type("Prep", (), {"to_orig": plan.to_orig()})()

    def decode(self, view1, view2, *, pts3d_2=False):
        self.calls += 1
        h, w = self.hw
        z = torch.zeros
        return [PairPrediction(z(h, w, 3), z(h, w), z(h, w, 24), z(h, w), None, None,
                               z(h, w, 24), z(h, w)) for _ in view1]


def test_realistic_engine_picks_each_keyframes_pair(scene):
    keyframes, query, _, hw = scene
    g = torch.Generator().manual_seed(0)
    encs = [Encoding(torch.randn(49, 8, generator=g), (SIZE, SIZE)) for _ in keyframes]
    stub = _StubEngine(hw)
    eng = RealisticEngine(stub, keyframes, query, SIZE)
    assert eng.has_descriptors  # everything else is the wrapped engine's
    with pytest.raises(RuntimeError):
        eng.decode(encs[:1], encs[0])
    # decode is given fresh Encoding objects with the same values (as a store-backed map does)
    eng.bind([dataclasses.replace(e, feats=e.feats.clone()) for e in encs])
    out = eng.decode([encs[1], encs[0]], encs[1])
    assert stub.calls == 1 and eng.misses() == 0
    again = eng.decode([encs[0]], encs[1])
    for f in FIELDS:
        assert torch.equal(getattr(out[1], f), getattr(again[0], f)), f
        assert not torch.equal(getattr(out[0], f), getattr(out[1], f)), f
    assert float(out[0].pts3d_1[..., 2].min()) > 0.3  # metric points in front of the camera
    assert out[0].pts3d_2 is None  # fields the localizer does not use stay the network's
    stranger = Encoding(torch.randn(49, 8, generator=g), (SIZE, SIZE))
    eng.decode([stranger], encs[1])
    assert eng.misses() == 1
    assert eng.substitution_ms(encs[:2], repeats=2) >= 0.0


SLOW = os.environ.get("MAST3R_ROS_SLOW") == "1"


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason=(
    "3-6 min on the 2-core development machine, 13 at load ~18 (docs/bench/README.md); "
    "set MAST3R_ROS_SLOW=1 to run"))
def test_gpu_checks_smoke(tmp_path):
    """bash bench/gpu_checks.sh --smoke: every step runs on the CPU (tiny config), the realistic
    whole frame localizes every frame, results.tgz and the log land in $OUT."""
    import json
    import tarfile

    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable,
           "TMPDIR": str(tmp_path)}
    r = subprocess.run(["bash", str(REPO / "bench" / "gpu_checks.sh"), "--smoke"], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    log = (tmp_path / "gpu_checks_log.txt").read_text()
    assert "=== gpu_512 exit 0" in log and "=== total" in log, log[-3000:]
    # every step ran and none failed; the summary against the lines is in $OUT and is
    # the end of the console output
    steps = ["gpu_512", "matching", "frame_host", "gpu_384", "gpu_224", "gpu_512_default",
             "gpu_512_eager"]
    assert all(f"=== {s} exit 0" in log for s in steps), log[-3000:]
    summary = (tmp_path / "gpu_summary.md").read_text()
    assert "| Must reach | verdict |" in summary and "SMOKE RUN" in summary, summary
    # every line of the table (9 since 384/224 and TensorRT got theirs): a smoke run measures
    # none (the equivalence too since its compile tests are skipped on the CPU, f9c2575)
    table = summary.split("| Must reach | verdict |")[1].split("\n\n")[0].splitlines()[2:]
    assert len(table) >= 9 and all("| **not measured** |" in row for row in table), table
    assert summary.count("**not measured**") == len(table), summary
    assert "NO EXIT LINE" not in summary, summary
    assert "exit 0 (" in summary and "timed out" not in summary.lower(), summary
    assert r.stdout.rstrip().endswith(summary.rstrip().splitlines()[-1]), r.stdout[-2000:]
    with tarfile.open(tmp_path / "results.tgz") as tf:
        names = {Path(n).name for n in tf.getnames()}
        assert {"bench_gpu_512_fp16.json", "bench_matching.json", "bench_frame_host.json",
                "bench_host.json", "bench_gpu_384_fp16.json", "bench_gpu_224_fp16.json",
                "bench_gpu_512_fp16_default.json", "bench_gpu_512_fp16_eager.json", "gpu.txt",
                "gpu_checks_log.txt"} <= names, names
        res = json.load(tf.extractfile("./bench_gpu_512_fp16.json"))
    for k, r_k in res["sizes"]["224"]["variants"]["eager"]["keyframes"].items():
        lr = r_k["localize_realistic"]
        assert lr["localized"] == lr["frames"] and lr["unrecognised_keyframes"] == 0, (k, lr)
        assert lr["pose_error_cm_max"] < 2.0, (k, lr)


def test_bench_json_says_when_a_fast_path_fell_back(tmp_path, capsys, monkeypatch):
    """benchlib.write_json: every bench JSON records the matching's CUDA-graph state (why it is
    off, captures, replays), and a fallback is printed as a FALLBACK line: a row that timed the
    eager path after a failed capture must not pass for the graph's figure."""
    import json

    import benchlib

    from mast3r_ros.core.matchers import fixed_matching

    path = tmp_path / "r.json"
    benchlib.write_json(str(path), {"x": 1})
    res = json.loads(path.read_text())
    assert res["x"] == 1 and res["fallbacks"]["cuda_graph_matching"]["broken"] is None
    assert "FALLBACK" not in capsys.readouterr().out
    monkeypatch.setattr(fixed_matching._RUNNER, "broken", "RuntimeError: capture failed")
    benchlib.write_json(str(path), {"x": 2})
    res = json.loads(path.read_text())
    assert res["fallbacks"]["cuda_graph_matching"]["broken"] == "RuntimeError: capture failed"
    out = capsys.readouterr().out
    assert "FALLBACK" in out and "cuda_graph_matching" in out


def test_bench_json_write_that_fails_keeps_the_previous_file(tmp_path):
    """benchlib.write_json: bench_gpu.py rewrites its JSON after every variant; a write that
    breaks off (here a value JSON cannot hold, as a timeout's kill would mid-write) truncated the
    file and lost the variants already measured. The previous file now stays whole, with no
    temporary file left beside it."""
    import json

    import benchlib

    path = tmp_path / "r.json"
    benchlib.write_json(str(path), {"variants": {"reduce-overhead": {"ms": 20.2}}})
    with pytest.raises(TypeError):
        benchlib.write_json(str(path), {"variants": {"reduce-overhead": {"ms": 20.2}},
                                        "broken": object()})
    assert json.loads(path.read_text())["variants"]["reduce-overhead"]["ms"] == 20.2
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # as open() makes it, not 0600


def test_gpu_checks_without_cuda_stops_at_once_with_a_message(tmp_path):
    """bash bench/gpu_checks.sh (no --smoke) where torch sees no CUDA: it ran every step, each
    failing (or skipped by the deadline) and exited 0 after minutes of tracebacks; it now says
    so in its log and exits 2 before any step."""
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the script would run its steps")
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable,
           "TMPDIR": str(tmp_path), "GPU_CHECKS_DEADLINE_S": "1"}
    r = subprocess.run(["bash", str(REPO / "bench" / "gpu_checks.sh")], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    log = (tmp_path / "out" / "gpu_checks_log.txt").read_text()
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert "sees no CUDA device" in log and "=== " not in log, log
    assert (tmp_path / "out" / "results.tgz").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("gpu_checks_r.")]
