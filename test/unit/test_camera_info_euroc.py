"""An EuRoC / ASL dataset camera's sensor.yaml (mav0/cam0/sensor.yaml: sensor_type camera,
camera_model pinhole, intrinsics [fu, fv, cu, cv], distortion_model radial-tangential,
distortion_coefficients, resolution, T_BS) given as --camera-info or a TUM folder's
camera.yaml: it was refused as "missing field 'image_width'". Its numbers are K and OpenCV's
plumb_bob coefficients as they are (the ASL format is Kalibr's pinhole-radtan)."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import load_camera_info_yaml

# EuRoC MAV's cam0/sensor.yaml, as the dataset ships it
SENSOR = """\
# General sensor definitions.
sensor_type: camera
comment: VI-Sensor cam0 (MT9M034)

# Sensor extrinsics wrt. the body-frame.
T_BS:
  cols: 4
  rows: 4
  data: [0.0148655429818, -0.999880929698, 0.00414029679422, -0.0216401454975,
         0.999557249008, 0.0149672133247, 0.025715529948, -0.064676986768,
        -0.0257744366974, 0.00375618835797, 0.999660727178, 0.00981073058949,
         0.0, 0.0, 0.0, 1.0]

# Camera specific definitions.
rate_hz: 20
resolution: [752, 480]
camera_model: pinhole
intrinsics: [458.654, 457.296, 367.215, 248.375] #fu, fv, cu, cv
distortion_model: {model}
distortion_coefficients: {coeffs}
"""
RADTAN = [-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05]


def _write(tmp_path, model="radial-tangential", coeffs=RADTAN, text=SENSOR):
    path = tmp_path / "sensor.yaml"
    path.write_text(text.format(model=model, coeffs=coeffs))
    return path


@pytest.mark.parametrize("model, coeffs, ros_model", [
    ("radial-tangential", RADTAN, "plumb_bob"),
    ("radtan", RADTAN, "plumb_bob"),
    ("equidistant", [-0.01, 0.002, -0.003, 0.0004], "equidistant"),
])
def test_an_euroc_sensor_yaml_is_read_as_its_camera_info(tmp_path, model, coeffs, ros_model):
    cam = load_camera_info_yaml(_write(tmp_path, model, coeffs))
    assert (cam.width, cam.height) == (752, 480)
    np.testing.assert_array_equal(cam.K, [[458.654, 0, 367.215], [0, 457.296, 248.375],
                                          [0, 0, 1]])
    assert cam.distortion_model == ros_model
    np.testing.assert_array_equal(cam.dist, coeffs)


def test_an_euroc_sensor_yaml_of_another_sensor_or_model_is_refused_by_name(tmp_path):
    imu = tmp_path / "imu.yaml"
    imu.write_text("sensor_type: imu\ncomment: VI-Sensor IMU (ADIS16448)\nrate_hz: 200\n"
                   "gyroscope_noise_density: 1.6968e-04\n")
    with pytest.raises(InputError, match=r"sensor_type 'imu'.*mav0/cam0/sensor.yaml"):
        load_camera_info_yaml(imu)
    with pytest.raises(InputError, match=r"distortion_model 'fov'.*radial-tangential"):
        load_camera_info_yaml(_write(tmp_path, "fov", [0.9]))
    with pytest.raises(InputError, match=r"distortion_coefficients must be 4 numbers"):
        load_camera_info_yaml(_write(tmp_path, coeffs=RADTAN[:3]))
    text = SENSOR.replace("camera_model: pinhole", "camera_model: omni")
    with pytest.raises(InputError, match=r"camera_model 'omni'"):
        load_camera_info_yaml(_write(tmp_path, text=text))


def _euroc(root, frames=3):
    """An EuRoC MAV dataset's layout: root/mav0/cam0/{data.csv, data/<ns>.png, sensor.yaml}
    (data.csv with CRLF line ends and its '#timestamp [ns],filename' header)."""
    import cv2

    cam = root / "mav0" / "cam0"
    (cam / "data").mkdir(parents=True)
    stamps = [1403636579763555584 + i * 50_000_000 for i in range(frames)]
    rng = np.random.default_rng(0)
    for s in stamps:
        cv2.imwrite(str(cam / "data" / f"{s}.png"), rng.integers(0, 256, (480, 752), np.uint8))
    (cam / "data.csv").write_bytes(("#timestamp [ns],filename\r\n" + "".join(
        f"{s},{s}.png\r\n" for s in stamps)).encode())
    (cam / "sensor.yaml").write_text(SENSOR.format(model="radial-tangential", coeffs=RADTAN))
    return cam, stamps


@pytest.mark.parametrize("given", [".", "mav0", "mav0/cam0"])
def test_an_euroc_folder_is_read_as_source(tmp_path, given):
    """The dataset root, mav0 or mav0/cam0 given as SOURCE is read (it was refused with the
    commands that made cam0 a TUM folder): three frames, stamps in ns, K from sensor.yaml."""
    from mast3r_ros.replay.sources import open_source

    cam, stamps = _euroc(tmp_path)
    frames = list(open_source(str(tmp_path / given)))
    assert [f.stamp_ns for f in frames] == stamps
    assert frames[0].intrinsics.K[0, 0] == 458.654 and frames[0].rgb.shape == (480, 752, 3)


def test_an_euroc_sensor_yaml_without_intrinsics_is_refused_by_name(tmp_path):
    text = SENSOR.replace("intrinsics: [458.654, 457.296, 367.215, 248.375] #fu, fv, cu, cv\n",
                          "")
    with pytest.raises(InputError, match=r"intrinsics is missing.*\[fu, fv, cu, cv\]"):
        load_camera_info_yaml(_write(tmp_path, text=text))


def test_a_sensor_yaml_without_its_sensor_type_is_refused_saying_to_add_it(tmp_path):
    """Written by hand without 'sensor_type: camera', it was read as a camera_calibration YAML
    and refused as "missing field 'image_width'", a field no ASL file has."""
    text = SENSOR.replace("sensor_type: camera\n", "")
    with pytest.raises(InputError, match=r"'intrinsics' and 'resolution' as an EuRoC/ASL "
                                         r"sensor.yaml has, but no 'sensor_type: camera' line"):
        load_camera_info_yaml(_write(tmp_path, text=text))


def test_only_an_euroc_camera_folder_without_data_csv_gets_the_euroc_hint(tmp_path):
    """A camera folder with its data.csv is read (no hint), one made a TUM folder (its rgb.txt
    written, the former recipe) is read as that; a sensor folder of data.csv alone (mav0/imu0,
    a ground truth's) is no camera folder."""
    from mast3r_ros.replay.euroc import EurocSequence, euroc_folder_hint
    from mast3r_ros.replay.sources import SourceOptions, open_source
    from mast3r_ros.replay.tum import TumSequence

    cam, stamps = _euroc(tmp_path)
    assert euroc_folder_hint(str(tmp_path)) == ""
    (cam / "data.csv").rename(cam / "listed.csv")
    assert "EuRoC" in euroc_folder_hint(str(tmp_path)) and "EuRoC" in euroc_folder_hint(str(cam))
    (cam / "listed.csv").rename(cam / "data.csv")
    (cam / "rgb.txt").write_text("".join(f"{s} data/{s}.png\n" for s in stamps))
    calibrated = SourceOptions(camera_info=str(cam / "sensor.yaml"))
    assert type(open_source(str(cam), calibrated)) is TumSequence
    assert isinstance(open_source(str(tmp_path)), EurocSequence)
    imu = tmp_path / "mav0" / "imu0"
    imu.mkdir()
    (imu / "data.csv").write_text("#timestamp [ns],w_RS_S_x [rad s^-1]\n")
    assert euroc_folder_hint(str(imu)) == ""


@pytest.mark.parametrize("given", [".", "mav0", "mav0/cam0"])
def test_mav0_cam0_data_alone_gets_the_euroc_hint_naming_both_files(tmp_path, given):
    """Only mav0/cam0/data/ copied (no data.csv, no sensor.yaml): it said only 'neither a TUM
    RGB-D folder nor a rosbag2', naming neither EuRoC nor the two files to add."""
    from mast3r_ros.replay.sources import open_source

    cam, _ = _euroc(tmp_path)
    (cam / "data.csv").unlink()
    (cam / "sensor.yaml").unlink()
    with pytest.raises(InputError, match=r"looks like an EuRoC/ASL camera folder .*without the "
                                         r"data.csv.*lacks its sensor.yaml") as err:
        open_source(str(tmp_path / given))
    assert "\n" not in str(err.value)


def test_a_tum_folder_without_camera_yaml_names_its_euroc_sensor_yaml(tmp_path):
    """mav0/cam0 made a TUM folder (its rgb.txt written) but given without --camera-info:
    'camera.yaml does not exist' listed the formats, not the sensor.yaml lying beside it."""
    import cv2

    from mast3r_ros.replay.tum import TumSequence

    cam0 = tmp_path / "mav0" / "cam0"
    (cam0 / "data").mkdir(parents=True)
    cv2.imwrite(str(cam0 / "data" / "1403636579763555584.png"), np.zeros((48, 75), np.uint8))
    (cam0 / "rgb.txt").write_text("1403636579763555584 data/1403636579763555584.png\n")
    (cam0 / "sensor.yaml").write_text(SENSOR.format(model="radial-tangential", coeffs=RADTAN))
    with pytest.raises(InputError) as err:
        TumSequence(str(cam0))
    assert f"--camera-info {cam0 / 'sensor.yaml'}" in str(err.value), str(err.value)
