"""Depth from a dataset's second, calibrated camera (``--stereo-depth``), by OpenCV's semi-global
block matching (`cv2.StereoSGBM`): KITTI odometry's rectified pairs (image_0 + image_1, image_2
+ image_3) and EuRoC/ASL's cam0 + cam1 (rectified first with `cv2.stereoRectify` and
`cv2.initUndistortRectifyMap` from the two sensor.yaml calibrations and T_BS).

The depth is always on the pixel grid of the camera the frames come from (the left one, its own
image as read, distortion and all): ``depth[v, u]`` is the z (metres, in that camera's optical
frame) of the point seen at pixel (u, v). KITTI's images are rectified already: depth =
fx * B / disparity on the left image's own grid. EuRoC's are not: the disparity is found on the
rectified pair, its depth (z in the rectified left frame) is sampled (nearest pixel) where each
pixel of cam0's original image lands in the rectified image (`cv2.undistortPoints` with the
rectification's R1, P1) and turned into z in cam0's frame through R1; pixels whose rectified
position falls outside the rectified image get none. That costs one remap a frame beyond the
SGBM (maps computed once). Before SGBM, whose cost compares grey levels, the right image's
levels are mapped to the left one's histogram (`match_exposure`): the two cameras may expose
each on their own (EuRoC's do).

No depth is 0 (as a TUM depth PNG's 0): pixels SGBM finds no unique, left-right consistent
disparity for (texture-less areas, occlusions, the left border of ``NUM_DISPARITIES`` columns
where the right image holds no match), and points nearer than fx * B / ``NUM_DISPARITIES``
(KITTI: ~3 m; EuRoC: ~0.4 m). Stereo depth is noisy where the disparity is small: its error
grows with the square of the distance (a 1/4-pixel disparity error is ~1% at 20 px).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Tuple

import cv2
import numpy as np

from ..core.errors import InputError
from ..core.image_codec import BayerWatch, read_image_file
from ..core.types import CameraIntrinsics

log = logging.getLogger(__name__)

# the advice to go without stereo depth, with what that takes (the sift matcher, whose points
# are the keyframes' depth, then refused the build asking for --stereo-depth)
WITHOUT_STEREO = ("leave --stereo-depth out and build with --matcher mast3r (its 3-D points come "
                  "from the network; the sift matcher needs this depth)")
NUM_DISPARITIES = 128  # SGBM's search range in pixels (a multiple of 16)
BLOCK_SIZE = 5  # SGBM's matched block (odd)


def sgbm_disparity(left: np.ndarray, right: np.ndarray,
                   num_disparities: int = NUM_DISPARITIES) -> np.ndarray:
    """The disparity of rectified grey images ``left``, ``right`` ((H, W) uint8, the right
    camera beside the left one along +x) -> (H, W) float32 pixels (left x minus right x), <= 0
    where SGBM finds none (`cv2.StereoSGBM`, 1/16-pixel steps, left-right check and speckle
    filter on)."""
    matcher = cv2.StereoSGBM_create(
        minDisparity=0, numDisparities=num_disparities, blockSize=BLOCK_SIZE,
        P1=8 * BLOCK_SIZE ** 2, P2=32 * BLOCK_SIZE ** 2, disp12MaxDiff=1, uniquenessRatio=10,
        speckleWindowSize=100, speckleRange=2)
    return matcher.compute(left, right).astype(np.float32) / 16.0


def depth_from_disparity(disparity: np.ndarray, fx_baseline: float) -> np.ndarray:
    """``fx * B / disparity`` (float32 metres, ``fx_baseline`` in pixel-metres), 0 where the
    disparity is <= 0 (none found)."""
    depth = np.zeros(disparity.shape, np.float32)
    valid = disparity > 0
    depth[valid] = fx_baseline / disparity[valid]
    return depth


class StereoFrames:
    """Stereo depth for a reader built on `TumSequence` (put before it in the bases): with
    ``_stereo`` set and ``_depth_paths`` the right camera's image of each frame (None: none),
    a frame's depth is `StereoDepth.read` of its left image (the one just read) and that one,
    where `TumSequence` reads a depth PNG."""

    _stereo: Optional[StereoDepth] = None
    _left: Optional[Tuple[Path, np.ndarray]] = None

    @property
    def depth_source(self) -> Optional[str]:
        """'stereo' (`core.map_check.DEPTH_STEREO`) when the depth is computed from the images
        themselves (registered to them by construction: the map check's note says so), else
        None (a depth file's, or none)."""
        return "stereo" if self._stereo is not None else None

    def _read_rgb(self, path: Path) -> np.ndarray:
        rgb = super()._read_rgb(path)  # type: ignore[misc]
        self._left = (path, rgb)
        return rgb

    def _read_depth(self, path: Path, rgb_path: Path) -> np.ndarray:
        if self._stereo is None:
            return super()._read_depth(path, rgb_path)  # type: ignore[misc]
        left = (self._left[1] if self._left is not None and self._left[0] == rgb_path
                else self._read_rgb(rgb_path))
        return self._stereo.read(left, path)


class StereoDepth:
    """Depth of a grey stereo pair on the left camera's original pixel grid (module docstring).

    ``size``: (width, height) of both images; ``fx_baseline``: the rectified focal length
    times the baseline (pixel-metres); ``rectify``: for a pair that is not rectified, the
    (map_x, map_y) of each camera (`cv2.initUndistortRectifyMap`, float32 (H, W)) and the
    back-map to the left grid (`euroc_stereo`); None for a rectified pair. ``right_name``: how
    messages name the right camera. `InputError` for an ``fx_baseline`` that is not positive
    or whose depths overflow float32 (inf)."""

    def __init__(self, size: Tuple[int, int], fx_baseline: float, right_name: str,
                 rectify: Optional[tuple] = None) -> None:
        self.size, self.fx_baseline, self.right_name = size, float(fx_baseline), right_name
        # the depth at SGBM's smallest disparity, 1/16 px, must be a float32 (not inf)
        if not 0 < self.fx_baseline <= float(np.finfo(np.float32).max) / 16:
            raise InputError(f"--stereo-depth: the calibration of the pair with {right_name} "
                             f"gives fx * baseline = {self.fx_baseline:g} pixel-metres, which "
                             "no float32 depth holds (a baseline of metres times fx of pixels "
                             "is at most some 1e4): check the pair's calibration")
        self._rectify = rectify
        self._bayer = BayerWatch()  # the right images' folder: a mosaic said once this read
        log.info("stereo depth from %s (OpenCV SGBM, %d disparities): depth %.2f m and nearer "
                 "gets none; invalid disparities are depth 0", right_name, NUM_DISPARITIES,
                 self.fx_baseline / NUM_DISPARITIES)

    def depth(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Depth (H, W) float32 metres, 0 = none, of ``left``, ``right`` ((H, W) uint8 grey or
        (H, W, 3) uint8 RGB, both of ``size``) on the left image's grid."""
        left, right = (_grey(i) for i in (left, right))
        right = match_exposure(right, left)
        if self._rectify is None:
            return depth_from_disparity(sgbm_disparity(left, right), self.fx_baseline)
        (lx, ly), (rx, ry), (back_x, back_y, z_factor) = self._rectify
        left = cv2.remap(left, lx, ly, cv2.INTER_LINEAR)
        right = cv2.remap(right, rx, ry, cv2.INTER_LINEAR)
        rect = depth_from_disparity(sgbm_disparity(left, right), self.fx_baseline)
        depth = cv2.remap(rect, back_x, back_y, cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return (depth * z_factor).astype(np.float32)

    def read(self, left_rgb: np.ndarray, right_path: Path) -> np.ndarray:
        """`depth` of the frame's image ``left_rgb`` and the right camera's image file
        ``right_path``. `InputError` when that image cannot be read or is of another size."""
        right = read_image_file(right_path, bayer_watch=self._bayer)  # its folder's, this read
        h, w = right.shape[:2]
        if (w, h) != self.size or left_rgb.shape[1::-1] != self.size:
            raise InputError(f"{right_path} ({self.right_name}) is {w}x{h}, its left image "
                             f"{left_rgb.shape[1]}x{left_rgb.shape[0]}, but --stereo-depth's "
                             f"calibration is for {self.size[0]}x{self.size[1]}")
        return self.depth(left_rgb, right)


def match_exposure(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` ((H, W) uint8 grey) with its grey levels mapped so that their histogram
    matches ``reference``'s (same dtype; a stereo pair's two views of one scene), through a
    monotonic look-up table: two cameras that expose each on their own (EuRoC's) then give
    SGBM, whose cost compares grey levels, the same level for the same surface."""
    counts = [np.bincount(i.ravel(), minlength=256) for i in (image, reference)]
    cdf_img, cdf_ref = (np.cumsum(c) / c.sum() for c in counts)
    # over the levels the reference uses only: its cdf is flat across an unused level, where
    # interpolation took the plateau's last level (its brightest level became 255)
    used = counts[1] > 0
    lut = np.interp(cdf_img, cdf_ref[used], np.arange(256)[used])
    return cv2.LUT(image, np.clip(np.rint(lut), 0, 255).astype(np.uint8))


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image


def kitti_stereo(calib: dict, calib_path: Path, camera: str, size: Tuple[int, int]
                 ) -> Tuple[StereoDepth, str]:
    """(the `StereoDepth` of KITTI camera ``camera`` (image_0 or image_2, the left one) with
    its right neighbour, the right camera's folder name) from calib.txt's projection matrices
    (``calib``: `kitti.read_calib`): fx * B with B the x offset between the two rectified
    cameras (``inv(K) @ P[:, 3]``). `InputError` in one line for a right camera, a missing
    P of the pair, or a pair whose K differ (not one rectified pair) or whose right camera is
    not to the right."""
    pairs = {"image_0": "image_1", "image_2": "image_3"}
    if camera not in pairs:
        left = {v: k for k, v in pairs.items()}[camera]
        raise InputError(f"--stereo-depth gives the left camera depth from its right one: pass "
                         f"the sequence's {left} (or the sequence folder), not {camera}")
    right = pairs[camera]
    p_left, p_right = (calib.get(f"P{name[-1]}") for name in (camera, right))
    for name, p in ((camera, p_left), (right, p_right)):
        if p is None:
            raise InputError(f"--stereo-depth: {calib_path} has no P{name[-1]}, the projection "
                             f"matrix of {name}")
    if not np.allclose(p_left[:, :3], p_right[:, :3], rtol=1e-6, atol=1e-9):
        raise InputError(f"--stereo-depth: {calib_path}'s P{camera[-1]} and P{right[-1]} have "
                         "different camera matrices (left 3x3): not one rectified pair")
    k = p_left[:, :3]
    baseline = float(np.linalg.solve(k, p_left[:, 3])[0] - np.linalg.solve(k, p_right[:, 3])[0])
    if not baseline > 0:
        raise InputError(f"--stereo-depth: {calib_path}'s P{right[-1]} places {right} "
                         f"{-baseline:.3f} m left of {camera}, not to its right")
    return StereoDepth(size, k[0, 0] * baseline, right), right


def euroc_stereo(cam0: CameraIntrinsics, cam1: CameraIntrinsics,
                 cam1_from_cam0: np.ndarray, names: Tuple[str, str]) -> StereoDepth:
    """The `StereoDepth` of EuRoC/ASL's cam0 (``cam0``: its calibration, distortion included)
    with cam1 (``cam1``), ``cam1_from_cam0`` (4x4, metres: ``inv(T_BS cam1) @ T_BS cam0``):
    `cv2.stereoRectify` (alpha 0: only valid pixels), each camera's rectification maps, and
    the back-map onto cam0's original grid (module docstring). ``names``: the two
    sensor.yaml files, for messages. `InputError` in one line for calibrations of another
    size or a fisheye (equidistant) model, or a cam1 that is not beside cam0 to its right."""
    size = (cam0.width, cam0.height)
    if (cam1.width, cam1.height) != size:
        raise InputError(f"--stereo-depth: {names[1]} is for {cam1.width}x{cam1.height} images "
                         f"but {names[0]} for {size[0]}x{size[1]}: the pair must share one size")
    for cam, name in zip((cam0, cam1), names):
        if cam.distortion_model == "equidistant":
            raise InputError(f"--stereo-depth: {name} is a fisheye (equidistant) calibration; "
                             "only pinhole radial-tangential pairs are rectified")
    k0, k1 = (np.asarray(c.K, np.float64) for c in (cam0, cam1))
    d0, d1 = (np.asarray(c.dist if c.dist is not None else [], np.float64) for c in (cam0, cam1))
    rot, shift = cam1_from_cam0[:3, :3], cam1_from_cam0[:3, 3]
    r1, r2, p1, p2, _, _, _ = cv2.stereoRectify(k0, d0, k1, d1, size, rot, shift.reshape(3, 1),
                                                flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)
    if abs(p2[1, 3]) > abs(p2[0, 3]) or not p2[0, 3] < 0:
        where = [float(f"{v:.4g}") for v in -rot.T @ shift]  # np.round overflows at 1e308
        raise InputError(f"--stereo-depth: by the T_BS of {names[0]} and {names[1]}, cam1 sits "
                         f"at {where} m in cam0's frame, not beside it to its right (+x): "
                         "check both T_BS")
    maps = [cv2.initUndistortRectifyMap(k, d, r, p, size, cv2.CV_32FC1)
            for k, d, r, p in ((k0, d0, r1, p1), (k1, d1, r2, p2))]
    u, v = np.meshgrid(np.arange(size[0], dtype=np.float64), np.arange(size[1], dtype=np.float64))
    pixels = np.stack([u.ravel(), v.ravel()], axis=1).reshape(-1, 1, 2)
    rect = cv2.undistortPoints(pixels, k0, d0, R=r1, P=p1).reshape(size[1], size[0], 2)
    fx, cx, cy = p1[0, 0], p1[0, 2], p1[1, 2]
    ray = np.stack([(rect[..., 0] - cx) / fx, (rect[..., 1] - cy) / p1[1, 1],
                    np.ones(rect.shape[:2])], axis=-1)
    z_factor = (ray @ r1[:, 2]).astype(np.float32)  # z in cam0 per z in the rectified frame
    back = (rect[..., 0].astype(np.float32), rect[..., 1].astype(np.float32), z_factor)
    return StereoDepth(size, -p2[0, 3], "cam1", (maps[0], maps[1], back))  # P2[0, 3] = -fx B
