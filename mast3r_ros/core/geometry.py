"""Rigid-pose and camera helpers.

Poses are 4x4 float64 matrices named ``b_from_a`` (see `mast3r_ros.core.types`). Quaternions
appear only at the file/ROS boundary, in (x, y, z, w) order. Pixels are (x, y) with the origin at
the centre of the top-left pixel (OpenCV). All rotation maths goes through
`scipy.spatial.transform.Rotation`. Units: metres, pixels; angles in degrees where the name says
``_deg``.

Most helpers here are per-frame maths on arrays the caller has checked: they take numpy arrays
(poses as 4x4 arrays, not lists) of the stated shapes and do not check them, so another shape
gives numpy's own ``ValueError``/``IndexError``. The functions that check their input and raise
`InputError` say so (`invert_pose`, `compose`, `rotation_angle_deg`, `pose_error`,
`pose_from_tum`, `pose_to_tum`, `look_at`, `finite_pose`); the package's
boundaries (`types.Frame`, `CameraIntrinsics`, `pnp.solve_pnp`, `Localizer.localize`) check
before calling them.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import InputError


def make_pose(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """4x4 float64 pose from a 3x3 rotation and a translation (3,)."""
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = np.asarray(t, dtype=np.float64).reshape(3)
    return T


def _pose_shape(T: np.ndarray, name: str) -> np.ndarray:
    """``T`` as an array; InputError naming ``name`` unless it is 4x4."""
    T = np.asarray(T)
    if T.shape != (4, 4):
        raise InputError(f"{name} must be a 4x4 pose, got shape {T.shape}; a 3x4 [R | t] needs "
                         "the row [0, 0, 0, 1]")
    return T


def invert_pose(b_from_a: np.ndarray) -> np.ndarray:
    """``a_from_b`` from ``b_from_a`` (rigid inverse, no matrix inversion). Raises InputError
    for a matrix that is not 4x4."""
    b_from_a = _pose_shape(b_from_a, "invert_pose: b_from_a")
    R = b_from_a[:3, :3]
    t = b_from_a[:3, 3]
    return make_pose(R.T, -R.T @ t)


def invert_poses(b_from_a: np.ndarray) -> np.ndarray:
    """(..., 4, 4) float64 ``a_from_b`` of a stack of rigid ``b_from_a`` (one 4x4 as well): the
    rigid inverse (R^T, -R^T t) in plain numpy, not LAPACK's general inverse, whose small
    solves on numpy 1.21's OpenBLAS 0.3.17 (Humble's, Jetson's) wake its threads: on a loaded
    CPU 17 ms a 4x4 and 2.4 s for (2000, 4, 4) instead of 0.01 and 10 ms. The bottom row of
    the input is not read. Raises InputError for a last two axes not 4x4."""
    P = np.asarray(b_from_a, np.float64)
    if P.ndim < 2 or P.shape[-2:] != (4, 4):
        raise InputError(f"invert_poses: b_from_a must be (..., 4, 4), got {P.shape}")
    Rt = np.swapaxes(P[..., :3, :3], -1, -2)
    out = np.zeros(P.shape)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", Rt, P[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def compose(*poses: np.ndarray) -> np.ndarray:
    """Product of poses left to right: ``compose(a_from_b, b_from_c) == a_from_c``. Raises
    InputError naming the first pose (``pose 0``, ...) that is not 4x4."""
    out = np.eye(4)
    for i, p in enumerate(poses):
        out = out @ _pose_shape(p, f"compose: pose {i}")
    return out


def transform_points(b_from_a: np.ndarray, points_a: np.ndarray) -> np.ndarray:
    """Apply a pose to points (..., 3); returns float64 points in frame b."""
    p = np.asarray(points_a, dtype=np.float64)
    return p @ b_from_a[:3, :3].T + b_from_a[:3, 3]


_I3 = np.eye(3)
_LAST_ROW = np.array([0.0, 0.0, 0.0, 1.0])  # |b| of np.allclose's tolerance: b >= 0 here


def is_valid_pose(T: np.ndarray, tol: float = 1e-4) -> bool:
    """True for a finite 4x4 rigid transform (orthonormal rotation, det +1, last row 0 0 0 1),
    each within ``tol``; `non_rigid_reason` says what is wrong with one it refuses."""
    T = np.asarray(T)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        return False
    R = T[:3, :3]
    # np.allclose(a, b, atol=tol) of finite arrays, written out (it costs ~20 us a call, and
    # the localizer checks every prior and hint): |a - b| <= tol + 1e-5 |b|
    return bool((np.abs(R @ R.T - _I3) <= tol + 1e-5 * _I3).all()
                and abs(np.linalg.det(R) - 1) < tol
                and (np.abs(T[3] - _LAST_ROW) <= tol + 1e-5 * _LAST_ROW).all())


def non_rigid_reason(T: np.ndarray, tol: float = 1e-4) -> str:
    """What keeps a finite 4x4 ``T`` from `is_valid_pose` with the same ``tol`` ("" when
    nothing): a rotation that is not orthonormal (a scale or shear), its determinant (-1: a
    reflection) or the last row. For error messages; ``T`` must be a finite 4x4 array."""
    T = np.asarray(T, dtype=np.float64)
    R = T[:3, :3]
    why = []
    off = float(np.abs(R @ R.T - np.eye(3)).max())
    if off > tol:
        why.append(f"rotation block not orthonormal (max |R R^T - I| = {off:.3g}: a scale or "
                   "shear)")
    det = float(np.linalg.det(R))
    if abs(det - 1) >= tol:
        why.append(f"determinant {det:.6g}, not +1" + (" (a reflection)" if det < 0 else ""))
    if not np.allclose(T[3], [0, 0, 0, 1], atol=tol):
        why.append(f"last row {T[3].tolist()}, not [0, 0, 0, 1]")
    return "; ".join(why)


def nonfinite_entries(a: np.ndarray) -> str:
    """Where an array has NaN or inf, for error messages: "nan at [0, 3], inf at [1, 1] (2 of
    16)" (the first three listed, in row-major order); "" when it is finite."""
    a = np.asarray(a, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(a))
    if not bad.size:
        return ""
    where = ", ".join(f"{a[tuple(i)]} at {list(map(int, i))}" for i in bad[:3])
    more = ", ..." if len(bad) > 3 else ""
    return f"{where}{more} ({len(bad)} of {a.size})"


def rotation_angle_deg(R: np.ndarray) -> float:
    """Angle of a rotation matrix in degrees, numerically safe near 0 and 180. Raises
    InputError for a matrix that is not a finite 3x3 rotation (orthonormal, det +1, within
    1e-3: a scale such as 2 I would read as 0 degrees, a reflection as some angle; looser than
    `is_valid_pose`'s 1e-4, so that the relative rotation of two poses it accepts passes)."""
    R = np.asarray(R, dtype=np.float64)
    if (R.shape != (3, 3) or not np.isfinite(R).all()
            or np.abs(R @ R.T - np.eye(3)).max() > 1e-3 or abs(np.linalg.det(R) - 1) >= 1e-3):
        why = (f"shape {R.shape}" if R.shape != (3, 3) else nonfinite_entries(R)
               or non_rigid_reason(make_pose(R, np.zeros(3)), 1e-3))
        raise InputError(f"rotation_angle_deg: R is not a rotation: {why}")
    c = (np.trace(R) - 1.0) / 2.0
    s = np.linalg.norm([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / 2.0
    return float(np.degrees(np.arctan2(s, c)))


def pose_error(a: np.ndarray, b: np.ndarray) -> Tuple[float, float]:
    """(translation error m, rotation error deg) between two ``map_from_cam`` poses.

    The translation error is the distance between the camera centres, the rotation error the
    angle of ``a^-1 b``'s rotation (as the MASt3R visloc evaluation). Raises InputError
    (`rotation_angle_deg`) when ``a^-1 b``'s rotation block is not a rotation (either pose is
    not rigid or not finite), and naming the pose for one that is not 4x4 (`invert_pose`).
    """
    a, b = _pose_shape(a, "pose_error: a"), _pose_shape(b, "pose_error: b")
    t = float(np.linalg.norm(a[:3, 3] - b[:3, 3]))
    return t, rotation_angle_deg(a[:3, :3].T @ b[:3, :3])


def pose_errors(est: np.ndarray, gt: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Vectorised `pose_error` over (N, 4, 4) stacks: (N,) metres and (N,) degrees. Either may
    be one 4x4 pose (or a stack of one), compared with each pose of the other. Raises
    InputError for another shape (a (N, 3, 4) [R | t] stack was regrouped into 4x4 blocks of
    wrong numbers) or stacks of different lengths."""
    est, gt = _pose_stack(est, "est"), _pose_stack(gt, "gt")
    if len(est) != len(gt) and 1 not in (len(est), len(gt)):
        raise InputError(f"pose_errors: est has {len(est)} poses and gt {len(gt)}: pair them "
                         "one to one (or give one pose for all)")
    t = np.linalg.norm(est[:, :3, 3] - gt[:, :3, 3], axis=1)
    R = np.einsum("nji,njk->nik", est[:, :3, :3], gt[:, :3, :3])
    rot = Rotation.from_matrix(R).magnitude() if len(R) else np.zeros(0)
    return t, np.degrees(rot)


def _pose_stack(P: np.ndarray, name: str) -> np.ndarray:
    """``P`` as an (N, 4, 4) float64 stack (one 4x4 pose: N = 1); InputError otherwise."""
    P = np.asarray(P, dtype=np.float64)
    if P.shape == (4, 4):
        P = P[None]
    if P.ndim != 3 or P.shape[1:] != (4, 4):
        raise InputError(f"pose_errors: {name} must be (N, 4, 4) poses or one 4x4 pose, got "
                         f"shape {P.shape}; a 3x4 [R | t] needs the row [0, 0, 0, 1]")
    return P


def pose_from_tum(txyz_qxyzw: np.ndarray) -> np.ndarray:
    """(N, 7) rows ``tx ty tz qx qy qz qw`` -> (N, 4, 4) poses. Quaternions are normalised.

    TUM trajectory rows are the camera pose in the world frame (here ``map_from_cam``),
    translation in metres. Nothing (``[]``, an empty file's ``np.loadtxt``) gives (0, 4, 4).
    Raises `InputError` for rows that are not 7 numbers (a single row of 7 is one pose), a
    non-finite value or a zero quaternion.
    """
    a = np.asarray(txyz_qxyzw, dtype=np.float64)
    if a.size == 0:
        a = a.reshape(0, 7)
    if a.shape[-1:] != (7,) or a.ndim > 2:
        raise InputError(f"pose rows must be (N, 7): tx ty tz qx qy qz qw, got shape {a.shape}")
    a = a.reshape(-1, 7)
    q = a[:, 3:]
    if len(a) and not np.isfinite(a).all():
        raise InputError("pose rows must be finite with non-zero quaternions")
    # normalised by the largest component first: the norm of a finite 1e200 quaternion
    # overflows (and scipy then calls it a zero quaternion)
    big = np.abs(q).max(axis=1, initial=0.0)
    qs = q / np.where(big > 0, big, 1.0)[:, None]
    n = np.linalg.norm(qs, axis=1)
    if len(a) and np.any(big * n < 1e-6):
        raise InputError("pose rows must be finite with non-zero quaternions")
    T = np.tile(np.eye(4), (len(a), 1, 1))
    if len(a):
        T[:, :3, :3] = Rotation.from_quat(qs / n[:, None]).as_matrix()
        T[:, :3, 3] = a[:, :3]
    return T


def pose_to_tum(poses: np.ndarray) -> np.ndarray:
    """(N, 4, 4) poses (or one 4x4) -> (N, 7) rows ``tx ty tz qx qy qz qw`` (qw >= 0);
    nothing (``[]``: no frame localized) gives (0, 7).

    Raises `InputError` for another shape, and naming the first such pose (``poses[i]``) for a
    non-finite one or one that is not rigid (`non_rigid_reason` with its default tolerance: a
    scale, shear or reflection would otherwise be written as some rotation without a word)."""
    P = np.asarray(poses, dtype=np.float64)
    if P.size == 0:
        P = P.reshape(0, 4, 4)
    if P.shape[-2:] != (4, 4) or P.ndim > 3:
        raise InputError(f"poses must be (N, 4, 4), got shape {P.shape}")
    P = P.reshape(-1, 4, 4)
    if not len(P):
        return np.zeros((0, 7))
    _check_rigid_stack(P, "pose_to_tum: poses")
    q = Rotation.from_matrix(P[:, :3, :3]).as_quat()
    q[q[:, 3] < 0] *= -1
    return np.concatenate([P[:, :3, 3], q], axis=1)


def _check_rigid_stack(P: np.ndarray, name: str, tol: float = 1e-4) -> None:
    """InputError naming ``name[i]`` for the first pose of the (N, 4, 4) float64 ``P`` that is
    not finite or not rigid (`non_rigid_reason`)."""
    finite = np.isfinite(P).all(axis=(1, 2))
    if not finite.all():
        i = int(np.argmin(finite))
        raise InputError(f"{name}[{i}] is not finite: {nonfinite_entries(P[i])}; a pose must be "
                         "a finite rigid 4x4 transform")
    R = P[:, :3, :3]
    off = np.abs(R @ R.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
    last = np.abs(P[:, 3] - [0.0, 0.0, 0.0, 1.0]).max(axis=1)
    suspect = (off > tol / 2) | (np.abs(np.linalg.det(R) - 1) >= tol / 2) | (last > tol / 2)
    for i in np.flatnonzero(suspect):  # the exact test on the few that may fail it
        why = non_rigid_reason(P[i], tol)
        if why:
            raise InputError(f"{name}[{i}] is not a rigid transform: {why}")


def pixel_grid(width: int, height: int) -> np.ndarray:
    """(H, W, 2) float64 pixel coordinates (x, y) of every pixel centre."""
    x, y = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    return np.stack([x, y], axis=-1)


def backproject(pixels: np.ndarray, depth_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points (N, 3) of undistorted pixels (N, 2) at z-depths (N,) (metres)."""
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    z = np.asarray(depth_m, dtype=np.float64).reshape(-1)
    x = (px[:, 0] - K[0, 2]) / K[0, 0]
    y = (px[:, 1] - K[1, 2]) / K[1, 1]
    return np.stack([x * z, y * z, z], axis=1)


def depth_to_points(depth_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(H, W, 3) camera-frame pointmap of a z-depth image (NaN where depth is NaN)."""
    h, w = depth_m.shape
    return backproject(pixel_grid(w, h).reshape(-1, 2), depth_m.reshape(-1), K).reshape(h, w, 3)


def project(points_cam: np.ndarray, K: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Pinhole projection of camera-frame points (N, 3): (pixels (N, 2), z (N,)).

    Points with z <= 0 get NaN pixels.
    """
    p = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    z = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        zi = np.where(z > 0, 1.0 / z, np.nan)
    uv = np.stack([K[0, 0] * p[:, 0] * zi + K[0, 2], K[1, 1] * p[:, 1] * zi + K[1, 2]], axis=1)
    return uv, z


def undistort_pixels(pixels: np.ndarray, K: np.ndarray, dist: np.ndarray,
                     model: str = "plumb_bob") -> np.ndarray:
    """Distorted pixels (N, 2) -> the pixels an ideal pinhole camera with the same K would see.

    ``model`` is the CameraInfo ``distortion_model`` (``CameraIntrinsics.distortion_model``):
    ``equidistant`` goes through ``cv2.fisheye.undistortPoints`` (k1..k4), ``plumb_bob`` and
    ``rational_polynomial`` (4, 5, 8, 12 or 14 coefficients) through ``cv2.undistortPoints``;
    any other name is treated as ``plumb_bob``. Returns (N, 2) float64 pixels (a copy, without
    OpenCV, when ``dist`` is empty or all zero). Raises ``cv2.error`` for a coefficient count
    OpenCV refuses and ``ImportError`` without OpenCV.
    """
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
    if not len(px) or not np.any(np.asarray(dist) != 0):
        return px.reshape(-1, 2).copy()
    import cv2

    if model == "equidistant":
        out = cv2.fisheye.undistortPoints(px, K, np.asarray(dist, np.float64)[:4], P=K)
    else:
        # more iterations than undistortPoints' default 5: exact to ~1e-6 px at the corners
        crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
        dist = np.asarray(dist, np.float64)
        if hasattr(cv2, "undistortPointsIter"):  # OpenCV 4.x
            out = cv2.undistortPointsIter(px, K, dist, None, K, crit)
        else:  # OpenCV 5 folded the criteria into undistortPoints
            out = cv2.undistortPoints(px, K, dist, R=None, P=K, criteria=crit)
    return out.reshape(-1, 2).astype(np.float64)


def sample_depth(depth_m: np.ndarray, pixels: np.ndarray,
                 max_rel_step: float = 0.05) -> np.ndarray:
    """Depth at sub-pixel positions (N, 2): bilinear where the 4 neighbours agree, else NaN.

    A neighbourhood whose depths differ by more than ``max_rel_step`` of their minimum straddles
    an occlusion edge; interpolating there would invent a point in mid-air, so it is rejected.
    Pixel centres are integers (origin at the centre of the top-left pixel): positions in
    [0, W - 1] x [0, H - 1], both ends included, have depth; the last column and row are read
    through the cell before them. Outside, and for an image under 2 x 2 pixels, NaN.
    """
    h, w = depth_m.shape
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    if h < 2 or w < 2:
        return np.full(len(px), np.nan)
    x, y = px[:, 0], px[:, 1]
    with np.errstate(invalid="ignore"):
        ok = (x >= 0) & (y >= 0) & (x <= w - 1) & (y <= h - 1)
    # NaN/inf positions would warn in the int cast; the kept ones are >= 0: the cast floors.
    # (The map check samples ~6 000 times per map: one flat gather per neighbour, no (N, 4)
    # stack, is ~4x faster than 2-D fancy indexing, and gives the same bits.)
    x = np.where(ok, x, 0.0)
    y = np.where(ok, y, 0.0)
    x0 = np.minimum(x.astype(np.int64), w - 2)
    y0 = np.minimum(y.astype(np.int64), h - 2)
    flat = depth_m.reshape(-1)
    i = y0 * w + x0
    d00, d01 = flat[i].astype(np.float64), flat[i + 1].astype(np.float64)
    d10, d11 = flat[i + w].astype(np.float64), flat[i + (w + 1)].astype(np.float64)
    with np.errstate(invalid="ignore"):
        lo = np.minimum(np.minimum(d00, d01), np.minimum(d10, d11))
        hi = np.maximum(np.maximum(d00, d01), np.maximum(d10, d11))
        ok &= np.isfinite(lo) & np.isfinite(hi) & (lo > 0) & (hi - lo <= max_rel_step * lo)
    fx, fy = x - x0, y - y0
    gx, gy = 1 - fx, 1 - fy
    val = d00 * gx * gy + d01 * fx * gy + d10 * gx * fy + d11 * fx * fy
    return np.where(ok, val, np.nan)


def apply_homography(H: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Map pixels (N, 2) through a 3x3 homography with perspective division."""
    px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    p = px @ H[:, :2].T + H[:, 2]
    return p[:, :2] / p[:, 2:3]


def viewing_angle_deg(map_from_cams: np.ndarray, map_from_cam: np.ndarray) -> np.ndarray:
    """Angle between the optical axes (+z) of camera poses ``map_from_cams`` (N, 4, 4) and a
    camera pose ``map_from_cam`` (4, 4), all in one frame, degrees (N,)."""
    za = np.asarray(map_from_cams).reshape(-1, 4, 4)[:, :3, 2]
    zb = np.asarray(map_from_cam)[:3, 2]
    return np.degrees(np.arccos(np.clip(za @ zb, -1.0, 1.0)))


def look_at(eye: np.ndarray, target: np.ndarray, up: Optional[np.ndarray] = None) -> np.ndarray:
    """``map_from_cam`` of an optical-frame camera at ``eye`` looking at ``target``.

    ``up`` is the world direction that should appear up in the image (default +z). Raises
    `InputError` when ``target`` is ``eye`` (no viewing direction) or the viewing direction is
    parallel to ``up``.
    """
    eye = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye
    if not np.linalg.norm(z) > 0:
        raise InputError(f"look_at: target is the eye ({eye.tolist()}): no viewing direction; "
                         "give a target away from the camera")
    z /= np.linalg.norm(z)
    up = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, dtype=np.float64)
    x = np.cross(z, up)  # image x (right) = forward x up ... then y (down) = z x x
    if np.linalg.norm(x) < 1e-9:
        raise InputError("look_at: viewing direction is parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return make_pose(np.stack([x, y, z], axis=1), eye)


def finite_matrix(a: np.ndarray, n: int, name: str) -> np.ndarray:
    """``a`` as an (n, n) float64 array; raises InputError naming ``name`` unless finite n x n
    (the message gives the shape, or the non-finite entries: `nonfinite_entries`)."""
    a = np.asarray(a, dtype=np.float64)
    if a.shape != (n, n):
        raise InputError(f"{name} must be a finite {n}x{n} matrix, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise InputError(f"{name} must be a finite {n}x{n} matrix, but it is not finite: "
                         f"{nonfinite_entries(a)}")
    return a


def finite_pose(pose: np.ndarray, name: str) -> np.ndarray:
    """``pose`` as a 4x4 float64 array (`finite_matrix`: InputError naming ``name`` unless
    finite 4x4)."""
    return finite_matrix(pose, 4, name)


def rigid_pose(pose: np.ndarray, name: str, tol: float = 1e-4) -> np.ndarray:
    """``pose`` as a 4x4 float64 array; raises InputError naming ``name`` unless it is finite
    (`finite_pose`) and rigid within ``tol`` (`non_rigid_reason`: orthonormal rotation, det +1,
    last row 0 0 0 1). For a transform that will be inverted as one (`invert_poses`: R^T and
    -R^T t), where a scaled, sheared or projective matrix would be inverted wrongly without a
    word. Its quick test uses no LAPACK call (numpy 1.21's OpenBLAS threads: `invert_poses`)."""
    T = finite_pose(pose, name)
    R = T[:3, :3]
    if (np.abs(R @ R.T - _I3).max() > tol / 2 or np.dot(R[0], np.cross(R[1], R[2])) < 0.5
            or np.abs(T[3] - _LAST_ROW).max() > tol / 2):
        why = non_rigid_reason(T, tol)  # the exact test on the few that may fail it
        if why:
            raise InputError(f"{name} is not a rigid transform: {why}; a tf transform is a "
                             "rotation and a translation (a unit quaternion's matrix)")
    return T
