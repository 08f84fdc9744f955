"""Pins of the two replay/pipeline.py mutants mutation audit 06p left alive (docs/bench/
mutation_cpu_2026-12-06zf): each is killed by a test the audit did not run (#207 by
test_flush_before_publish.py's sift build, #248 by test_rosbag_image_clock.py's build without
--trajectory); these pin the other half of each behaviour.

- #207: a build whose commit flush fails (a writeback error) after its keyframes were encoded
  says truly what became of it: kept in M.partial for --resume to finish (a sift build's, with
  nothing encoded, is deleted: test_flush_before_publish.py's). This pin said 'deleted' until
  the commit kept the shard markers (test_build_commit_failure.py): changed on purpose.
- #248: with --trajectory the poses are the file's, not the bag's tf, so the bag's note that
  its images and tf are on two clocks is not added to a map check failure (the half without
  --trajectory, the note added, is test_rosbag_image_clock.py's)."""

from __future__ import annotations

import ctypes
import errno
import os

import pytest

from mast3r_ros.core import durable
from mast3r_ros.replay.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_an_encoded_build_whose_commit_flush_fails_says_truly_that_it_is_kept(
        tum, tiny_ckpt, tmp_path, monkeypatch, capsys):
    """The flush before the map is published fails (EIO) after the keyframes were encoded: the
    shard markers --resume continues from stay in the build folder until the map is published
    (`commit_build`), so the build folder is kept, and the one line says so and how
    to finish it (not 'deleted': hours of encoding on a large map)."""
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n"
                      "    device: cpu\n    map_build: {min_translation_m: 1.0}\n")
    out = str(tmp_path / "M")

    def syncfs(fd):
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durable, "_libc_syncfs", lambda: syncfs)
    capsys.readouterr()
    assert main(["build-map", tum[0], "--out", out, "--checkpoint", tiny_ckpt, "--params",
                 str(params), "--workers", "1", "--log-level", "warning"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and out in err[0] and "Input/output error" in err[0], err
    assert f"the build is kept in {out}.partial (rerun with --resume to finish it)" in err[0], err
    assert "deleted" not in err[0], err
    assert sorted(os.listdir(tmp_path)) == ["M.partial", "p.yaml"]  # nothing published, kept


def test_with_a_trajectory_the_bags_clock_note_is_not_handed_to_the_map_check(tmp_path,
                                                                              monkeypatch):
    pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
    from test_rosbag_image_clock import MS, clock_bag, clock_notes_handed

    from mast3r_ros.replay.rosbag import BagSequence

    seq = BagSequence(clock_bag(tmp_path, lambda t: t - 1_200 * MS), depth_topic="/cam/depth",
                      pose_frames="map:camera_optical")
    assert "1.229 s behind the tf clock" in seq.other_clock  # the bag's tf is on another clock
    traj = tmp_path / "traj.txt"  # the frames' own poses, at their stamps
    traj.write_text("".join(f"{s / 1e9:.9f} {0.1 * k:.3f} 0 0 0 0 0 1\n"
                            for k, s in enumerate(seq.stamps_ns)))
    assert clock_notes_handed(seq, tmp_path, monkeypatch, trajectory=str(traj)) == [""]


def test_build_map_refuses_an_existing_out_before_it_looks_at_the_source(tmp_path):
    """Audit 06zf's #30 (build_map's own output-folder check dropped) survived the build-map
    tests: the command line checks --out first, and the map writer refuses it later anyway,
    after the poses were read. Called from Python, an existing --out is refused before the
    source is touched (the docstring's 'before any frame is read')."""
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay import pipeline

    out = tmp_path / "map"
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    class Source:  # any look at the frames fails the test
        def __getattr__(self, name):
            raise AssertionError(f"the source was read ({name}) before --out was checked")

    with pytest.raises(InputError, match=r"^output folder already exists: .*map, and it is not"):
        pipeline.build_map(Source(), str(out), config_from_params({"matcher": "sift"}))
    assert os.listdir(out) == ["notes.txt"]


def test_a_frame_without_intrinsics_is_refused_naming_camera_info():
    """Audit 06zf's #51 (the refusal dropped: the keyframe written with None intrinsics). The
    readers refuse such frames first; this is build_map's own guard for any other source."""
    from types import SimpleNamespace

    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay import pipeline
    from mast3r_ros.replay.synthetic import default_intrinsics

    cam = default_intrinsics(32, 24)
    assert pipeline._need_intrinsics(SimpleNamespace(intrinsics=cam, stamp_ns=5)) is cam
    with pytest.raises(InputError, match=r"^frame at 5 ns has no intrinsics: pass --camera-info "
                                         r"YAML$"):
        pipeline._need_intrinsics(SimpleNamespace(intrinsics=None, stamp_ns=5))


def test_a_tum_folder_without_groundtruth_gives_no_pose_reason(tmp_path):
    """Audit 06zf's #130 (`return None` for a TUM folder without groundtruth.txt dropped): its
    frames' missing poses were then blamed on an empty groundtruth.txt that does not exist."""
    from mast3r_ros.core.config import PoseAtStampConfig
    from mast3r_ros.replay import pipeline
    from mast3r_ros.replay.synthetic import write_demo_sequences
    from mast3r_ros.replay.tum import TumSequence

    folder, _ = write_demo_sequences(str(tmp_path), num_frames=4, width=64, height=48, seed=1)
    os.unlink(os.path.join(folder, "groundtruth.txt"))
    seq = TumSequence(folder)
    assert pipeline._why_no_pose(seq, None, list(seq.stamps_ns), PoseAtStampConfig()) is None


def test_a_trajectory_pose_is_taken_within_the_tolerance_and_not_beyond():
    """Audit 06zf's #217 (the tolerance's seconds read as 2e9 ns: twice pose_at_stamp's
    tolerance_s). One sample at 1 s: a frame 15 ms away takes it, one 30 ms away (within twice
    the 20 ms tolerance) gets none."""
    import numpy as np

    from mast3r_ros.core.config import PoseAtStampConfig
    from mast3r_ros.replay.pipeline import poses_from_file

    pose = np.eye(4)
    pose[:3, 3] = (1.0, 2.0, 3.0)
    rule = PoseAtStampConfig()
    assert rule.tolerance_s == 0.02
    got = poses_from_file((np.array([1_000_000_000]), pose[None]),
                          np.array([1_015_000_000, 1_030_000_000]), rule)
    np.testing.assert_array_equal(got[0], pose)
    assert np.isnan(got[1]).all()


def test_frames_before_a_trajectory_of_days_are_as_far_as_its_first_pose():
    """Audit 06zf's #258 (`missing[-1] - stamps[0]` -> `+`): frames on day 0..1 and poses on
    days 10 and 12 are 9 days apart (the last frame to the first pose), not 11 (the mutant's
    other end); 06p's clock tests, seconds of span against 19 676 days, could not tell."""
    import numpy as np

    from mast3r_ros.core.config import PoseAtStampConfig
    from mast3r_ros.replay.pipeline import poses_not_at_frames

    day = 86_400 * 1_000_000_000
    frames = [0, day]
    text = poses_not_at_frames(("gt.txt", np.array([10 * day, 12 * day])), frames, frames,
                               PoseAtStampConfig())
    assert "(9.0 days away: the two are stamped by different clocks" in text, text


@pytest.mark.parametrize("count, said", [(1, "1 frame had no pose and was skipped: why"),
                                         (2, "2 frames had no pose and were skipped: why")])
def test_the_frames_without_a_pose_are_counted_in_words_that_agree(caplog, count, said):
    """Audit 06zf's #279 (`no_pose == 1` -> `== 0`: '1 frames ... were')."""
    import logging

    from mast3r_ros.core.config import Config
    from mast3r_ros.replay import pipeline
    from mast3r_ros.replay.build_frames import _MapStats

    st = _MapStats(no_pose=count, why_no_pose="why", keyframes=5)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        pipeline._warn_after_build(st, Config(), 10)
    assert said in [r.getMessage() for r in caplog.records], caplog.text
