"""Which calibration a query frame was taken with, as the run-level evidence compares them.

The run-level evidences (`focal_evidence`, `principal_point_evidence`, `distortion_evidence`,
their run gates in `localizer` and the node's /diagnostics) keep each calibration's fits
apart and start over when the camera changes. Each compared only the few values its own
figures use (the focal evidence fx; the principal point fx, cx, cy; the distortion fx, k1 and
the corner radius), so a new CameraInfo whose D differed only in k2, p1, p2, k3 (or whose model
name changed with the same k1) kept the old camera's fits: the new calibration was judged,
and its poses refused, on the old one's. `camera_key` is every value of a calibration (image
size, K, distortion model and coefficients) and `same_camera` compares two within a tolerance
that treats float round-trips and a driver's jitter in the last digits as equal (`SAME_REL`);
any other change of K, size, model or ANY coefficient is a new camera. The key is canonical for
what the calibration maps, not how it is written: plumb_bob and rational_polynomial are one
model in it (`OPENCV_MODEL`; image_geometry hands either's D to OpenCV, which reads it by its
count: 4 or 5 coefficients k1 k2 p1 p2 [k3], 8 the rational model), and their trailing zero
coefficients are left out, so a plumb_bob D of 5, the same D as rational_polynomial with k4 k5
k6 zero, and a plumb_bob D of 4 with k3 zero are one camera (a driver or calibration file that
renames its model kept its coefficients and was started over as a new camera); an all-zero or
empty D is no distortion whatever the model. `camera_record` writes a calibration's values as
JSON (a map's ``consistency.distortion`` ``camera``, as a results.jsonl line's ``camera``) and
`key_of_record` reads such a record back as its key. A calibration rebuilt from a reduced copy
(a hand-built map-check record with ``camera_scale`` but not the camera image's own intrinsics:
`map_check.records.rebuilt_calibration`) is known only to a rounding pixel of that copy: its
record says how far (``within_px``, `within_of_record`) and `same_camera` takes sizes and K
entries that far off as the same camera (the exact 1e-4 took one rounding row of height, 752x479
rebuilt for 752x480, as another camera). No rclpy.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import numpy as np

# K's entries within SAME_REL * fx pixels (1e-4 rad of view: 0.06 px at fx 585), the
# coefficients within SAME_REL relative or `COEFFICIENT_ABS`: the same calibration (a float32
# round trip is ~6e-8 relative, 6 printed digits 5e-6; the evidences' own tolerance is 1e-4)
SAME_REL = 1e-4
# ... a coefficient of about 0 within this (unitless, normalized coordinates: moves a point at
# the 640x480 corner by under 0.001 px)
COEFFICIENT_ABS = 1e-6

# the key's model of plumb_bob and rational_polynomial D (module docstring): one mapping, OpenCV's
# pinhole model with its coefficients read by their count
OPENCV_MODEL = "opencv"
_OPENCV_NAMES = ("plumb_bob", "rational_polynomial")

# (width px, height px, distortion model ('' for an all-zero D, `OPENCV_MODEL` for plumb_bob and
# rational_polynomial), K row-major (9,), D (n,): an `OPENCV_MODEL` D without trailing zeros)
CameraKey = Tuple[int, int, str, Tuple[float, ...], Tuple[float, ...]]


def key_of_values(width: int, height: int, K: Any, dist: Any, model: str) -> CameraKey:
    """`CameraKey` of a calibration's values: ``K`` 3x3 (or 9 values, row-major) pixels,
    ``dist`` the OpenCV coefficients (any 1-D or 2-D array-like; None, empty or all zero: no
    distortion, whatever ``model``, as image_geometry reads it), ``model`` its name
    (plumb_bob and rational_polynomial: `OPENCV_MODEL`, D without its trailing zeros, as
    OpenCV maps them). Raises nothing for numbers."""
    k = tuple(np.asarray(K, np.float64).ravel().tolist())
    d = () if dist is None else tuple(np.asarray(dist, np.float64).ravel().tolist())
    if not any(d):
        return int(width), int(height), "", k, ()
    if model in _OPENCV_NAMES:
        n = len(d)
        while d[n - 1] == 0.0:  # not all zero (above): stops at the last coefficient set
            n -= 1
        return int(width), int(height), OPENCV_MODEL, k, d[:n]
    return int(width), int(height), str(model), k, d


def camera_key(cam: Any) -> CameraKey:
    """`CameraKey` of ``cam`` (a `types.CameraIntrinsics`: width, height, K, dist,
    distortion_model)."""
    return key_of_values(cam.width, cam.height, cam.K, cam.dist, cam.distortion_model)


def camera_record(cam: Any, within_px: float = 0.0) -> Dict[str, Any]:
    """JSON-ready values of ``cam`` (a `types.CameraIntrinsics`): ``width``, ``height`` (px),
    ``K`` (3x3 px), ``dist`` (n,) and ``distortion_model``, exactly as given (JSON keeps float64
    values exactly); `key_of_record` reads it back. ``within_px`` > 0 (camera px): the size and
    K were rebuilt from a reduced copy and may be off by that much (written as ``within_px``,
    `within_of_record`; D is exact); 0 (an exact calibration) writes no such field."""
    out = {"width": int(cam.width), "height": int(cam.height),
           "K": np.asarray(cam.K, np.float64).reshape(3, 3).tolist(),
           "dist": np.asarray(cam.dist, np.float64).ravel().tolist(),
           "distortion_model": str(cam.distortion_model)}
    if within_px > 0:
        out["within_px"] = float(within_px)
    return out


def within_of_record(rec: Any) -> float:
    """A `camera_record`'s ``within_px`` (camera px its size and K may be off: a calibration
    rebuilt from a reduced copy), 0.0 without one (exact). Raises ValueError for a value that
    is not a finite number >= 0 (`key_of_record` checks it so)."""
    w = rec.get("within_px", 0.0) if isinstance(rec, dict) else 0.0
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
        raise ValueError(f"'within_px' (how far a rebuilt size and K may be off) must be a "
                         f"finite number of pixels >= 0, got {w!r}")
    return float(w)


def key_of_record(rec: Any) -> CameraKey:
    """`CameraKey` of a `camera_record` read from JSON. Raises ValueError saying what is wrong
    (not an object, a size that is not a positive whole number of pixels, a K not 3x3 finite
    numbers, a D not a list of finite numbers, a model that is not a string)."""
    if not isinstance(rec, dict):
        raise ValueError("must be an object with width, height, K, dist and distortion_model, "
                         f"got {type(rec).__name__}")
    w, h = rec.get("width"), rec.get("height")
    if type(w) is not int or type(h) is not int or w <= 0 or h <= 0:
        raise ValueError(f"'width' and 'height' must be positive whole numbers of pixels, got "
                         f"{w!r} and {h!r}")
    try:
        K = np.asarray(rec.get("K"), np.float64)
        d = np.asarray(rec.get("dist"), np.float64)
    except (TypeError, ValueError):
        raise ValueError("'K' and 'dist' must be lists of numbers") from None
    if K.shape != (3, 3) or not np.isfinite(K).all():
        raise ValueError(f"'K' must be 3x3 finite numbers (px), got shape {K.shape}")
    if d.ndim != 1 or not np.isfinite(d).all():
        raise ValueError("'dist' must be a list of finite numbers")
    model = rec.get("distortion_model")
    if not isinstance(model, str):
        raise ValueError(f"'distortion_model' must be a string, got {model!r}")
    within_of_record(rec)
    return key_of_values(w, h, K, d, model)


def same_camera(a: Optional[CameraKey], b: Optional[CameraKey], within_px: float = 0.0) -> bool:
    """Whether calibrations ``a`` and ``b`` (`CameraKey`) are the same within `SAME_REL`: the
    same size and model (plumb_bob and rational_polynomial are one, `OPENCV_MODEL`), each K
    entry within `SAME_REL` of fx (pixels), each coefficient within `SAME_REL` relative or
    `COEFFICIENT_ABS` (a shorter D is padded with zeros: plumb_bob's 4 and 5 with k3 = 0, and
    rational_polynomial's 8 with k4 k5 k6 = 0, are one). ``within_px`` (camera px, one of them
    rebuilt from a reduced copy: `within_of_record`): width, height and K entries that far
    apart are the same too (the model and D still as above). None (no key known) is the same
    as any: a caller with fits without a key keeps them apart from keyed ones
    (`run_evidence.RunFits`)."""
    if a is None or b is None or a == b:
        return True
    if a[2] != b[2] or abs(a[0] - b[0]) > within_px or abs(a[1] - b[1]) > within_px:
        return False
    tol = max(SAME_REL * max(abs(a[3][0]), abs(b[3][0])), within_px)
    if len(a[3]) != len(b[3]) or any(abs(x - y) > tol for x, y in zip(a[3], b[3])):
        return False
    n = max(len(a[4]), len(b[4]))
    da, db = a[4] + (0.0,) * (n - len(a[4])), b[4] + (0.0,) * (n - len(b[4]))
    return all(math.isclose(x, y, rel_tol=SAME_REL, abs_tol=COEFFICIENT_ABS)
               for x, y in zip(da, db))
