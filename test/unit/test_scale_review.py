"""Large-map costs checked structurally (no timing): work that must not grow with the product of
the keyframe count and the pair count, or with the map size where a few items would do."""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np

from mast3r_ros.core.map_check.measure import _keyframe_figures, _pairs
from mast3r_ros.core.map_check.report import PairFigures


class _CountingList(list):
    """A list that counts the passes made over it."""

    passes = 0

    def __iter__(self):
        self.passes += 1
        return super().__iter__()


def _pair(a: int, b: int, ok=True) -> PairFigures:
    f = PairFigures(a, b)
    f.ok, f.depth_points, f.depth_residual, f.depth_agree, f.reproj_px = ok, 10, 0.01, 0.9, 0.5
    return f


def test_keyframe_figures_pass_over_the_pairs_once_not_once_per_keyframe():
    # it scanned every pair for every keyframe: 67 s of a 2*10^4-keyframe check-map
    n = 50
    pairs = _CountingList(_pair(a, b, ok=None if (a, b) == (3, 4) else True)
                          for a, b in _pairs(n, 2))
    views = [types.SimpleNamespace(label=str(i)) for i in range(n)]
    figs = _keyframe_figures(views, pairs)
    assert pairs.passes <= 2
    assert [k.index for k in figs] == list(range(n))
    assert figs[0].neighbours == [1, 2] and figs[10].neighbours == [8, 9, 11, 12]
    assert figs[3].neighbours == [1, 2, 5]  # the unjudged pair 3-4 is no neighbour
    assert math.isclose(figs[10].depth_residual, 0.01) and figs[10].ok


def test_map_check_reports_progress_over_keyframes_and_pairs():
    # check-map and build-map's check ran minutes at 10^4 keyframes with no output at all
    from mast3r_ros.core.config import Config
    from mast3r_ros.core.map_check import CONSISTENT, KeyframeRecord, check_keyframes
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    frames = list(render_frames(40, default_intrinsics(160, 120), indices=range(0, 10, 2)))
    recs = [KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam, f.stamp_ns)
            for f in frames]
    seen = []

    def progress(it, total, desc):
        items = list(it)
        seen.append((desc, total, len(items)))
        return items

    rep = check_keyframes(recs, Config().map_check, progress=progress)
    assert rep.verdict == CONSISTENT
    assert seen == [("map check: keyframes", 5, 5)]
    jumped = np.array(recs[3].map_from_cam, dtype=np.float64)
    jumped[:3, 3] += 0.5
    recs[3] = dataclasses.replace(recs[3], map_from_cam=jumped)
    seen.clear()
    rep = check_keyframes(recs, Config().map_check, progress=progress)
    assert rep.verdict != CONSISTENT  # a second pass over the keyframes, for the diagnosis
    assert seen == [("map check: keyframes", 5, 5), ("map check: diagnosing", 5, 5)]


def test_map_check_holds_only_a_window_of_prepared_keyframes(monkeypatch):
    # every keyframe's depth and ORB features were held at once: 2.1 GB for check-map at 2*10^4
    # 160x120 keyframes (0.37 MB each at 640x480); a consistent map needs neighbours + 1
    import weakref

    from mast3r_ros.core.config import Config
    from mast3r_ros.core import map_check
    from mast3r_ros.core.map_check import CONSISTENT, KeyframeRecord, check_keyframes, measure
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    frames = list(render_frames(60, default_intrinsics(120, 90), indices=range(0, 24, 2)))
    recs = [KeyframeRecord(f.rgb, f.depth_m, f.intrinsics, f.map_from_cam, f.stamp_ns)
            for f in frames]
    prepare, alive, most = measure._prepare, [], [0]

    def counting(*args, **kwargs):  # keep_grey: whether SIFT may run (map_check.sift_fallback)
        v = prepare(*args, **kwargs)
        alive.append(weakref.ref(v))
        most[0] = max(most[0], sum(r() is not None for r in alive))
        return v

    monkeypatch.setattr(measure, "_prepare", counting)
    monkeypatch.setattr(map_check, "_prepare", counting)
    cfg = Config().map_check
    rep = check_keyframes(recs, cfg)
    assert rep.verdict == CONSISTENT and len(rep.keyframes) == 12
    assert len(alive) == 12 and most[0] <= cfg.neighbours + 2


def test_merge_maps_shows_progress_over_both_maps(tmp_path, monkeypatch):
    # merge-maps of 2x5000 keyframes ran 44 s with no output before its last line
    from mast3r_ros.core.keyframes import MapWriter
    from mast3r_ros.replay import map_build, pipeline
    from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

    frames = list(render_frames(40, default_intrinsics(160, 120), indices=range(0, 8, 2)))
    for name, offset in (("a", 0), ("b", 10**12)):
        with MapWriter(str(tmp_path / name)) as w:
            for f in frames:
                w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns + offset,
                               f.depth_m)
            w.commit()
    seen = []

    def progress(it, total, desc, unit):
        assert unit == "keyframe", (desc, unit)
        items = list(it)
        seen.append((desc, total, len(items)))
        return items

    monkeypatch.setattr(pipeline, "progress", progress)
    n = map_build.merge_maps(str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c"))
    assert n == 8
    reading = [s for s in seen if "reading" in s[0]]
    writing = [s for s in seen if "writing" in s[0]]
    # no stamp is in both maps: no keyframe is decoded to look for copies (merge_pngs tests)
    assert [s[1] for s in reading] == [0, 0] and [s[1] for s in writing] == [4, 4]
    assert all(total == got for _, total, got in seen)


def test_inconsistent_map_message_names_ten_keyframes_and_counts_the_rest():
    # a map with every tenth pose off listed every such keyframe, twice, in its one-line error
    from mast3r_ros.core.map_check import _ranges
    from mast3r_ros.core.map_check.diagnose import _discontinuity

    n = 1000
    views = [types.SimpleNamespace(label=str(i), stamp_ns=i) for i in range(n)]
    pairs = [_pair(a, b, ok=not (a % 10 == 5 or b % 10 == 5)) for a, b in _pairs(n, 2)]
    cause = _discontinuity(views, pairs, None)
    assert cause.name == "pose_discontinuity"
    assert "keyframe 5, 15, 25, " in cause.what and "(90 more)" in cause.what
    assert "995" not in cause.what and len(cause.what) < 300
    assert _ranges([str(i) for i in range(5, n, 10)]).endswith("95, ... (90 more)")
    assert _ranges(["1", "2", "3", "7"]) == "1-3, 7"


def test_map_distortions_from_the_table_match_a_per_keyframe_pass_in_order(tmp_path):
    # distortions() of a v3 map looped over every table row in Python (0.19 s of the first
    # frame at 2*10^4 keyframes); the vectorised form must give the same rows, first-seen order
    from mast3r_ros.core.geometry import make_pose
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.keyframes.writer import write_map
    from mast3r_ros.core.types import CameraIntrinsics

    K = np.array([[100.0, 0, 40.0], [0, 100.0, 30.0], [0, 0, 1]])
    raw = [-0.3, 0.1, 0.0, 0.0, 0.0]
    specs = [(raw, "plumb_bob"), ([0.0] * 5, "plumb_bob"), (raw[:4], "plumb_bob"),
             (raw, "plumb_bob"), ([0.1, 0.01, 0.0, 0.0], "equidistant"), ((), "plumb_bob"),
             (raw[:4], "plumb_bob")]
    cams = [CameraIntrinsics(80, 60, K.copy(), np.array(d, np.float64), m) for d, m in specs]
    rng = np.random.default_rng(0)
    kfs = [(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), c,
            make_pose(np.eye(3), [float(i), 0.0, 0.0]), 10 * i,
            np.full((60, 80), 2.0, np.float32)) for i, c in enumerate(cams)]
    kf_map = KeyframeMap.load(write_map(str(tmp_path / "map"), kfs))
    want = {}
    for c in cams:
        d = np.asarray(c.dist, np.float64)
        model, d = (c.distortion_model, d) if np.any(d != 0) else ("", np.zeros(0))
        want.setdefault((c.width, c.height, model, d.tobytes()), (c.width, c.height, model, d))
    got = [(w, h, m, d.tolist()) for w, h, m, d in kf_map.distortions()]
    assert got == [(w, h, m, d.tolist()) for w, h, m, d in want.values()]
    assert len(got) == 4
