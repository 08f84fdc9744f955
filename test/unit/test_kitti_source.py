"""A KITTI odometry sequence folder (dataset/sequences/NN with image_0 / image_2, times.txt,
calib.txt; ground truth dataset/poses/NN.txt, camera 0's poses) read as SOURCE: it was refused
as neither a TUM folder nor a rosbag2. Camera 2's poses are camera 0's moved by calib.txt's
P2 (devkit: P_i maps rectified camera-0 coordinates to camera i's pixels)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.sources import (SourceOptions, open_source, refuse_without_depth,
                                       refuse_without_poses)

W, H = 62, 19  # KITTI's 1241x376, a twentieth
FX, CX, CY = 35.9, 30.3, 9.3
# KITTI 00's P0 and P2 (scaled): P2 moves x, y and z (its colour camera's rectification)
P0 = np.array([[FX, 0, CX, 0], [0, FX, CY, 0], [0, 0, 1, 0]])
P2 = np.array([[FX, 0, CX, 2.2691], [0, FX, CY, -0.0057], [0, 0, 1, 0.00378]])


def _cam0(i):
    pose = np.eye(4)
    pose[:3, :3] = Rotation.from_rotvec([0.02 * i, 0.1 * i, 0.0]).as_matrix()
    pose[:3, 3] = [0.1 * i, -0.02 * i, 0.9 * i]
    return pose


def _row(m):
    return " ".join(f"{v:.12e}" for v in np.asarray(m)[:3].reshape(-1))


def kitti_tree(root, frames=4, poses=True):
    seq = root / "dataset" / "sequences" / "00"
    rng = np.random.default_rng(0)
    for cam in ("image_0", "image_2"):
        (seq / cam).mkdir(parents=True)
        for i in range(frames):
            shape = (H, W) if cam == "image_0" else (H, W, 3)
            cv2.imwrite(str(seq / cam / f"{i:06d}.png"), rng.integers(0, 256, shape, np.uint8))
    (seq / "times.txt").write_text("".join(f"{0.1036 * i:.6e}\n" for i in range(frames)))
    (seq / "calib.txt").write_text(f"P0: {_row(P0)}\nP1: {_row(P0)}\nP2: {_row(P2)}\n"
                                   f"P3: {_row(P2)}\nTr: {_row(np.eye(4))}\n")
    if poses:
        (root / "dataset" / "poses").mkdir()
        (root / "dataset" / "poses" / "00.txt").write_text(
            "".join(_row(_cam0(i)) + "\n" for i in range(frames)))
    return seq


def test_camera_0_poses_are_the_files_and_stamps_are_times_txt_in_ns(tmp_path):
    seq = kitti_tree(tmp_path)
    source = open_source(str(seq))
    frames = list(source)
    assert [f.stamp_ns for f in frames] == [0, 103_600_000, 207_200_000, 310_800_000]
    for i, f in enumerate(frames):
        np.testing.assert_allclose(f.map_from_cam, _cam0(i), atol=1e-9)
    assert frames[0].rgb.shape == (H, W, 3) and frames[0].depth_m is None
    assert frames[0].intrinsics.K[0, 0] == FX and frames[0].intrinsics.width == W


def test_camera_2_pose_projects_as_p2_does(tmp_path):
    """A map point seen through camera 2's pose and K lands on the pixel calib.txt's P2 gives
    for the same point in camera 0's frame: the pose moved by -inv(K) P2[:, 3]."""
    seq = kitti_tree(tmp_path)
    frames = list(open_source(str(seq / "image_2")))
    point = np.array([0.7, -0.4, 6.0, 1.0])
    for i, f in enumerate(frames):
        in_cam0 = np.linalg.inv(_cam0(i)) @ point
        want = P2 @ in_cam0
        got = f.intrinsics.K @ (np.linalg.inv(f.map_from_cam) @ point)[:3]
        np.testing.assert_allclose(got[:2] / got[2], want[:2] / want[2], atol=1e-9)
    assert frames[0].map_from_cam[0, 3] == pytest.approx(-2.2691 / FX + CX * 0.00378 / FX)


def test_a_sequence_without_poses_refuses_build_map_poses_and_depth_saying_why(tmp_path):
    seq = kitti_tree(tmp_path, poses=False)
    source = open_source(str(seq))
    assert all(f.map_from_cam is None for f in source)
    with pytest.raises(InputError, match=r"no frame has a pose: .*00.txt does not exist.*"
                                         r"sequences 00-10 only.*--trajectory"):
        refuse_without_poses(source)
    with pytest.raises(InputError, match=r"KITTI sequence .* has no depth images"):
        refuse_without_depth(source, "the sift matcher")
    with pytest.raises(InputError, match=r"--pose-frames.*KITTI odometry sequence folder"):
        open_source(str(seq), SourceOptions(pose_frames="a:b"))


@pytest.mark.parametrize("where, text, why", [
    ("calib.txt", "P0: 1 2 3\n", "calib.txt:1: P0 must be 12 numbers"),
    ("calib.txt", f"P0: {_row(P0)}\nP1 1 2\n", "calib.txt:2: expected 'NAME: 12 numbers'"),
    ("times.txt", "0.0\n0.1\nx\n0.3\n", "times.txt:3: expected one stamp in seconds"),
    ("times.txt", "0.0\n0.2\n0.1\n0.3\n", "times.txt:3: stamp 0.1 is not after"),
    ("poses", f"{_row(np.eye(4))}\n1 0 0 0 0 1 0 0 0 0 1\n", "00.txt:2: a pose must be 12"),
    ("poses", f"{_row(np.eye(4))}\n", "holds 1 poses but .*times.txt lists 4 images"),
])
def test_bad_kitti_files_are_one_line_naming_file_and_line(tmp_path, where, text, why):
    refused_in_one_line(tmp_path, where, text, why)


def refused_in_one_line(tmp_path, where: str, text: str, why: str) -> None:
    """A KITTI tree whose ``where`` (a file of the sequence, or "poses": its pose file) holds
    ``text`` is refused by open_source in one line matching ``why``."""
    seq = kitti_tree(tmp_path)
    path = (tmp_path / "dataset" / "poses" / "00.txt") if where == "poses" else seq / where
    path.write_text(text)
    with pytest.raises(InputError, match=why) as err:
        open_source(str(seq))
    assert "\n" not in str(err.value)


def test_calib_without_the_cameras_p_is_refused_naming_it(tmp_path):
    seq = kitti_tree(tmp_path)
    (seq / "calib.txt").write_text(f"P0: {_row(P0)}\n")
    with pytest.raises(InputError, match=r"calib.txt has no P2: the projection matrix of image_2"):
        open_source(str(seq / "image_2"))


def test_build_map_reads_a_kitti_sequence(tmp_path, tiny_ckpt):
    """End to end with the (tiny) MASt3R checkpoint: stamps from 0 s, keyframe poses camera 2's."""
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.replay.cli import main

    seq = kitti_tree(tmp_path)
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n"
                      "    device: cpu\n    map_build: {min_translation_m: 0.5}\n")
    out = str(tmp_path / "m")
    assert main(["build-map", str(seq / "image_2"), "--out", out, "--checkpoint", tiny_ckpt,
                 "--params", str(params), "--log-level", "warning"]) == 0
    m = KeyframeMap.load(out)
    frames = {f.stamp_ns: f.map_from_cam for f in open_source(str(seq / "image_2"))}
    assert len(m) >= 2 and 0 in set(m.stamps_ns().tolist())
    for stamp, pose in zip(m.stamps_ns(), m.poses()):
        np.testing.assert_allclose(pose, frames[int(stamp)], atol=1e-6)


def test_the_dataset_folder_names_its_sequences_to_pass(tmp_path):
    """dataset/ given as SOURCE (holding sequences/NN): named with the sequence to pass."""
    seq = kitti_tree(tmp_path)
    with pytest.raises(InputError, match=r"it holds recordings: pass one of them as SOURCE "
                                         rf"\({seq}\)"):
        open_source(str(tmp_path / "dataset"))


def test_localize_without_poses_says_why_and_names_groundtruth(tmp_path):
    """localize on sequence 11-21 (no poses/NN.txt) ended 'no frame was evaluated against
    ground truth (none covers their stamps): pass --groundtruth FILE (TUM), give a TUM folder
    a groundtruth.txt, ...': there is no ground truth at all, and the reason the reader
    knows (with build-map's --trajectory, which localize lacks) was only at INFO."""
    from types import SimpleNamespace

    from mast3r_ros.replay.run_notes import no_groundtruth_hint

    seq = kitti_tree(tmp_path, poses=False)
    hint = no_groundtruth_hint(open_source(str(seq)), SimpleNamespace(pose_frames=None,
                                                                      groundtruth=None))
    assert "poses/00.txt does not exist" in hint and "00-10 only" in hint, hint
    assert "--groundtruth FILE" in hint and "--trajectory" not in hint, hint
    assert "covers their stamps" not in hint, hint
