"""Tests of the TUM RGB-D folder reader and TUM trajectory files."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import PoseAtStampConfig
from mast3r_ros.core.errors import InputError
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
               for r in caplog.records)
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


def test_trajectory_errors(tmp_path):
    with pytest.raises(InputError, match="integer stamps_ns"):
        write_tum_trajectory(tmp_path / "t.txt", np.array([0.5]), np.eye(4)[None])
    bad = tmp_path / "bad.txt"
    bad.write_text("1.0 0 0 0 0 0 0 0\n")
    with pytest.raises(InputError, match="quaternion of norm 0"):
        read_tum_trajectory(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_tum_trajectory(tmp_path / "missing.txt")


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
