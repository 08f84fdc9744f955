"""--stereo-depth: EuRoC/ASL (cam0 + cam1) and KITTI (image_0 + image_1) folders get keyframe
depth from their second, calibrated camera by OpenCV's SGBM (replay/stereo_depth.py). They had
none: --matcher sift was refused on them and build-map's map check never ran, so a wrong T_BS
went unnoticed. Scenes: a textured plane rendered into each camera through its K, distortion
and pose (ray-plane intersection), so the true depth of every cam0 pixel is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.sources import SourceOptions, open_source, refuse_without_depth

W, H = 320, 160
STEREO = SourceOptions(stereo_depth=True)
_TEXTURE = cv2.resize(np.random.default_rng(1).integers(0, 256, (300, 300)).astype(np.uint8),
                      (600, 600), interpolation=cv2.INTER_CUBIC)
M_PER_TEXEL = 0.004  # the plane's texture: 2.4 m square, centred on the world's z axis


def _pose(rotvec, t):
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    out[:3, 3] = t
    return out


def render(k, dist, world_from_cam, plane_z):
    """(grey image (H, W) uint8, true depth (H, W) metres) of the plane z = ``plane_z`` seen by
    the camera at ``world_from_cam`` (K ``k``, OpenCV distortion ``dist``)."""
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    pixels = np.stack([u.ravel(), v.ravel()], 1).reshape(-1, 1, 2)
    rays = np.c_[cv2.undistortPoints(pixels, k, dist).reshape(-1, 2), np.ones(W * H)]
    world_rays = rays @ world_from_cam[:3, :3].T
    origin = world_from_cam[:3, 3]
    depth = (plane_z - origin[2]) / world_rays[:, 2]  # the ray's z in the camera is 1
    points = origin + depth[:, None] * world_rays
    mx, my = (points[:, i].reshape(H, W) / M_PER_TEXEL + 300 for i in (0, 1))
    image = cv2.remap(_TEXTURE, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR)
    return image, depth.reshape(H, W)


def assert_depth_close(got, want, valid_at_least):
    assert got.shape == (H, W) and got.dtype == np.float32
    valid = got > 0
    assert valid.mean() >= valid_at_least, valid.mean()
    err = np.abs(got[valid] / want[valid] - 1)
    assert np.median(err) < 0.01 and np.percentile(err, 95) < 0.025, np.percentile(err, [50, 95])


# --- KITTI: rectified pair, depth = fx * B / disparity ---------------------------------------

FX, B = 1000.0, 0.1  # a pixel 5 mm at 5 m, as EuRoC's at 1 m: the plane's texture fills it
K_KITTI = np.array([[FX, 0, 160.0], [0, FX, 80.0], [0, 0, 1]])


def _row(m):
    return " ".join(f"{v:.12e}" for v in np.asarray(m)[:3].reshape(-1))


def kitti_stereo_tree(root, frames=2, p1=None, right=True):
    """sequences/00 with image_0 and image_1 of the plane 5 m ahead (disparity 20 px), 0.5 m
    further each frame."""
    seq = root / "dataset" / "sequences" / "00"
    p0 = np.c_[K_KITTI, np.zeros(3)]
    p1 = np.c_[K_KITTI, K_KITTI @ [-B, 0, 0]] if p1 is None else p1
    poses, depths = [], []
    for cam in ("image_0",) + (("image_1",) if right else ()):
        (seq / cam).mkdir(parents=True)
    for i in range(frames):
        cam0 = _pose([0, 0, 0], [0.1 * i, 0, -5.0 - 0.5 * i])
        image, depth = render(K_KITTI, None, cam0, 0.0)
        cv2.imwrite(str(seq / "image_0" / f"{i:06d}.png"), image)
        if right:
            cv2.imwrite(str(seq / "image_1" / f"{i:06d}.png"),
                        render(K_KITTI, None, cam0 @ _pose([0, 0, 0], [B, 0, 0]), 0.0)[0])
        poses.append(cam0)
        depths.append(depth)
    (seq / "times.txt").write_text("".join(f"{0.1 * i:.6e}\n" for i in range(frames)))
    (seq / "calib.txt").write_text(f"P0: {_row(p0)}\nP1: {_row(p1)}\nP2: {_row(p0)}\n"
                                   f"P3: {_row(p1)}\n")
    (root / "dataset" / "poses").mkdir()
    (root / "dataset" / "poses" / "00.txt").write_text("".join(_row(p) + "\n" for p in poses))
    return seq, depths


def test_kitti_left_camera_depth_is_fx_b_over_disparity_on_its_grid(tmp_path):
    seq, depths = kitti_stereo_tree(tmp_path)
    source = open_source(str(seq), STEREO)
    refuse_without_depth(source, "the sift matcher")  # was: 'has no depth images'
    for frame, want in zip(source, depths):
        # SGBM gives none on the left NUM_DISPARITIES (128) columns: 60% of 320 remain
        assert_depth_close(frame.depth_m, want, 0.5)
    assert source.listed_pose_and_depth(0)[1]
    assert open_source(str(seq))[0].depth_m is None  # opt-in: without it, no depth as before


@pytest.mark.parametrize("case, words", [
    ("right camera given", "pass the sequence's image_0 (or the sequence folder), not image_1"),
    ("right folder missing", "needs image_0's right camera"),
    ("other K", "P0 and P1 have different camera matrices"),
    ("right is left", "places image_1 0.100 m left of image_0"),
])
def test_kitti_pairs_that_give_no_stereo_depth_are_refused_in_one_line(tmp_path, case, words):
    p1 = {"other K": np.c_[K_KITTI * [[1.1], [1.1], [1]], K_KITTI @ [-B, 0, 0]],
          "right is left": np.c_[K_KITTI, K_KITTI @ [B, 0, 0]]}.get(case)
    seq, _ = kitti_stereo_tree(tmp_path, 1, p1=p1, right=case != "right folder missing")
    with pytest.raises(InputError) as err:
        open_source(str(seq / "image_1" if case == "right camera given" else seq), STEREO)
    assert words in str(err.value) and "\n" not in str(err.value), str(err.value)


# --- EuRoC: cam0 + cam1, distorted, rectified with stereoRectify -----------------------------

T_BS0 = _pose([0.01, -0.02, 1.57], [0.02, -0.06, 0.01])  # body_from_cam0, EuRoC-like
CAM1_IN_CAM0 = _pose([0.01, -0.05, 0.005], [0.11, 0.004, 0.02])  # cam0_from_cam1, off x
CALIB = {"cam0": ([200.0, 201.0, 160.0, 80.0], [-0.28, 0.074, 0.0002, 0.00002]),  # EuRoC's
         "cam1": ([198.0, 199.0, 158.0, 82.0], [-0.283, 0.0745, -0.0001, -0.00004])}
T0 = 1403636579763555584


def _k(intr):
    return np.array([[intr[0], 0, intr[2]], [0, intr[1], intr[3]], [0, 0, 1]])


def _sensor_yaml(t_bs, intr, dist, size=(W, H)):
    data = ", ".join(repr(float(v)) for v in t_bs.reshape(-1))
    return (f"sensor_type: camera\nT_BS:\n  cols: 4\n  rows: 4\n  data: [{data}]\n"
            f"rate_hz: 20\nresolution: [{size[0]}, {size[1]}]\ncamera_model: pinhole\n"
            f"intrinsics: {intr}\ndistortion_model: radial-tangential\n"
            f"distortion_coefficients: {dist}\n")


def _body(i, motion=1.0):
    """world_from_body of frame i: the camera 1 m (and more) from the plane z = 0, tilted."""
    i = i * motion
    return _pose([0.05 * i, -0.3 + 0.03 * i, 0.02 * i], [0.05 * i, 0.02 * i, -1.0 - 0.05 * i]) @ \
        np.linalg.inv(T_BS0)


def euroc_stereo_tree(root, frames=2, cam1=True, cam1_size=(W, H), t_bs_written=T_BS0,
                      motion=1.0):
    """mav0/cam0 (and cam1) of the plane, with ground truth at each frame's stamp; the
    sensor.yaml files state ``t_bs_written`` (cam1's: it times CAM1_IN_CAM0); ``motion``
    scales the body's motion between frames. Returns (root, each frame's true cam0 depth)."""
    mav0, depths = root / "mav0", []
    gt = ["#timestamp, p x y z, q w x y z"]
    cams = {"cam0": np.eye(4), "cam1": CAM1_IN_CAM0}
    for name in ("cam0", "cam1") if cam1 else ("cam0",):
        (mav0 / name / "data").mkdir(parents=True)
        intr, dist = CALIB[name]
        (mav0 / name / "sensor.yaml").write_text(_sensor_yaml(
            t_bs_written @ cams[name], intr, dist, cam1_size if name == "cam1" else (W, H)))
        lines = ["#timestamp [ns],filename"]
        for i in range(frames):
            stamp = T0 + i * 50_000_000
            image, depth = render(_k(intr), np.array(dist), _body(i, motion) @ T_BS0 @ cams[name],
                                  0.0)
            cv2.imwrite(str(mav0 / name / "data" / f"{stamp}.png"), image)
            lines.append(f"{stamp},{stamp}.png")
            if name == "cam0":
                depths.append(depth)
                body = _body(i, motion)
                q = Rotation.from_matrix(body[:3, :3]).as_quat()
                gt.append(",".join(str(v) for v in [stamp, *body[:3, 3], q[3], *q[:3]]))
        (mav0 / name / "data.csv").write_text("\n".join(lines) + "\n")
    (mav0 / "state_groundtruth_estimate0").mkdir()
    (mav0 / "state_groundtruth_estimate0" / "data.csv").write_text("\n".join(gt) + "\n")
    return root, depths


def test_euroc_cam0_depth_from_cam1_is_on_cam0s_distorted_grid(tmp_path):
    root, depths = euroc_stereo_tree(tmp_path)
    source = open_source(str(root), STEREO)
    refuse_without_depth(source, "the sift matcher")
    for frame, want in zip(source, depths):
        assert frame.rgb.shape == (H, W, 3)
        assert_depth_close(frame.depth_m, want, 0.25)
    assert source.depth_units_per_m is None  # metres from stereo: no --depth-scale to name
    assert open_source(str(root))[0].depth_m is None
    with pytest.raises(InputError, match="pass --stereo-depth"):
        refuse_without_depth(open_source(str(root)), "the sift matcher")


@pytest.mark.parametrize("case, words", [
    ("no cam1", "--stereo-depth needs the second camera"),
    ("cam1 of another size", "is for 300x160 images but"),
    ("cam1 given", "--stereo-depth gives cam0 depth from cam1: pass"),
])
def test_euroc_pairs_that_give_no_stereo_depth_are_refused_in_one_line(tmp_path, case, words):
    root, _ = euroc_stereo_tree(tmp_path, 1, cam1=case != "no cam1",
                                cam1_size=(300, H) if case == "cam1 of another size" else (W, H))
    with pytest.raises(InputError) as err:
        open_source(str(root / "mav0" / "cam1" if case == "cam1 given" else root), STEREO)
    assert words in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_stereo_depth_is_refused_for_a_tum_folder(tmp_path):
    (tmp_path / "rgb.txt").write_text("1.0 rgb/1.png\n")
    (tmp_path / "camera.yaml").write_text("image_width: 4\n")
    with pytest.raises(InputError, match="--stereo-depth takes depth from an EuRoC/ASL"):
        open_source(str(tmp_path), STEREO)



@pytest.mark.parametrize("name, kind", [("walk.bag", "ROS 1 bag"), ("walk.mcap", "rosbag2")])
def test_stereo_depth_refusal_names_a_ros1_bag_as_such(tmp_path, name, kind):
    """A RealSense Viewer .bag given with --stereo-depth was refused as 'is a rosbag2'."""
    pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(InputError) as err:
        open_source(str(tmp_path / name), STEREO)
    assert f"{name} is a {kind}: drop it (its depth is --depth-topic's)" in str(err.value)

def test_build_map_sift_with_stereo_depth_runs_the_map_check_that_catches_a_wrong_t_bs(
        tmp_path, capsys):
    """End to end: build-map --matcher sift --stereo-depth on an EuRoC folder writes keyframes
    with depth and runs the map check (consistent); the same folder whose sensor.yaml files
    state T_BS turned 90 deg about the body's z (the pair's relative pose, so its stereo depth,
    unchanged) is refused by the check, where without depth it built a map of wrong poses."""
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.replay.cli import main

    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n"
                      "    map_build: {min_translation_m: 0.01}\n")
    turned = _pose([0, 0, np.pi / 2], [0, 0, 0]) @ T_BS0
    for name, t_bs, rc in (("right", T_BS0, 0), ("turned", turned, 2)):
        root, _ = euroc_stereo_tree(tmp_path / name, 3, t_bs_written=t_bs, motion=3.0)
        capsys.readouterr()
        assert main(["build-map", str(root), "--out", str(tmp_path / f"map_{name}"),
                     "--matcher", "sift", "--stereo-depth", "--params", str(params),
                     "--log-level", "warning"]) == rc
        out = capsys.readouterr()
        if rc == 0:
            assert "map check: consistent" in out.out, out
            kmap = KeyframeMap.load(str(tmp_path / f"map_{name}"))
            assert len(kmap) == 3
            assert kmap.manifest["consistency"]["verdict"] == "consistent"
        else:
            err = out.err.strip().splitlines()
            assert len(err) == 1 and "map inconsistent" in err[0], err


def test_the_map_check_names_cam0s_t_bs_for_a_euroc_map_that_a_pose_convention_fits(
        tmp_path, capsys):
    """A wrong T_BS (cam0 turned 90 deg about the body's z) was refused with only a pose
    convention as the cause ('quaternions read in the wrong order'), which an EuRoC folder's
    reader fixes; the T_BS that moves the ground truth onto cam0 is named first, by build-map
    and, from the manifest, by check-map on the map built with --force."""
    from mast3r_ros.replay.cli import main

    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n"
                      "    map_build: {min_translation_m: 0.01}\n")
    root, _ = euroc_stereo_tree(tmp_path / "turned", 3, motion=3.0,
                                t_bs_written=_pose([0, 0, np.pi / 2], [0, 0, 0]) @ T_BS0)
    sensor = str(root / "mav0" / "cam0" / "sensor.yaml")
    build = ["build-map", str(root), "--out", str(tmp_path / "map"), "--matcher", "sift",
             "--stereo-depth", "--params", str(params), "--log-level", "error"]
    said = []
    for rc, args in ((2, build), (0, build + ["--force"]),
                     (2, ["check-map", str(tmp_path / "map")])):
        capsys.readouterr()
        assert main(args) == rc
        if rc == 2:
            said.append(capsys.readouterr().err.strip().splitlines()[-1])
    for err in said:
        assert f"likely cause: T_BS in {sensor} is wrong" in err, err
        assert f"fix: check T_BS in {sensor}" in err, err


def test_the_t_bs_is_named_only_beside_pose_conventions_and_only_with_ground_truth(tmp_path):
    """`name_pose_suspect` leaves a depth scale or a focal length alone (T_BS changes neither)
    and adds T_BS to 'nothing explains it'; an EuRoC folder names vicon0's T_BS too where its
    ground truth is vicon0's, and states no suspect without ground truth (its poses then come
    from --trajectory)."""
    from mast3r_ros.core.map_check.diagnose import name_pose_suspect
    from mast3r_ros.core.map_check.records import _Cause

    t_bs = "T_BS in cam0/sensor.yaml"
    for name in ("depth_scale", "focal_length", "pose_discontinuity"):
        cause = _Cause(name, 2.0, "what", "fix", True)
        assert name_pose_suspect(cause, t_bs) is cause
    unknown = name_pose_suspect(_Cause("unknown", 1.0, "nothing", "check", False), t_bs)
    assert unknown.what.startswith("nothing; T_BS in") and unknown.fix.startswith("check T_BS")
    both = name_pose_suspect(_Cause("inverted_poses+depth_scale", 2.0, "inv", "f", True), t_bs)
    assert both.what.startswith(f"{t_bs} is wrong") and both.what.endswith("as if inv")
    assert name_pose_suspect(_Cause("inverted_poses", 1.0, "w", "f", True), None).what == "w"

    root, _ = euroc_stereo_tree(tmp_path, 1, cam1=False)
    sensor = root / "mav0" / "cam0" / "sensor.yaml"
    assert open_source(str(root)).pose_suspect == f"T_BS in {sensor}"
    gt = root / "mav0" / "state_groundtruth_estimate0" / "data.csv"
    vicon = root / "mav0" / "vicon0"
    vicon.mkdir()
    (vicon / "data.csv").write_text(gt.read_text())
    (vicon / "sensor.yaml").write_text(_sensor_yaml(_pose([0, 0, 0], [0.1, 0, 0]), [1], [0]))
    gt.unlink()
    assert open_source(str(root)).pose_suspect == (
        f"T_BS in {sensor} or in {vicon / 'sensor.yaml'}")
    (vicon / "data.csv").unlink()
    assert open_source(str(root)).pose_suspect is None


def test_a_kitti_baseline_whose_depth_overflows_float32_is_refused(tmp_path):
    """calib.txt's P1 offset -1e308 (fx * B = 1e308 pixel-metres: finite as a float64) gave
    depth inf in every pixel with a disparity (float32), read as valid."""
    seq, _ = kitti_stereo_tree(tmp_path, 1, p1=np.c_[K_KITTI, [-1e308, 0, 0]])
    with pytest.raises(InputError, match=r"fx \* baseline = 1e\+308 pixel-metres, which no "
                                         r"float32 depth holds"):
        open_source(str(seq), STEREO)


@pytest.mark.parametrize("case, words", [
    ("kitti P0 K[2,2]", r"P0's left 3x3 \[\[1000\.0, 0\.0, 160\.0\], \[0\.0, 1000\.0, 80\.0\], "
                        r"\[0\.0, 0\.0, -1e\+308\]\] is no camera matrix"),
    ("euroc cam1 T_BS x", r"cam1 sits at \[6\.776e\+304, -1e\+308, -6\.373e\+305\] m in "),
    ("euroc cam1 T_BS R", r"sensor\.yaml:5: T_BS's rotation block is no rotation \(R\^T R "
                          r"differs from I by inf"),
    ("kitti pose R", r"00\.txt:1: the pose's rotation block is no rotation \(R\^T R differs "
                     r"from I by inf"),
])
def test_a_huge_calibration_value_is_refused_in_one_line_without_a_numpy_warning(
        tmp_path, case, words):
    """A calibration entry of 1e308 was refused, but the refusal rounded it with numpy
    (np.round(k, 6), .round(3)), whose multiply overflowed: a RuntimeWarning (two lines on
    build-map's stderr) before the error, and the value itself said as inf. So did R^T R of
    a T_BS or KITTI pose rotation entry of 1e308."""
    import re
    import warnings

    if case == "kitti pose R":
        given, _ = kitti_stereo_tree(tmp_path, 1)
        where = tmp_path / "dataset" / "poses" / "00.txt"
        where.write_text("1e308" + where.read_text()[where.read_text().index(" "):])
    elif case.startswith("kitti"):
        seq, _ = kitti_stereo_tree(tmp_path, 1)
        where = seq / "calib.txt"
        lines = where.read_text().splitlines(keepends=True)
        tokens = lines[0].split()
        tokens[11] = "-1e308"  # P0: row-major 3x4 after the name; [11] is K[2, 2]
        lines[0] = " ".join(tokens) + "\n"
        where.write_text("".join(lines))
        given = seq
    else:
        given, _ = euroc_stereo_tree(tmp_path, 1)
        where = given / "mav0" / "cam1" / "sensor.yaml"
        text = where.read_text()
        data = re.search(r"data: \[(.*)\]", text)
        items = data.group(1).split(", ")
        items[3 if case.endswith("x") else 0] = "1e308"  # T_BS's x translation, R[0, 0]
        where.write_text(text[:data.start(1)] + ", ".join(items) + text[data.end(1):])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match=words):
            open_source(str(given), STEREO)
