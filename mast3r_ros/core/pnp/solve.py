"""`solve_pnp`: the robust metric pose of one query frame, as a `PnPResult`.

It checks the inputs (`_check_solver_args`), undistorts the query pixels, runs the RANSAC
backend (`ransac`) on a random subset of the correspondences, then refines the pose on all of
them (`refine._refine_inliers`) and computes its covariance from the last linearisation
(`covariance._covariance_f`; both in `_finish`, on one BLAS thread: `blas_threads`; the
covariance's (24, n) x (n, 8) product took 20-50 ms instead of 0.6 ms at 2*10^4 inliers on a
loaded CPU).

"This module" in the docstrings below is the package (`core.pnp`), whose docstring holds the
perturbation ``R' = exp([dtheta]_x) R``, ``c' = c + dc`` and the covariance model.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any, Optional

import numpy as np

from ..blas_threads import single_blas_thread
from ..config.params import validate_param
from ..errors import ConfigError, InputError
from ..geometry import invert_pose, undistort_pixels
from ..types import CameraIntrinsics, check_point_rows
from .covariance import UncertaintyModel, _covariance_f, pose_covariance
from .linearise import _checked_point_extras, _Rows
from .model_selection import model_selection_cov, needs_draws, with_model_selection
from .ransac import RANSAC_MAX_POINTS, _ransac_opencv, _ransac_poselib, resolve_backend
from .refine import MIN_POINTS, _refine_inliers

log = logging.getLogger(__name__)
_WARNED: set = set()  # backend exception messages already logged at WARNING

# poselib takes a uint64 seed; OpenCV's USAC takes none (`_ransac_opencv`)
SEED_LIMIT = 2 ** 64
# `_separated_places` passes over at most twice this many inliers' pixels (a few us each)
_PLACES_SAMPLE = 256
# `_greedy_places_prefix` counts on the first this many of them first (one 64 x 64 matrix)
_PLACES_PREFIX = 64


def check_seed(seed: Any, name: str, error: type = ConfigError) -> int:
    """``seed`` as a Python int when it is an integer (numpy integers too; not a bool) with
    0 <= seed < 2**64, the range every RANSAC backend takes; raises ``error`` (`ConfigError`)
    naming ``name`` and the value otherwise."""
    if (isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_))
            and 0 <= int(seed) < SEED_LIMIT):
        return int(seed)
    raise error(f"{name} must be an integer 0 <= seed < 2**64 (it seeds the random subsets "
                f"and PnP-RANSAC), got {seed!r} ({type(seed).__name__}); pass e.g. 0")


@dataclasses.dataclass
class PnPResult:
    """Outcome of `solve_pnp`. ``map_from_cam`` is None when ``success`` is False.

    ``inliers`` (N,) bool over the input correspondences; ``reproj_rms_px`` over the inliers in
    undistorted query pixels; ``covariance`` 6x6 as documented in this module;
    ``points2d_undistorted`` (N, 2) float64 the query pixels with the camera's distortion removed
    (None before they were computed), for checks of the pose that need them again.
    """

    success: bool
    map_from_cam: Optional[np.ndarray]
    inliers: np.ndarray
    reproj_rms_px: float = float("nan")
    covariance: Optional[np.ndarray] = None
    reason: str = ""
    points2d_undistorted: Optional[np.ndarray] = None

    @property
    def num_inliers(self) -> int:
        """Number of inlier correspondences (True entries of ``inliers``)."""
        return int(np.count_nonzero(self.inliers))


_VALID: set = set()  # (name, type, value, check_max) `_validate_once` has seen pass
_MAX_VALID = 64  # kept (then started over): a run passes one or a few configurations


def _validate_once(name: str, value: Any, where: str, check_max: bool = True) -> None:
    """`validate_param` of ``value`` the first time it is seen (by its type and value: True is
    not 1, nor 1.0): a configuration passed once passes again, and solve_pnp ran the same check
    on every call (twice a frame). An unhashable value, or one that fails, is checked each time
    (the error raised each time)."""
    try:
        seen = (name, type(value), value, check_max)
        if seen in _VALID:
            return
    except TypeError:  # unhashable: checked (and refused) every time
        seen = None
    validate_param(name, value, where, check_max=check_max)
    if seen is not None:
        if len(_VALID) >= _MAX_VALID:
            _VALID.clear()
        _VALID.add(seen)


def solve_pnp(X: np.ndarray, x: np.ndarray, intrinsics: CameraIntrinsics, *,
              backend: str = "auto", reproj_error_px: float = 5.0, max_iterations: int = 1000,
              confidence: float = 0.9999, refine: bool = True, seed: int = 0,
              ransac_max_points: int = RANSAC_MAX_POINTS,
              points_cov: Optional[np.ndarray] = None, groups: Optional[np.ndarray] = None,
              group_centres: Optional[np.ndarray] = None,
              uncertainty: UncertaintyModel = UncertaintyModel(),
              x_undistorted: Optional[np.ndarray] = None) -> PnPResult:
    """Robust metric pose of a camera from map points and their pixels.

    ``X`` (N, 3) map-frame points in metres, ``x`` (N, 2) query pixels as captured (distortion is
    removed first when the intrinsics have any). RANSAC hypothesises and scores on a random
    subset of at most ``ransac_max_points`` correspondences (drawn with ``seed``; 0 = all;
    the seed also seeds poselib's RANSAC, while OpenCV's USAC keeps a fixed generator of its
    own: with that backend the same input gives the same pose whatever the seed);
    the inliers are then re-scored, the pose refined and the covariance computed on *all*
    correspondences, so the subset only bounds the cost of the search (a few hundred points
    already hold enough inliers to find the pose at any outlier rate RANSAC can handle).
    ``points_cov``, ``groups``, ``group_centres`` and ``uncertainty`` only shape the
    covariance (`pose_covariance`; with ``uncertainty.model_selection_draws`` > 0 also RANSAC
    re-run on resampled matches when the inliers span a narrow depth band, `model_selection`),
    never the pose. Returns a `PnPResult`;
    a failure (too few points, degenerate geometry, solver failure) is a result with
    ``success=False`` and a reason. ``reproj_error_px`` (the inlier threshold) and the
    result's ``reproj_rms_px`` are in undistorted pixels; ``confidence`` is RANSAC's success
    probability, in (0, 1).
    ``x_undistorted`` (N, 2), optional: ``x`` already undistorted, bit for bit as
    `undistort_pixels` gives them (the MASt3R matcher's per-camera table,
    `core.grid_undistort`); used instead of undistorting ``x`` again.

    ``X`` and ``x`` may also come in OpenCV's (N, 1, 3) / (N, 1, 2) layouts (`check_point_rows`).
    Raises `InputError` for ``X`` not (N, 3) or ``x`` not (N, 2) (never reshaped), lengths
    that differ, ``intrinsics`` not a `CameraIntrinsics`, ``points_cov`` not (N, 3, 3),
    ``groups`` not (N,) integers indexing the (G, 3) ``group_centres``; `ConfigError` for
    ``reproj_error_px`` <= 0, ``confidence`` outside (0, 1), ``max_iterations`` < 1,
    ``ransac_max_points`` not an int that is 0 or >= 4 (1 to 3 fail most frames: P3P needs 3
    and a 4th to pick among its poses; the rule of ``pnp.ransac_max_points``), ``seed`` not an
    integer 0 <= seed < 2**64 (`check_seed`), ``uncertainty.model_selection_draws`` not an int
    in [0, 256], an unknown backend or 'poselib' not installed
    (`resolve_backend`); ``ImportError`` (no OpenCV) from undistorting the pixels of a
    distorted camera. An exception from the RANSAC backend
    itself (not expected: degenerate input gives no pose, not an exception) fails the frame
    with the exception in the reason, logged at WARNING (once per distinct message).
    """
    X = np.ascontiguousarray(check_point_rows(X, 3, "solve_pnp: X (map points)"))
    x = check_point_rows(x, 2, "solve_pnp: x (query pixels)")
    if len(X) != len(x):
        raise InputError(f"solve_pnp: {len(X)} 3-D points but {len(x)} 2-D points")
    if x_undistorted is not None:
        x_undistorted = check_point_rows(x_undistorted, 2, "solve_pnp: x_undistorted")
        if len(x_undistorted) != len(x):
            raise InputError(f"solve_pnp: {len(x)} query pixels but {len(x_undistorted)} "
                             "undistorted ones (x_undistorted)")
    _check_solver_args(len(X), intrinsics, reproj_error_px, confidence, max_iterations,
                       ransac_max_points, points_cov, groups, group_centres)
    seed = check_seed(seed, "solve_pnp: seed")
    # covariance.model_selection_draws' rule (an int in [0, 256]), as the config checks it: a
    # float was truncated, a bool taken as 1 draw, 10**6 draws hung the frame
    _validate_once("covariance.model_selection_draws",
                   getattr(uncertainty, "model_selection_draws", 0), "solve_pnp: uncertainty")
    n = len(X)
    inliers = np.zeros(n, dtype=bool)
    if np.isfinite(X).all() and np.isfinite(x).all():  # the common case, 20x cheaper
        finite = np.ones(n, dtype=bool)
    else:
        finite = np.isfinite(X).all(axis=1) & np.isfinite(x).all(axis=1)
    name = resolve_backend(backend)
    n_fin = int(np.count_nonzero(finite))
    if n_fin < MIN_POINTS:
        return PnPResult(False, None, inliers,
                         reason=f"too few correspondences ({n_fin} < {MIN_POINTS})")
    K = intrinsics.K
    xu = (undistort_pixels(x, K, intrinsics.dist, intrinsics.distortion_model)
          if x_undistorted is None else x_undistorted)
    sel = np.flatnonzero(finite) if n_fin < n else None
    if 0 < ransac_max_points < n_fin:
        pick = _ransac_subset(seed, n_fin, int(ransac_max_points))
        sel = pick if sel is None else sel[pick]
    Xf = X if sel is None else X[sel]
    xf = np.ascontiguousarray(xu if sel is None else xu[sel])
    try:
        if name == "poselib":
            size = (intrinsics.width, intrinsics.height)
            cam_from_map = _ransac_poselib(Xf, xf, K, size, reproj_error_px, max_iterations,
                                           confidence, seed)
        else:
            cam_from_map = _ransac_opencv(Xf, xf, K, reproj_error_px, max_iterations,
                                          confidence, seed)
    except Exception as e:  # a backend error (a bug, a changed API): fail the frame, not the node
        why = f"PnP solver {name} raised {type(e).__name__}: {e}"
        if why not in _WARNED and len(_WARNED) < 100:  # once per message (a broken backend
            _WARNED.add(why)  # fails every frame), and a bounded set of messages
            log.warning("%s (the frame fails; further occurrences are logged at DEBUG)", why)
        else:
            log.debug("%s", why)
        return PnPResult(False, None, inliers, reason=why)
    if cam_from_map is None or not np.isfinite(cam_from_map).all():
        return PnPResult(False, None, inliers, reason="PnP-RANSAC found no pose")
    cov_in = (points_cov, groups, group_centres, uncertainty)
    with single_blas_thread():  # BLAS's threads spin on a loaded CPU (blas_threads)
        res = _finish(cam_from_map, X, xu, finite, K, reproj_error_px, refine, cov_in)
        draws = int(uncertainty.model_selection_draws)  # checked with the other arguments
        if res.success and draws > 0 and needs_draws(  # RANSAC's choice (`model_selection`)
                res.map_from_cam, X[res.inliers], uncertainty.model_selection_depth_band):
            fin = slice(None) if n_fin == n else finite
            spread = model_selection_cov(
                res.map_from_cam, X[fin], xu[fin], K, (intrinsics.width, intrinsics.height),
                backend=name, reproj_error_px=reproj_error_px, max_iterations=max_iterations,
                confidence=confidence, draws=draws, seed=seed,
                max_points=int(ransac_max_points))
            data = _data_cov(res, X, xu, K, points_cov, uncertainty)
            if spread is not None and data is not None:
                res.covariance = with_model_selection(res.covariance, data, spread)
    res.points2d_undistorted = xu
    return res


def _data_cov(res: PnPResult, X, xu, K, points_cov, model: UncertaintyModel):
    """The first-order covariance of ``res``'s inliers without the keyframe-pose and
    view-angle terms (the part `model_selection.with_model_selection` compares with the
    draws' spread); None when singular."""
    i = np.flatnonzero(res.inliers)
    S = None if points_cov is None else np.reshape(points_cov, (len(X), 3, 3))[i]
    data_model = dataclasses.replace(model, map_pose_sigma_m=0.0, map_pose_sigma_rad=0.0,
                                     view_angle_sigma_ratio=0.0)
    return pose_covariance(res.map_from_cam, X[i], xu[i], K, points_cov=S, model=data_model)


@functools.lru_cache(maxsize=16)
def _ransac_subset(seed: int, n: int, size: int) -> np.ndarray:
    """The sorted ``size`` of ``range(n)`` that ``np.random.default_rng(seed)`` draws without
    replacement: RANSAC's subset. A localizer draws with one seed every frame, and a matcher
    capped at ``max_matches`` hands over the same count frame after frame, so the last 16
    draws are kept (the draw costs 30-50 us at 5000 matches, a look-up under 1 us); the
    indices are those a fresh draw gives, read-only."""
    pick = np.sort(np.random.default_rng(seed).choice(n, size, replace=False))
    pick.flags.writeable = False
    return pick


def _check_solver_args(n: int, intrinsics: Any, thr: float, confidence: float, iters: int,
                       max_points: int, points_cov: Any, groups: Any, centres: Any) -> None:
    """`solve_pnp`'s argument checks (its docstring's Raises)."""
    if not isinstance(intrinsics, CameraIntrinsics):
        raise InputError(f"solve_pnp: intrinsics must be a CameraIntrinsics(width, height, K, "
                         f"dist), got {type(intrinsics).__name__}")
    def whole(v: Any, lo: int) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo

    for name, ok in (("reproj_error_px > 0", thr > 0 and np.isfinite(thr)),
                     ("0 < confidence < 1", 0 < confidence < 1),
                     ("max_iterations an int >= 1", whole(iters, 1))):
        if not ok:
            raise ConfigError(f"solve_pnp: needs {name}, got reproj_error_px={thr}, "
                              f"confidence={confidence}, max_iterations={iters}")
    # the rule pnp.ransac_max_points declares (`PnPConfig`: an int, 0 = all or >= 4), as a
    # Localizer made in Python checks it (`check_config_section`: no maximum)
    _validate_once("pnp.ransac_max_points", max_points, "solve_pnp", check_max=False)
    _checked_point_extras("solve_pnp", n, points_cov, groups, centres)

def _finish(cam_from_map, X, xu, finite, K, thr, refine, cov_in) -> PnPResult:
    map_from_cam = invert_pose(cam_from_map)
    Xt, xt = np.ascontiguousarray(X.T), np.ascontiguousarray(xu.T)
    rows = _Rows(Xt, xt, K, finite, thr)
    if refine:
        map_from_cam, inl, _, ev, Fr = _refine_inliers(map_from_cam, rows)
    else:
        ev, Fr = rows.evaluate(map_from_cam), None
        inl, _ = rows.inliers(ev)
    n_in = int(np.count_nonzero(inl))
    if n_in < MIN_POINTS:
        return PnPResult(False, None, inl, reason=f"too few PnP inliers ({n_in})")
    places = _separated_places(xu, inl, 2.0 * thr)
    if places < MIN_POINTS:  # a few repeated or clustered points fit a wrong pose (P3P)
        return PnPResult(False, None, inl, reason=f"too few PnP inliers ({n_in} at only "
                         f"{places} places over {2.0 * thr:g} px apart in the image)")
    # the refinement's last linearisation, its normal matrix included, when it was at this pose
    F, r, H = (*rows.jacobian_rows(ev, inl), None) if Fr is None else Fr
    rms = float(np.sqrt(np.vdot(r, r) / n_in))
    points_cov, groups, centres, model = cov_in
    idx = np.flatnonzero(inl)  # gathers by index: 5x faster than boolean rows of (N, 3, 3)
    if points_cov is not None:
        points_cov = np.take(np.reshape(points_cov, (len(inl), 9)), idx, axis=0, mode="clip")
    if groups is not None:
        groups = np.take(np.asarray(groups), idx, mode="clip")
    cov = _covariance_f(map_from_cam, rows, F, r, points_cov, groups, centres, model, H)
    if cov is None:
        return PnPResult(False, None, inl, rms,
                         reason="degenerate geometry: pose covariance is singular")
    return PnPResult(True, map_from_cam, inl, rms, cov)


def _separated_places(xu: np.ndarray, inl: np.ndarray, sep: float) -> int:
    """How many of the inliers' undistorted pixels ``xu[inl]`` lie over ``sep`` pixels apart,
    counted greedily up to `MIN_POINTS` (`_finish`; at most that many passes over them). With
    ``sep`` twice the inlier threshold each cluster of map points whose projections fall
    together (one point repeated, or points a micrometre apart) counts once, however many
    inliers it holds: three such clusters fit a wrong pose as exactly as three points do (P3P),
    one fits the camera a centimetre in front of it, each with a millimetre covariance. Counted
    on every k-th inlier, under 2 x `_PLACES_SAMPLE` of them (a frame's matches spread over the
    image hold six among a few hundred); a sample holds no more places than the whole, and may
    miss some, so too few there are counted again on every inlier."""
    idx = np.flatnonzero(inl)
    step = max(1, len(idx) // _PLACES_SAMPLE)
    sample = xu[idx[::step]]
    count = _greedy_places_prefix(sample, sep)
    if count < MIN_POINTS:
        count = _greedy_places(sample, sep)
    if count < MIN_POINTS and step > 1:  # only a refusal pays for the full count
        count = _greedy_places(xu[idx], sep)
    return count


def _greedy_places(p: np.ndarray, sep: float) -> int:
    """`_separated_places` of the pixels ``p`` (N, 2), all of them."""
    count = 0
    while len(p) and count < MIN_POINTS:
        count += 1
        d = p - p[0]
        p = p[np.einsum("ij,ij->i", d, d) > sep * sep]
    return count


def _greedy_places_prefix(p: np.ndarray, sep: float) -> int:
    """`_greedy_places` of the first `_PLACES_PREFIX` pixels of ``p`` (N, 2), from one matrix
    of their squared distances (~5x cheaper than its passes over the shrinking set). Each place
    the greedy count takes is the first pixel over ``sep`` from all places before it, so when
    the prefix holds `MIN_POINTS` places they are the first ones `_greedy_places` takes on all
    of ``p``: a count of `MIN_POINTS` here is that count; a lower one decides nothing."""
    q = p[:_PLACES_PREFIX]
    dx = q[:, 0, None] - q[None, :, 0]
    dy = q[:, 1, None] - q[None, :, 1]
    dx *= dx
    dy *= dy
    dx += dy
    far = dx > sep * sep
    alive = np.ones(len(q), dtype=bool)
    count = 0
    while count < MIN_POINTS and alive.any():
        count += 1
        alive &= far[int(np.argmax(alive))]
    return count
