"""A Kalibr camera chain (``camchain.yaml``, what ``kalibr_calibrate_cameras`` and
``kalibr_calibrate_imu_camera`` write: ``cam0: {camera_model, intrinsics, distortion_model,
distortion_coeffs, resolution, ...}``) -> `CameraIntrinsics`, for ``load_camera_info_yaml``.

Kalibr's pinhole model projects as OpenCV does (``u = fu * x / z + pu``, pixel centres at
integers), so its numbers are taken as they are: ``intrinsics [fu, fv, pu, pv]`` is K,
``radtan [k1, k2, r1, r2]`` is plumb_bob's ``[k1, k2, p1, p2]`` and ``equidistant
[k1, k2, k3, k4]`` is OpenCV's fisheye model, ROS's ``equidistant``; ``none`` is no distortion.
The omnidirectional, double-sphere and extended-unified models (``omni``, ``ds``, ``eucm``) and
the ``fov`` distortion have no ``sensor_msgs/CameraInfo`` counterpart and are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

import numpy as np

from ..errors import InputError
from ..types import CameraIntrinsics
from .camera_info import intrinsics_from_pinhole_file

# Kalibr distortion model -> (sensor_msgs/distortion_models name, coefficient count)
_DISTORTION = {"radtan": ("plumb_bob", 4), "equidistant": ("equidistant", 4),
               "none": ("plumb_bob", 0)}
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
    where = f"{name}."
    model = cam.get("camera_model")
    if model != "pinhole":
        raise InputError(f"{path}: {where}camera_model {model!r} (Kalibr) has no "
                         "sensor_msgs/CameraInfo model; only 'pinhole' is read: recalibrate "
                         "with --models pinhole-radtan or pinhole-equi")
    for field in ("resolution", "distortion_model"):
        if field not in cam:
            raise InputError(f"{path}: {where}{field} is missing (a Kalibr camera chain "
                             "states it for each camera)")
    kalibr_model = cam["distortion_model"]
    if kalibr_model not in _DISTORTION:
        raise InputError(f"{path}: {where}distortion_model {kalibr_model!r} (Kalibr) has no "
                         "sensor_msgs/CameraInfo model; read are radtan (plumb_bob), "
                         "equidistant and none")
    ros_model, count = _DISTORTION[kalibr_model]
    fu, fv, pu, pv = _numbers(cam["intrinsics"], path, f"{where}intrinsics", 4,
                              "[fu, fv, pu, pv]")
    width, height = _numbers(cam["resolution"], path, f"{where}resolution", 2, "[width, height]")
    d = _numbers(cam.get("distortion_coeffs", []), path, f"{where}distortion_coeffs", count,
                 f"for {kalibr_model}")
    if not (width.is_integer() and height.is_integer()):
        raise InputError(f"{path}: {where}resolution must be whole pixels, got "
                         f"{cam['resolution']!r}")
    return intrinsics_from_pinhole_file(path, int(width), int(height), fu, fv, pu, pv, d,
                                        ros_model)
