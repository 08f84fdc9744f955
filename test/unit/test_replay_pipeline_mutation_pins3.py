"""Pins of replay/pipeline.py mutants that mutation audit 07v (docs/bench/
mutation_cpu_2026-12-07v) saw survive every test that enters the module: each test here is
in-process, on a handful of 32x24 frames from a stand-in source and a stand-in map writer
(`_add_keyframes`), or on the message helpers directly."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.types import Frame
from mast3r_ros.replay import pipeline
from mast3r_ros.replay.synthetic import default_intrinsics

CAM = default_intrinsics(32, 24)
RGB = np.zeros((24, 32, 3), np.uint8)


class _Writer:
    """`MapWriter`'s one method `_add_keyframes` calls: the stamps it was given."""

    def __init__(self):
        self.added = []

    def add_keyframe(self, rgb, intrinsics, pose, stamp_ns, depth_m):
        self.added.append(stamp_ns)
        return len(self.added) - 1


class _Source(list):
    """A caller's own frame source: its frames, as they come."""

    @property
    def stamps_ns(self):
        return np.array([f.stamp_ns for f in self], dtype=np.int64)


def _pose(x):
    p = np.eye(4)
    p[0, 3] = x
    return p


def _cfg(matcher="mast3r"):
    c = Config()
    return dataclasses.replace(c, map_check=dataclasses.replace(c.map_check, enabled=False),
                               localizer=dataclasses.replace(c.localizer, matcher=matcher))


def _frames(depths, step=1.0):
    return _Source(Frame(RGB, CAM, 1000 * (k + 1), depth_m=d, map_from_cam=_pose(step * k))
                   for k, d in enumerate(depths))


@pytest.mark.parametrize("value", [0.0, np.nan, np.inf, -1.0])
def test_sift_refuses_keyframes_whose_depth_has_no_valid_pixel(value):
    """#65 (the refusal dropped) and #286 (`depth > 0` -> `>= 0`: a depth image of zeros, the
    usual 'no reading', taken as valid): the sift matcher takes its 3-D points from keyframe
    depth, so a map whose every keyframe depth is 0, NaN, inf or negative is refused at build
    time (a wrong --depth-scale), not written to fail at localize."""
    depth = np.full((24, 32), value, np.float32)
    with pytest.raises(InputError, match=r"^no pixel of the 2 keyframes' depth is valid \(every "
                                         r"value 0, NaN, inf or negative\), and the sift matcher "
                                         r"needs keyframe depth: check --depth-scale"):
        pipeline._add_keyframes(_Writer(), _frames([depth, depth]), None, _cfg("sift"))


def test_one_valid_depth_pixel_in_one_keyframe_is_enough_for_sift():
    """The other side of the refusal: one positive finite pixel (the second keyframe's) makes
    the map's depth valid; both keyframes are written."""
    zero = np.zeros((24, 32), np.float32)
    one = zero.copy()
    one[3, 4] = 0.5
    w = _Writer()
    st = pipeline._add_keyframes(w, _frames([zero, one]), None, _cfg("sift"))
    assert st.valid_depth and st.keyframes == 2 and w.added == [1000, 2000]


def test_a_trajectory_is_interpolated_across_gaps_up_to_max_gap_s_and_not_beyond():
    """#221 / #220 (max_gap_s's seconds read as half / twice as many ns): with the default
    max_gap_s 0.1 s, a frame midway in a 90 ms gap between two poses (45 ms from each, beyond
    the 20 ms tolerance) gets the interpolated pose; one midway in a 110 ms gap gets none."""
    from mast3r_ros.core.config import PoseAtStampConfig

    rule = PoseAtStampConfig()
    assert (rule.tolerance_s, rule.max_gap_s) == (0.02, 0.1)
    s = 1_000_000_000
    stamps = np.array([s, s + 90_000_000, 2 * s, 2 * s + 110_000_000])
    poses = np.stack([_pose(0.0), _pose(0.9), _pose(5.0), _pose(6.1)])
    got = pipeline.poses_from_file((stamps, poses), np.array([s + 45_000_000,
                                                              2 * s + 55_000_000]), rule)
    np.testing.assert_allclose(got[0], _pose(0.45), atol=1e-12)
    assert np.isnan(got[1]).all()


def test_build_map_refuses_a_missing_checkpoint_before_it_reads_a_frame(tmp_path):
    """#34 (build_map's own `check_build_files` dropped): the command line checks the files
    first, so every build-map test passed; called from Python (a caller's own script, as the
    demo), a missing checkpoint is refused before the source's frames are read, not after the
    keyframes were selected and checked (minutes on a large bag), and nothing is left behind."""
    from mast3r_ros.core.errors import CheckpointError

    c = Config()
    c = dataclasses.replace(c, model=dataclasses.replace(
        c.model, checkpoint=str(tmp_path / "missing.pth")))

    class Unread(_Source):
        def __iter__(self):
            raise AssertionError("the frames were read before the checkpoint was checked")

    with pytest.raises(CheckpointError, match=r"^checkpoint not found: .*missing\.pth\. "):
        pipeline.build_map(Unread(), str(tmp_path / "map"), c)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_keyframes_without_depth_are_counted_as_such():
    """#111 (`depth_m is None` -> `is not None`): the count behind 'N keyframes have no depth'
    (and its INFO for a source without any) is of the keyframes written without depth, not
    of those with depth; a matcher that needs no depth takes all three."""
    one = np.ones((24, 32), np.float32)
    w = _Writer()
    st = pipeline._add_keyframes(w, _frames([one, None, None]), None, _cfg())
    assert (st.keyframes, st.no_depth, st.depth_skipped) == (3, 2, 0)
    assert w.added == [1000, 2000, 3000]


def test_sift_skips_a_frame_without_depth_and_builds_from_the_others():
    """#62 (`not st.keyframes and st.depth_skipped` -> `or`): a frame whose depth is missing
    (a slower depth stream) is skipped and counted when sift needs depth; only a build where
    every posed frame lacked it is refused ('none of the N frames with a pose has depth')."""
    one = np.ones((24, 32), np.float32)
    w = _Writer()
    st = pipeline._add_keyframes(w, _frames([None, one, one]), None, _cfg("sift"))
    assert (st.keyframes, st.depth_skipped, st.no_depth) == (2, 1, 0)
    assert w.added == [2000, 3000]
    with pytest.raises(InputError, match=r"^none of the 2 frames with a pose has depth, and "
                                         r"the sift matcher needs keyframe depth"):
        pipeline._add_keyframes(_Writer(), _frames([None, None]), None, _cfg("sift"))


def test_build_map_refuses_a_ray_address_for_a_build_that_encodes_nothing(tmp_path):
    """#35 (build_map's own `connect_build_workers` dropped): as #34, the command line checks
    first; called from Python, --ray-address with the sift matcher (nothing to encode on Ray)
    is refused before a frame is read, not silently ignored."""
    from mast3r_ros.replay.map_build import BuildOptions

    class Unread(_Source):
        def __iter__(self):
            raise AssertionError("the frames were read before --ray-address was checked")

    with pytest.raises(InputError, match=r"^--ray-address auto: this build encodes no keyframes "
                                         r"\(--matcher sift uses no network encodings\)"):
        pipeline.build_map(Unread(), str(tmp_path / "map"), _cfg("sift"),
                           build=BuildOptions(ray_address="auto"))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_sift_build_with_a_checkpoint_configured_encodes_nothing_on_resume(tmp_path):
    """#195 (`matcher == 'mast3r' and checkpoint` -> `or`) and #246 (`== 'mast3r'` -> `!=`),
    the ``encodes`` handed to `open_map_writer`: the sift matcher encodes no keyframe even with
    a checkpoint in its params, so resuming a build folder that holds another build's
    encodings is refused before a frame is read (they would be published unlisted)."""
    from mast3r_ros.replay.map_build import BuildOptions

    c = _cfg("sift")
    c = dataclasses.replace(c, model=dataclasses.replace(c.model,
                                                         checkpoint=str(tmp_path / "w.pth")))
    os.makedirs(tmp_path / "map.partial" / "encodings" / "abc123_224")

    class Unread(_Source):
        def __iter__(self):
            raise AssertionError("the frames were read before the build folder was checked")

    with pytest.raises(InputError, match=r"^--resume: the unfinished build in .*map\.partial was "
                                         r"done encoding abc123_224, but this run encodes nothing"):
        pipeline.build_map(Unread(), str(tmp_path / "map"), c, build=BuildOptions(resume=True))
    assert os.listdir(tmp_path / "map.partial" / "encodings") == ["abc123_224"]


def test_a_stop_as_the_map_is_published_is_not_told_as_a_map_not_written(tmp_path, monkeypatch,
                                                                         caplog):
    """#198 (the re-raise after `mark_published` dropped): the stop still propagated, through
    the branch for a build stopped before its map, which logged 'build interrupted: OUT was not
    written; rerun the same command' beside 'interrupted after the map was published: OUT is
    complete' (test_interrupt_at_publish.py checks only the last line)."""
    import logging

    from mast3r_ros.core.keyframes import KeyframeMap

    real = pipeline.commit_build

    def commit_then_stop(w):
        real(w)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "commit_build", commit_then_stop)
    monkeypatch.setattr(pipeline, "plot_keyframes", lambda *a, **k: None)
    one = np.ones((24, 32), np.float32)
    out = str(tmp_path / "map")
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    with pytest.raises(KeyboardInterrupt):
        pipeline.build_map(_frames([one, one]), out, _cfg("sift"))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert list(KeyframeMap.load(out).stamps_ns()) == [1000, 2000]  # published, complete


def test_the_sources_pose_suspect_goes_to_the_map_check_only_with_its_own_poses(tmp_path,
                                                                                monkeypatch):
    """#248 (`None if traj is not None` -> `is None`): what else places the camera (a source's
    ``pose_suspect``: a bag's tf note) is about the source's own poses; with --trajectory the
    poses are the file's, so the map check gets none (pins2 pins the other-clock note beside
    it)."""
    class Stop(Exception):
        pass

    handed = []

    def check(w, check, units, force, pose_suspect=None, other_clock="", skipped=()):
        handed.append(pose_suspect)
        raise Stop

    monkeypatch.setattr(pipeline, "check_consistency", check)
    one = np.ones((24, 32), np.float32)
    src = _Source(Frame(RGB, CAM, k * 1_000_000_000, depth_m=one, map_from_cam=_pose(k))
                  for k in (1, 2))
    src.pose_suspect = "the tf's camera frame may not be the image's"
    traj = tmp_path / "traj.txt"
    traj.write_text("1.0 0 0 0 0 0 0 1\n2.0 1 0 0 0 0 0 1\n")
    for k, trajectory in enumerate((None, str(traj))):
        with pytest.raises(Stop):
            pipeline.build_map(src, str(tmp_path / f"map{k}"), _cfg("sift"), trajectory)
    assert handed == ["the tf's camera frame may not be the image's", None]


def test_an_encoding_build_stopped_before_its_first_shard_says_so(tiny_ckpt, tmp_path,
                                                                  monkeypatch, caplog):
    """#278 (`not w.encodings` -> `w.encodings`), #250 (`== "mast3r"` -> `!=`): a mast3r build
    with a checkpoint stopped before any keyframe was encoded says so, with nothing to resume
    (its PNGs deleted); a build without a checkpoint (#202) does not."""
    import logging

    def stop(w, cfg, opts):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_encode_keyframes", stop)
    c = _cfg()
    c = dataclasses.replace(c, model=dataclasses.replace(c.model, checkpoint=tiny_ckpt,
                                                         device="cpu"))
    out = str(tmp_path / "map")
    caplog.set_level(logging.ERROR, logger="mast3r_ros")
    with pytest.raises(KeyboardInterrupt):
        pipeline.build_map(_frames([None, None]), out, c)
    assert [r.getMessage() for r in caplog.records] == [
        f"build interrupted before any keyframe was encoded: {out} was not written; rerun the "
        "same command to start over"]
    assert os.listdir(tmp_path) == []
    # a build that encodes nothing (no checkpoint: #202, `and` -> `or`) had nothing to encode
    caplog.clear()
    with pytest.raises(KeyboardInterrupt):
        pipeline.build_map(_frames([None, None]), out, _cfg())
    assert [r.getMessage() for r in caplog.records] == [
        f"build interrupted: {out} was not written; rerun the same command to start over"]
