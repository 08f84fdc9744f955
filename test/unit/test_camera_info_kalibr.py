"""A Kalibr camera chain (camchain.yaml: cam0 with camera_model, intrinsics [fu, fv, pu, pv],
distortion_model radtan / equidistant / none, distortion_coeffs, resolution) given as
--camera-info or a TUM folder's camera.yaml: it was refused as "missing field 'image_width'".
Kalibr projects as OpenCV does, so its numbers are K and the OpenCV coefficients as they are."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import load_camera_info_yaml
from mast3r_ros.replay.cli import main

CAMCHAIN = """\
cam0:
  T_cam_imu:
  - [0.0148655429818, -0.999880929698, 0.00414029679422, -0.0216401454975]
  - [0.999557249008, 0.0149672133247, 0.025715529948, -0.064676986768]
  - [-0.0257744366974, 0.00375618835797, 0.999660727178, 0.00981073058949]
  - [0.0, 0.0, 0.0, 1.0]
  cam_overlaps: []
  camera_model: pinhole
  distortion_coeffs: {coeffs}
  distortion_model: {model}
  intrinsics: [458.654, 457.296, 367.215, 248.375]
  resolution: [752, 480]
  rostopic: /cam0/image_raw
"""
RADTAN = [-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05]


def _write(tmp_path, text, name="camchain.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("model, coeffs, ros_model", [
    ("radtan", RADTAN, "plumb_bob"),
    ("equidistant", [-0.01, 0.002, -0.003, 0.0004], "equidistant"),
    ("none", [], "plumb_bob"),
])
def test_a_kalibr_pinhole_camera_is_read_as_its_camera_info(tmp_path, model, coeffs, ros_model):
    cam = load_camera_info_yaml(_write(tmp_path, CAMCHAIN.format(model=model, coeffs=coeffs)))
    assert (cam.width, cam.height) == (752, 480)
    np.testing.assert_array_equal(cam.K, [[458.654, 0, 367.215], [0, 457.296, 248.375],
                                          [0, 0, 1]])
    assert cam.distortion_model == ros_model
    np.testing.assert_array_equal(cam.dist, coeffs)


@pytest.mark.parametrize("edit, says", [
    (lambda t: t + t.replace("cam0", "cam1").replace("/cam0/", "/cam1/"),
     "a Kalibr camera chain of 2 cameras: cam0 (/cam0/image_raw), cam1 (/cam1/image_raw)"),
    (lambda t: t.replace("pinhole", "omni"), "cam0.camera_model 'omni' (Kalibr) has no"),
    (lambda t: t.replace("distortion_model: radtan", "distortion_model: fov"),
     "cam0.distortion_model 'fov' (Kalibr) has no"),
    (lambda t: t.replace("[458.654, 457.296, 367.215, 248.375]", "[458.654, 457.296]"),
     "cam0.intrinsics must be 4 numbers [fu, fv, pu, pv]"),
    (lambda t: t.replace(str(RADTAN), "[0.1, 0.2, 0.0, 0.0, 0.0]"),
     "cam0.distortion_coeffs must be 4 numbers for radtan"),
    (lambda t: t.replace("  resolution: [752, 480]\n", ""), "cam0.resolution is missing"),
])
def test_kalibr_chains_it_cannot_read_are_refused_naming_the_field(tmp_path, edit, says):
    path = _write(tmp_path, edit(CAMCHAIN.format(model="radtan", coeffs=RADTAN)))
    with pytest.raises(InputError) as err:
        load_camera_info_yaml(path)
    assert str(err.value).startswith(f"{path}: ") or str(err.value).startswith(f"{path} is ")
    assert says in str(err.value), str(err.value)


def test_a_tum_folder_calibrated_with_kalibr_builds_the_same_map(tum, tmp_path, capsys):
    """The TUM folder's own camera.yaml and the same calibration as a camchain.yaml."""
    cam = load_camera_info_yaml(f"{tum[0]}/camera.yaml")
    assert not np.any(cam.dist)
    folder = tmp_path / "seq"
    shutil.copytree(tum[0], folder)
    k = cam.K
    (folder / "camera.yaml").write_text(
        CAMCHAIN.replace("[458.654, 457.296, 367.215, 248.375]",
                         f"{[float(v) for v in (k[0, 0], k[1, 1], k[0, 2], k[1, 2])]}")
        .replace("[752, 480]", f"[{cam.width}, {cam.height}]")
        .format(model="none", coeffs=[]))
    for src, out in ((tum[0], "a"), (folder, "b")):
        assert main(["build-map", str(src), "--out", str(tmp_path / out), "--matcher", "sift",
                     "--log-level", "warning"]) == 0, capsys.readouterr().err
    a, b = (np.load(tmp_path / out / "keyframe_table.npy") for out in "ab")
    for field in ("stamp_ns", "map_from_cam", "K", "width", "height", "image_sha256",
                  "depth_sha256"):  # not dist_count: 5 zeros against none, both undistorted
        np.testing.assert_array_equal(a[field], b[field], err_msg=field)
    assert not np.any(a["dist"]) and not np.any(b["dist"])


def test_only_a_mapping_of_camN_blocks_looks_like_a_camchain():
    from mast3r_ros.core.image_codec.camera_info_kalibr import looks_like_kalibr_camchain

    cam = {"camera_model": "pinhole", "intrinsics": [1, 1, 1, 1]}
    assert looks_like_kalibr_camchain({"cam0": cam, "cam1": cam})
    assert not looks_like_kalibr_camchain({})
    assert not looks_like_kalibr_camchain({"cam0_left": cam})


@pytest.mark.parametrize("field, text", [
    ("intrinsics", "intrinsics: [true, 457.296, 367.215, 248.375]"),
    ("resolution", "resolution: [752, 480.5]")])
def test_a_boolean_intrinsic_or_a_fractional_height_is_refused(tmp_path, field, text):
    line = {"intrinsics": "intrinsics: [458.654, 457.296, 367.215, 248.375]",
            "resolution": "resolution: [752, 480]"}[field]
    body = CAMCHAIN.format(coeffs=RADTAN, model="radtan").replace(line, text)
    assert text in body
    with pytest.raises(InputError, match=f"cam0.{field} must be"):
        load_camera_info_yaml(_write(tmp_path, body))


# pins of the 2026-12-06g mutation audit (these survived the Kalibr / EuRoC tests)
def test_a_camera_calibration_yaml_without_image_width_is_not_given_the_asl_hint(tmp_path):
    """The EuRoC/ASL hint is for a file with intrinsics and resolution; a camera_calibration
    YAML that lost its image_width is told that (`and` -> `or` gave every such file the hint)."""
    text = ("image_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [525, 0, 319.5, 0, 525, "
            "239.5, 0, 0, 1]}\ndistortion_model: plumb_bob\n")
    with pytest.raises(InputError, match=r"missing field 'image_width'$"):
        load_camera_info_yaml(_write(tmp_path, text, "camera.yaml"))


def test_a_file_of_only_intrinsics_and_resolution_gets_the_asl_hint(tmp_path):
    """Both keys and nothing else is the same unmarked ASL camera (`<=` -> `<` wanted a third)."""
    text = "intrinsics: [458.654, 457.296, 367.215, 248.375]\nresolution: [752, 480]\n"
    with pytest.raises(InputError, match=r"has 'intrinsics' and 'resolution' as an EuRoC/ASL "
                                         r"sensor.yaml has, but no 'sensor_type: camera' line"):
        load_camera_info_yaml(_write(tmp_path, text, "sensor.yaml"))


def test_a_word_among_the_intrinsics_is_refused_naming_the_field(tmp_path):
    """'fu' left in place of its number: refused as the wrong numbers, not an
    UnboundLocalError (the failed conversion's ok = False as True)."""
    body = CAMCHAIN.format(coeffs=RADTAN, model="radtan").replace("[458.654,", "[fu,")
    with pytest.raises(InputError, match=r"cam0.intrinsics must be 4 numbers \[fu, fv, pu, pv\], "
                                         r"got \['fu', 457.296"):
        load_camera_info_yaml(_write(tmp_path, body))
