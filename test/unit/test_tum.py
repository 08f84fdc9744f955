"""Tests of the TUM RGB-D folder reader and TUM trajectory files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import PoseAtStampConfig
from mast3r_ros.core.errors import ConfigError, ImageSizeError, InputError
from mast3r_ros.core.image_codec import load_camera_info_yaml
from mast3r_ros.replay.tum import TumSequence, read_tum_trajectory, write_tum_trajectory

W, H = 32, 24
S = 1_000_000_000
CAMERA_YAML = f"""\
image_width: {W}
image_height: {H}
camera_matrix:
  rows: 3
  cols: 3
  data: [30.0, 0, 15.5, 0, 30.0, 11.5, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0, 0, 0, 0, 0]
"""


def _pose(rotvec, t) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    out[:3, 3] = t
    return out


def _tum_line(stamp: str, pose: np.ndarray) -> str:
    q = Rotation.from_matrix(pose[:3, :3]).as_quat()
    return f"{stamp} " + " ".join(f"{v:.9f}" for v in (*pose[:3, 3], *q)) + "\n"


GT0 = _pose([0, 0, 0], [0, 0, 0])
GT1 = _pose([0, 0.2, 0], [0.1, 0, 0])


def make_folder(root: Path, yaml: bool = True) -> Path:
    """Three rgb frames (1.0, 1.1, 1.2 s), depth for two of them, ground truth at 1.0 and 1.2 s."""
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    rng = np.random.default_rng(0)
    rgb_lines, depth_lines = ["# timestamp filename\n"], ["# depth\n"]
    for i, stamp in enumerate(["1.000000", "1.100000", "1.200000"]):
        bgr = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "rgb" / f"{i}.png"), bgr)
        rgb_lines.append(f"{stamp} rgb/{i}.png\n")
    for i, stamp in [(0, "1.005"), (2, "1.150")]:  # 1.15 is 0.05 s from any rgb: not associated
        depth = np.full((H, W), 5000 * (i + 1), dtype=np.uint16)
        depth[0, 0] = 0
        cv2.imwrite(str(root / "depth" / f"{i}.png"), depth)
        depth_lines.append(f"{stamp} depth/{i}.png\n")
    (root / "rgb.txt").write_text("".join(rgb_lines))
    (root / "depth.txt").write_text("".join(depth_lines))
    gt = "# timestamp tx ty tz qx qy qz qw\n" + _tum_line("1.0", GT0) + _tum_line("1.2", GT1)
    (root / "groundtruth.txt").write_text(gt)
    if yaml:
        (root / "camera.yaml").write_text(CAMERA_YAML)
    return root


def test_sequence_frames(tmp_path):
    seq = TumSequence(make_folder(tmp_path / "seq"))
    assert len(seq) == 3
    np.testing.assert_array_equal(seq.stamps_ns, [S, S + S // 10, S + S // 5])
    frames = list(seq)
    first = frames[0]
    assert first.rgb.shape == (H, W, 3) and first.rgb.dtype == np.uint8
    bgr = cv2.imread(str(tmp_path / "seq" / "rgb" / "0.png"))
    np.testing.assert_array_equal(first.rgb, bgr[:, :, ::-1])
    assert first.stamp_ns == S and first.intrinsics.K[0, 0] == 30.0
    assert first.depth_m.dtype == np.float32 and np.isnan(first.depth_m[0, 0])
    np.testing.assert_allclose(first.depth_m[1:, 1:], 1.0)
    assert frames[1].depth_m is None and frames[2].depth_m is None
    np.testing.assert_allclose(first.map_from_cam, GT0, atol=1e-8)
    np.testing.assert_allclose(frames[2].map_from_cam, GT1, atol=1e-8)
    # 1.1 s lies between ground truth at 1.0 and 1.2 s but the gap (0.2 s) > max_gap_s (0.1 s)
    assert frames[1].map_from_cam is None
    np.testing.assert_array_equal(seq[-1].rgb, frames[2].rgb)
    stamps, poses = seq.groundtruth()
    assert stamps.tolist() == [S, S + S // 5] and poses.shape == (2, 4, 4)


def test_a_slice_of_a_sequence_is_a_list_of_its_frames(tmp_path):
    """seq[0:2] raised a TypeError from the range check ('<=' between int and slice)."""
    seq = TumSequence(make_folder(tmp_path / "seq"))
    frames = list(seq)
    for sl in (slice(0, 2), slice(None, None, -1), slice(1, None), slice(5, 9)):
        got = seq[sl]
        assert isinstance(got, list)
        assert [f.stamp_ns for f in got] == [f.stamp_ns for f in frames[sl]]
    np.testing.assert_array_equal(seq[1:][0].rgb, frames[1].rgb)
    with pytest.raises(TypeError, match="integers or slices, not float"):
        seq[1.0]
    with pytest.raises(IndexError, match="frame 3 out of range for 3 frames"):
        seq[3]


def test_a_line_repeated_in_rgb_txt_is_read_once_and_named(tmp_path, caplog):
    """rgb.txt with its 1.1 s line pasted twice read that image twice (two frames, one camera
    frame) with only '1 line(s) go back in time' said (a fresh user's find). The repeat (same
    stamp, same file) is dropped with a warning naming it; no out-of-order warning."""
    root = make_folder(tmp_path / "seq")
    want = [f.stamp_ns for f in TumSequence(root)]
    lines = (root / "rgb.txt").read_text().splitlines(keepends=True)
    (root / "rgb.txt").write_text("".join(lines[:3] + [lines[2]] + lines[3:]))  # 1.1 twice
    with caplog.at_level("WARNING", logger="mast3r_ros.replay.tum"):
        seq = TumSequence(root)
    assert [f.stamp_ns for f in seq] == want and len(seq) == 3
    # (not just "repeat": the tmp_path, in every message naming the folder, holds "repeated")
    (msg,) = [r.getMessage() for r in caplog.records if "repeat an earlier" in r.getMessage()]
    assert msg == (f"{root / 'rgb.txt'}: 1 line(s) repeat an earlier line's timestamp and file "
                   f"(first: '1.100000000 {lines[2].split()[1]}'); each image is read once")
    assert not any("go back in time" in r.getMessage() for r in caplog.records)


def test_two_images_at_one_stamp_and_one_image_at_two_stamps_are_warned_about(tmp_path,
                                                                              caplog):
    """Two different images at one timestamp were both localized and scored against one
    ground-truth pose without a word; one image listed at two timestamps was only 'out of
    order' (a fresh user's find). Both are read as listed, each with a warning naming lines;
    the two images at one stamp get no ground-truth pose (`shared_stamps`: which image it is
    for cannot be told)."""
    root = make_folder(tmp_path / "seq")
    lines = (root / "rgb.txt").read_text().splitlines(keepends=True)
    f0, f1 = lines[1].split()[1], lines[2].split()[1]
    (root / "rgb.txt").write_text("".join(lines) + f"1.000000 {f1}\n1.300000 {f0}\n")
    with caplog.at_level("WARNING", logger="mast3r_ros.replay"):
        seq = TumSequence(root)
    assert len(seq) == 5
    rgb = root / "rgb.txt"
    msgs = [r.getMessage() for r in caplog.records if "each line is localized" in r.getMessage()]
    assert msgs == [
        f"{rgb}: 2 image(s) are listed at two or more timestamps (first: '1.100000000 {f1}' and "
        f"'1.000000000 {f1}'); each line is localized and scored on its own: check the file"]
    (shared,) = [r.getMessage() for r in caplog.records if "different images" in r.getMessage()]
    assert shared.startswith(f"{rgb}: 1 timestamp(s) given to two or more different images: "
                             f"lines 2 and 5 at t=1.000000 s ({f0}, {f1}): ")
    assert seq.shared_stamps.stamps == {S} and seq.shared_stamps.lines == {S: [2, 5]}
    assert [f.stamp_ns for f in seq] == [S, S, S + S // 10, S + S // 5, S + 3 * S // 10]
    assert seq[0].map_from_cam is None and seq[1].map_from_cam is None


def test_rgb_txt_across_a_clock_reset_is_named_as_one(tmp_path, caplog):
    """A TUM folder recorded across a simulator reset (stamps 20.0, 20.1, then 1.0 again): read
    sorted with only '1 line(s) go back in time', then refused by build-map's map check for
    a cause it could not name (a field-kind review's find). One step back of seconds is a
    clock reset, said with where it is and the fix; a glob's small steps back are not."""
    root = make_folder(tmp_path / "seq")
    lines = (root / "rgb.txt").read_text().splitlines(keepends=True)
    stamps = ["20.000000", "20.100000", "1.000000"]
    (root / "rgb.txt").write_text(lines[0] + "".join(
        f"{t} {ln.split()[1]}\n" for t, ln in zip(stamps, lines[1:])))
    with caplog.at_level("WARNING", logger="mast3r_ros.replay.tum"):
        TumSequence(root)
    said = [r.getMessage() for r in caplog.records if "go back in time" in r.getMessage()]
    assert len(said) == 1 and "it goes back 19.100 s, once (t=20.100 -> 1.000 s): a clock " \
        "reset" in said[0] and "split the folder there" in said[0], said


def test_ground_truth_across_an_overlapping_clock_reset_gives_no_pose_and_is_refused(
        tmp_path, caplog):
    """A TUM folder of two runs of a simulator whose clock was reset (the bag-time-jump case as
    a folder: 5 Hz frames, run 2 stamped from 50 ms after run 1's start) with 100 Hz ground
    truth: sorted by time the two runs' poses interleave, and every frame of run 2 took run 1's
    pose at its stamp. build-map wrote a map of the wrong half of the loop, 'consistent', and
    localize succeeded on 65 % of the frames; only rgb.txt's 'go back in time' was said, without
    naming a reset (the jump, 1.75 s, is under 10 frame steps). Now the reset is named in
    rgb.txt's warning, and groundtruth.txt's poses are refused where they are used."""
    root = make_folder(tmp_path / "seq")
    lines = (root / "rgb.txt").read_text().splitlines(keepends=True)
    rgb = [f"{1000 + 0.2 * k:.6f} {lines[1 + k % 3].split()[1]}\n" for k in range(10)]
    rgb += [f"{1000.05 + 0.2 * k:.6f} {lines[1 + k % 3].split()[1]}\n" for k in range(10)]
    (root / "rgb.txt").write_text(lines[0] + "".join(rgb))
    gt = [_tum_line(f"{1000 + 0.01 * m:.6f}", GT0) for m in range(200)]
    gt += [_tum_line(f"{1000.055 + 0.01 * m:.6f}", GT1) for m in range(200)]
    (root / "groundtruth.txt").write_text("# timestamp tx ty tz qx qy qz qw\n" + "".join(gt))
    with caplog.at_level("WARNING", logger="mast3r_ros.replay.tum"):
        seq = TumSequence(root)
    said = [r.getMessage() for r in caplog.records if "go back in time" in r.getMessage()]
    assert len(said) == 1 and "it goes back 1.750 s, once (t=1001.800 -> 1000.050 s): a clock " \
        "reset" in said[0], said
    assert all(f.map_from_cam is None for f in seq)
    with pytest.raises(InputError, match=r"groundtruth.txt: it goes back 1.935 s once "
                                         r"\(t=1001.990 -> 1000.055 s\) into its own earlier "
                                         r"stamps: two recordings across a clock reset"):
        seq.check_groundtruth_units()


def test_ground_truth_with_one_line_out_of_place_or_runs_apart_is_still_read(tmp_path):
    """One step back that no interleaving explains keeps its poses: a swapped pair of lines,
    or a second run entirely before the first (sorting puts each run's poses together)."""
    for stamps in (["1.0", "1.2", "1.1", "1.3"], ["5.0", "5.1", "1.0", "1.2"]):
        root = make_folder(tmp_path / f"seq{stamps[1]}")
        gt = "".join(_tum_line(t, GT0 if i % 2 else GT1) for i, t in enumerate(stamps))
        (root / "groundtruth.txt").write_text("# timestamp tx ty tz qx qy qz qw\n" + gt)
        TumSequence(root).check_groundtruth_units()


@pytest.mark.parametrize("order", ["late", "end twice", "all twice"])
def test_ground_truth_with_late_or_repeated_lines_is_no_clock_reset(tmp_path, order):
    """The field tester's false refusals of one recording as two across a clock reset: two
    lines written two lines late (a receive-order export), the file's last two lines repeated,
    the whole file written twice (``cat gt.txt gt.txt``): each goes back once into its own
    earlier stamps, but no frame would take another recording's pose."""
    root = make_folder(tmp_path / "seq")
    stamps = [f"{1.0 + k / 3:.6f}" for k in range(12)]
    gt = [_tum_line(t, _pose([0.1 * k, 0, 0], [0, 0.02 * k, 0])) for k, t in enumerate(stamps)]
    gt = {"late": gt[:5] + gt[7:9] + gt[5:7] + gt[9:], "end twice": gt + gt[-2:],
          "all twice": gt + gt}[order]
    (root / "groundtruth.txt").write_text("# timestamp tx ty tz qx qy qz qw\n" + "".join(gt))
    TumSequence(root).check_groundtruth_units()


def test_rgb_txt_out_of_time_order_is_read_sorted(tmp_path, caplog):
    """rgb.txt written from a shell glob (text order: 1.2 before 1.1...) lists images out of
    time order; the frames come in time order, with the same depth and poses, and a warning."""
    root = make_folder(tmp_path / "seq")
    want = [(f.stamp_ns, f.rgb.copy()) for f in TumSequence(root)]
    lines = (root / "rgb.txt").read_text().splitlines(keepends=True)
    (root / "rgb.txt").write_text(lines[0] + lines[3] + lines[1] + lines[2])  # 1.2, 1.0, 1.1
    with caplog.at_level("WARNING", logger="mast3r_ros.replay.tum"):
        seq = TumSequence(root)
    assert any("go back in time" in r.getMessage() and "rgb.txt" in r.getMessage()
               and "clock reset" not in r.getMessage() for r in caplog.records)
    frames = list(seq)
    assert [f.stamp_ns for f in frames] == [w[0] for w in want]
    for f, (_, rgb) in zip(frames, want):
        np.testing.assert_array_equal(f.rgb, rgb)
    assert frames[0].depth_m is not None and frames[1].depth_m is None
    np.testing.assert_allclose(frames[2].map_from_cam, GT1, atol=1e-8)


def test_groundtruth_interpolated_when_bracketed(tmp_path):
    seq = TumSequence(make_folder(tmp_path / "seq"),
                      pose_at_stamp=PoseAtStampConfig(max_gap_s=0.5))
    expected = _pose([0, 0.1, 0], [0.05, 0, 0])
    np.testing.assert_allclose(seq[1].map_from_cam, expected, atol=1e-8)


def test_camera_info_path_and_missing_yaml(tmp_path):
    folder = make_folder(tmp_path / "seq", yaml=False)
    with pytest.raises(InputError, match="camera.yaml does not exist.*camera_info="):
        TumSequence(folder)
    yaml_path = tmp_path / "elsewhere.yaml"
    yaml_path.write_text(CAMERA_YAML)
    seq = TumSequence(folder, camera_info=load_camera_info_yaml(yaml_path))
    assert seq.intrinsics.width == W


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        TumSequence(tmp_path / "nope")
    folder = make_folder(tmp_path / "seq")
    (folder / "groundtruth.txt").write_text("# gt\n1.0 0 0 0 0 0 0 1\n1.1 0 0 0 0 0 1\n")
    with pytest.raises(InputError, match=r"groundtruth.txt:3: expected 'timestamp tx"):
        TumSequence(folder)
    (folder / "groundtruth.txt").unlink()
    (folder / "rgb.txt").write_text("1.0 rgb/0.png\nabc rgb/1.png\n")
    with pytest.raises(InputError, match=r"rgb.txt:2: expected 'timestamp filename'"):
        TumSequence(folder)
    (folder / "rgb.txt").unlink()
    with pytest.raises(InputError, match="rgb.txt is missing"):
        TumSequence(folder)


def test_unreadable_and_wrong_size_images(tmp_path):
    folder = make_folder(tmp_path / "seq")
    (folder / "rgb" / "1.png").write_bytes(b"not an image")
    (folder / "rgb" / "2.png").unlink()
    seq = TumSequence(folder)
    with pytest.raises(InputError, match="cannot read colour image .*1.png"):
        seq[1]
    with pytest.raises(InputError, match="cannot read colour image .*2.png"):
        seq[2]
    cv2.imwrite(str(folder / "rgb" / "0.png"), np.zeros((H + 1, W, 3), np.uint8))
    with pytest.raises(InputError, match=f"0.png is {W}x{H + 1} but .*camera.yaml is for {W}x{H}"):
        seq[0]


def test_trajectory_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    stamps = np.array([0, 1_305_031_102_175_304_000, 1_305_031_102_211_407_999], dtype=np.int64)
    poses = np.stack([_pose(rng.normal(size=3), rng.normal(size=3)) for _ in stamps])
    path = tmp_path / "out" / "traj.txt"
    write_tum_trajectory(path, stamps, poses)
    text = path.read_text().splitlines()
    assert text[0].startswith("#") and text[2].split()[0] == "1305031102.175304000"
    assert [p.name for p in path.parent.iterdir()] == ["traj.txt"]  # no temp file left
    got_stamps, got_poses = read_tum_trajectory(path)
    np.testing.assert_array_equal(got_stamps, stamps)
    np.testing.assert_allclose(got_poses, poses, atol=1e-12)
    write_tum_trajectory(path, stamps[:0], poses[:0])  # overwrite with an empty trajectory
    got_stamps, got_poses = read_tum_trajectory(path)
    assert got_stamps.shape == (0,) and got_poses.shape == (0, 4, 4)



def test_written_trajectory_is_synced_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    """Atomic: the temporary file's data reach the disk before the rename publishes it (a power
    cut after an unsynced rename can leave an empty trajectory at the path), and the folder
    after it (else the rename itself can be lost: the old trajectory back)."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace",
                        lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    write_tum_trajectory(tmp_path / "t.txt", np.array([S]), np.eye(4)[None])
    assert events == ["fsync", "replace", "fsync folder"]
    assert read_tum_trajectory(tmp_path / "t.txt")[0].tolist() == [S]


@pytest.mark.parametrize("poses, got", [
    ([["a"]], "poses that are not numbers"),
    ([np.eye(4), np.eye(3)], "poses that are not numbers"),   # ragged: no array at all
    (np.eye(4)[None, :3], r"\(1,\) int64 and \(1, 3, 4\)"),
])
def test_write_tum_trajectory_names_the_poses_that_are_not_4x4_numbers(tmp_path, poses, got):
    """Text poses ([['a']]) and ragged ones were bare ValueErrors from numpy; nothing is
    written either way."""
    with pytest.raises(InputError, match=r"write_tum_trajectory expects \(N,\) integer stamps_ns "
                                         r"and finite \(N, 4, 4\) poses, got .*" + got):
        write_tum_trajectory(tmp_path / "t.txt", np.array([1]), poses)
    with pytest.raises(InputError, match=r"got ragged stamps_ns \(list\) and \(1, 4, 4\)"):
        write_tum_trajectory(tmp_path / "t.txt", [[1], [1, 2]], np.eye(4)[None])
    assert not list(tmp_path.iterdir())


def test_trajectory_errors(tmp_path):
    with pytest.raises(InputError, match="integer stamps_ns"):
        write_tum_trajectory(tmp_path / "t.txt", np.array([0.5]), np.eye(4)[None])
    bad = tmp_path / "bad.txt"
    bad.write_text("1.0 0 0 0 0 0 0 0\n")
    with pytest.raises(InputError, match="quaternion of norm 0"):
        read_tum_trajectory(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_tum_trajectory(tmp_path / "missing.txt")
    # a TUM folder given as --groundtruth said "cannot read seq: Is a directory"
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "rgb").mkdir()

    def refused(folder):
        with pytest.raises(InputError, match=r"seq.* is a folder, not a text file of 'timestamp "
                                             r"tx ty tz qx qy qz qw': give the file itself") as e:
            read_tum_trajectory(folder)
        return str(e.value).split("itself ", 1)[1]

    # no groundtruth.txt anywhere near: no made-up path inside the folder given
    assert refused(tmp_path / "seq") == "(e.g. a TUM folder's groundtruth.txt)"
    (tmp_path / "seq" / "groundtruth.txt").write_text("1.0 0 0 0 0 0 0 1\n")
    assert refused(tmp_path / "seq") == f"(e.g. {tmp_path / 'seq' / 'groundtruth.txt'})"
    # the folder's image subfolder (seq/rgb) given: its parent's file, not seq/rgb/groundtruth.txt
    assert refused(tmp_path / "seq" / "rgb") == f"(e.g. {tmp_path / 'seq' / 'groundtruth.txt'})"


def _data_root() -> Path:
    env = os.environ.get("MAST3R_ROS_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def test_real_dataset_first_frames():
    folder = _data_root() / "redkitchen_a_map"
    if not folder.is_dir():
        pytest.skip(f"dataset folder {folder} is absent")
    seq = TumSequence(folder)
    assert len(seq) >= 3
    assert seq.intrinsics.K[0, 0] == 585.0
    for index in range(3):
        frame = seq[index]
        assert frame.rgb.shape == (480, 640, 3) and frame.depth_m.shape == (480, 640)
        valid = frame.depth_m[np.isfinite(frame.depth_m)]
        assert valid.size > 0.5 * frame.depth_m.size
        assert 0.2 < np.median(valid) < 5.0 and valid.max() < 10.0
        rotation = frame.map_from_cam[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-6)
        np.testing.assert_allclose(frame.map_from_cam[3], [0, 0, 0, 1])


# ---- issue 8: BOM, CRLF, comments anywhere, nanosecond stamps ----------------------------------

def _frames_equal(a: TumSequence, b: TumSequence) -> None:
    np.testing.assert_array_equal(a.stamps_ns, b.stamps_ns)
    for fa, fb in zip(a, b):
        np.testing.assert_array_equal(fa.rgb, fb.rgb)
        assert (fa.depth_m is None) == (fb.depth_m is None)
        assert (fa.map_from_cam is None) == (fb.map_from_cam is None)
        if fa.map_from_cam is not None:
            np.testing.assert_allclose(fa.map_from_cam, fb.map_from_cam)


def test_bom_crlf_and_comments_anywhere(tmp_path):
    base = make_folder(tmp_path / "base")
    edited = make_folder(tmp_path / "edited")
    for name in ("rgb.txt", "depth.txt", "groundtruth.txt"):
        lines = (base / name).read_text().splitlines()
        lines.insert(2, "   # a comment in the middle")
        lines[1] = lines[1] + "   # trailing comment"
        text = "\ufeff" + "\r\n".join(lines) + "\r\n"
        (edited / name).write_bytes(text.encode("utf-8"))
    _frames_equal(TumSequence(edited), TumSequence(base))
    # a BOM before data (no leading comment) and old-Mac CR line ends
    rgb = (base / "rgb.txt").read_text().splitlines()[1:]
    (edited / "rgb.txt").write_bytes(("\ufeff" + "\r".join(rgb)).encode("utf-8"))
    np.testing.assert_array_equal(TumSequence(edited).stamps_ns, TumSequence(base).stamps_ns)


def test_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"1.0 rgb/\xff.png\n")
    with pytest.raises(InputError, match="t.txt is not a UTF-8 text file"):
        read_tum_trajectory(path)


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                           ("utf-32-le", b"\xff\xfe\x00\x00"),
                                           ("utf-32-be", b"\x00\x00\xfe\xff")])
def test_utf16_and_utf32_files_with_a_byte_order_mark_read_like_utf8(tmp_path, encoding, bom):
    """Windows PowerShell 5's `>` / Out-File and Notepad's "Unicode" save UTF-16 LE with a BOM
    (CRLF line ends): rgb.txt, depth.txt, groundtruth.txt and camera.yaml were refused as "not
    a UTF-8 text file (byte 0: invalid start byte)" although the BOM names the encoding."""
    base = make_folder(tmp_path / "base")
    edited = make_folder(tmp_path / "edited")
    for name in ("rgb.txt", "depth.txt", "groundtruth.txt", "camera.yaml"):
        text = (base / name).read_text(encoding="utf-8").replace("\n", "\r\n")
        (edited / name).write_bytes(bom + text.encode(encoding))
    _frames_equal(TumSequence(edited), TumSequence(base))
    np.testing.assert_array_equal(TumSequence(edited).intrinsics.K, TumSequence(base).intrinsics.K)
    assert read_tum_trajectory(edited / "groundtruth.txt")[0].size


def test_a_utf16_file_cut_at_an_odd_byte_is_named_as_utf16(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xff\xfe" + "1.0 0 0 0 0 0 0 1\r\n".encode("utf-16-le") + b"\x00")
    with pytest.raises(InputError, match="t.txt is not a UTF-16 text file .*save it as UTF-8"):
        read_tum_trajectory(path)
    yaml_path = tmp_path / "camera.yaml"
    yaml_path.write_bytes(path.read_bytes())
    with pytest.raises(InputError, match="camera.yaml is not a UTF-16 text file"):
        load_camera_info_yaml(yaml_path)


def test_a_header_line_without_its_hash_is_read_as_the_column_names(tmp_path, caplog):
    """A table written by pandas (to_csv(sep=' ')), a spreadsheet or a script starts with
    'timestamp tx ty tz qx qy qz qw' (or 'timestamp filename') without the '#': refused as
    "timestamp 'timestamp' is not a number" before; read now as the header it is (noted)."""
    import logging

    base = make_folder(tmp_path / "base")
    edited = make_folder(tmp_path / "edited")
    for name, header in (("rgb.txt", "timestamp filename"), ("depth.txt", "t[s] file_name"),
                         ("groundtruth.txt", "timestamp tx ty tz qx qy qz qw")):
        data = (base / name).read_text().splitlines(keepends=True)[1:]
        (edited / name).write_text("".join(["\n", header + "\n", *data]))
    with caplog.at_level(logging.INFO, logger="mast3r_ros.replay.tum_trajectory"):
        _frames_equal(TumSequence(edited), TumSequence(base))
    assert any("edited/groundtruth.txt:2: 'timestamp tx ty tz qx qy qz qw' read as a column "
               "header" in r.getMessage() for r in caplog.records)
    # only the first data line: a header further down is a bad line, and a row of 'nan' a row
    gt = edited / "groundtruth.txt"
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(lines[:3] + [lines[1]] + lines[3:]) + "\n")
    with pytest.raises(InputError, match="groundtruth.txt:4: .*'timestamp' is not a number"):
        read_tum_trajectory(gt)
    gt.write_text("nan nan nan nan nan nan nan nan\n")
    with pytest.raises(InputError, match="groundtruth.txt:1: .*'nan' is not finite"):
        read_tum_trajectory(gt)
    # a header of the layout's fields only, each a whole name: more fields, or a file name
    # among them, is a bad first line, not a header
    for first in ("timestamp tx ty tz qx qy qz qw extra", "timestamp tx ty tz qx qy qz pose.txt"):
        gt.write_text(first + "\n" + "\n".join(lines[2:]) + "\n")
        with pytest.raises(InputError, match="groundtruth.txt:1: "):
            read_tum_trajectory(gt)


def test_jpegs_turned_by_exif_are_read_as_stored_when_camera_yaml_is_for_the_stored_grid(
        tmp_path, caplog):
    """A camera or phone that saves its frames with an EXIF orientation tag (6: turned a
    quarter) and a camera.yaml calibrated on the stored pixels: every frame was refused as
    "rgb/0.jpg is 120x160 but camera.yaml is for 160x120", a size the file does not store.
    Read as stored now (one warning); a camera.yaml for the turned size keeps the turn."""
    import logging

    from PIL import Image

    base = make_folder(tmp_path / "base")
    for name, yaml_size in (("stored", None), ("turned", (H, W))):
        folder = make_folder(tmp_path / name)
        lines = []
        for line in (base / "rgb.txt").read_text().splitlines()[1:]:
            stamp, png = line.split()
            im = Image.open(base / png).convert("RGB")
            exif = im.getexif()
            exif[0x0112] = 6
            im.save(folder / png.replace(".png", ".jpg"), exif=exif, quality=100)
            lines.append(f"{stamp} {png.replace('.png', '.jpg')}\n")
        (folder / "rgb.txt").write_text("".join(lines))
        if yaml_size:
            (folder / "camera.yaml").write_text(
                CAMERA_YAML.replace(f"image_width: {W}", f"image_width: {H}").replace(
                    f"image_height: {H}", f"image_height: {W}"))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.tum"):
            frames = TumSequence(folder, read_depth=False)[:]
        said = [r.getMessage() for r in caplog.records if "EXIF" in r.getMessage()]
        if yaml_size is None:
            assert all(f.rgb.shape == (H, W, 3) for f in frames)
            stored = np.asarray(Image.open(folder / "rgb" / "0.jpg").convert("RGB"))  # no turn
            assert np.abs(frames[0].rgb.astype(int) - stored).mean() < 2
            assert len(said) == 1 and f"turns them to {H}x{W}" in said[0], said
        else:
            assert all(f.rgb.shape == (W, H, 3) for f in frames) and not said


def test_nanosecond_stamps_detected_and_converted(tmp_path):
    rng = np.random.default_rng(2)
    stamps = np.array([1_403_636_579_000_000_000, 1_403_636_579_100_000_001], dtype=np.int64)
    poses = np.stack([_pose(rng.normal(size=3), rng.normal(size=3)) for _ in stamps])
    seconds = tmp_path / "s.txt"
    write_tum_trajectory(seconds, stamps, poses)
    ns = tmp_path / "ns.txt"
    ns.write_text("".join(
        f"{int(s)} " + " ".join(line.split()[1:]) + "\n"
        for s, line in zip(stamps, seconds.read_text().splitlines()[1:])
    ))
    got_stamps, got_poses = read_tum_trajectory(ns)
    np.testing.assert_array_equal(got_stamps, stamps)  # exact, no float rounding
    np.testing.assert_allclose(got_poses, poses, atol=1e-12)
    # an integer up to 1e12 is still seconds
    small = tmp_path / "small.txt"
    small.write_text("1403636579 0 0 0 0 0 0 1\n")
    assert read_tum_trajectory(small)[0][0] == 1_403_636_579 * S


@pytest.mark.parametrize("content, reason", [
    ("1403636579000000000.0 0 0 0 0 0 0 1\n", "out of range.*integers"),
    ("1e30 0 0 0 0 0 0 1\n", "out of range"),
    ("99999999999999999999 0 0 0 0 0 0 1\n", "ns is out of range"),
    ("nan 0 0 0 0 0 0 1\n", "not finite"),
    ("1.0 0 0 0 0 0 0 1\n1403636579000000000 0 0 0 0 0 0 1\n", "nanoseconds but the file's first"),
    ("# c\n1.0 0 0 0 0 0 0 1\n2.0 0 0 x 0 0 0 1\n", "non-numeric"),
])
def test_bad_stamps_refused_with_file_and_line(tmp_path, content, reason):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    lineno = len(content.splitlines())
    with pytest.raises(InputError, match=f"bad.txt:{lineno}: .*{reason}"):
        read_tum_trajectory(path)


def test_bad_quaternion_names_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("# header\n\n1.0 0 0 0 0 0 0 1\n1.1 0 0 0 0 0 0 2\n")
    with pytest.raises(InputError, match="bad.txt:4: pose 2 .*norm 2.0"):
        read_tum_trajectory(path)


def test_tum_bom_crlf_case_gives_the_same_frames(tmp_path):
    from io_cases import make_case_inputs

    d = make_case_inputs("tum-bom-crlf", tmp_path)
    reference = TumSequence(d / "crlf")
    assert len(reference) > 0
    for name in ("bom_crlf", "bom_nocomment", "base"):
        _frames_equal(TumSequence(d / name), reference)


def test_tum_ns_timestamps_case_reads_like_seconds(tmp_path):
    from io_cases import make_case_inputs

    d = make_case_inputs("tum-ns-timestamps", tmp_path)
    ns_stamps, ns_poses = read_tum_trajectory(d / "trajectory_ns.txt")
    s_stamps, s_poses = read_tum_trajectory(d / "trajectory_s.txt")
    np.testing.assert_array_equal(ns_stamps, s_stamps)
    np.testing.assert_allclose(ns_poses, s_poses)
    seq = TumSequence(d / "seq")  # groundtruth.txt in ns, rgb.txt in seconds
    assert seq[0].map_from_cam is not None
    gt_stamps, _ = seq.groundtruth()
    np.testing.assert_array_equal(gt_stamps, s_stamps[: gt_stamps.size])


# ---- stamps: the ns/s threshold, signs, the int64 range, rounding ------------------------------

def _stamps_of(tmp_path: Path, *tokens: str) -> list:
    path = tmp_path / "stamps.txt"
    path.write_text("".join(f"{t} 0 0 0 0 0 0 1\n" for t in tokens))
    return read_tum_trajectory(path)[0].tolist()


def test_integer_stamps_above_1e12_are_nanoseconds_and_1e12_itself_is_seconds(tmp_path):
    """'greater than 1e12' is nanoseconds; 1e12 itself is seconds, 1e21 ns: out of range."""
    assert _stamps_of(tmp_path, "1000000000001") == [10**12 + 1]
    with pytest.raises(InputError, match=r"stamps.txt:1: .*'1000000000000' is out of range as "
                       r"seconds .*nanoseconds only above 1e12 .*\(1000\.000000000\)\)$"):
        _stamps_of(tmp_path, "1000000000000")


def test_signed_nanosecond_stamps_keep_their_sign(tmp_path):
    assert _stamps_of(tmp_path, "+1403636579000000000") == [1_403_636_579_000_000_000]
    assert _stamps_of(tmp_path, "-1403636579000000000") == [-1_403_636_579_000_000_000]


def test_second_stamps_up_to_the_int64_limit_are_read_exactly(tmp_path):
    """2**63 - 1 ns = 9223372036.854775807 s is the last representable stamp."""
    assert _stamps_of(tmp_path, "9223372036.854775807") == [2**63 - 1]
    with pytest.raises(InputError, match="out of range"):
        _stamps_of(tmp_path, "9223372036.854775808")


def test_sub_nanosecond_digits_round_to_the_nearest_nanosecond(tmp_path):
    assert _stamps_of(tmp_path, "1.0000000009", "2.0000000004") == [S + 1, 2 * S]
    assert _stamps_of(tmp_path, "-1.0000000009") == [-S - 1]


def test_mixed_units_message_names_both_units(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_text("1.0 0 0 0 0 0 0 1\n1403636579000000000 0 0 0 0 0 0 1\n")
    with pytest.raises(InputError, match="is in nanoseconds but the file's first stamp is in "
                                         "seconds"):
        read_tum_trajectory(path)
    path.write_text("1403636579000000000 0 0 0 0 0 0 1\n1.0 0 0 0 0 0 0 1\n")
    with pytest.raises(InputError, match="mixed.txt:2: .*is in seconds but the file's first "
                                         "stamp is in nanoseconds"):
        read_tum_trajectory(path)


# ---- trajectory files: values, columns, quaternions, writing -----------------------------------

def test_extra_columns_are_refused(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_text("1.0 0 0 0 0 0 0 1 7\n")
    with pytest.raises(InputError, match=r"wide.txt:1: expected 'timestamp tx.*\(9 columns\)"):
        read_tum_trajectory(path)


def test_a_comma_separated_line_is_one_column_and_the_message_says_separate_by_whitespace(
        tmp_path):
    """'(1 columns)' read oddly, and did not say what was wrong: commas, not spaces."""
    path = tmp_path / "csv.txt"
    path.write_text("1.0,0,0,0,0,0,0,1\n")
    with pytest.raises(InputError) as e:
        read_tum_trajectory(path)
    msg = str(e.value)
    assert msg.endswith("(1 column: the values are separated by commas; TUM files separate "
                        "them by whitespace (spaces or tabs))"), msg
    path.write_text("1.0 0 0\n")
    with pytest.raises(InputError, match=r"\(3 columns\)$"):
        read_tum_trajectory(path)


@pytest.mark.parametrize("values", ["nan 0 0 0 0 0 1", "0 inf 0 0 0 0 1", "0 0 0 0 0 0 nan"])
def test_non_finite_pose_values_are_refused(tmp_path, values):
    path = tmp_path / "nan.txt"
    path.write_text(f"1.0 0 0 0 0 0 0 1\n2.0 {values}\n")
    with pytest.raises(InputError, match="nan.txt:2: pose 2 .*non-finite"):
        read_tum_trajectory(path)


def test_quaternion_norm_tolerance_is_1e_minus_2(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("1.0 0 0 0 0 0 0 1.02\n")
    with pytest.raises(InputError, match="norm 1.020000 instead of 1"):
        read_tum_trajectory(path)
    path.write_text("1.0 0 0 0 0 0 0 1.005\n")  # accepted, and normalized to a rotation
    np.testing.assert_allclose(read_tum_trajectory(path)[1][0], np.eye(4), atol=1e-12)


def test_written_quaternions_have_w_non_negative(tmp_path):
    """A yaw of -3 rad is q = (0, 0, sin(-1.5), cos(-1.5)); scipy gives -q (w < 0) for it."""
    path = tmp_path / "t.txt"
    write_tum_trajectory(path, np.array([S]), _pose([0, 0, -3.0], [1, 2, 3])[None])
    values = [float(v) for v in path.read_text().splitlines()[1].split()[1:]]
    np.testing.assert_allclose(values, [1, 2, 3, 0, 0, np.sin(-1.5), np.cos(-1.5)], atol=1e-12)


def test_negative_and_small_nanosecond_stamps_are_written_exactly(tmp_path):
    stamps = np.array([-3 * S // 2, -1, 0, S + 1], dtype=np.int64)
    path = tmp_path / "t.txt"
    write_tum_trajectory(path, stamps, np.tile(np.eye(4), (4, 1, 1)))
    written = [line.split()[0] for line in path.read_text().splitlines()[1:]]
    assert written == ["-1.500000000", "-0.000000001", "0.000000000", "1.000000001"]
    np.testing.assert_array_equal(read_tum_trajectory(path)[0], stamps)


def test_write_refuses_non_finite_poses_and_a_count_mismatch(tmp_path):
    bad = np.eye(4)[None].copy()
    bad[0, 0, 3] = np.nan
    with pytest.raises(InputError, match="finite"):
        write_tum_trajectory(tmp_path / "t.txt", np.array([0]), bad)
    with pytest.raises(InputError, match=r"\(2,\) int64 and \(1, 4, 4\)"):
        write_tum_trajectory(tmp_path / "t.txt", np.array([0, 1]), np.eye(4)[None])
    assert not (tmp_path / "t.txt").exists()


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "traj.txt"
    target.mkdir()  # os.replace of a file over a folder fails
    (target / "keep").write_text("x")
    with pytest.raises(OSError):
        write_tum_trajectory(target, np.array([0]), np.eye(4)[None])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traj.txt"]


# ---- text files: comments, BOMs ----------------------------------------------------------------

def test_a_hash_inside_a_file_name_is_not_a_comment(tmp_path):
    """A comment starts at a '#' at the start of a line or after white space only."""
    root = make_folder(tmp_path / "seq")
    (root / "rgb" / "0.png").rename(root / "rgb" / "a#0.png")
    text = (root / "rgb.txt").read_text().replace("rgb/0.png", "rgb/a#0.png")
    (root / "rgb.txt").write_text(text)
    bgr = cv2.imread(str(root / "rgb" / "a#0.png"))
    np.testing.assert_array_equal(TumSequence(root)[0].rgb, bgr[:, :, ::-1])


def test_a_byte_order_mark_inside_the_file_is_skipped(tmp_path):
    """Files joined with cat keep the second file's BOM at the start of a later line."""
    path = tmp_path / "joined.txt"
    path.write_bytes("\ufeff1.0 0 0 0 0 0 0 1\n\ufeff2.0 0 0 0 0 0 0 1\n".encode("utf-8"))
    np.testing.assert_array_equal(read_tum_trajectory(path)[0], [S, 2 * S])


# ---- TumSequence: options, depth association, indexing, copies ---------------------------------

def test_depth_scale_is_units_per_metre_and_validated(tmp_path):
    root = make_folder(tmp_path / "seq")
    # frame 0's depth PNG holds 5000 units: 1 m at TUM's 5000 units/m, 5 m at 1000 units/m
    np.testing.assert_allclose(TumSequence(root)[0].depth_m[1:, 1:], 1.0)
    seq = TumSequence(root, depth_scale=1000.0)
    assert seq.depth_units_per_m == 1000.0
    np.testing.assert_allclose(seq[0].depth_m[1:, 1:], 5.0)
    for bad in (0.0, -5000.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="depth scale must be a positive number"):
            TumSequence(root, depth_scale=bad)


def test_a_depth_scale_of_the_wrong_type_is_an_input_error(tmp_path):
    """A string (a YAML value read as text) was a TypeError from np.isfinite; True was 1 unit/m."""
    root = make_folder(tmp_path / "seq")
    for bad in ("5000", True, [5000.0]):
        with pytest.raises(InputError, match="depth scale must be a positive number of raw depth "
                                             r"units per metre.*pass depth_scale as a number"):
            TumSequence(root, depth_scale=bad)
    assert TumSequence(root, depth_scale=np.float32(1000)).depth_units_per_m == 1000.0


def test_negative_tolerances_are_refused(tmp_path):
    root = make_folder(tmp_path / "seq")
    with pytest.raises(InputError, match="must be >= 0"):
        TumSequence(root, sync_tolerance_s=-0.01)
    for name in ("tolerance_s", "max_gap_s"):  # refused when made (test_config_params)
        with pytest.raises(ConfigError, match=f"'pose_at_stamp.{name}' must be in"):
            PoseAtStampConfig(**{name: -0.01})


@pytest.mark.parametrize("bad", ["camera.yaml", {"width": W}])
def test_a_camera_info_that_is_not_intrinsics_is_refused_up_front(tmp_path, bad):
    """A YAML path (or a dict) was taken, and the first frame failed with an AttributeError
    ('str' object has no attribute 'width')."""
    root = make_folder(tmp_path / "seq")
    with pytest.raises(InputError, match=r"camera_info must be a CameraIntrinsics or None, got "
                                         r".*load_camera_info_yaml\(path\)"):
        TumSequence(root, camera_info=bad)


@pytest.mark.parametrize("kwargs, match", [
    ({"sync_tolerance_s": "0.02"}, r"sync_tolerance_s must be >= 0 \(a number of seconds\), "
                                   r"got '0.02' \(str\)"),
    ({"sync_tolerance_s": None}, r"sync_tolerance_s must be >= 0 .*got None"),
    ({"pose_at_stamp": {"tolerance_s": 0.1}}, r"pose_at_stamp must be a PoseAtStampConfig"),
])
def test_tolerances_of_the_wrong_type_are_input_errors(tmp_path, kwargs, match):
    """Text or None was a bare TypeError from '>=', a dict an AttributeError."""
    root = make_folder(tmp_path / "seq")
    with pytest.raises(InputError, match=match):
        TumSequence(root, **kwargs)


def test_depth_txt_out_of_time_order_is_associated_by_stamp(tmp_path):
    root = make_folder(tmp_path / "seq")
    for name, units in (("a.png", 5000), ("b.png", 15000)):
        cv2.imwrite(str(root / "depth" / name), np.full((H, W), units, dtype=np.uint16))
    (root / "depth.txt").write_text("1.201 depth/b.png\n1.001 depth/a.png\n")
    frames = list(TumSequence(root))
    np.testing.assert_allclose(frames[0].depth_m, 1.0)   # 5000 / 5000
    assert frames[1].depth_m is None
    np.testing.assert_allclose(frames[2].depth_m, 3.0)   # 15000 / 5000


def test_no_depth_reason_is_none_when_some_frames_have_depth(tmp_path):
    root = make_folder(tmp_path / "seq")  # depth for frame 0 only
    assert TumSequence(root).no_depth_reason() is None
    (root / "depth.txt").write_text("5.0 depth/0.png\n")
    assert "within 0.020 s of an rgb.txt stamp" in TumSequence(root).no_depth_reason()


def test_equal_rgb_stamps_in_order_are_not_reported_as_going_back(tmp_path, caplog):
    root = make_folder(tmp_path / "seq")
    (root / "rgb.txt").write_text("1.0 rgb/0.png\n1.0 rgb/1.png\n1.2 rgb/2.png\n")
    with caplog.at_level("WARNING", logger="mast3r_ros.replay.tum"):
        TumSequence(root)
    assert not any("go back in time" in r.getMessage() for r in caplog.records)


def test_indexing_accepts_minus_len_and_refuses_len(tmp_path):
    seq = TumSequence(make_folder(tmp_path / "seq"))
    assert seq[-3].stamp_ns == S and seq[-1].stamp_ns == S + S // 5
    for index in (3, -4):
        with pytest.raises(IndexError, match=f"frame {index} out of range for 3 frames"):
            seq[index]


def test_a_folder_without_ground_truth_has_no_poses(tmp_path):
    root = make_folder(tmp_path / "seq")
    (root / "groundtruth.txt").unlink()
    seq = TumSequence(root)
    assert all(f.map_from_cam is None for f in seq)
    stamps, poses = seq.groundtruth()
    assert stamps.shape == (0,) and stamps.dtype == np.int64 and poses.shape == (0, 4, 4)


def test_returned_arrays_are_copies(tmp_path):
    seq = TumSequence(make_folder(tmp_path / "seq"))
    seq[0].map_from_cam[0, 3] = 99.0
    seq.stamps_ns[0] = 7
    stamps, poses = seq.groundtruth()
    stamps[0], poses[0, 0, 3] = 7, 99.0
    np.testing.assert_allclose(seq[0].map_from_cam, GT0, atol=1e-8)
    assert seq.stamps_ns[0] == S and seq[0].stamp_ns == S
    assert seq.groundtruth()[0][0] == S and seq.groundtruth()[1][0, 0, 3] == 0.0


def test_depth_png_must_be_16_bit_and_of_the_colour_image_size(tmp_path):
    """A depth PNG of another size than its colour image said '... is 320x240 but camera.yaml
    is for 640x480', blaming the calibration (field test): it names the depth file and says it
    is not its colour image's size, in the rosbag2 reader's words (register depth first)."""
    root = make_folder(tmp_path / "seq")
    cv2.imwrite(str(root / "depth" / "0.png"), np.full((H, W), 5, dtype=np.uint8))
    with pytest.raises(InputError, match="must be 16-bit single-channel PNG"):
        TumSequence(root)[0]
    cv2.imwrite(str(root / "depth" / "0.png"), np.full((H + 1, W), 5000, dtype=np.uint16))
    with pytest.raises(ImageSizeError) as e:
        TumSequence(root)[0]
    assert str(e.value) == (
        f"depth image {root / 'depth' / '0.png'} is {W}x{H + 1}, but its colour image "
        f"{root / 'rgb' / '0.png'} is {W}x{H}: register depth to the colour image first")
    assert e.value.stream == "depth"  # not taken for a wrong --camera-info (`sources`)
    assert "camera.yaml" not in str(e.value)


def test_a_ros_parameter_file_given_as_camera_info_is_named_as_such(tmp_path):
    """config/localize.yaml passed as --camera-info was refused as "missing field
    'image_width'", which does not say the file is the wrong kind."""
    shipped = Path(__file__).resolve().parents[2] / "config" / "localize.yaml"
    for path in (shipped, tmp_path / "p.yaml"):
        if path != shipped:
            path.write_text("robot1:\n  ros__parameters:\n    x: 1\n")
        with pytest.raises(InputError) as e:
            load_camera_info_yaml(path)
        msg = str(e.value)
        assert msg.startswith(f"{path} is a ROS parameter file"), msg
        assert "not a camera_info YAML: pass it with --params" in msg, msg
    other = tmp_path / "other.yaml"
    other.write_text("mast3r_localizer: 3\n")
    with pytest.raises(InputError, match=r"is a ROS parameter file \(key 'mast3r_localizer'\)"):
        load_camera_info_yaml(other)


def test_a_map_manifest_given_as_camera_info_is_named_as_such(sift_map, tmp_path):
    """`--camera-info MAP/manifest.json` (JSON is YAML) was refused as "missing field
    'image_width'"; a map's manifest, or an export's, is named as what it is."""
    with pytest.raises(InputError) as e:
        load_camera_info_yaml(Path(sift_map) / "manifest.json")
    assert str(e.value).startswith(
        f"{Path(sift_map) / 'manifest.json'} is a keyframe map's manifest (format "
        "'mast3r_ros.keyframe_map'), not a camera_info YAML: a map folder goes in --map"), e.value
    export = tmp_path / "manifest.json"
    export.write_text('{"format": "mast3r_ros-onnx", "version": 1}')
    with pytest.raises(InputError, match=r"is an export's manifest \(format 'mast3r_ros-onnx'\)"):
        load_camera_info_yaml(export)


def test_lists_written_on_windows_with_backslash_paths_are_read(tmp_path, caplog):
    """A new user's finding: rgb.txt / depth.txt written on Windows ('1.0 rgb\\0.png') failed
    with only 'image not found: seq/rgb\\0.png'. A name is tried as written (a backslash is a
    legal file-name character on Linux), then with '/' (said once per list); when neither
    exists, the error names both."""
    folder = make_folder(tmp_path / "seq")
    for name in ("rgb.txt", "depth.txt"):
        text = (folder / name).read_text()
        (folder / name).write_text(text.replace("rgb/", "rgb\\").replace("depth/", "depth\\"))
    seq = TumSequence(folder)
    with caplog.at_level("WARNING"):
        frames = list(seq)
    bgr = cv2.imread(str(folder / "rgb" / "1.png"))
    np.testing.assert_array_equal(frames[1].rgb, bgr[:, :, ::-1])
    np.testing.assert_allclose(frames[0].depth_m[1:, 1:], 1.0)
    said = [r.getMessage() for r in caplog.records if "backslash" in r.getMessage()]
    assert len(said) == 2 and "rgb.txt" in said[0] and "depth.txt" in said[1], said
    # a file named with the backslash itself (legal on Linux) is read as written
    cv2.imwrite(str(folder / "rgb\\2.png"), np.zeros((H, W, 3), np.uint8))
    assert not seq[2].rgb.any()
    (folder / "rgb\\2.png").unlink()
    (folder / "rgb" / "2.png").unlink()
    (folder / "depth" / "0.png").unlink()
    for index, what, name in ((2, "colour image", "rgb\\2.png"), (0, "depth image",
                                                                   "depth\\0.png")):
        with pytest.raises(InputError) as e:
            seq[index]
        slashed = folder / name.replace("\\", "/")
        list_name = "rgb.txt" if "rgb" in name else "depth.txt"
        assert str(e.value) == (f"cannot read {what} {folder / name}: no such file, nor "
                                f"{slashed} (its backslashes read as '/') (listed in "
                                f"{folder / list_name})"), str(e.value)


@pytest.mark.parametrize("values, column", [("nan 0 0 0 0 0 1", "tx (nan)"),
                                            ("0 inf 0 0 0 0 1", "ty (inf)"),
                                            ("0 0 0 0 0 0 nan", "qw (nan)")])
def test_a_non_finite_pose_value_is_named_not_blamed_on_the_quaternion(tmp_path, values,
                                                                       column):
    """A NaN tx read 'has a non-finite value or a quaternion of norm 1.000000 instead of 1':
    the user looked at a quaternion that is fine. The column is named."""
    path = tmp_path / "nan.txt"
    path.write_text(f"1.0 0 0 0 0 0 0 1\n2.0 {values}\n")
    with pytest.raises(InputError) as e:
        read_tum_trajectory(path)
    assert f"has a non-finite {column}" in str(e.value) and "norm" not in str(e.value)


@pytest.mark.parametrize("read_depth", [True, False])
def test_an_rgb_txt_listing_the_depth_pngs_is_refused(tmp_path, read_depth):
    """rgb.txt overwritten with a copy of depth.txt: its 16-bit depth PNGs read as grey colour
    images, and build-map wrote a 'consistent' map of dark depth pictures without a word."""
    root = make_folder(tmp_path / "seq")
    (root / "rgb.txt").write_text((root / "depth.txt").read_text())
    with pytest.raises(InputError) as e:
        TumSequence(root, read_depth=read_depth)
    msg = str(e.value)
    assert "depth/0.png" in msg and "rgb.txt" in msg and "depth.txt" in msg, msg
    assert "copy of depth.txt" in msg, msg


def test_two_poses_at_one_ground_truth_stamp_are_found_with_their_lines(tmp_path):
    """A groundtruth.txt whose stamps were zeroed (or pasted over) holds several poses at one
    time: a frame at that stamp was scored against whichever the lookup picks. The reader finds
    the stamp and its lines (`SharedPoses`; what is done with it is the caller's, warned about
    there: `shared_stamps`); the same pose repeated (a line pasted twice) is no ambiguity."""
    from mast3r_ros.replay.tum_trajectory import read_tum_trajectory_shared

    p = tmp_path / "groundtruth.txt"
    p.write_text("0.0 0 0 0 0 0 0 1\n0.0 0 0 0 0 0 0 1\n1.0 0 0 0 0 0 0 1\n")
    assert not read_tum_trajectory_shared(p)[3]
    p.write_text("0.0 0 0 0 0 0 0 1\n0.0 0.5 0 0 0 0 0 1\n1.0 0 0 0 0 0 0 1\n")
    stamps, _, _, shared = read_tum_trajectory_shared(p)
    assert len(stamps) == 3 and shared.stamps == {0} and shared.lines == {0: [1, 2]}
    assert shared.warning().startswith(f"{p}: 1 timestamp(s) given two or more different "
                                       "poses: lines 1 and 2 at t=0.000000 s")


def test_a_reset_onto_the_first_runs_stamps_is_found_with_its_own_poses():
    """`trajectory_reset_reason` leaves out a line repeating an earlier line's stamp *and*
    pose only: a second run stamped on the first's samples (its poses others) is a reset."""
    from mast3r_ros.replay.tum_trajectory import trajectory_reset_reason

    ms = 1_000_000
    stamps = np.array([100 * ms * k for k in range(10)] + [100 * ms * k for k in range(3, 12)])
    poses = np.tile(np.eye(4), (len(stamps), 1, 1))
    poses[:, 0, 3] = np.arange(len(stamps))  # every line a pose of its own
    why = trajectory_reset_reason(stamps, "split it", poses)
    assert why.startswith("it goes back 0.600 s once (t=0.900 -> 0.300 s)"), why
    assert why.endswith("; split it")
    poses[10:, 0, 3] = np.arange(3, 12)  # the end written twice: the same stamps and poses
    assert trajectory_reset_reason(stamps[:13], "split it", poses[:13]) == ""


def test_only_four_fields_stamp_name_stamp_name_are_an_associate_pair():
    from mast3r_ros.replay.tum_trajectory import is_associate_pair

    assert is_associate_pair("1.0 rgb/1.png 1.01 depth/1.png".split())
    assert not is_associate_pair("1.0 rgb/1.png 1.01 depth/1.png 7".split())
    assert not is_associate_pair("1.0 rgb/1.png 1.01 2.0".split())


@pytest.mark.parametrize("text, said", [
    ("# timestamp tx ty tz qx qy qz qw\n0.1 1 2 3 0 0 0 1\n",
     r"t\.txt:2: a TUM trajectory .*not a camera calibration: pass it with --trajectory "
     r"\(build-map\) or --groundtruth \(localize\)"),
    ("0.1 rgb/0.1.png\n", r"t\.txt:1: a TUM image list .*not a camera calibration"),
    ("- 1\n- 2\n", r"t\.txt: not a camera calibration: its YAML is a list"),
    # a trajectory line has 8 numbers: neither 3 numbers nor 8 words are one
    ("1 2 3\n", r"t\.txt: not a camera calibration: its YAML is a str"),
    ("a b c d e f g h\n", r"t\.txt: not a camera calibration: its YAML is a str"),
])
def test_a_trajectory_given_as_camera_info_is_named_as_such(tmp_path, text, said):
    """groundtruth.txt passed as --camera-info was refused as "expected a camera_info mapping,
    got str", which names neither the file's kind nor the option it goes to."""
    path = tmp_path / "t.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=said) as e:
        load_camera_info_yaml(path)
    assert "--camera-info takes a camera calibration" in str(e.value)
    assert len(str(e.value).splitlines()) == 1
