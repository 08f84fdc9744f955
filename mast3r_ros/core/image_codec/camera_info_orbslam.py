"""An ORB-SLAM settings file (an OpenCV FileStorage YAML: ORB-SLAM2's ``Camera.fx`` ...,
ORB-SLAM3's ``Camera1.fx`` ... with ``Camera.type``) -> `CameraIntrinsics`, for
`camera_info_opencv`, which reads the file with ``cv2.FileStorage`` and hands it on here when it
holds ``Camera.fx`` or ``Camera1.fx``.

The pinhole model (ORB-SLAM2's only one, ORB-SLAM3's ``PinHole``) is OpenCV's: ``fx fy cx cy``
are K and ``k1 k2 p1 p2 [k3]`` plumb_bob's coefficients; ORB-SLAM3's ``KannalaBrandt8`` is
OpenCV's fisheye model, ``k1..k4``, ROS's ``equidistant``. ORB-SLAM3's ``Rectified`` stereo type
has no distortion. The image size is ``Camera.width`` and ``Camera.height`` (ORB-SLAM3; an
ORB-SLAM2 file without them is refused, naming the lines to add).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import cv2
import numpy as np

from ..errors import InputError
from ..types import CameraIntrinsics
from .camera_info import intrinsics_from_pinhole_file

# ORB-SLAM3 Camera.type -> (distortion model, coefficient names)
_MODELS = {"PinHole": ("plumb_bob", ("k1", "k2", "p1", "p2", "k3")),
           "KannalaBrandt8": ("equidistant", ("k1", "k2", "k3", "k4")),
           "Rectified": ("plumb_bob", ())}


def looks_like_orbslam_settings(keys: List[str]) -> bool:
    """Whether a FileStorage's top-level ``keys`` are an ORB-SLAM settings file's."""
    return "Camera.fx" in keys or "Camera1.fx" in keys


def _number(fs: cv2.FileStorage, key: str, path: Path) -> float:
    node = fs.getNode(key)
    if not (node.isInt() or node.isReal()):
        found = repr(node.string()) if node.isString() else "missing" if node.empty() else (
            "no number")
        raise InputError(f"{path}: ORB-SLAM settings {key} must be a number, got {found}")
    return float(node.real())


def load_orbslam_settings(fs: cv2.FileStorage, keys: List[str], path: Path) -> CameraIntrinsics:
    """The colour camera (``Camera1`` in ORB-SLAM3, ``Camera`` in ORB-SLAM2) of the ORB-SLAM
    settings file ``fs`` (top-level ``keys``) read from ``path`` -> `CameraIntrinsics`.

    Raises:
        InputError: naming ``path``: a ``Camera.type`` without a CameraInfo model, a missing or
            non-numeric value, no ``Camera.width``/``Camera.height``, a coefficient set that
            stops part-way, anything `intrinsics_from_camera_info` refuses.
    """
    prefix = "Camera1." if "Camera1.fx" in keys else "Camera."
    kind = fs.getNode("Camera.type").string() if "Camera.type" in keys else "PinHole"
    if kind not in _MODELS:
        raise InputError(f"{path}: ORB-SLAM Camera.type {kind!r} has no sensor_msgs/CameraInfo "
                         f"model; read are {', '.join(_MODELS)}")
    model, names = _MODELS[kind]
    missing = [k for k in ("Camera.width", "Camera.height") if k not in keys]
    if missing:
        raise InputError(f"{path}: an ORB-SLAM settings file without {' and '.join(missing)} "
                         "(ORB-SLAM2 reads the size from the images): add 'Camera.width: W' and "
                         "'Camera.height: H', the images' size in pixels")
    width, height = (_number(fs, k, path) for k in ("Camera.width", "Camera.height"))
    if not (width.is_integer() and height.is_integer()):
        raise InputError(f"{path}: Camera.width and Camera.height must be whole pixels, got "
                         f"{width:g}x{height:g}")
    fx, fy, cx, cy = (_number(fs, prefix + n, path) for n in ("fx", "fy", "cx", "cy"))
    given = [n for n in names if prefix + n in keys]
    if model == "plumb_bob" and given and given != list(names[:len(given)]):
        raise InputError(f"{path}: ORB-SLAM distortion {', '.join(prefix + n for n in given)}: "
                         f"expected {', '.join(prefix + n for n in names[:4])} [and "
                         f"{prefix}k3]")
    if model == "equidistant":
        given = list(names)  # all four, each checked to be a number below
    d = np.array([_number(fs, prefix + n, path) for n in given], dtype=np.float64)
    if model == "plumb_bob" and d.size not in (0, 4, 5):
        raise InputError(f"{path}: ORB-SLAM distortion must be {prefix}k1, k2, p1, p2 [and k3], "
                         f"got {d.size} of them")
    return intrinsics_from_pinhole_file(path, int(width), int(height), fx, fy, cx, cy, d, model)
