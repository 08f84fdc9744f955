"""An OpenCV FileStorage calibration YAML -> `CameraIntrinsics`, read with ``cv2.FileStorage``.

What ``cv2.FileStorage`` writes (a ``%YAML:1.0`` line in OpenCV 4, ``%YAML 1.2`` in OpenCV 5;
the matrices as ``!!opencv-matrix`` mappings of rows, cols, dt, data), with the names OpenCV's
calibration sample writes (``image_width``, ``image_height``, ``camera_matrix``,
``distortion_coefficients``, ``fisheye_model``) or other tools' (``K``/``cameraMatrix``,
``D``/``distCoeffs``, ``image_size``). The distortion model follows the coefficient count as
OpenCV reads it: 4 or 5 are ``plumb_bob`` (k1 k2 p1 p2 [k3]); 8, 12 or 14
``rational_polynomial`` (k4 k5 k6, then thin-prism s1..s4 and tilt tau_x tau_y); with
``fisheye_model: 1`` (a ``cv2.fisheye`` calibration) 4 are ``equidistant``. Other counts are
refused, as OpenCV refuses them. An ORB-SLAM settings file (``Camera.fx`` or ``Camera1.fx``) is
handed to `camera_info_orbslam`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..errors import InputError
from ..types import _OPENCV_MODEL_OF_COUNT, CameraIntrinsics, check_distortion
from .camera_info import intrinsics_from_camera_info, warn_far_principal_point
from .camera_info_orbslam import load_orbslam_settings, looks_like_orbslam_settings

log = logging.getLogger(__name__)

# each quantity's key names, the first OpenCV's calibration sample's
_CAMERA_MATRIX_KEYS = ("camera_matrix", "cameraMatrix", "K")
_DISTORTION_KEYS = ("distortion_coefficients", "distCoeffs", "D")
_SIZE_KEYS = ("image_size", "imageSize")  # [width, height], as cv::Size is written
_MAX_MATRIX_SIDE = 64  # rows, cols of a camera matrix or distortion: 3, 14 at most
_EXPECTED = ("a camera matrix (camera_matrix, cameraMatrix or K), distortion coefficients "
             "(distortion_coefficients, distCoeffs or D) and the image size (image_width and "
             "image_height, or image_size), as OpenCV's calibration sample writes them")


def _cv_error_text(err: BaseException) -> str:
    """One line of what a ``cv2.error`` says ("Parsing error: ...(3): Missing , between the
    elements"), without OpenCV's source path; a SystemError (some cv2 versions raise one out
    of ``FileStorage()``) is told by the cv2.error it was raised from."""
    cause = err.__cause__ if isinstance(err, SystemError) and err.__cause__ else err
    text = " ".join(str(cause).split())
    where = re.search(r"in function '[^']*\((\d+)\): (.*)'$", text)  # a parse error's line
    if where:
        return f"line {where.group(1)}: {where.group(2)}"
    m = re.search(r"error: \(-?\d+:([^)]*)\) (.*)", text)
    return f"{m.group(1)}: {m.group(2)}" if m else text


def _one_key(keys: List[str], names: Tuple[str, ...], path: Path) -> Optional[str]:
    """The one of ``names`` among ``keys`` (None: none); InputError when several are given."""
    given = [name for name in names if name in keys]
    if len(given) > 1:
        raise InputError(f"{path}: gives both {' and '.join(given)} (the same quantity under "
                         f"two names): keep one")
    return given[0] if given else None


def _matrix(fs: cv2.FileStorage, key: str, path: Path, what: str) -> np.ndarray:
    """The ``!!opencv-matrix`` at ``key`` as float64 (an empty one: shape (0, 0)); InputError
    for anything else (a list, a number, a mapping that is no matrix)."""
    node = fs.getNode(key)
    # its fields checked first: OpenCV versions differ in what mat() does with other nodes
    is_matrix = node.isMap() and {"rows", "cols", "dt", "data"} <= set(node.keys())
    if is_matrix:
        _check_matrix_size(node, key, path)
    try:
        mat = node.mat() if is_matrix else False
    except (cv2.error, SystemError):
        mat = False
    if mat is False:
        raise InputError(f"{path}: {key} must be {what} written as an !!opencv-matrix (rows, "
                         f"cols, dt, data: as cv2.FileStorage writes a numpy array)")
    return np.zeros((0, 0)) if mat is None else np.asarray(mat, dtype=np.float64)


def _check_matrix_size(node: cv2.FileNode, key: str, path: Path) -> None:
    """InputError unless the !!opencv-matrix ``node``'s rows and cols are whole numbers of at
    most `_MAX_MATRIX_SIDE` whose product (times dt's channels) is its data's count: mat()
    allocates rows x cols before it compares them with the data, and a rows or cols beyond int
    (9999999999) corrupted the heap (free(): invalid next size: the process aborted)."""
    sizes = []
    for name in ("rows", "cols"):
        field = node.getNode(name)
        value = field.real() if field.isInt() or field.isReal() else None
        if value is None or not float(value).is_integer() or not 0 <= value <= _MAX_MATRIX_SIDE:
            found = (repr(field.string() or "no number") if value is None
                     else int(value) if float(value).is_integer() else value)
            raise InputError(f"{path}: {key}.{name} must be a whole number from 0 to "
                             f"{_MAX_MATRIX_SIDE}, got {found} (a calibration matrix is 3x3, "
                             "its distortion 1xN or Nx1)")
        sizes.append(int(value))
    dt, data = node.getNode("dt"), node.getNode("data")
    channels = re.match(r"\d*", dt.string() if dt.isString() else "").group()
    count = sizes[0] * sizes[1] * int(channels or 1)
    given = data.size() if data.isSeq() else -1
    if given != count:
        raise InputError(f"{path}: {key} states rows {sizes[0]} x cols {sizes[1]} = {count} "
                         f"values but its data holds "
                         f"{given if given >= 0 else 'no list'}; correct rows / cols to its data")


def _whole(node: cv2.FileNode, name: str, path: Path) -> int:
    """An integer node (an image size) as int; InputError naming ``name`` for anything else."""
    value = node.real() if node.isInt() or node.isReal() else None
    if value is None or not float(value).is_integer():
        found = (value if value is not None else repr(node.string()) if node.isString()
                 else "no number")
        raise InputError(f"{path}: {name} must be a whole number of pixels, got {found}")
    return int(value)


def _image_size(fs: cv2.FileStorage, keys: List[str], path: Path) -> Tuple[int, int]:
    size_key = _one_key(keys, _SIZE_KEYS, path)
    if size_key is not None and ("image_width" in keys or "image_height" in keys):
        raise InputError(f"{path}: gives both {size_key} and image_width/image_height: keep "
                         f"one")
    if size_key is None:
        return (_whole(fs.getNode("image_width"), "image_width", path),
                _whole(fs.getNode("image_height"), "image_height", path))
    node = fs.getNode(size_key)
    if not node.isSeq() or node.size() != 2:
        raise InputError(f"{path}: {size_key} must be [width, height], as cv2.FileStorage "
                         f"writes a cv::Size")
    return (_whole(node.at(0), f"{size_key}[0] (width)", path),
            _whole(node.at(1), f"{size_key}[1] (height)", path))


def _distortion_model(fs: cv2.FileStorage, keys: List[str], d: np.ndarray, key: str,
                      path: Path) -> str:
    """The ``sensor_msgs/distortion_models`` name of OpenCV's ``d``, by its count (and
    ``fisheye_model``); InputError for a count OpenCV does not read."""
    fisheye = fs.getNode("fisheye_model") if "fisheye_model" in keys else None
    if fisheye is not None and not (fisheye.isInt() and int(fisheye.real()) in (0, 1)):
        raise InputError(f"{path}: fisheye_model must be 0 or 1 (1: a cv2.fisheye calibration)")
    if fisheye is not None and int(fisheye.real()) == 1:
        return "equidistant"  # its count (4) is checked with the coefficients
    if d.size == 0:
        return "plumb_bob"  # empty: no distortion, as OpenCV reads an empty distCoeffs
    model = _OPENCV_MODEL_OF_COUNT.get(d.size)
    if model is None:
        raise InputError(f"{path}: {key} holds {d.size} coefficients; OpenCV's models have 4 "
                         f"or 5 (plumb_bob: k1 k2 p1 p2 [k3]), 8, 12 or 14 (rational_polynomial:"
                         f" k1..k6 [s1..s4 [tau_x tau_y]]), or 4 with fisheye_model: 1 "
                         f"(equidistant)")
    return model


def load_opencv_calibration(path: Path, text: str) -> CameraIntrinsics:
    """``text``, an OpenCV FileStorage YAML read from ``path``, -> `CameraIntrinsics`: the
    camera matrix (3x3), distortion coefficients (1xN or Nx1; the model by their count, module
    docstring) and image size, through `intrinsics_from_camera_info` as a CameraInfo's K and D.

    Raises:
        InputError: naming ``path``: a file ``cv2.FileStorage`` cannot parse (its line), no
            camera matrix, distortion or image size under a known name (naming the keys found
            and those expected), a quantity under two names, a matrix that is not an
            ``!!opencv-matrix`` or of the wrong shape, a size that is no whole number, a
            coefficient count OpenCV does not read, and whatever `intrinsics_from_camera_info`
            refuses (an all-zero K, a non-finite coefficient, ...).
    """
    try:
        fs = cv2.FileStorage(text, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
    except (cv2.error, SystemError) as err:
        raise InputError(f"{path}: read as an OpenCV FileStorage YAML (it starts with %YAML:1.0 "
                         f"or holds !!opencv-matrix tags), which OpenCV cannot parse: "
                         f"{_cv_error_text(err)}") from None
    try:
        return _read(fs, path)
    finally:
        fs.release()


def _read(fs: cv2.FileStorage, path: Path) -> CameraIntrinsics:
    root = fs.root()
    keys = list(root.keys()) if root.isMap() else []
    if looks_like_orbslam_settings(keys):  # Camera.fx ...: ORB-SLAM2 / ORB-SLAM3 settings
        cam = load_orbslam_settings(fs, keys, path)
        log.info("%s: read as an ORB-SLAM settings file (%s, %dx%d image)", path,
                 cam.distortion_model, cam.width, cam.height)
        if "Camera2.fx" in keys:  # a stereo pair; a Kalibr chain of two is refused instead,
            # but ORB-SLAM3 names Camera1 the left camera, whose stream is the one usually fed
            log.warning("%s: an ORB-SLAM3 stereo settings file (Camera1 and Camera2): Camera1's "
                        "calibration is read (the left camera); for the right camera's images "
                        "give a file with Camera2's values as Camera1's", path)
        return cam
    k_key = _one_key(keys, _CAMERA_MATRIX_KEYS, path)
    d_key = _one_key(keys, _DISTORTION_KEYS, path)
    has_size = (_one_key(keys, _SIZE_KEYS, path) is not None
                or {"image_width", "image_height"} <= set(keys))
    if k_key is None or d_key is None or not has_size:
        raise InputError(f"{path}: an OpenCV FileStorage YAML whose keys are not recognised: "
                         f"found {', '.join(keys) or 'none'}; expected {_EXPECTED}")
    width, height = _image_size(fs, keys, path)
    K = _matrix(fs, k_key, path, "the 3x3 camera matrix")
    if K.shape != (3, 3):
        raise InputError(f"{path}: {k_key} must be 3x3 (rows: 3, cols: 3), got "
                         f"{K.shape[0]}x{K.shape[1]}")
    D = _matrix(fs, d_key, path, "the distortion coefficients (1xN or Nx1)")
    if D.size and 1 not in D.shape:
        raise InputError(f"{path}: {d_key} must be one row or one column of coefficients, got "
                         f"{D.shape[0]}x{D.shape[1]}")
    d = D.reshape(-1)
    model = _distortion_model(fs, keys, d, d_key, path)
    try:  # first here, so that a wrong count or a NaN is said under the file's key
        check_distortion(model, d, model_field="distortion model", dist_field=d_key)
        cam = intrinsics_from_camera_info(width, height, K.reshape(-1), d, model)
    except (InputError, TypeError, ValueError) as err:
        raise InputError(f"{path}: {err}") from err
    log.info("%s: read as an OpenCV FileStorage calibration (%s, %s: %d coefficients, %s; "
             "%dx%d image)", path, k_key, d_key, d.size, model, width, height)
    warn_far_principal_point(float(K[0, 2]), float(K[1, 2]), width, height,
                             f"OpenCV calibration {path}")
    return cam
