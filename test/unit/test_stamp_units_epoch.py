"""Epoch stamps written as integers in milliseconds (1403636579000, the commonest ms case) or
microseconds: integers above 1e12 are read as nanoseconds, so the unit check said 'its stamps
are 1000000 times smaller than the frames', as if one of the two were not in seconds: it spans
1403.637..1403.637 s ...; convert both to seconds': no word of milliseconds, a collapsed range
and a fix for the frames, which are in seconds. Also an integer between 9.2e9 and 1e12 (read as
seconds, out of range) was told that 'nanosecond stamps must be written as integers'. Expected
values by hand: the frames at 1403636579 + 0.2 k s (k = 0..7: up to 1403636580.4 s), the
trajectory at 1403636579000 + 200 k (ms) or 1403636579000000 + 200000 k (us)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.cli import main

T0 = 1403636579
MS = ("its stamps look like milliseconds written as integers (1403636579000..1403636580400), "
      "which are read as nanoseconds (integers above 1e12), while the frames span "
      "1403636579.000..1403636580.400 s; convert them to seconds (divide by 1000) or to "
      "integer nanoseconds (multiply by 1000000)")


@pytest.fixture(scope="module")
def epoch(tmp_path_factory):
    """The demo map folder re-stamped at T0 + 0.2 k s, its groundtruth.txt in seconds."""
    from mast3r_ros.replay.synthetic import write_demo_sequences

    root = tmp_path_factory.mktemp("seq")
    src = root / "epoch"
    shutil.copytree(write_demo_sequences(str(root), num_frames=16, width=320, height=240,
                                         seed=2)[0], src)
    for name in ("rgb.txt", "depth.txt", "groundtruth.txt"):
        _restamp(src / name, src / name, lambda t: f"{T0 + round(t * 5) / 5:.6f}")
    return src


def _restamp(src, dst, stamp):
    """TUM text file ``src`` written to ``dst`` with each stamp t (s) written as stamp(t)."""
    rows = [ln.split() for ln in open(src, encoding="utf-8") if ln.strip() and ln[0] != "#"]
    dst.write_text("".join(f"{stamp(float(v[0]))} {' '.join(v[1:])}\n" for v in rows))


def _integer_stamps(src, out, per_s):
    """``src``'s groundtruth.txt with integer stamps, ``per_s`` of them a second."""
    rows = [ln.split() for ln in open(src / "groundtruth.txt", encoding="utf-8")
            if ln.strip() and ln[0] != "#"]
    out.write_text("".join(
        f"{T0 * per_s + round((float(v[0]) - T0) * per_s)} {' '.join(v[1:])}\n" for v in rows))
    return out


def _errors(capsys):
    return [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]


def test_mismatch_of_integers_read_as_nanoseconds():
    from mast3r_ros.core.trajectory import stamp_unit_mismatch

    frames = T0 * 10**9 + np.arange(8, dtype=np.int64) * 200_000_000
    ms = T0 * 1000 + np.arange(8, dtype=np.int64) * 200  # as read: nanoseconds
    assert stamp_unit_mismatch(ms, frames, integer_ns=True) == MS
    us = T0 * 10**6 + np.arange(8, dtype=np.int64) * 200_000
    assert stamp_unit_mismatch(us, frames, integer_ns=True) == (
        "its stamps look like microseconds written as integers "
        "(1403636579000000..1403636580400000), which are read as nanoseconds (integers above "
        "1e12), while the frames span 1403636579.000..1403636580.400 s; convert them to "
        "seconds (divide by 1000000) or to integer nanoseconds (multiply by 1000)")
    # written in seconds: which of the two is off is not known; the range no longer collapses
    # (1403.6365790 .. 1403.6365804 s: six decimals tell them apart)
    assert stamp_unit_mismatch(ms, frames) == (
        "its stamps are 1000000 times smaller than the frames', as if one of the two were not "
        "in seconds: it spans 1403.636579..1403.636580 s while the frames span "
        "1403636579.000..1403636580.400 s; convert both to seconds (integers above 1e12 are "
        "read as nanoseconds)")


def test_build_map_names_integer_milliseconds(epoch, sift_map, tmp_path, capsys):
    ms = _integer_stamps(epoch, tmp_path / "gt_ms.txt", 1000)
    assert ms.read_text().split("\n")[1].startswith("1403636579200 ")
    assert main(["build-map", str(epoch), "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--trajectory", str(ms)]) == 2
    assert _errors(capsys) == [f"mast3r-ros build-map: error: --trajectory {ms}: {MS}"]
    # the folder's own groundtruth.txt, and --groundtruth, say the same
    src = tmp_path / "src"
    shutil.copytree(epoch, src)
    shutil.copy(ms, src / "groundtruth.txt")
    assert main(["build-map", str(src), "--out", str(tmp_path / "map"), "--matcher",
                 "sift"]) == 2
    assert _errors(capsys) == [
        f"mast3r-ros build-map: error: {src / 'groundtruth.txt'}: {MS}"]
    assert main(["localize", str(epoch), "--map", sift_map, "--out",
                 str(tmp_path / "run"), "--matcher", "sift", "--groundtruth", str(ms)]) == 2
    assert _errors(capsys) == [f"mast3r-ros localize: error: --groundtruth {ms}: {MS}"]
    # converted to integer nanoseconds as advised: the map is built
    ns = _integer_stamps(epoch, tmp_path / "gt_ns.txt", 10**9)
    assert main(["build-map", str(epoch), "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--trajectory", str(ns)]) == 0, _errors(capsys)
    assert not os.path.exists(tmp_path / "map.partial")


def test_small_integer_nanoseconds_are_not_told_to_be_integers(tmp_path):
    """50000000000 (50 s in nanoseconds) is read as seconds (integers are nanoseconds only
    above 1e12), out of range; the reason said 'nanosecond stamps must be written as
    integers', which it is."""
    from mast3r_ros.replay.tum import read_tum_trajectory

    gt = tmp_path / "gt.txt"
    gt.write_text("50000000000 0 0 0 0 0 0 1\n")
    with pytest.raises(InputError) as err:
        read_tum_trajectory(gt)
    assert str(err.value) == (
        f"{gt}:1: expected 'timestamp tx ty tz qx qy qz qw', got '50000000000 0 0 0 0 0 0 1' "
        "(timestamp '50000000000' is out of range as seconds (more than 292 years from the "
        "epoch); integers are read as nanoseconds only above 1e12 (17 minutes after the "
        "epoch): write nanoseconds below that in seconds (50.000000000))")
    gt.write_text("5e20 0 0 0 0 0 0 1\n")  # not an integer: the old reason stands
    with pytest.raises(InputError, match="nanosecond stamps must be written as integers"):
        read_tum_trajectory(gt)


def _rgb_in_integer_ms(src, dst):
    """``src`` copied to ``dst`` with rgb.txt (and depth.txt) in integer epoch milliseconds,
    groundtruth.txt left in seconds."""
    shutil.copytree(src, dst)
    for name in ("rgb.txt", "depth.txt"):
        _restamp(src / name, dst / name, lambda t: f"{round(t * 1000)}")
    return dst


def test_rgb_txt_in_integer_milliseconds_is_the_file_named(epoch, sift_map, tmp_path,
                                                           capsys):
    """rgb.txt in integer epoch ms (read as ns) against a trajectory in seconds blamed the
    trajectory ('its stamps are 1000000 times smaller...' the other way round: 'look like
    microseconds'), a file that is right (a known gap of an earlier stop). The frames' file
    and its integers are named now, wherever the check runs: --trajectory, --groundtruth and
    the folder's own groundtruth.txt."""
    from mast3r_ros.core.trajectory import stamp_unit_mismatch

    frames = T0 * 1000 + np.arange(8, dtype=np.int64) * 200  # integer ms, read as ns
    traj = T0 * 10**9 + np.arange(8, dtype=np.int64) * 200_000_000
    why = ("the frames' stamps (rgb.txt) look like milliseconds written as integers "
           "(1403636579000..1403636580400), which are read as nanoseconds (integers above "
           "1e12), while it spans 1403636579.000..1403636580.400 s; convert the frames' "
           "stamps to seconds (divide by 1000) or to integer nanoseconds (multiply by 1000000)")
    assert stamp_unit_mismatch(traj, frames, False, True, "rgb.txt") == why
    us = T0 * 10**6 + np.arange(8, dtype=np.int64) * 200_000
    assert "look like microseconds written as integers (1403636579000000..1403636580400000)" \
        in stamp_unit_mismatch(traj, us, False, True)
    # frames written in seconds: not known to be the one off, the old wording
    assert stamp_unit_mismatch(traj, frames).startswith("its stamps look like microseconds")
    # integer ns of a boot clock (5000 s) beside a trajectory in ms written as decimals: either
    # reading holds (the trajectory is not in epoch seconds), so both are named
    boot = 5_000 * 10**9 + np.arange(61, dtype=np.int64) * 33_333_333
    assert stamp_unit_mismatch((boot // 10**6) * 10**9, boot, False, True, "rgb.txt") == (
        "its stamps look like milliseconds: it spans 5000000.000..5001999.000 s while the "
        "frames span 5000.000..5002.000 s; convert them to seconds (divide by 1000; integers "
        "above 1e12 are read as nanoseconds); or, if they are seconds, the frames' stamps "
        "(rgb.txt) are microseconds written as integers (5000000000000..5001999999980), read "
        "as nanoseconds: convert those")

    src = _rgb_in_integer_ms(epoch, tmp_path / "src")
    rgb = src / "rgb.txt"
    gt = epoch / "groundtruth.txt"  # seconds, as the frames should be
    assert main(["build-map", str(src), "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--trajectory", str(gt)]) == 2
    assert _errors(capsys) == [f"mast3r-ros build-map: error: --trajectory {gt}: "
                               + why.replace("(rgb.txt)", f"({rgb})")]
    assert main(["localize", str(src), "--map", sift_map, "--out",
                 str(tmp_path / "run"), "--matcher", "sift", "--groundtruth", str(gt)]) == 2
    assert _errors(capsys) == [f"mast3r-ros localize: error: --groundtruth {gt}: "
                               + why.replace("(rgb.txt)", f"({rgb})")]
    assert main(["build-map", str(src), "--out", str(tmp_path / "map"), "--matcher",
                 "sift"]) == 2
    assert _errors(capsys) == [f"mast3r-ros build-map: error: {src / 'groundtruth.txt'}: {why}"]


@pytest.mark.parametrize("per_s, unit, apart", [(1000, "milliseconds", "200 ms"),
                                                (1000000, "microseconds", "200 ms"),
                                                (1000000000, None, None)])
def test_frame_stamps_in_integer_ms_or_us_without_ground_truth_are_warned(epoch, tmp_path,
                                                                         caplog, per_s, unit,
                                                                         apart):
    """rgb.txt in integer epoch microseconds (or milliseconds) and no groundtruth.txt: read as
    nanoseconds, the frames were 200 ns apart and trajectory.tum, results.jsonl carried stamps
    1000x (1e6x) too small without a word (a field-kind review's find); with a ground truth
    the unit check tells. Their spacing alone tells now: a camera above 1 kHz is no camera."""
    import logging

    from mast3r_ros.replay.tum import TumSequence

    folder = tmp_path / "f"
    shutil.copytree(epoch, folder)
    os.remove(folder / "groundtruth.txt")
    for name in ("rgb.txt", "depth.txt"):
        _restamp(epoch / name, folder / name,
                 lambda t: str(T0 * per_s + round((t - T0) * per_s)))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.tum"):
        seq = TumSequence(folder)
    warned = [r.getMessage() for r in caplog.records if "are read as nanoseconds" in
              r.getMessage() and r.getMessage().startswith(str(folder / "rgb.txt"))]
    assert len(seq) == 8
    if unit is None:   # integer nanoseconds 0.2 s apart: a camera's
        assert warned == []
        return
    assert len(warned) == 1, warned
    assert f"as {unit} they are {apart} apart: convert them to seconds (divide by {per_s})" \
        in warned[0], warned[0]
