"""Depth registration: a depth camera's own depth image re-rendered as the depth the colour
camera sees, pixel for pixel (ROS-free).

A depth sensor (a RealSense D400's stereo module, a ROS 2 driver's
``/camera/depth/image_rect_raw``) has its own optical frame, intrinsics and resolution, some
centimetres from the colour camera: read pixel for pixel as the colour image's depth it puts
every 3-D point in the wrong place. Registering it does what depth_image_proc's ``register``
node (``depth_image_proc::RegisterNode``) and realsense2_camera's ``align_depth`` do, which is
the reference behaviour here (no code taken from either):

1. back-project each valid depth pixel (finite, > 0) with the depth camera's K, its
   distortion removed (`geometry.undistort_pixels`: ``cv2.undistortPoints``, or
   ``cv2.fisheye`` for ``equidistant``), at its depth: a 3-D point in the depth optical frame;
2. move it to the colour optical frame, ``colour_from_depth`` (4x4, metres);
3. project it with the colour K and distortion (the pinhole and Brown-Conrady formulas as
   OpenCV's ``projectPoints`` has them; ``cv2.projectPoints`` / ``cv2.fisheye`` for 12 or 14
   coefficients and ``equidistant``);
4. z-buffer: where several depth pixels land on one colour pixel the nearest (smallest colour
   z) wins, so a surface the depth camera sees behind a nearer one the colour camera sees never
   shows through it. Colour pixels no depth pixel lands on stay 0 (no depth), as do those only
   the colour camera sees (the depth camera's occlusion shadow).

With ``footprint=True`` (the default) each depth pixel covers the colour pixels whose centres
fall in its footprint, the box between its top-left and bottom-right pixel corners projected at
its depth -- depth_image_proc's ``fill_upsampling_holes`` and librealsense's align: a D435's
848x480 depth registered to a 1280x720 colour image leaves no holes in a continuous surface
(with ``footprint=False``, each depth pixel's centre alone, about 3 in 4 pixels of such an
image stay 0: the colour camera's 69 deg field of view holds ~4.6 of its pixels per depth
pixel). Footprints tile a continuous surface; at a depth edge a colour pixel takes the nearer
surface, or the farther one within half a pixel of the edge (the same ambiguity the reference
has). Each covered colour pixel takes the colour-frame z of its depth pixel's centre, so a
slanted surface is off by at most its slope over half a footprint.

Pixels are (x, y) = (column, row), origin at the centre of the top-left pixel (OpenCV).
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .errors import InputError
from .geometry import finite_pose, non_rigid_reason, undistort_pixels
from .types import CameraIntrinsics

# a footprint wider than this (colour pixels a side) is cut to it: a depth pixel a few
# centimetres from the colour camera, or a colour camera far finer than the depth's
_MAX_FOOTPRINT_PX = 8
# points whose colour-frame direction lies this far outside the colour image's field of view
# (normalised coordinates) are dropped before a distorted projection, whose polynomial folds
# far-off points back into the image
_FOV_MARGIN = 0.05


def _distorted(cam: CameraIntrinsics) -> bool:
    return bool(np.any(np.asarray(cam.dist, np.float64) != 0))


def _normalised(cam: CameraIntrinsics, pixels: np.ndarray) -> np.ndarray:
    """(N, 2) pixels of ``cam`` -> (N, 2) float64 normalised pinhole coordinates x/z, y/z,
    distortion removed."""
    K = np.asarray(cam.K, np.float64)
    ideal = undistort_pixels(pixels, K, cam.dist, cam.distortion_model)
    return np.stack([(ideal[:, 0] - K[0, 2]) / K[0, 0], (ideal[:, 1] - K[1, 2]) / K[1, 1]], 1)


def _project(cam: CameraIntrinsics, x: np.ndarray, y: np.ndarray,
             z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Points (x, y, z: (N,) each) in ``cam``'s optical frame, z > 0 -> pixel columns and rows
    ((N,) float64 each). plumb_bob and rational_polynomial of up to 8 coefficients by the
    model's formula (OpenCV's ``projectPoints``, element-wise: 3-4 times faster for 400k
    points), 12 or 14 coefficients and equidistant through ``cv2.projectPoints`` /
    ``cv2.fisheye.projectPoints``."""
    K = np.asarray(cam.K, np.float64)
    inv_z = 1.0 / z
    u, v = x * inv_z, y * inv_z
    d = np.asarray(cam.dist, np.float64)
    if _distorted(cam) and (cam.distortion_model == "equidistant" or d.size > 8):
        import cv2

        pts = np.stack([x, y, z], 1).reshape(-1, 1, 3)
        zero = np.zeros(3)
        if cam.distortion_model == "equidistant":
            out, _ = cv2.fisheye.projectPoints(pts, zero, zero, K, d[:4])
        else:
            out, _ = cv2.projectPoints(pts, zero, zero, K, d)
        out = out.reshape(-1, 2)
        return out[:, 0], out[:, 1]
    if _distorted(cam):
        k = np.zeros(8)
        k[:d.size] = d  # k1 k2 p1 p2 [k3 [k4 k5 k6]]
        r2 = u * u + v * v
        radial = (1 + r2 * (k[0] + r2 * (k[1] + r2 * k[4]))) / (
            1 + r2 * (k[5] + r2 * (k[6] + r2 * k[7])))
        uv = 2 * u * v
        u, v = (u * radial + k[2] * uv + k[3] * (r2 + 2 * u * u),
                v * radial + k[2] * (r2 + 2 * v * v) + k[3] * uv)
    return K[0, 0] * u + K[0, 2], K[1, 1] * v + K[1, 2]


class DepthRegistration:
    """Registers depth images of one depth camera to one colour camera (`register_depth`),
    keeping the depth pixels' undistorted rays between frames (undistorting 848x480 pixels
    costs more than the rest of a frame).

    Args:
        depth_cam: the depth image's intrinsics (its own CameraInfo: size, K, distortion).
        colour_cam: the colour image's intrinsics; the output is ``colour_cam.height`` x
            ``colour_cam.width``.
        colour_from_depth: 4x4 rigid transform (rotation, translation in metres) taking a
            point in the depth optical frame to the colour optical frame (REP-103 optical
            frames: z forward, x right, y down).
        footprint: each depth pixel fills the colour pixels its footprint covers (default);
            False: only the colour pixel its centre lands on.

    Raises:
        InputError: ``colour_from_depth`` not a finite 4x4 rigid transform (what is wrong
            named).
    """

    def __init__(self, depth_cam: CameraIntrinsics, colour_cam: CameraIntrinsics,
                 colour_from_depth: np.ndarray, footprint: bool = True) -> None:
        T = finite_pose(colour_from_depth, "colour_from_depth")
        why = non_rigid_reason(T)
        if why:
            raise InputError(f"colour_from_depth must be a rigid transform: {why}")
        self.depth_cam, self.colour_cam = depth_cam, colour_cam
        self.colour_from_depth = T
        self.footprint = bool(footprint)
        self._rays: Optional[Tuple[np.ndarray, np.ndarray]] = None  # `_depth_rays`
        self._fov: Optional[np.ndarray] = None  # colour x/z, y/z bounds (4,), distorted only

    def _depth_rays(self) -> Tuple[np.ndarray, np.ndarray]:
        """The depth pixels' rays (x/z, y/z, 1 in the depth frame, distortion removed) rotated
        into the colour frame, (3, h*w) float64 of their centres and (3, (h+1)*(w+1)) of their
        corners (x - 0.5, y - 0.5), row-major; computed once: a point at depth z is then
        ``z * ray + t`` in the colour frame."""
        if self._rays is None:
            w, h = self.depth_cam.width, self.depth_cam.height
            R = self.colour_from_depth[:3, :3]
            rays = []
            for xs, ys in (np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h)),
                           np.meshgrid(np.arange(w + 1) - 0.5, np.arange(h + 1) - 0.5)):
                n = _normalised(self.depth_cam, np.stack([xs.ravel(), ys.ravel()], 1))
                rays.append(R[:, :2] @ n.T + R[:, 2:])
            self._rays = rays[0], rays[1]
        return self._rays

    def _colour_fov(self) -> np.ndarray:
        """[xmin, xmax, ymin, ymax] of the colour image's border pixels' normalised
        coordinates, widened by `_FOV_MARGIN`: a distorted projection is trusted inside."""
        if self._fov is None:
            w, h = self.colour_cam.width, self.colour_cam.height
            xs, ys = np.linspace(-0.5, w - 0.5, 33), np.linspace(-0.5, h - 0.5, 33)
            border = np.concatenate([np.stack([xs, np.full_like(xs, ys[0])], 1),
                                     np.stack([xs, np.full_like(xs, ys[-1])], 1),
                                     np.stack([np.full_like(ys, xs[0]), ys], 1),
                                     np.stack([np.full_like(ys, xs[-1]), ys], 1)])
            n = _normalised(self.colour_cam, border)
            m = _FOV_MARGIN
            self._fov = np.array([n[:, 0].min() - m, n[:, 0].max() + m,
                                  n[:, 1].min() - m, n[:, 1].max() + m])
        return self._fov

    def __call__(self, depth_m: np.ndarray) -> np.ndarray:
        """`register_depth` of ``depth_m`` with this registration's cameras and transform."""
        depth = np.asarray(depth_m)
        dw, dh = self.depth_cam.width, self.depth_cam.height
        if depth.ndim != 2 or depth.shape != (dh, dw):
            raise InputError(
                f"depth image is {'x'.join(map(str, depth.shape[::-1]))} but its CameraInfo is "
                f"for {dw}x{dh}: register depth with the depth camera's own calibration")
        if depth.dtype.kind not in "fiu":
            raise InputError(f"depth image must hold numbers (metres), got dtype {depth.dtype}")
        cw, ch = self.colour_cam.width, self.colour_cam.height
        out = np.zeros(ch * cw, np.float32)
        z = depth.astype(np.float64, copy=False).ravel()
        with np.errstate(invalid="ignore"):
            valid = np.flatnonzero(np.isfinite(z) & (z > 0))
        if not valid.size:
            return out.reshape(ch, cw)
        centres, corners = self._depth_rays()
        t = self.colour_from_depth[:3, 3:]
        every = valid.size == z.size  # no gather then
        zv = z if every else z[valid]
        xc, yc, zc = (centres if every else centres[:, valid]) * zv + t  # colour frame
        keep = zc > 0  # in front of the colour camera
        if _distorted(self.colour_cam):
            fov = self._colour_fov()
            with np.errstate(divide="ignore", invalid="ignore"):
                nx, ny = xc / zc, yc / zc
            keep &= (nx >= fov[0]) & (nx <= fov[1]) & (ny >= fov[2]) & (ny <= fov[3])
        if not keep.all():
            valid, zv, xc, yc, zc = valid[keep], zv[keep], xc[keep], yc[keep], zc[keep]
        if not valid.size:
            return out.reshape(ch, cw)
        if not self.footprint:
            px, py = _project(self.colour_cam, xc, yc, zc)
            col, row = np.floor(px + 0.5), np.floor(py + 0.5)
            inside = (col >= 0) & (col < cw) & (row >= 0) & (row < ch)
            idx = row[inside].astype(np.intp) * cw + col[inside].astype(np.intp)
            return _zbuffer(out, idx, zc[inside]).reshape(ch, cw)
        # the corners (x - 0.5, y - 0.5) and (x + 0.5, y + 0.5) of each depth pixel
        tl = valid + valid // dw  # its index in the (h + 1) x (w + 1) corner grid
        br = tl + dw + 2
        # a corner at or behind the colour camera's plane (a point grazing it) projects to
        # inf, nan or mirrored: its footprint is dropped
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            near, far = corners[:, tl] * zv + t, corners[:, br] * zv + t
            x0, y0 = _project(self.colour_cam, *near)
            x1, y1 = _project(self.colour_cam, *far)
            # colour pixel centres j with lo <= j < hi, per axis (half-open: footprints tile)
            (clo, chi), (rlo, rhi) = (_covered(x0, x1, cw), _covered(y0, y1, ch))
            nc, nr = chi - clo, rhi - rlo  # colour columns, rows covered (<= 0, nan: none)
            some = (nc > 0) & (nr > 0) & (near[2] > 0) & (far[2] > 0)
        if not some.any():
            return out.reshape(ch, cw)
        clo, rlo = clo[some].astype(np.intp), rlo[some].astype(np.intp)
        nc, nr, zc = nc[some], nr[some], zc[some]
        first = rlo * cw + clo
        idx, zs = [first], [zc]
        for dy in range(int(nr.max())):
            for dx in range(int(nc.max())):
                if dx or dy:
                    sel = np.flatnonzero((nc > dx) & (nr > dy))
                    idx.append(first[sel] + (dy * cw + dx))
                    zs.append(zc[sel])
        return _zbuffer(out, np.concatenate(idx), np.concatenate(zs)).reshape(ch, cw)


def _covered(a: np.ndarray, b: np.ndarray, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """The colour pixel centres j between two projected corner coordinates ``a``, ``b``
    (one axis), ``lo <= j < hi`` (half-open: adjacent footprints tile), at most
    `_MAX_FOOTPRINT_PX` wide and cut to ``0 .. size``."""
    lo = np.ceil(np.minimum(a, b))
    hi = np.minimum(np.ceil(np.maximum(a, b)), lo + _MAX_FOOTPRINT_PX)
    return np.maximum(lo, 0), np.minimum(hi, size)


def _zbuffer(out: np.ndarray, idx: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``out`` (flat float32 zeros) with the smallest ``z`` of each index ``idx`` written at
    it (every other entry 0)."""
    out[:] = np.inf
    np.minimum.at(out, idx, z.astype(np.float32))
    out[np.isinf(out)] = 0.0
    return out


def register_depth(depth_m: np.ndarray, depth_cam: CameraIntrinsics,
                   colour_cam: CameraIntrinsics, colour_from_depth: np.ndarray,
                   footprint: bool = True) -> np.ndarray:
    """A depth camera's depth image re-rendered as the colour camera's depth (module doc: the
    reference behaviour is depth_image_proc's ``register`` node).

    Args:
        depth_m: (h, w) float (or integer) depth in metres along the depth camera's optical
            axis, h x w the size of ``depth_cam``; 0, negative or non-finite: no depth.
        depth_cam: the depth camera's intrinsics (K, distortion: plumb_bob,
            rational_polynomial or equidistant).
        colour_cam: the colour camera's intrinsics; sets the output size.
        colour_from_depth: 4x4 float rigid transform, depth optical frame -> colour optical
            frame, translation in metres.
        footprint: fill each depth pixel's footprint in the colour image (default, no holes in
            a continuous surface when the colour image is finer), else its centre's pixel only.

    Returns:
        (colour_cam.height, colour_cam.width) float32 depth in metres along the colour
        camera's optical axis (z in its frame), the nearest surface where several depth pixels
        land; 0 where none does (outside the depth camera's view, its occlusion shadow, or a
        depth pixel without depth).

    Raises:
        InputError: ``depth_m`` not 2-D of ``depth_cam``'s size or not numeric;
            ``colour_from_depth`` not a finite 4x4 rigid transform.

    For a stream of frames keep one `DepthRegistration` (its rays are computed once).
    """
    return DepthRegistration(depth_cam, colour_cam, colour_from_depth, footprint)(depth_m)
