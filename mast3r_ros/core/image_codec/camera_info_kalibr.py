"""A Kalibr camera chain (``camchain.yaml``, what ``kalibr_calibrate_cameras`` and
``kalibr_calibrate_imu_camera`` write: ``cam0: {camera_model, intrinsics, distortion_model,
distortion_coeffs, resolution, ...}``) -> `CameraIntrinsics`, for ``load_camera_info_yaml``.

Kalibr's pinhole model projects as OpenCV does (``u = fu * x / z + pu``, pixel centres at
integers), so its numbers are taken as they are: ``intrinsics [fu, fv, pu, pv]`` is K,
``radtan [k1, k2, r1, r2]`` is plumb_bob's ``[k1, k2, p1, p2]`` and ``equidistant
[k1, k2, k3, k4]`` is OpenCV's fisheye model, ROS's ``equidistant``; ``none`` is no distortion.
The omnidirectional, double-sphere and extended-unified models (``omni``, ``ds``, ``eucm``) and
the ``fov`` distortion have no ``sensor_msgs/CameraInfo`` counterpart and are refused.

An ASL sensor.yaml (EuRoC MAV's ``mav0/cam0/sensor.yaml``: ``sensor_type: camera`` with the
same pinhole fields at its top level, the coefficients under ``distortion_coefficients`` and
radtan named ``radial-tangential``) is read the same way (`load_asl_sensor`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from ..errors import InputError
from ..types import CameraIntrinsics
from .camera_info import intrinsics_from_pinhole_file

# Kalibr distortion model -> (sensor_msgs/distortion_models name, coefficient count)
_DISTORTION = {"radtan": ("plumb_bob", 4), "equidistant": ("equidistant", 4),
               "none": ("plumb_bob", 0)}
# the ASL sensor.yaml's names (EuRoC writes radial-tangential) -> the same
_ASL_DISTORTION = {"radial-tangential": _DISTORTION["radtan"], **_DISTORTION}
_CAMERA_KEY = re.compile(r"cam[0-9]+\Z")


def looks_like_kalibr_camchain(doc: object) -> bool:
    """Whether a parsed YAML document is a Kalibr camera chain: a mapping whose keys are all
    ``cam0``, ``cam1``, ..., each a mapping with ``camera_model`` and ``intrinsics``."""
    return (isinstance(doc, dict) and bool(doc)
            and all(isinstance(k, str) and _CAMERA_KEY.match(k) and isinstance(v, dict)
                    and "camera_model" in v and "intrinsics" in v for k, v in doc.items()))


def _numbers(value: object, path: Path, field: str, count: int, layout: str) -> np.ndarray:
    """A list of ``count`` real numbers -> float64 array; `InputError` naming ``field``."""
    try:
        out = np.asarray(value, dtype=np.float64).reshape(-1)
        ok = (isinstance(value, list) and out.size == count
              and not any(isinstance(v, bool) for v in value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{path}: {field} must be {count} numbers {layout}, got {value!r:.80}")
    return out


def load_kalibr_camchain(path: Path, doc: dict) -> CameraIntrinsics:
    """The one camera of Kalibr camera chain ``doc`` read from ``path`` -> `CameraIntrinsics`.

    Raises:
        InputError: naming ``path``: several cameras in the chain (which one the images are
            cannot be told: each is named with its rostopic), a camera or distortion model
            without a CameraInfo counterpart, a field missing or of the wrong length, anything
            `intrinsics_from_camera_info` refuses.
    """
    if len(doc) > 1:
        cams: List[str] = [f"{name} ({cam.get('rostopic', 'no rostopic')})"
                           for name, cam in doc.items()]
        raise InputError(f"{path} is a Kalibr camera chain of {len(doc)} cameras: "
                         f"{', '.join(cams)}; give a file with the one camera whose images are "
                         "read (a copy keeping only its camN block)")
    (name, cam), = doc.items()
    return _pinhole(path, f"{name}.", cam, ("Kalibr", "a Kalibr camera chain"),
                    "distortion_coeffs", _DISTORTION, "radtan (plumb_bob), equidistant and none",
                    "recalibrate with --models pinhole-radtan or pinhole-equi")


def looks_like_asl_sensor(doc: object) -> bool:
    """Whether a parsed YAML document is an ASL sensor.yaml (EuRoC MAV's mav0/<sensor>/
    sensor.yaml, maplab's): a mapping with a ``sensor_type`` (camera, imu, ...), a key no
    camera_calibration_parsers, OpenCV or Kalibr file has."""
    return isinstance(doc, dict) and isinstance(doc.get("sensor_type"), str)


def refuse_unmarked_asl_sensor(doc: dict, path: Path) -> None:
    """InputError for a mapping with an ASL/Kalibr camera's ``intrinsics`` and ``resolution`` but
    neither ``sensor_type`` (ASL sensor.yaml) nor a ``cam0:`` block around it (Kalibr) nor a
    camera_calibration ``image_width``: it was read as a camera_calibration YAML and refused
    as "missing field 'image_width'", naming none of the keys it has."""
    if "image_width" not in doc and {"intrinsics", "resolution"} <= set(doc):
        raise InputError(f"{path} has 'intrinsics' and 'resolution' as an EuRoC/ASL sensor.yaml "
                         "has, but no 'sensor_type: camera' line: add it (or, for one camera of "
                         "a Kalibr camchain.yaml, put it under 'cam0:')")


def load_asl_sensor(path: Path, doc: dict) -> CameraIntrinsics:
    """The camera of ASL sensor.yaml ``doc`` (EuRoC's ``sensor_type: camera``, ``camera_model:
    pinhole``, ``intrinsics [fu, fv, cu, cv]``, ``distortion_model: radial-tangential`` with
    ``distortion_coefficients [k1, k2, p1, p2]``, ``resolution [width, height]``) read from
    ``path`` -> `CameraIntrinsics`; the format is Kalibr's pinhole-radtan, read the same way.
    ``T_BS`` (the camera in the body frame) is not part of a CameraInfo and is not read.

    Raises:
        InputError: naming ``path``: another sensor_type (the IMU's or a ground truth's
            sensor.yaml), a camera or distortion model without a CameraInfo counterpart, a
            field missing or of the wrong length, anything `intrinsics_from_camera_info`
            refuses.
    """
    kind = doc.get("sensor_type")
    if kind != "camera":
        raise InputError(f"{path} is the sensor.yaml of a sensor_type {kind!r} (EuRoC/ASL), not "
                         "of a camera: give the camera's, mav0/cam0/sensor.yaml")
    if "intrinsics" not in doc:
        raise InputError(f"{path}: intrinsics is missing (an EuRoC/ASL camera sensor.yaml "
                         "states [fu, fv, cu, cv])")
    return _pinhole(path, "", doc, ("EuRoC/ASL sensor.yaml", "an EuRoC/ASL camera sensor.yaml"),
                    "distortion_coefficients", _ASL_DISTORTION,
                    "radial-tangential (plumb_bob), equidistant and none",
                    "calibrate a pinhole camera (Kalibr's pinhole-radtan)")


def _pinhole(path: Path, where: str, cam: dict, names: Tuple[str, str], coeffs_key: str,
             models: Dict[str, Tuple[str, int]], read: str, fix: str) -> CameraIntrinsics:
    """A Kalibr-style pinhole camera mapping ``cam`` (``camera_model``, ``intrinsics``,
    ``distortion_model``, ``coeffs_key``, ``resolution``) -> `CameraIntrinsics`; errors
    name ``path``, the key prefix ``where`` and the format (``names``: short, and as a file
    that 'states' a field)."""
    fmt, owner = names
    model = cam.get("camera_model")
    if model != "pinhole":
        raise InputError(f"{path}: {where}camera_model {model!r} ({fmt}) has no "
                         f"sensor_msgs/CameraInfo model; only 'pinhole' is read: {fix}")
    for field in ("resolution", "distortion_model"):
        if field not in cam:
            raise InputError(f"{path}: {where}{field} is missing ({owner} states it for each "
                             "camera)")
    given_model = cam["distortion_model"]
    if not isinstance(given_model, str) or given_model not in models:  # a list: TypeError
        raise InputError(f"{path}: {where}distortion_model {given_model!r} ({fmt}) has no "
                         f"sensor_msgs/CameraInfo model; read are {read}")
    ros_model, count = models[given_model]
    fu, fv, pu, pv = _numbers(cam["intrinsics"], path, f"{where}intrinsics", 4,
                              "[fu, fv, pu, pv]")
    width, height = _numbers(cam["resolution"], path, f"{where}resolution", 2, "[width, height]")
    d = _numbers(cam.get(coeffs_key, []), path, f"{where}{coeffs_key}", count,
                 f"for {given_model}")
    if not (width.is_integer() and height.is_integer()):
        raise InputError(f"{path}: {where}resolution must be whole pixels, got "
                         f"{cam['resolution']!r}")
    return intrinsics_from_pinhole_file(path, int(width), int(height), fu, fv, pu, pv, d,
                                        ros_model)
