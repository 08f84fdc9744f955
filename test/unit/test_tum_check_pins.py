"""The TUM checks this stop added (a non-finite pose value's column, different poses at one
trajectory timestamp, an rgb.txt that lists depth.txt's PNGs) at the edges test_tum.py leaves
open: a mutation audit's pins, each failing with one mutation of the check that test_tum.py let
through."""

from __future__ import annotations

import logging

import pytest
from test_tum import make_folder

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.tum import TumSequence, read_tum_trajectory

ID = "0 0 0 0 0 0 1"


def _refusal(path) -> str:
    with pytest.raises(InputError) as e:
        read_tum_trajectory(path)
    return str(e.value)


@pytest.mark.parametrize("written", ["NaN", "1e999", "-Infinity"])
def test_a_non_finite_value_is_quoted_as_the_file_writes_it(tmp_path, written):
    """1e999 reads as inf: the message quotes what the line holds, so the user finds it."""
    path = tmp_path / "gt.txt"
    path.write_text(f"1.0 {ID}\n2.0 0 {written} 0 0 0 0 1\n")
    assert f"has a non-finite ty ({written});" in _refusal(path)


def test_the_first_non_finite_column_and_the_first_bad_line_are_named(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(f"# header\n1.0 {ID}\n2.0 0 0 nan inf 0 0 1\n3.0 nan 0 0 0 0 0 1\n")
    msg = _refusal(path)
    assert msg.startswith(f"{path}:3: pose 2 ") and "non-finite tz (nan)" in msg, msg


def test_a_quaternion_norm_is_the_bad_lines_own(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(f"1.0 {ID}\n2.0 0 0 0 0 0 0 2\n")
    assert "has a quaternion of norm 2.000000 instead of 1" in _refusal(path)


def _warnings(root, caplog):
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        seq = TumSequence(root)
        seq.check_groundtruth_units()
        seq.check_groundtruth_units()  # used twice: said once
    return seq, [r.getMessage() for r in caplog.records if "different poses" in r.getMessage()]


def test_poses_sharing_a_stamp_are_lined_as_the_file_is_and_said_once(tmp_path, caplog):
    """Three lines at one stamp, two of them one pose, named by their line numbers in the file
    (a comment line first); a second shared stamp adds no second warning; the frames at them
    get no pose (a TUM folder's own groundtruth.txt, `shared_stamps`)."""
    root = make_folder(tmp_path / "seq")
    gt = root / "groundtruth.txt"
    gt.write_text(f"# timestamp tx ty tz qx qy qz qw\n1.0 {ID}\n1.0 {ID}\n1.0 0.5 0 0 0 0 0 1\n"
                  f"1.2 {ID}\n1.2 0 0.5 0 0 0 0 1\n")
    seq, said = _warnings(root, caplog)
    assert len(said) == 1, said
    assert (f"{gt}: 2 timestamp(s) given two or more different poses: lines 2, 3 and 4 at "
            "t=1.000000 s; lines 5 and 6 at t=1.200000 s") in said[0], said
    assert [seq.listed_pose_and_depth(i)[0] is None for i in range(3)] == [True, True, True]
    gt.write_text(f"1.0 {ID}\n1.0 {ID}\n1.2 {ID}\n")  # one pose repeated: no ambiguity
    seq, said = _warnings(root, caplog)
    assert not said and seq.listed_pose_and_depth(0)[0] is not None


@pytest.mark.parametrize("folder, rgb", [("seq", "rgb/../depth/0.png"),
                                         ("x/../seq", "depth/0.png")])
def test_rgb_txt_naming_a_depth_png_another_way_is_refused(tmp_path, folder, rgb):
    """The same file by another path ('..' in rgb.txt's name, or in the folder given: pathlib
    keeps it, as it drops './' and '//')."""
    root = make_folder(tmp_path / "seq")
    (tmp_path / "x").mkdir()
    (root / "rgb.txt").write_text(f"1.0 {rgb}\n")
    with pytest.raises(InputError, match="copy of depth.txt"):
        TumSequence(tmp_path / folder)


def test_rgb_txt_listing_a_depth_png_after_colour_images_is_refused(tmp_path):
    """Any listed file depth.txt lists too, not only the first (depth/2.png: depth.txt's
    second line)."""
    root = make_folder(tmp_path / "seq")
    (root / "rgb.txt").write_text("1.0 rgb/0.png\n1.1 rgb/1.png\n1.2 depth/2.png\n")
    with pytest.raises(InputError, match="lists .*depth/2.png, a depth image"):
        TumSequence(root)


def test_a_broken_depth_txt_is_left_to_its_reader(tmp_path):
    """The rgb.txt-copy check reads depth.txt where depth is not read (localize): a depth.txt
    it cannot read must not refuse the folder there."""
    root = make_folder(tmp_path / "seq")
    (root / "depth.txt").write_text("1.0\n")
    assert len(TumSequence(root, read_depth=False)) == 3


def test_the_zero_stamp_note_needs_every_stamp_0(tmp_path):
    """A first image stamped 0 among stamped ones (a TUM rgb.txt edited by hand) is no folder
    stamped 0: the note names where ground truth comes from instead."""
    from types import SimpleNamespace as NS

    import numpy as np

    from mast3r_ros.replay.run_notes import no_groundtruth_hint

    partly = NS(stamps_ns=np.array([0, 10**9, 2 * 10**9], np.int64),
                stamps_written=(str(tmp_path / "rgb.txt"), False))
    hint = no_groundtruth_hint(partly, NS(pose_frames=None))
    assert "stamped 0" not in hint and "none covers their stamps" in hint, hint
    zero = NS(stamps_ns=np.zeros(3, np.int64), stamps_written=(str(tmp_path / "rgb.txt"), False))
    assert f"stamped 0 in {tmp_path / 'rgb.txt'}" in no_groundtruth_hint(zero, NS(pose_frames=None))
