"""A trajectory stamped in another time unit than the frames (a fresh user's milliseconds):
build-map kept 1 keyframe out of 50 frames with exit 0 and advised 'max_gap_s: 333.333', which
interpolated every frame to nearly the first pose. Now the stamps are compared where a
trajectory meets frame stamps (--trajectory, a TUM folder's groundtruth.txt, --groundtruth) and
refused with both time ranges, the likely unit and the fix; no max_gap_s of more than half the
trajectory's time span is advised. Also the wording fixes the same user found. Expected values
by hand: the demo map's 8 frames are at 0.0, 0.2, ..., 1.4 s, the query's at 0.1, 0.3, ...,
1.5 s."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.cli import main

FIX = "convert them to seconds (divide by 1000; integers above 1e12 are read as nanoseconds)"
# said when the frames lie within the trajectory, as a sparse trajectory's excerpt does
EXCERPT = ("; if they are seconds already (the frames a short excerpt of a long trajectory), "
           "keep only its poses around the frames' time range")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from mast3r_ros.replay.synthetic import write_demo_sequences

    return write_demo_sequences(str(tmp_path_factory.mktemp("seq")), num_frames=16, width=320,
                                height=240, seed=2)


def _scaled(src, out, factor, shift_s=0.0):
    """``src`` (a TUM trajectory) with its stamps times ``factor`` (plus ``shift_s``)."""
    rows = [ln.split() for ln in open(src, encoding="utf-8") if ln.strip() and ln[0] != "#"]
    with open(out, "w", encoding="utf-8") as fh:
        fh.writelines(f"{float(v[0]) * factor + shift_s:.6f} {' '.join(v[1:])}\n" for v in rows)
    return str(out)


def _error(capsys, argv):
    rc = main(argv)
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    return rc, errors


def test_stamp_unit_mismatch_names_the_unit_and_both_ranges():
    from mast3r_ros.core.trajectory import stamp_unit_mismatch

    frames = np.arange(50, dtype=np.int64) * 333_333_333  # 0 .. 16.333333317 s
    assert stamp_unit_mismatch(frames * 1000, frames) == (
        "its stamps look like milliseconds: it spans 0.000..16333.333 s while the frames span "
        f"0.000..16.333 s; {FIX}{EXCERPT}")
    tenths = np.arange(50, dtype=np.int64) * 100_000_000  # 0 .. 4.9 s
    assert stamp_unit_mismatch(tenths * 10**6, tenths).startswith(
        "its stamps look like microseconds: it spans 0.000..4900000.000 s while")
    assert stamp_unit_mismatch(tenths * 10**9, tenths).startswith(
        "its stamps look like nanoseconds: it spans 0.000..4900000000.000 s while")
    # the frames in milliseconds: which of the two is wrong is not known
    assert stamp_unit_mismatch(frames, frames * 1000) == (
        "its stamps are 1000 times smaller than the frames', as if one of the two were not in "
        "seconds: it spans 0.000..16.333 s while the frames span 0.000..16333.333 s; convert "
        "both to seconds (integers above 1e12 are read as nanoseconds)")
    # not a unit: the same unit; another recording; a long ground truth at the frames' rate of
    # which the frames are the first 0.1 % (scaled by 1e-3 its spacing would be 1000x too
    # fine); one stamp
    assert stamp_unit_mismatch(frames, frames) is None
    assert stamp_unit_mismatch(frames + 10**12, frames) is None
    assert stamp_unit_mismatch(np.arange(49_000, dtype=np.int64) * 333_333_333, frames) is None
    assert stamp_unit_mismatch(frames[:1] * 1000, frames) is None


def test_build_map_refuses_a_trajectory_in_milliseconds(demo, tmp_path, capsys):
    """The user's case: --trajectory in ms, then with the advised max_gap_s, then the folder's
    own groundtruth.txt in ms: exit 2 and one line, no map (was: '1 keyframes', exit 0)."""
    ms = _scaled(os.path.join(demo[0], "groundtruth.txt"), tmp_path / "gt_ms.txt", 1000)
    out = str(tmp_path / "map")
    argv = ["build-map", demo[0], "--out", out, "--matcher", "sift", "--trajectory", ms]
    want = (f"mast3r-ros build-map: error: --trajectory {ms}: its stamps look like milliseconds: "
            f"it spans 0.000..1400.000 s while the frames span 0.000..1.400 s; {FIX}{EXCERPT}")
    assert _error(capsys, argv) == (2, [want])
    params = tmp_path / "params.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    pose_at_stamp:\n"
                      "      max_gap_s: 200.0\n")
    assert _error(capsys, argv + ["--params", str(params)]) == (2, [want])
    src = tmp_path / "src"
    shutil.copytree(demo[0], src)
    _scaled(os.path.join(demo[0], "groundtruth.txt"), src / "groundtruth.txt", 1000)
    assert _error(capsys, ["build-map", str(src), "--out", out, "--matcher", "sift"]) == (
        2, [f"mast3r-ros build-map: error: {src / 'groundtruth.txt'}: its stamps look like "
            f"milliseconds: it spans 0.000..1400.000 s while the frames span 0.000..1.400 s; "
            f"{FIX}{EXCERPT}"])
    assert not os.path.exists(out)


def test_localize_refuses_groundtruth_in_milliseconds(demo, tmp_path):
    """--groundtruth in ms said 'no pose at any frame stamp (the ground truth of another
    recording?)': it now names the unit, before the map is opened."""
    from mast3r_ros.core.config import Config
    from mast3r_ros.replay.localize_run import run_localization
    from mast3r_ros.replay.tum import TumSequence

    ms = _scaled(os.path.join(demo[1], "groundtruth.txt"), tmp_path / "gt_ms.txt", 1000)
    with pytest.raises(InputError) as err:
        run_localization(TumSequence(demo[1]), str(tmp_path / "no_map"), str(tmp_path / "run"),
                         Config(), groundtruth=ms)
    assert str(err.value) == (f"--groundtruth {ms}: its stamps look like milliseconds: it spans "
                              f"100.000..1500.000 s while the frames span 0.100..1.500 s; {FIX}")


def _reset(src, out, back_s):
    """``src`` (a TUM trajectory) with its second half stamped ``back_s`` earlier: two runs of a
    simulator whose clock was reset between them, one file."""
    rows = [ln.split() for ln in open(src, encoding="utf-8") if ln.strip() and ln[0] != "#"]
    half = len(rows) // 2
    with open(out, "w", encoding="utf-8") as fh:
        fh.writelines(f"{float(v[0]) - (back_s if i >= half else 0.0):.6f} {' '.join(v[1:])}\n"
                      for i, v in enumerate(rows))
    return str(out)


def test_a_trajectory_across_an_overlapping_clock_reset_is_refused(demo, tmp_path, capsys):
    """--trajectory / --groundtruth holding two runs across a simulator reset (the bag-time-jump
    case as a file): sorted by time their poses interleave, and a frame took (or was
    interpolated from) the other run's pose. Refused before a frame is read, naming the reset."""
    from mast3r_ros.core.config import Config
    from mast3r_ros.replay.localize_run import run_localization
    from mast3r_ros.replay.tum import TumSequence

    traj = _reset(os.path.join(demo[0], "groundtruth.txt"), tmp_path / "reset.txt", 0.75)
    out = str(tmp_path / "map")
    rc, errors = _error(capsys, ["build-map", demo[0], "--out", out, "--matcher", "sift",
                                 "--trajectory", traj])
    assert rc == 2 and len(errors) == 1 and errors[0].startswith(
        f"mast3r-ros build-map: error: --trajectory {traj}: it goes back 0.550 s once "
        "(t=0.600 -> 0.050 s) into its own earlier stamps: two recordings across a clock reset")
    assert errors[0].endswith("split it there, and the frames with it, into one recording each")
    assert not os.path.exists(out)
    gt = _reset(os.path.join(demo[1], "groundtruth.txt"), tmp_path / "gt_reset.txt", 0.75)
    with pytest.raises(InputError, match=rf"--groundtruth {gt}: it goes back .* into its own "
                                         "earlier stamps"):
        run_localization(TumSequence(demo[1]), str(tmp_path / "no_map"), str(tmp_path / "run"),
                         Config(), groundtruth=gt)


def test_no_max_gap_advice_across_the_whole_trajectory(demo, tmp_path, capsys):
    """Two poses 20 s apart around frames spanning 1.4 s: the advice was 'set max_gap_s: 20';
    now the trajectory does not cover the frames' times, with both ranges (a gap of more than
    half of the trajectory's 20 s is the trajectory, not a dropout in it)."""
    traj = tmp_path / "two.txt"
    traj.write_text("-10.0 0 0 0 0 0 0 1\n10.0 1 0 0 0 0 0 1\n")
    rc, errors = _error(capsys, ["build-map", demo[0], "--out", str(tmp_path / "map"),
                                 "--matcher", "sift", "--trajectory", str(traj)])
    assert (rc, errors) == (2, [
        f"mast3r-ros build-map: error: no frame has a pose: 8 of these 8 frames are between two "
        f"poses of --trajectory {traj} more than pose_at_stamp.max_gap_s (0.100 s) apart (up to "
        "20.000 s) and farther than pose_at_stamp.tolerance_s (0.020 s) from both; that gap is "
        f"more than half the time span of --trajectory {traj} (t=-10.000..10.000 s): its poses "
        "do not cover the frames' times (t=0.000..1.400 s); check that the poses belong to this "
        "recording and that poses and frames are stamped in seconds"])
    from mast3r_ros.replay.pipeline import _max_gap_fix

    frames = np.array([0, 1_400_000_000])
    ten = ("T", np.array([0, 10 * 10**9]))  # half its span: 5 s
    assert _max_gap_fix(5.0, frames, ten).startswith("to interpolate across gaps up to 5.000 s")
    assert _max_gap_fix(5.001, frames, ten).startswith("that gap is more than half the time "
                                                        "span of T (t=0.000..10.000 s): ")
    # tf (no trajectory file): a gap in the one clock's transforms is always a dropout
    assert _max_gap_fix(20.0, frames).startswith("to interpolate across gaps up to 20.000 s")


def test_build_map_wording(demo, tmp_path, capsys):
    """'1 keyframes from 1 frames'; an empty groundtruth.txt told the user to give the source
    the groundtruth.txt it has."""
    one = tmp_path / "one"
    shutil.copytree(demo[0], one)
    (one / "rgb.txt").write_text("# timestamp filename\n0.000000 rgb/0.000000.png\n")
    assert main(["build-map", str(one), "--out", str(tmp_path / "m1"), "--matcher", "sift"]) == 0
    assert capsys.readouterr().out.startswith(f"map {tmp_path / 'm1'}: 1 keyframe from 1 frame; ")
    (one / "groundtruth.txt").write_text("# timestamp tx ty tz qx qy qz qw\n")
    assert _error(capsys, ["build-map", str(one), "--out", str(tmp_path / "m2"), "--matcher",
                           "sift"]) == (2, [
        f"mast3r-ros build-map: error: no frame has a pose: {one / 'groundtruth.txt'} is empty "
        "(no 'timestamp tx ty tz qx qy qz qw' line): fill it, or pass --trajectory FILE"])


def test_localize_names_the_wrong_option(demo, tmp_path, capsys):
    base = ["localize", demo[1], "--map", str(tmp_path / "no_map"), "--out",
            str(tmp_path / "run"), "--matcher", "sift"]
    assert _error(capsys, base + ["--stride", "0"]) == (
        2, ["mast3r-ros localize: error: --stride must be >= 1 (every Nth frame), got 0"])
    assert _error(capsys, base + ["--max-frames", "-1"]) == (
        2, ["mast3r-ros localize: error: --max-frames must be >= 0 (0: all frames), got -1"])


def test_one_keyframe_over_a_long_recording_is_warned(demo, tmp_path, capsys):
    """10 frames over 18 s whose poses never move: one keyframe with exit 0 and no word; now a
    warning says why it is suspicious (a static camera is still allowed)."""
    src = tmp_path / "static"
    shutil.copytree(demo[0], src)
    names = sorted(os.listdir(src / "rgb"))
    depths = sorted(os.listdir(src / "depth"))
    stamps = [f"{2.0 * k:.6f}" for k in range(10)]
    (src / "rgb.txt").write_text("".join(f"{t} rgb/{names[k % len(names)]}\n"
                                         for k, t in enumerate(stamps)))
    (src / "depth.txt").write_text("".join(f"{t} depth/{depths[k % len(depths)]}\n"
                                           for k, t in enumerate(stamps)))
    (src / "groundtruth.txt").write_text("".join(f"{t} 1 0 1 0 0 0 1\n" for t in stamps))
    assert main(["build-map", str(src), "--out", str(tmp_path / "m"), "--matcher", "sift"]) == 0
    out, err = capsys.readouterr()
    assert ": 1 keyframe from 10 frames; " in out, out
    warned = [ln for ln in err.splitlines() if "only 1 keyframe" in ln]
    assert warned == [
        "[WARNING] mast3r_ros.replay.pipeline: only 1 keyframe from 10 frames with a pose over "
        "18.000 s: the poses moved less than map_build.min_translation_m (0.3 m) and "
        "min_rotation_deg (20 deg) in all that time; if the camera moved, check that the poses "
        "belong to this recording and are stamped in seconds"], err


def test_stamp_unit_boundaries_and_ranges_worked_by_hand():
    """Hand audit: the documented thresholds and the inputs a reader can give. Frames 0..10 s
    one a second; a trajectory 0..5000 s (ms read as s) scaled by 1e-3 spans 0..5 s: overlap
    5 / union 10 = 0.5, which is 'well' (>= 0.5) and refused; 0..4000 s gives 0.4, kept."""
    import warnings

    from mast3r_ros.core.trajectory import _range_iou, stamp_unit_mismatch

    frames = np.arange(11, dtype=np.int64) * 10**9
    assert stamp_unit_mismatch(np.arange(6, dtype=np.int64) * 10**12, frames) == (
        "its stamps look like milliseconds: it spans 0.000..5000.000 s while the frames span "
        f"0.000..10.000 s; {FIX}{EXCERPT}")
    assert stamp_unit_mismatch(np.arange(5, dtype=np.int64) * 10**12, frames) is None
    # a trajectory that repeats each line three times is still one in milliseconds (distinct
    # stamps: its spacing is 1000 s, not 0)
    assert stamp_unit_mismatch(np.repeat(np.arange(6, dtype=np.int64) * 10**12, 3), frames) == (
        stamp_unit_mismatch(np.arange(6, dtype=np.int64) * 10**12, frames))
    # a ground truth at the frames' rate over the frames (0..16.333 s) plus two stray poses at
    # 10000 s and 16333.333 s: its typical (median) spacing is the frames', 1/3 s, so it is not
    # rescaled although its mean spacing (16333.333 s / 51 ~ 320 s) is ~1000x theirs
    frames = np.arange(50, dtype=np.int64) * 333_333_333
    stray = np.concatenate([frames, [10_000 * 10**9, 16_333_333_333_000]])
    assert stamp_unit_mismatch(stray, frames) is None
    # one stamp: no spacing, no answer, and no numpy warning on the way
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stamp_unit_mismatch(frames[:1] * 1000, frames) is None
        assert stamp_unit_mismatch(frames, frames[:1]) is None
    # intersection over union: disjoint ranges 0 (not negative), two points 0, halves 0.5
    assert _range_iou((0.0, 1.0), (2.0, 3.0)) == 0.0
    assert _range_iou((1.0, 1.0), (1.0, 1.0)) == 0.0
    assert _range_iou((0.0, 2.0), (1.0, 2.0)) == 0.5


def test_a_sparse_trajectorys_short_excerpt_is_told_the_way_through():
    """Frames 0..2 s at 30 Hz, the first 0.1 % of a trajectory in seconds with a pose every
    2 s over 2000 s (ORB-SLAM's KeyFrameTrajectory.txt): by ranges and spacings it is a
    trajectory in milliseconds (indistinguishable; a known limit), so it is refused, but the
    refusal now says what to do if the stamps are seconds, and doing it is accepted. A
    trajectory in ms that does not contain the frames gets no such advice."""
    from mast3r_ros.core.trajectory import stamp_unit_mismatch

    frames = np.arange(61, dtype=np.int64) * 33_333_333
    sparse = np.arange(1001, dtype=np.int64) * 2 * 10**9
    assert stamp_unit_mismatch(sparse, frames) == (
        "its stamps look like milliseconds: it spans 0.000..2000.000 s while the frames span "
        f"0.000..2.000 s; {FIX}{EXCERPT}")
    around = sparse[sparse <= 4 * 10**9]  # its poses around 0..2 s, as advised
    assert stamp_unit_mismatch(around, frames) is None
    later = (np.arange(1001, dtype=np.int64) + 1) * 2 * 10**9  # starts after the frames
    assert stamp_unit_mismatch(later, frames) == (
        "its stamps look like milliseconds: it spans 2.000..2002.000 s while the frames span "
        f"0.000..2.000 s; {FIX}")


def test_frames_get_no_pose_from_a_groundtruth_txt_in_milliseconds(demo, tmp_path):
    """A TUM folder whose groundtruth.txt is in milliseconds (the map frames at 0.0 .. 1.4 s,
    its poses at 0 .. 1400 "s"): associated by stamp, the frame at 0.0 s would get the pose
    stamped 0 and every other none; no frame gets a pose from it, and the folder refuses it
    where its poses are used."""
    from mast3r_ros.replay.tum import TumSequence

    folder = tmp_path / "map_ms"
    shutil.copytree(demo[0], folder)
    gt = folder / "groundtruth.txt"
    _scaled(os.path.join(demo[0], "groundtruth.txt"), tmp_path / "gt_ms.txt", 1000)
    shutil.copy(tmp_path / "gt_ms.txt", gt)
    seq = TumSequence(folder)
    assert seq.stamps_ns[0] == 0 and seq.groundtruth()[0][0] == 0
    assert [f.map_from_cam for f in seq] == [None] * len(seq)
    with pytest.raises(InputError, match=f"^{gt}: its stamps look like milliseconds"):
        seq.check_groundtruth_units()
