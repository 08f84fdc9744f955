"""An EuRoC/ASL dataset folder (ROOT/mav0/cam0/{data.csv, data/*.png, sensor.yaml} beside
mav0/state_groundtruth_estimate0/data.csv) read as SOURCE directly: it was refused with a shell
recipe that made cam0 a TUM folder without poses, since its ground truth is the body's pose, not
the camera's. The camera's pose is world_from_body(t) @ T_BS (sensor.yaml's body_from_cam)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.trajectory import interpolate_pose
from mast3r_ros.replay.sources import (SourceOptions, open_source, refuse_without_depth,
                                       refuse_without_poses)

T0 = 1403636579763555584
W, H = 64, 48


def _pose(rotvec, t):
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    out[:3, 3] = t
    return out


T_BS_CAM = _pose([0.3, -1.2, 0.4], [0.02, -0.06, 0.01])  # body_from_cam, far from identity
T_BS_VICON = _pose([-0.5, 0.2, 1.0], [0.07, -0.03, -0.12])  # body_from_marker


def _sensor_yaml(t_bs, camera=True):
    data = ", ".join(repr(float(v)) for v in t_bs.reshape(-1))
    text = f"sensor_type: {'camera' if camera else 'visual-inertial'}\nT_BS:\n  cols: 4\n" \
           f"  rows: 4\n  data: [{data}]\n"
    if camera:
        text += (f"rate_hz: 20\nresolution: [{W}, {H}]\ncamera_model: pinhole\n"
                 "intrinsics: [40.0, 40.5, 31.5, 23.5]\ndistortion_model: radial-tangential\n"
                 "distortion_coefficients: [-0.01, 0.002, 0.0001, 0.0]\n")
    return text


def _gt_line(stamp, pose):
    x, y, z, w = Rotation.from_matrix(pose[:3, :3]).as_quat()
    return ",".join([str(stamp)] + [repr(float(v)) for v in (*pose[:3, 3], w, x, y, z)])


def _body(i):
    """world_from_body at ground-truth sample i (every 100 ms)."""
    return _pose([0.0, 0.0, 0.15 * i], [0.25 * i, 0.05 * i, 1.0])


def euroc_tree(root, frames=5, gt="state_groundtruth_estimate0", cam="cam0"):
    """A tiny EuRoC tree under ``root``: ``frames`` grey PNGs every 50 ms from T0 (CRLF
    data.csv), ground truth every 100 ms from T0 + 50 ms (frame 0 before it): the even samples'
    stamps fall on odd frames, the odd frames between samples. Returns the camera folder."""
    folder = root / "mav0" / cam
    (folder / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["#timestamp [ns],filename"]
    for i in range(frames):
        stamp = T0 + i * 50_000_000
        cv2.imwrite(str(folder / "data" / f"{stamp}.png"),
                    rng.integers(0, 256, (H, W), np.uint8))
        lines.append(f"{stamp},{stamp}.png")
    (folder / "data.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    (folder / "sensor.yaml").write_text(_sensor_yaml(T_BS_CAM))
    if gt:
        gt_dir = root / "mav0" / gt
        gt_dir.mkdir()
        marker = np.eye(4) if gt != "vicon0" else T_BS_VICON
        rows = [_gt_line(T0 + 50_000_000 + k * 100_000_000, _body(k) @ marker)
                + (",0,0,0,0,0,0,0,0,0" if gt != "vicon0" else "") for k in range(frames)]
        (gt_dir / "data.csv").write_text(
            "#timestamp, p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], q_RS_w [], q_RS_x [], "
            "q_RS_y [], q_RS_z []\n" + "\n".join(rows) + "\n")
        if gt == "vicon0":
            (gt_dir / "sensor.yaml").write_text(_sensor_yaml(T_BS_VICON, camera=False))
    return folder


@pytest.mark.parametrize("given", [".", "mav0", "mav0/cam0"])
def test_camera_poses_are_the_body_pose_times_t_bs_exactly_and_interpolated(tmp_path, given):
    euroc_tree(tmp_path)
    source = open_source(str(tmp_path / given))
    frames = list(source)
    assert [f.stamp_ns for f in frames] == [T0 + i * 50_000_000 for i in range(5)]
    assert source.stamps_ns.dtype == np.int64
    assert frames[0].map_from_cam is None  # before the first ground-truth sample
    for i in (1, 3):  # on samples 0 and 1
        np.testing.assert_allclose(frames[i].map_from_cam, _body(i // 2) @ T_BS_CAM,
                                   atol=1e-12)
    for i in (2, 4):  # halfway between samples: the body interpolated, then T_BS
        want = interpolate_pose(_body(i // 2 - 1), _body(i // 2), 0.5) @ T_BS_CAM
        np.testing.assert_allclose(frames[i].map_from_cam, want, atol=1e-12)
    assert frames[1].rgb.shape == (H, W, 3) and frames[1].rgb.dtype == np.uint8
    assert frames[1].intrinsics.K[0, 0] == 40.0 and frames[1].depth_m is None
    stamps, poses = source.groundtruth()
    np.testing.assert_allclose(poses[2], _body(2) @ T_BS_CAM, atol=1e-12)
    assert source.stamps_written[1] is True and source.stamps_written[0].endswith("data.csv")


def test_vicon_ground_truth_is_taken_through_its_marker_t_bs(tmp_path):
    """V* sequences' vicon0/data.csv: the marker's pose, marker = body @ vicon0's T_BS."""
    euroc_tree(tmp_path, gt="vicon0")
    frames = list(open_source(str(tmp_path)))
    np.testing.assert_allclose(frames[3].map_from_cam, _body(1) @ T_BS_CAM, atol=1e-9)


def test_cam1_is_read_when_named(tmp_path):
    euroc_tree(tmp_path)
    cam1 = euroc_tree(tmp_path / "other", gt="", cam="cam1")
    shutil.move(str(cam1), str(tmp_path / "mav0" / "cam1"))
    source = open_source(str(tmp_path / "mav0" / "cam1"))
    assert str(source.folder).endswith("cam1") and len(source) == 5
    assert source[1].map_from_cam is not None


def test_leica_positions_or_no_ground_truth_refuse_build_map_poses_saying_why(tmp_path):
    cam = euroc_tree(tmp_path, gt="")
    source = open_source(str(tmp_path))
    with pytest.raises(InputError, match=r"no frame has a pose: .*has no ground truth.*"
                                         r"--trajectory"):
        refuse_without_poses(source)
    leica = tmp_path / "mav0" / "leica0"
    leica.mkdir()
    (leica / "data.csv").write_text(f"#timestamp [ns],p_RS_R_x [m],p_RS_R_y [m],p_RS_R_z [m]\n"
                                    f"{T0},1,2,3\n")
    source = open_source(str(cam))
    assert all(f.map_from_cam is None for f in source)
    with pytest.raises(InputError, match=r"leica0/data.csv, holds positions alone.*"
                                         r"no camera orientation"):
        refuse_without_poses(source)


def test_no_depth_is_refused_for_the_sift_matcher_naming_the_fix(tmp_path):
    euroc_tree(tmp_path)
    source = open_source(str(tmp_path))
    refuse_without_depth(source, None)  # MASt3R's pointmaps need none
    with pytest.raises(InputError, match=r"the sift matcher takes its 3-D points from keyframe "
                                         r"depth, but EuRoC/ASL camera .* has no depth images"
                                         r".*--matcher mast3r"):
        refuse_without_depth(source, "the sift matcher")


@pytest.mark.parametrize("option, flag", [
    ({"image_topic": "/cam0/image_raw"}, "--image-topic"), ({"run": 1}, "--run"),
    ({"pose_frames": "world:cam0"}, "--pose-frames"), ({"depth_scale": 1000.0}, "--depth-scale")])
def test_rosbag_only_options_and_depth_scale_are_refused(tmp_path, option, flag):
    euroc_tree(tmp_path)
    with pytest.raises(InputError, match=rf"{flag}.* an EuRoC/ASL dataset folder"):
        open_source(str(tmp_path), SourceOptions(**option))


def test_a_kitti_camera_folder_that_is_not_there_names_every_source_kind(tmp_path):
    """`build-map .../sequences/00/image_3` without image_3 said 'source not found: ...
    (a TUM RGB-D folder or a rosbag2)', as if a KITTI camera folder were no SOURCE."""
    with pytest.raises(InputError) as err:
        open_source(str(tmp_path / "image_3"))
    assert "EuRoC/ASL" in str(err.value) and "KITTI" in str(err.value), str(err.value)


def _one_line_at(err, where):
    text = str(err.value)
    assert "\n" not in text and text.startswith(where), text


@pytest.mark.parametrize("line, why", [
    ("1403636579.76,1.png", "not integer nanoseconds"),
    (f"{T0 + 9},a.png,extra", "expected 'timestamp \\[ns\\],filename'"),
])
def test_a_bad_data_csv_line_is_one_line_naming_file_and_line(tmp_path, line, why):
    cam = euroc_tree(tmp_path)
    csv = cam / "data.csv"
    lines = csv.read_bytes().decode().split("\r\n")
    csv.write_bytes("\r\n".join(lines[:2] + [line] + lines[2:]).encode())  # line 3, CRLF
    with pytest.raises(InputError, match=why) as err:
        open_source(str(tmp_path))
    _one_line_at(err, f"{csv}:3: ")


@pytest.mark.parametrize("row, why", [
    (f"{T0},1,2,3,1,1,0,0", "quaternion q_RS \\(w x y z\\) of norm 1.414"),
    (f"{T0},1,2,3,nan,0,0,0", "non-finite"),
    (f"{T0},1,2,3,1,0,0", "expected 'timestamp \\[ns\\], p_RS_R x y z"),
    (f"{T0},1,2,x,1,0,0,0", "non-numeric"),
])
def test_a_bad_ground_truth_line_is_one_line_naming_file_and_line(tmp_path, row, why):
    euroc_tree(tmp_path)
    gt = tmp_path / "mav0" / "state_groundtruth_estimate0" / "data.csv"
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(lines[:2] + [row] + lines[2:]) + "\n")
    with pytest.raises(InputError, match=why) as err:
        open_source(str(tmp_path))
    _one_line_at(err, f"{gt}:3: ")


@pytest.mark.parametrize("data, line, why", [
    ("[1, 0, 0, 0,\n         0, 1, 0, 0,\n         0, 0, 1, 0]", 5, "16 numbers.*got 12"),
    ("[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2]", 5, "last row"),
    ("[2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]", 5, "no rotation"),
    ("[1, 0, 0, 0,\n         0, 1, x, 0,\n   0, 0, 1, 0, 0, 0, 0, 1]", 6, "'x', not a number"),
])
def test_a_bad_t_bs_is_one_line_naming_sensor_yaml_and_line(tmp_path, data, line, why):
    cam = euroc_tree(tmp_path)
    sensor = cam / "sensor.yaml"
    text = sensor.read_text()
    start = text.index("  data: [") + len("  data: ")
    sensor.write_text(text[:start] + data + text[text.index("]", start) + 1:])
    with pytest.raises(InputError, match=why) as err:
        open_source(str(tmp_path))
    _one_line_at(err, f"{sensor}:{line}: ")


def test_a_camera_folder_without_data_csv_is_named_with_the_command_that_writes_it(tmp_path):
    """data/ and sensor.yaml but no data.csv: refused with the command that writes data.csv
    from the images' names (EuRoC names them by their ns stamps); run as told, it is read."""
    import subprocess

    cam = euroc_tree(tmp_path)
    (cam / "data.csv").unlink()
    with pytest.raises(InputError) as err:
        open_source(str(tmp_path))
    text = str(err.value)
    assert "EuRoC/ASL camera folder" in text and "data.csv" in text and "\n" not in text
    if not shutil.which("sh"):
        pytest.skip("the command told needs sh")
    subprocess.run(["sh", "-c", text.split("their ns stamps: ", 1)[1]], check=True)
    source = open_source(str(tmp_path))
    assert list(source.stamps_ns) == [T0 + i * 50_000_000 for i in range(5)]


def test_build_map_reads_an_euroc_folder_with_camera_poses(tmp_path, tiny_ckpt, capsys):
    """End to end: build-map with the (tiny) MASt3R checkpoint reads the EuRoC root; the
    keyframes' poses are the camera's (body @ T_BS). --matcher sift is refused in one line."""
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.replay.cli import main

    euroc_tree(tmp_path / "ds")
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n"
                      "    device: cpu\n    map_build: {min_translation_m: 0.2}\n")
    out = str(tmp_path / "m")
    assert main(["build-map", str(tmp_path / "ds"), "--out", out, "--checkpoint", tiny_ckpt,
                 "--params", str(params), "--log-level", "warning"]) == 0
    m = KeyframeMap.load(out)
    assert len(m) >= 2
    for stamp, pose in zip(m.stamps_ns(), m.poses()):
        i = (int(stamp) - T0) // 50_000_000
        assert i >= 1  # frame 0 has no pose
        want = (_body(i // 2) @ T_BS_CAM if i % 2 else
                interpolate_pose(_body(i // 2 - 1), _body(i // 2), 0.5) @ T_BS_CAM)
        np.testing.assert_allclose(pose, want, atol=1e-6)
    capsys.readouterr()
    assert main(["build-map", str(tmp_path / "ds"), "--out", str(tmp_path / "s"),
                 "--matcher", "sift", "--log-level", "warning"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no depth images" in err[0], err


def test_frames_outside_the_ground_truth_are_explained_naming_its_csv(tmp_path):
    """build-map's 'no frame has a pose' reason reads the EuRoC ground truth's stamps (it
    looked for cam0/groundtruth.txt only: no reason given)."""
    from mast3r_ros.core.config import PoseAtStampConfig
    from mast3r_ros.replay.pipeline import _why_no_pose

    euroc_tree(tmp_path)
    gt = tmp_path / "mav0" / "state_groundtruth_estimate0" / "data.csv"
    gt.write_text(gt.read_text().replace(str(T0)[:6], str(T0 + 10**13)[:6]))  # hours later
    source = open_source(str(tmp_path))
    assert not any(f.map_from_cam is not None for f in source)
    why = _why_no_pose(source, None, list(source.stamps_ns), PoseAtStampConfig())
    assert why and str(gt) in why, why


def test_an_euroc_folder_is_named_as_a_recording(tmp_path):
    """Where a map is expected (localize --map): named a recording, as TUM folders are."""
    from mast3r_ros.core.recordings import recording_kind

    euroc_tree(tmp_path)
    assert recording_kind(str(tmp_path)) == (
        "an EuRoC/ASL dataset folder: it has mav0/cam0/data.csv")
    assert recording_kind(str(tmp_path / "mav0" / "cam0")).endswith("it has data.csv")


def test_localize_without_ground_truth_says_why_and_names_groundtruth(tmp_path):
    """localize on an EuRoC folder without ground truth ended 'none covers their stamps:
    ... give a TUM folder a groundtruth.txt', and its reason said --trajectory (build-map's)."""
    from types import SimpleNamespace

    from mast3r_ros.replay.run_notes import no_groundtruth_hint

    euroc_tree(tmp_path, gt="")
    hint = no_groundtruth_hint(open_source(str(tmp_path)),
                               SimpleNamespace(pose_frames=None, groundtruth=None))
    assert "has no ground truth (state_groundtruth_estimate0" in hint, hint
    assert "--groundtruth FILE" in hint and "--trajectory" not in hint, hint


@pytest.mark.parametrize("inner, outer", [("mav0/cam0/data", "mav0/cam0"),
                                          ("mav0/state_groundtruth_estimate0", "mav0")])
def test_a_folder_inside_an_euroc_dataset_names_the_folder_to_pass(tmp_path, inner, outer):
    """`build-map MH_01/mav0/cam0/data` (the images) was told to write rgb.txt and camera.yaml
    beside them, though the folder above is read as it is."""
    euroc_tree(tmp_path)
    with pytest.raises(InputError) as err:
        open_source(str(tmp_path / inner))
    text = str(err.value)
    assert f"is inside {tmp_path / outer}, an EuRoC/ASL dataset folder" in text, text
    assert "pass that folder as SOURCE" in text and "rgb.txt (" not in text, text


@pytest.mark.parametrize("command, flag, other", [
    (["localize", "--map", "m.npz", "--out", "o"], "--groundtruth FILE", "--trajectory"),
    (["build-map", "--out", "m.npz"], "--trajectory FILE", "--groundtruth")])
def test_the_info_line_without_ground_truth_names_the_running_commands_option(
        tmp_path, caplog, command, flag, other):
    """localize on an EuRoC folder without ground truth logged 'EuRoC/ASL camera ...: 0 with
    ground truth (... pass the camera's poses as --trajectory FILE)': build-map's option."""
    import logging

    from mast3r_ros.replay.cli import build_parser
    from mast3r_ros.replay.cli_options import _open, load_config

    euroc_tree(tmp_path, gt="")
    args = build_parser().parse_args(command[:1] + [str(tmp_path)] + command[1:])
    with caplog.at_level(logging.INFO):
        _open(args, load_config(args), keyframes=command[0] == "build-map")
    line = next(r.getMessage() for r in caplog.records if "0 with ground truth" in r.getMessage())
    assert flag in line and other not in line, line
