"""Depth registration (`core.depth_register`): a depth camera's own depth image, rendered of a
synthetic scene from a camera 15 mm from the colour camera with another K and size, becomes the
colour camera's depth (ray-cast of the same scene) on the pixels it covers; where two surfaces
land on one colour pixel the nearer wins; colour pixels the depth camera cannot see stay 0."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.depth_register import DepthRegistration, register_depth
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.types import CameraIntrinsics

DEPTH_CAM = CameraIntrinsics(width=64, height=48,
                             K=np.array([[40.0, 0, 31.7], [0, 40.5, 23.9], [0, 0, 1]]))
COLOUR_CAM = CameraIntrinsics(width=80, height=60,
                              K=np.array([[70.0, 0, 40.3], [0, 69.0, 29.6], [0, 0, 1]]))
DIST = np.array([0.08, -0.04, 0.001, -0.0015, 0.01])


def _colour_from_depth(offset_m=0.015):
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", [0.3, -0.4, 0.2], degrees=True).as_matrix()
    T[:3, 3] = [-offset_m, 0.001, 0.0005]
    return T


def _rays(cam):
    """(h, w, 3) undistorted ray directions (z = 1) of ``cam``'s pixel centres."""
    ys, xs = np.mgrid[0:cam.height, 0:cam.width].astype(np.float64)
    px = np.stack([xs.ravel(), ys.ravel()], 1).reshape(-1, 1, 2)
    dist = cam.dist if cam.dist.size else np.zeros(5)
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)
    if hasattr(cv2, "undistortPointsIter"):  # OpenCV 4
        n = cv2.undistortPointsIter(px, cam.K, dist, None, None, crit)
    else:
        n = cv2.undistortPoints(px, cam.K, dist, R=None, P=None, criteria=crit)
    n = n.reshape(-1, 2)
    return np.concatenate([n, np.ones((len(n), 1))], 1).reshape(cam.height, cam.width, 3)


def _cast(origin, dirs, box):
    """Distance along ``dirs`` (z = 1 in the camera's frame, given in the colour frame) from
    ``origin`` (colour frame) to the scene: a slanted plane z = 1.2 + 0.2 x (colour frame), and
    with ``box`` a square patch z = 0.5, |x|, |y| < 0.06 in front of it."""
    o = np.asarray(origin)
    t_plane = (1.2 + 0.2 * o[0] - o[2]) / (dirs[..., 2] - 0.2 * dirs[..., 0])
    if not box:
        return t_plane
    t_box = (0.5 - o[2]) / dirs[..., 2]
    hit = o[:2] + t_box[..., None] * dirs[..., :2]
    on_box = (np.abs(hit) < 0.06).all(-1) & (t_box > 0)
    return np.where(on_box & (t_box < t_plane), t_box, t_plane)


def _scene(depth_cam, colour_cam, T, box):
    """(depth camera's depth image, the colour camera's true depth), metres."""
    dirs = _rays(depth_cam) @ T[:3, :3].T  # z = 1 in the depth frame, in the colour frame
    depth = _cast(T[:3, 3], dirs, box)  # t along a z = 1 depth ray: the depth-frame z
    return depth.astype(np.float32), _cast(np.zeros(3), _rays(colour_cam), box)


@pytest.mark.parametrize("distorted", [None, 5, 8])
def test_a_plane_registers_to_the_colour_cameras_depth(distorted):
    depth_cam, colour_cam = DEPTH_CAM, COLOUR_CAM
    if distorted:  # both cameras distorted: plumb_bob, rational_polynomial
        dist = np.concatenate([DIST, [0.02, -0.01, 0.005]])[:distorted]
        depth_cam = CameraIntrinsics(width=64, height=48, K=DEPTH_CAM.K, dist=dist)
        colour_cam = CameraIntrinsics(width=80, height=60, K=COLOUR_CAM.K, dist=-dist)
    T = _colour_from_depth()
    depth, truth = _scene(depth_cam, colour_cam, T, box=False)
    out = register_depth(depth, depth_cam, colour_cam, T)
    assert out.shape == (60, 80) and out.dtype == np.float32
    covered = out > 0
    assert covered.mean() > 0.97  # the depth camera sees wider: holes only at the border
    np.testing.assert_allclose(out[covered], truth[covered], rtol=0.01)
    # reading it pixel for pixel (resampled) instead is far off: the test can tell
    centres = register_depth(depth, depth_cam, colour_cam, T, footprint=False)
    assert 0.3 < (centres > 0).mean() < 0.8  # a finer colour image: one pixel per depth pixel
    np.testing.assert_allclose(centres[centres > 0], truth[centres > 0], rtol=0.01)


def test_a_box_before_a_plane_registers_away_from_its_edges():
    T = _colour_from_depth()
    depth, truth = _scene(DEPTH_CAM, COLOUR_CAM, T, box=True)
    out = DepthRegistration(DEPTH_CAM, COLOUR_CAM, T)(depth)
    on_box = (truth == truth.min()).astype(np.uint8)
    edge = cv2.dilate(on_box, np.ones((5, 5))) != cv2.erode(on_box, np.ones((5, 5)))
    inner = (out > 0) & ~edge
    assert inner.sum() > 0.9 * (~edge).sum()
    np.testing.assert_allclose(out[inner], truth[inner], rtol=0.01)


def test_the_nearer_surface_wins_and_the_shadow_stays_empty():
    """A 10 cm baseline: the plane beside the box that only the depth camera sees lands on the
    box in the colour image (the z-buffer keeps the box), and the plane behind the box's other
    side that only the colour camera sees has no depth (0), not the box's nor the plane's."""
    T = _colour_from_depth(offset_m=0.1)
    depth, truth = _scene(DEPTH_CAM, COLOUR_CAM, T, box=True)
    out = register_depth(depth, DEPTH_CAM, COLOUR_CAM, T)
    on_box = (truth == truth.min()).astype(np.uint8)
    inner = cv2.erode(on_box, np.ones((3, 3))).astype(bool)
    np.testing.assert_allclose(out[inner], truth[inner], rtol=0.01)
    # the shadow: colour pixels of the plane whose point the box hides from the depth camera
    ys, xs = np.mgrid[0:60, 0:80]
    points = _rays(COLOUR_CAM) * truth[..., None]  # colour frame
    depth_frame = (points - T[:3, 3]) @ T[:3, :3]  # R^T (p - t)
    dirs = depth_frame / depth_frame[..., 2:]
    seen = np.isclose(_cast(T[:3, 3], dirs @ T[:3, :3].T, box=True), depth_frame[..., 2],
                      rtol=1e-6)
    shadow = ~seen & ~cv2.dilate(on_box, np.ones((3, 3))).astype(bool)
    assert shadow.sum() >= 20
    assert (out[cv2.erode(shadow.astype(np.uint8), np.ones((3, 3))).astype(bool)] == 0).all()


@pytest.mark.parametrize("model, dist", [
    ("plumb_bob", DIST), ("rational_polynomial", [*DIST, 0.02, -0.01, 0.005]),
    ("rational_polynomial", [*DIST, 0.02, -0.01, 0.005, 1e-3, 0, 0, 2e-3]),
    ("equidistant", [0.05, -0.01, 0.002, 0.0])])
def test_the_colour_projection_is_opencvs(model, dist):
    """The Brown-Conrady formula written out (plumb_bob, 8-coefficient rational) gives what
    cv2.projectPoints gives; 12 coefficients and equidistant go through OpenCV itself."""
    from mast3r_ros.core.depth_register import _project

    cam = CameraIntrinsics(width=80, height=60, K=COLOUR_CAM.K, dist=np.array(dist),
                           distortion_model=model)
    pts = np.random.default_rng(0).uniform([-0.5, -0.4, 0.5], [0.5, 0.4, 3.0], (200, 3))
    fn = cv2.fisheye.projectPoints if model == "equidistant" else cv2.projectPoints
    want, _ = fn(pts.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), cam.K, cam.dist)
    got = np.stack(_project(cam, *pts.T), 1)
    np.testing.assert_allclose(got, want.reshape(-1, 2), atol=1e-9)


def test_nearest_depth_wins_whatever_the_order():
    """Two depth pixels of one column landing on one colour pixel (a colour camera 4 times
    coarser): the smaller colour-frame depth is kept, first or last."""
    depth_cam = CameraIntrinsics(width=4, height=1, K=np.array([[4.0, 0, 1.5], [0, 4, 0],
                                                                [0, 0, 1]]))
    colour_cam = CameraIntrinsics(width=1, height=1, K=np.array([[1.0, 0, 0], [0, 1, 0],
                                                                 [0, 0, 1]]))
    for depth in ([[1.0, 2.0, 3.0, 0.0]], [[3.0, np.nan, 2.0, 1.5]]):
        out = register_depth(np.array(depth, np.float32), depth_cam, colour_cam, np.eye(4),
                             footprint=False)
        assert out.shape == (1, 1) and out[0, 0] == np.float32(np.nanmin(
            np.where(np.array(depth) > 0, depth, np.nan)))


def test_no_depth_and_bad_input():
    T = _colour_from_depth()
    assert not register_depth(np.zeros((48, 64), np.float32), DEPTH_CAM, COLOUR_CAM, T).any()
    with pytest.raises(InputError, match="depth image is 32x48 but its CameraInfo is for 64x48"):
        register_depth(np.ones((48, 32)), DEPTH_CAM, COLOUR_CAM, T)
    scaled = T.copy()
    scaled[:3, :3] *= 1.1
    with pytest.raises(InputError, match="colour_from_depth must be a rigid transform: "
                                         "rotation block not orthonormal"):
        DepthRegistration(DEPTH_CAM, COLOUR_CAM, scaled)
    with pytest.raises(InputError, match="colour_from_depth must be a finite 4x4"):
        DepthRegistration(DEPTH_CAM, COLOUR_CAM, np.eye(3))


def test_points_grazing_the_colour_cameras_plane_are_dropped_quietly():
    """Depth at the colour camera's plane lands nowhere, without a numpy warning: colour z
    1e-6, behind it, or 2 mm before it with a pixel corner behind it (its footprint would be
    mirrored); a point 1.5 m before it fills its footprint (4/3 colour pixels a side)."""
    cam = CameraIntrinsics(width=8, height=6, K=np.array([[4.0, 0, 3.5], [0, 4, 2.5],
                                                          [0, 0, 1]]))
    T = np.eye(4)
    T[2, 3] = -0.5  # the colour camera 0.5 m ahead of the depth camera
    depth = np.full((6, 8), 0.5, np.float32)
    depth[0, 0], depth[1, 1], depth[2, 2] = 0.500001, 0.49, 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = register_depth(depth, cam, cam, T)
    want = np.zeros((6, 8), np.float32)
    want[2, 1:3] = 1.5  # centre (1.5, 1.83): columns 0.83..2.17, rows 1.17..2.5
    np.testing.assert_array_equal(out, want)
    T[:3, :3] = Rotation.from_euler("y", 20, degrees=True).as_matrix()
    depth = np.zeros((6, 8), np.float32)
    depth[2, 3] = 0.51097  # centre 2 mm before the colour camera, its left corners behind
    assert not register_depth(depth, cam, cam, T).any()


@pytest.mark.parametrize("f, k1", [(40.0, 0.6), (60.0, -0.1)])  # 90 and 67 deg wide
@pytest.mark.parametrize("footprint", [True, False])
def test_a_strongly_distorted_camera_registers_to_itself_to_its_borders(f, k1, footprint):
    """A depth image given in the colour camera's own frame and calibration (depth already
    aligned, registered again) comes back pixel for pixel, its border rows and columns
    included, under strong pincushion (k1 > 0: the edges' middles lie farthest out once
    undistorted) or barrel distortion (k1 < 0: the corners do): the field of view a distorted
    projection is trusted in covers every pixel of the image, none of its edges cut."""
    cam = CameraIntrinsics(width=80, height=60, K=np.array([[f, 0, 39.5], [0, f, 29.5],
                                                            [0, 0, 1]]),
                           dist=np.array([k1, 0.0, 0.0, 0.0, 0.0]))
    depth = np.random.default_rng(3).uniform(0.5, 3.0, (60, 80)).astype(np.float32)
    out = register_depth(depth, cam, cam, np.eye(4), footprint=footprint)
    np.testing.assert_allclose(out, depth, rtol=1e-6)


@pytest.mark.parametrize("dtype", [bool, "U4", object])
def test_depth_that_is_no_numbers_is_refused_naming_its_dtype(dtype):
    """A mask or strings passed as depth is refused (a boolean mask was registered as 1 m)."""
    depth = np.ones((48, 64), dtype)
    with pytest.raises(InputError, match="depth image must hold numbers \\(metres\\), got "
                                         f"dtype {np.dtype(dtype)}"):
        register_depth(depth, DEPTH_CAM, COLOUR_CAM, np.eye(4))


def test_points_far_outside_a_distorted_colour_view_do_not_fold_into_it():
    """A depth camera turned 80 deg away from a barrel-distorted colour camera (k1 -0.1, 67
    deg wide) sees nothing the colour camera sees (its view starts 41 deg off the colour
    axis); its points about 3 focal lengths off the axis, where the distortion polynomial
    turns back to 0, would be drawn inside the image. They stay out: the registered depth is
    empty."""
    colour = CameraIntrinsics(width=80, height=60, K=np.array([[60.0, 0, 39.5],
                                                               [0, 60.0, 29.5], [0, 0, 1]]),
                              dist=np.array([-0.1, 0.0, 0.0, 0.0, 0.0]))
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("y", 80, degrees=True).as_matrix()
    depth = np.full((48, 64), 2.0, np.float32)
    for footprint in (True, False):
        out = register_depth(depth, DEPTH_CAM, colour, T, footprint=footprint)
        assert not out.any(), np.argwhere(out)[:5]


def test_a_finer_depth_camera_gives_each_colour_pixel_the_depth_covering_its_centre():
    """Depth at twice the colour camera's resolution, same view (offset 0.2 depth px): each
    colour pixel's centre lies in one depth pixel, (2i + 1, 2j + 1), whose depth it takes --
    not the nearest of its neighbours, whose footprints cover no colour pixel centre."""
    colour = CameraIntrinsics(width=8, height=6, K=np.array([[10.0, 0, 3.5], [0, 10.0, 2.5],
                                                             [0, 0, 1]]))
    # colour pixel x -> depth pixel 2x + 0.5 + 0.2 (the depth centre's grid is 2x finer)
    depth_cam = CameraIntrinsics(width=16, height=12, K=np.array([[20.0, 0, 7.7],
                                                                  [0, 20.0, 5.7], [0, 0, 1]]))
    depth = np.random.default_rng(5).uniform(0.5, 3.0, (12, 16)).astype(np.float32)
    out = register_depth(depth, depth_cam, colour, np.eye(4))
    np.testing.assert_allclose(out, depth[1::2, 1::2], rtol=1e-6)
