"""``mast3r-ros convert-7scenes``: the docs' examples read ``~/data/7scenes/redkitchen_a_map``,
a TUM RGB-D folder, but nothing turned the official 7-Scenes layout (seq-NN/frame-NNNNNN.color.png,
.depth.png in mm with 65535 = none, .pose.txt camera-to-world) into one. A 3-frame synthetic
sequence converted and read back with the product's TUM reader: same poses (TUM's tx ty tz qx
qy qz qw), the same colour image files, depth in metres; bad input exits 2 in one line and
leaves no folder behind."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.replay.cli import main
from mast3r_ros.replay.tum import TumSequence

W, H = 640, 480


def _pose(n):
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec([0.1 * n, 0.2, -0.3]).as_matrix()
    T[:3, 3] = [0.1 * n, -0.2, 1.5]
    return T


def make_sequence(root, frames=(0, 1, 2)):
    """A 7-Scenes sequence folder: gradient colour PNGs, depth in mm (a 65535 and a 0 hole),
    poses written as the dataset writes them (7 significant digits, tab separated)."""
    seq = root / "seq-01"
    seq.mkdir(parents=True)
    yy, xx = np.mgrid[0:H, 0:W]
    for n in frames:
        bgr = np.dstack([(xx + 40 * n) % 256, yy % 256, (xx + yy) % 256]).astype(np.uint8)
        cv2.imwrite(str(seq / f"frame-{n:06d}.color.png"), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        depth = (800 + xx + yy + 10 * n).astype(np.uint16)
        depth[0, :10] = 65535
        depth[1, :5] = 0
        cv2.imwrite(str(seq / f"frame-{n:06d}.depth.png"), depth)
        np.savetxt(seq / f"frame-{n:06d}.pose.txt", _pose(n), fmt="%.7e", delimiter="\t")
    return seq


def _run(capsys, *argv):
    rc = main(["convert-7scenes", *map(str, argv), "--log-level", "warning"])
    out, err = capsys.readouterr()
    return rc, [line for line in err.splitlines() if line.strip()]


def test_a_sequence_converted_reads_back_with_its_poses_images_and_depth(tmp_path, capsys):
    seq = make_sequence(tmp_path)
    out = tmp_path / "tum"
    rc, err = _run(capsys, seq, "--out", out)
    assert rc == 0 and err == []
    frames = TumSequence(out)
    assert len(frames) == 3
    assert frames.intrinsics.K.tolist() == [[585.0, 0, 320.0], [0, 585.0, 240.0], [0, 0, 1]]
    assert (frames.intrinsics.width, frames.intrinsics.height) == (W, H)
    gt_rows = [line.split() for line in (out / "groundtruth.txt").read_text().splitlines()
               if not line.startswith("#")]
    assert frames.stamps_ns.tolist() == [0, 33_333_000, 66_667_000]  # frame / 30 Hz
    for n, frame in enumerate(frames):
        written = np.loadtxt(seq / f"frame-{n:06d}.pose.txt")
        np.testing.assert_allclose(frame.map_from_cam, written, atol=1e-6)
        # TUM's order: tx ty tz, then the quaternion x y z w
        tx, ty, tz, qx, qy, qz, qw = map(float, gt_rows[n][1:])
        np.testing.assert_allclose([tx, ty, tz], written[:3, 3], atol=1e-9)
        np.testing.assert_allclose(Rotation.from_quat([qx, qy, qz, qw]).as_matrix(),
                                   written[:3, :3], atol=1e-6)
        colour = seq / f"frame-{n:06d}.color.png"
        copied = out / frames._rgb_paths[n].relative_to(out)
        assert copied.read_bytes() == colour.read_bytes()  # the PNG itself, byte for byte
        assert np.array_equal(frame.rgb, cv2.imread(str(colour))[:, :, ::-1])
        mm = cv2.imread(str(seq / f"frame-{n:06d}.depth.png"), cv2.IMREAD_UNCHANGED)
        valid = (mm != 65535) & (mm != 0)
        np.testing.assert_allclose(frame.depth_m[valid], mm[valid] / 1000.0, rtol=1e-6)
        assert np.isnan(frame.depth_m[~valid]).all()  # 65535 and 0: no depth
    assert sorted(os.listdir(tmp_path)) == ["seq-01", "tum"]  # no temporary left


def test_every_first_and_last_pick_frame_numbers_and_stamps(tmp_path, capsys):
    seq = make_sequence(tmp_path, frames=(0, 1, 4, 7, 8))
    out = tmp_path / "tum"
    assert _run(capsys, seq, "--out", out, "--every", "3", "--first", "1", "--last", "8")[0] == 0
    assert [line.split()[0] for line in (out / "rgb.txt").read_text().splitlines()[1:]] == \
        ["0.033333", "0.133333", "0.233333"]  # frames 1, 4, 7


def test_a_last_past_the_sequences_end_is_named_not_called_missing_files(tmp_path, capsys):
    """The README's --every 10 --last 490 on a shorter sequence said 'frame-000030.color.png
    is missing (47 of the 50 frames taken lack a file)': a copy in part, files to look for."""
    seq = make_sequence(tmp_path, frames=(0, 1, 2))
    rc, err = _run(capsys, seq, "--out", tmp_path / "tum", "--every", "2", "--last", "490")
    assert rc == 2 and len(err) == 1, err
    assert err[0].endswith("error: --last 490 is past the sequence's last frame: the sequence "
                           "holds frames 0..2 (a shorter sequence, or one unzipped only in part? "
                           "7-Scenes sequences hold 1000 frames, stairs' 500): give --last 2 or "
                           "less, or leave it out"), err
    assert sorted(os.listdir(tmp_path)) == ["seq-01"]


@pytest.mark.parametrize("damage, said", [
    ("missing", "frame-000001.depth.png is missing"),
    ("text_pose", "is not 4 rows of 4 numbers"),
    ("scaled_pose", "is not a rigid camera-to-world transform: rotation block not orthonormal"),
    ("corrupt_colour", "cannot read colour image"),
])
def test_bad_input_exits_2_in_one_line_and_writes_nothing(tmp_path, capsys, damage, said):
    seq = make_sequence(tmp_path)
    if damage == "missing":
        (seq / "frame-000001.depth.png").unlink()
    elif damage == "text_pose":
        (seq / "frame-000001.pose.txt").write_text("<html>not found</html>\n")
    elif damage == "scaled_pose":
        np.savetxt(seq / "frame-000001.pose.txt", _pose(1) @ np.diag([2.0, 2.0, 2.0, 1.0]))
    else:  # the last frame: found while the folder is being written
        (seq / "frame-000002.color.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    rc, err = _run(capsys, seq, "--out", tmp_path / "tum")
    assert rc == 2 and len(err) == 1 and said in err[0], err
    assert err[0].startswith("mast3r-ros convert-7scenes: error: ")
    assert sorted(os.listdir(tmp_path)) == ["seq-01"]  # no folder, no temporary


def test_a_scene_folder_is_named_as_such(tmp_path, capsys):
    make_sequence(tmp_path)
    rc, err = _run(capsys, tmp_path, "--out", tmp_path / "tum")
    assert rc == 2 and len(err) == 1 and f"give one sequence, e.g. {tmp_path / 'seq-01'}" \
        in err[0], err


def test_the_conversion_shows_progress_as_the_other_long_commands(tmp_path, capsys,
                                                                  monkeypatch):
    import mast3r_ros.core.progress_output as progress_output

    bars = []

    class Bar:
        def __init__(self, total, desc, unit, initial=0, leave=False):
            self.args, self.done, self.closed = (total, desc, unit), 0, False
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            self.closed = True

    monkeypatch.setattr(progress_output, "progress_bar", Bar)
    seq = make_sequence(tmp_path, frames=(0, 1))
    assert _run(capsys, seq, "--out", tmp_path / "tum")[0] == 0
    assert [(b.args, b.done, b.closed) for b in bars] == [((2, "convert-7scenes", "frame"), 2,
                                                           True)]


def test_overwrite_replaces_an_earlier_conversion_only(tmp_path, capsys):
    seq = make_sequence(tmp_path, frames=(0,))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("not to be lost")
    rc, err = _run(capsys, seq, "--out", taken)
    assert rc == 2 and len(err) == 1 and "--overwrite" in err[0], err
    rc, err = _run(capsys, seq, "--out", taken, "--overwrite")
    assert rc == 2 and len(err) == 1 and "not replacing it" in err[0], err
    assert sorted(os.listdir(taken)) == ["mine.txt"]
    out = tmp_path / "tum"
    assert _run(capsys, seq, "--out", out)[0] == 0
    assert _run(capsys, seq, "--out", out, "--overwrite")[0] == 0 and len(TumSequence(out)) == 1


def test_a_last_past_the_end_that_takes_no_frame_there_is_not_refused(tmp_path, capsys):
    """--last is a bound: past the end, it is refused only where it would take a frame there
    (frames 0, 4, 8 with --every 4 --last 10 take 0, 4, 8)."""
    seq = make_sequence(tmp_path, frames=(0, 4, 8))
    assert _run(capsys, seq, "--out", tmp_path / "tum", "--every", "4", "--last", "10")[0] == 0


@pytest.mark.parametrize("frames, argv, fixes", [
    # a range between two of the frames held: --first 4 alone would pass --last 3
    ((0, 2, 4, 6), ("--every", "2", "--first", "3", "--last", "3"),
     [("(the nearest: 2 and 4): --first 2,", ("--first", "2", "--last", "3")),
      ("or --first 4 --last 4", ("--first", "4", "--last", "4"))]),
    # --first 2 alone would take 2 and 3: its --last named too
    ((0, 2, 4, 6), ("--every", "1", "--first", "3", "--last", "3"),
     [("--first 2 --last 2,", ("--first", "2", "--last", "2")),
      ("or --first 4 --last 4", ("--first", "4", "--last", "4"))]),
    ((0, 3, 6), ("--every", "3", "--first", "1", "--last", "2"),
     [("--first 0,", ("--first", "0", "--last", "2")),
      ("or --first 3 --last 3", ("--first", "3", "--last", "3"))]),
    ((0, 2, 4, 6), ("--every", "2", "--first", "3"), [("(--first 4)", ("--first", "4"))]),
    ((0, 2, 4, 6), ("--every", "3", "--first", "1"),
     [("--every 2 or a multiple, from --first 2", ("--every", "2", "--first", "2"))]),
])
def test_a_missing_frame_names_a_range_that_holds_frames_and_an_ordinal(tmp_path, capsys,
                                                                         frames, argv, fixes):
    """A sequence of every 2nd frame, --first 3 --last 3 --every 2: the fix said "every 2th
    frame ... (--first 4)", past --last. Each option the words give now converts."""
    seq = make_sequence(tmp_path, frames=frames)
    rc, err = _run(capsys, seq, "--out", tmp_path / "tum", *argv)
    step = frames[1] - frames[0]
    assert rc == 2 and len(err) == 1 and f"every {step}{'nd' if step == 2 else 'rd'} frame" \
        in err[0], err
    for said, fix in fixes:  # every option named, applied over the user's, converts
        assert said in err[0], err
        options = dict(zip(argv[::2], argv[1::2]))
        options.update(zip(fix[::2], fix[1::2]))
        rc, err2 = _run(capsys, seq, "--out", tmp_path / "ok", "--overwrite",
                        *[a for kv in options.items() for a in kv])
        assert rc == 0, (said, err2)


@pytest.mark.parametrize("n, said", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"),
                                     (11, "11th"), (12, "12th"), (13, "13th"), (21, "21st"),
                                     (22, "22nd"), (101, "101st"), (111, "111th")])
def test_ordinals(n, said):
    from mast3r_ros.replay.run_notes import ordinal

    assert ordinal(n) == said
