"""The joint distortion fit (`pnp.distortion.refitted_distortion` with ``keyframes``) on a map
whose depth is not registered to its colour images.

Field trial: the redkitchen frames (7-Scenes: a Kinect v1, depth from its 585 px depth camera,
colour from its ~531 px colour camera, check-map's note "the colour images fit x0.908 the given
fx") resized to 160x120, right camera, D zero: with the map's points bent through their
keyframes the frames fit k1 -0.188 +- 0.016, a false "distorted" (-0.022 at 640x480). The
resize was not it: the synthetic room (registered depth) fits k1 0.000 +- 0.018 at 640x480 and
after every resize path (bench/bench_distortion_resize.py); rendered with colour at fx 531 and
depth at fx 585 it fits -0.165 a frame (median) at 160x120. The points were placed along rays
of the depth camera's focal length, a lateral scale the fit could only bend with k1. After: the
fit also scales the map's rays about their keyframe's axis (one more parameter), and the
redkitchen 160x120 run fits -0.061 +- 0.016 (silent); the double undistortion it is there for
still fits +0.191 +- 0.016 (was +0.172 +- 0.027)."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.geometry import invert_pose
from mast3r_ros.core.pnp.distortion import refitted_distortion


def _so3(w):
    w = np.asarray(w, np.float64)
    t = np.linalg.norm(w)
    k = w / t
    Kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(t) * Kx + (1 - np.cos(t)) * Kx @ Kx


def _misregistered(fx, w, h, k1=0.0, seed=0, n=300, ratio=531.0 / 585.0, noise=0.0):
    """A keyframe at the map origin seeing points through a colour camera of focal ``ratio``
    fx (and a radial ``k1``), lifted with fx and their true depth (depth not registered to
    colour); a query 0.3 m aside seeing them through the same colour camera."""
    rng = np.random.default_rng(seed)
    K = np.array([[fx, 0, (w - 1) / 2], [0, fx, (h - 1) / 2], [0, 0, 1]])
    fc = fx * ratio

    def project(m):
        return m * (1 + k1 * np.sum(m * m, axis=1, keepdims=True)) * fc + K[:2, 2]

    m = np.c_[rng.uniform(-0.5, 0.5, n), rng.uniform(-0.38, 0.38, n)]
    z = rng.uniform(1.5, 4.0, n)
    P = np.c_[m * z[:, None], z]                        # true points (keyframe = map frame)
    u = project(m)                                      # the keyframe's colour pixels
    X = np.c_[(u - K[:2, 2]) / fx * z[:, None], z]      # lifted with the given fx
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = _so3([0.02, -0.08, 0.01]), [0.3, 0.05, 0.1]
    cfm = invert_pose(T)
    Pc = P @ cfm[:3, :3].T + cfm[:3, 3]
    xq = project(Pc[:, :2] / Pc[:, 2:]) + rng.normal(0, noise, (n, 2))
    return refitted_distortion(T, X, xq, np.ones(n, bool), K, 5.0,
                               keyframes=(np.eye(4)[None], np.zeros(n, int)))


@pytest.mark.parametrize("fx,w,h", [(146.25, 160, 120), (585.0, 640, 480)])
def test_depth_not_registered_to_colour_fits_no_distortion(fx, w, h):
    k1, sigma, _ = _misregistered(fx, w, h)
    assert abs(k1) < 0.005, k1        # before: -0.066 at 160x120, -0.06 at 640x480


def test_depth_not_registered_to_colour_still_shows_a_real_distortion():
    # the map bent alike and its focal scale free: the distortion is still named, clearly
    # beyond the gate's band (k1 0.12) at 4 sigma (the k1 is the given camera's coordinates',
    # about k1 / 0.908^2, traded in part with the scale)
    for k1_true in (-0.25, 0.3):
        k1, sigma, _ = _misregistered(146.25, 160, 120, k1=k1_true, noise=0.3)
        assert k1 * k1_true > 0 and abs(k1) - 4 * sigma > 0.12, (k1_true, k1, sigma)
