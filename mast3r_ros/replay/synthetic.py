"""A synthetic textured room, rendered by our own ray caster: RGB, metric depth and exact poses.

The scene is a box-shaped room (floor, ceiling, four walls) with a few free-standing boxes, every
face a rectangle carrying a seeded procedural texture (multi-octave value noise plus random
shapes and strokes). Rendering intersects every pixel ray with every rectangle in one vectorised
numpy pass and samples the nearest hit's texture bilinearly. The result is exact by construction:
ground-truth poses, z-depth and (for tests) perfect pointmaps.

`write_tum_sequence` writes the TUM RGB-D layout (rgb/, depth/ uint16 at 5000 units per metre,
rgb.txt, depth.txt, groundtruth.txt with ``map_from_cam``, camera.yaml in the ROS camera_info
format) that `mast3r_ros.replay.tum` reads; the demo and the tests use it.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..core.fileio import atomic_write_bytes, atomic_write_text
from ..core.geometry import look_at, pose_to_tum
from ..core.keyframes.pixels import _encode_png
from ..core.types import CameraIntrinsics, Frame

log = logging.getLogger(__name__)

TEXELS_PER_M = 200  # 5 mm texels: finer than a pixel at 1.5 m with f = 525
_CHUNK = 4096


@dataclasses.dataclass
class Rect:
    """A textured rectangle: points ``origin + a*u + b*v`` for a in [0, size_u], b in [0, size_v].

    ``u``, ``v`` are orthonormal (map frame); ``texture`` (Ht, Wt, 3) uint8 spans the rectangle,
    texel row = b, column = a.
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    size_u: float
    size_v: float
    texture: np.ndarray
    mips: Optional[List[np.ndarray]] = None


def procedural_texture(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """(height, width, 3) uint8 texture: coloured value noise at several scales plus shapes."""
    base = rng.uniform(60, 200, 3)
    img = np.zeros((height, width, 3), np.float32) + base
    for cell, amp in ((96, 50.0), (24, 35.0), (6, 25.0)):
        gh, gw = max(2, height // cell + 2), max(2, width // cell + 2)
        noise = rng.uniform(-1, 1, (gh, gw, 3)).astype(np.float32)
        img += amp * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 255).astype(np.uint8)
    n_shapes = int(width * height / 800)
    for _ in range(n_shapes):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(3, 30))
        kind = rng.integers(0, 3)
        if kind == 0:
            cv2.circle(img, (x, y), r, colour, -1 if rng.random() < 0.6 else 2, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(img, (x, y), (x + r, y + int(rng.integers(3, 30))), colour,
                          -1 if rng.random() < 0.6 else 2)
        else:
            x2, y2 = x + int(rng.integers(-40, 40)), y + int(rng.integers(-40, 40))
            cv2.line(img, (x, y), (x2, y2), colour, int(rng.integers(1, 4)), cv2.LINE_AA)
    return img


def _rect(origin, u, v, rng: np.random.Generator) -> Rect:
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    su, sv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    tex = procedural_texture(max(8, int(su * TEXELS_PER_M)), max(8, int(sv * TEXELS_PER_M)), rng)
    return Rect(np.asarray(origin, np.float64), u / su, v / sv, su, sv, tex)


def _box(lo, hi, rng: np.random.Generator) -> List[Rect]:
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    dx, dy, dz = (x1 - x0, 0, 0), (0, y1 - y0, 0), (0, 0, z1 - z0)
    return [
        _rect((x0, y0, z0), dx, dz, rng), _rect((x0, y1, z0), dx, dz, rng),
        _rect((x0, y0, z0), dy, dz, rng), _rect((x1, y0, z0), dy, dz, rng),
        _rect((x0, y0, z1), dx, dy, rng),
    ]


def make_room(seed: int = 0, size_m: Tuple[float, float, float] = (6.0, 4.5, 2.6)) -> List[Rect]:
    """The demo scene: a room centred on the origin (z up, floor at z = 0) with three boxes."""
    rng = np.random.default_rng(seed)
    sx, sy, sz = size_m
    x0, y0 = -sx / 2, -sy / 2
    rects = [
        _rect((x0, y0, 0), (sx, 0, 0), (0, sy, 0), rng),        # floor
        _rect((x0, y0, sz), (sx, 0, 0), (0, sy, 0), rng),       # ceiling
        _rect((x0, y0, 0), (sx, 0, 0), (0, 0, sz), rng),        # walls
        _rect((x0, -y0, 0), (sx, 0, 0), (0, 0, sz), rng),
        _rect((x0, y0, 0), (0, sy, 0), (0, 0, sz), rng),
        _rect((-x0, y0, 0), (0, sy, 0), (0, 0, sz), rng),
    ]
    rects += _box((x0 + 0.4, y0 + 0.4, 0), (x0 + 1.2, y0 + 1.0, 0.9), rng)
    rects += _box((-x0 - 1.3, -y0 - 1.0, 0), (-x0 - 0.5, -y0 - 0.3, 1.3), rng)
    rects += _box((0.2, y0 + 0.3, 0), (0.8, y0 + 0.8, 0.6), rng)
    return rects


def default_intrinsics(width: int = 640, height: int = 480) -> CameraIntrinsics:
    """A 525-px (at 640 wide) pinhole camera, principal point at the image centre."""
    f = 525.0 * width / 640.0
    K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])
    return CameraIntrinsics(width, height, K, np.zeros(5))


def render(scene: Sequence[Rect], intrinsics: CameraIntrinsics, map_from_cam: np.ndarray
           ) -> Tuple[np.ndarray, np.ndarray]:
    """Ray-cast one view: (rgb (H, W, 3) uint8, z-depth (H, W) float32 metres, NaN = no hit)."""
    w, h = intrinsics.width, intrinsics.height
    K = intrinsics.K
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    d_cam = np.stack([(xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1], np.ones_like(xs)], -1)
    d = d_cam.reshape(-1, 3) @ map_from_cam[:3, :3].T  # camera z of d is 1, so t is the z-depth
    c = map_from_cam[:3, 3]
    Org = np.stack([r.origin for r in scene])  # (R, 3)
    U = np.stack([r.u for r in scene])
    V = np.stack([r.v for r in scene])
    Nrm = np.cross(U, V)
    best = np.zeros(len(d), np.int64)
    best_t = np.zeros(len(d))
    ab = np.zeros((len(d), 2))
    for s in range(0, len(d), _CHUNK):  # small blocks stay in cache and avoid page faults
        sl = slice(s, s + _CHUNK)
        best[sl], best_t[sl], ab[sl] = _intersect(d[sl], c, Org, U, V, Nrm, scene)
    hit = np.isfinite(best_t)
    # texels per pixel: distance / f / sqrt(cos(incidence)), a mip level per pixel (anti-aliasing)
    f = np.sqrt(K[0, 0] * K[1, 1])
    ray_len = np.linalg.norm(d, axis=1)
    rgb = np.zeros((len(d), 3), np.float32)
    for i, r in enumerate(scene):
        idx = np.flatnonzero(hit & (best == i))
        if not len(idx):
            continue
        cos = np.abs(d[idx] @ Nrm[i]) / ray_len[idx]
        texels = best_t[idx] * ray_len[idx] / f / np.sqrt(np.maximum(cos, 0.05)) * TEXELS_PER_M
        level = np.floor(np.log2(np.maximum(texels, 1.0)) + 0.5).astype(np.int64)
        for lv in np.unique(level):
            sel = idx[level == lv]
            rgb[sel] = _sample(r, ab[sel], int(lv)) * (0.75 + 0.25 * abs(Nrm[i, 2]))
    depth = np.where(hit, best_t, np.nan).astype(np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8).reshape(h, w, 3), depth.reshape(h, w)


def _intersect(d, c, Org, U, V, Nrm, scene):
    """Nearest rectangle hit of rays ``c + t d`` (P, 3): (index, t or inf, (a, b))."""
    size = np.array([[r.size_u, r.size_v] for r in scene])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.einsum("rk,rk->r", Org - c, Nrm) / (d @ Nrm.T)  # (P, R)
    a = np.einsum("rk,rk->r", c - Org, U) + t * (d @ U.T)
    b = np.einsum("rk,rk->r", c - Org, V) + t * (d @ V.T)
    ok = (t > 1e-3) & (a >= 0) & (a <= size[:, 0]) & (b >= 0) & (b <= size[:, 1])
    t = np.where(ok, t, np.inf)
    best = np.argmin(t, axis=1)
    rows = np.arange(len(d))
    return best, t[rows, best], np.stack([a[rows, best], b[rows, best]], axis=1)


def _mip(r: Rect, level: int) -> np.ndarray:
    """Texture pre-filtered and halved ``level`` times (cached on the rectangle)."""
    if r.mips is None:
        r.mips = [r.texture]
    while len(r.mips) <= level and min(r.mips[-1].shape[:2]) > 2:
        r.mips.append(cv2.pyrDown(r.mips[-1]))
    return r.mips[min(level, len(r.mips) - 1)]


def _sample(r: Rect, ab: np.ndarray, level: int = 0) -> np.ndarray:
    """Bilinear texture lookup at rectangle coordinates (M, 2) metres -> (M, 3) float32."""
    tex = _mip(r, level)
    th, tw = tex.shape[:2]
    m = len(ab)
    rows = -(-m // 1024)  # remap wants maps under 32767 on each side: wrap them into rows
    maps = np.zeros((2, rows * 1024), np.float32)
    maps[0, :m] = ab[:, 0] / r.size_u * tw - 0.5
    maps[1, :m] = ab[:, 1] / r.size_v * th - 0.5
    out = cv2.remap(tex, maps[0].reshape(rows, 1024), maps[1].reshape(rows, 1024),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 3)[:m].astype(np.float32)


def loop_trajectory(num_frames: int, seed: int = 0, radius_m: Tuple[float, float] = (1.1, 0.7),
                    turns: float = 1.0) -> np.ndarray:
    """(N, 4, 4) ``map_from_cam`` poses walking an ellipse at ~1.4 m height, looking outwards at
    the walls with a gentle weave in heading, pitch and height (seeded)."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, 3)
    poses = []
    for k in range(num_frames):
        s = 2 * np.pi * turns * k / max(num_frames, 1)
        eye = np.array([radius_m[0] * np.cos(s), radius_m[1] * np.sin(s),
                        1.4 + 0.1 * np.sin(3 * s + phase[0])])
        yaw = s + 0.35 * np.sin(2 * s + phase[1])
        pitch = -0.15 + 0.1 * np.sin(5 * s + phase[2])
        fwd = np.array([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch), np.sin(pitch)])
        poses.append(look_at(eye, eye + fwd))
    return np.stack(poses)


def render_frames(num_frames: int, intrinsics: Optional[CameraIntrinsics] = None,
                  seed: int = 0, indices: Optional[Sequence[int]] = None,
                  fps: float = 10.0) -> Iterator[Frame]:
    """Frames (rgb, depth, ground-truth pose, stamp = index / fps) of the loop in the room."""
    cam = intrinsics or default_intrinsics()
    scene = make_room(seed)
    poses = loop_trajectory(num_frames, seed)
    for k in (range(num_frames) if indices is None else indices):
        rgb, depth = render(scene, cam, poses[k])
        yield Frame(rgb, cam, int(round(k / fps * 1e9)), "camera_optical", depth, poses[k])


def add_sensor_noise(frames: Sequence[Frame] | Iterator[Frame], seed: int = 0,
                     depth_sigma_k: float = 0.0, image_sigma: float = 0.0,
                     pose_sigma_m: float = 0.0, pose_sigma_deg: float = 0.0) -> Iterator[Frame]:
    """The frames with realistic sensor noise (seeded), for calibration checks:

    * depth: Gaussian noise ``sigma_z = depth_sigma_k * z^2`` (metres; the structured-light model
      of Khoshelham & Elberink 2012, ~1.6e-3 for a Kinect), spatially correlated over a few
      pixels as a structured-light sensor's is (its disparity comes from a correlation window):
      white noise smoothed by a Gaussian of 2 px, rescaled to unit variance;
    * image: Gaussian intensity noise ``image_sigma`` (grey levels), which makes keypoint
      positions noisy and produces wrong matches;
    * pose: each frame's ``map_from_cam`` perturbed by an independent error (``pose_sigma_m``
      per axis on the centre, ``pose_sigma_deg`` per axis on a map-frame rotation vector) -- what
      an estimated (SLAM) trajectory gives a map. Use it for map frames; keep query ground truth
      exact.
    """
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    for f in frames:
        rgb, depth, pose = f.rgb, f.depth_m, f.map_from_cam
        if image_sigma > 0:
            noisy = rgb.astype(np.float32) + rng.normal(0, image_sigma, rgb.shape)
            rgb = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
        if depth is not None and depth_sigma_k > 0:
            white = rng.normal(0, 1, depth.shape).astype(np.float32)
            smooth = cv2.GaussianBlur(white, (0, 0), 2.0)
            smooth /= max(float(smooth.std()), 1e-12)
            depth = depth + smooth * depth_sigma_k * depth ** 2
        if pose is not None and (pose_sigma_m > 0 or pose_sigma_deg > 0):
            pose = pose.copy()
            dR = Rotation.from_rotvec(rng.normal(0, np.radians(pose_sigma_deg), 3)).as_matrix()
            pose[:3, :3] = dR @ pose[:3, :3]
            pose[:3, 3] += rng.normal(0, pose_sigma_m, 3)
        yield Frame(rgb, f.intrinsics, f.stamp_ns, f.frame_id, depth, pose)


def camera_yaml(cam: CameraIntrinsics) -> str:
    """The ROS camera_info YAML of intrinsics (no rectification)."""
    K = ", ".join(f"{v:.6f}" for v in cam.K.reshape(-1))
    dist = list(cam.dist) + [0.0] * (5 - len(cam.dist)) if len(cam.dist) < 5 else list(cam.dist)
    P = cam.K[:, :].tolist()
    P = [P[0] + [0.0], P[1] + [0.0], P[2] + [0.0]]
    return (
        f"image_width: {cam.width}\nimage_height: {cam.height}\ncamera_name: synthetic\n"
        f"camera_matrix:\n  rows: 3\n  cols: 3\n  data: [{K}]\n"
        f"distortion_model: {cam.distortion_model}\n"
        f"distortion_coefficients:\n  rows: 1\n  cols: {len(dist)}\n"
        f"  data: [{', '.join(f'{v:.6f}' for v in dist)}]\n"
        "rectification_matrix:\n  rows: 3\n  cols: 3\n  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n"
        "projection_matrix:\n  rows: 3\n  cols: 4\n"
        f"  data: [{', '.join(f'{v:.6f}' for row in P for v in row)}]\n")


def write_tum_sequence(folder: str, frames: Sequence[Frame] | Iterator[Frame]) -> str:
    """Write frames as a TUM RGB-D folder (see module docstring); returns the folder."""
    os.makedirs(os.path.join(folder, "rgb"), exist_ok=True)
    os.makedirs(os.path.join(folder, "depth"), exist_ok=True)
    rgb_lines, depth_lines, gt_lines = ["# timestamp filename"], ["# timestamp filename"], [
        "# timestamp tx ty tz qx qy qz qw"]
    cam = None
    for f in frames:
        ts = f"{f.stamp_ns / 1e9:.6f}"
        # the OS's error raised (a full disk, a file-size limit): cv2.imwrite only returned
        # False, and the demo published a scene without images that every later run reused
        atomic_write_bytes(os.path.join(folder, "rgb", ts + ".png"), _encode_png(f.rgb))
        rgb_lines.append(f"{ts} rgb/{ts}.png")
        if f.depth_m is not None:
            d = np.where(np.isfinite(f.depth_m), np.round(f.depth_m * 5000.0), 0)
            atomic_write_bytes(os.path.join(folder, "depth", ts + ".png"),
                               _encode_png(np.clip(d, 0, 65535).astype(np.uint16)))
            depth_lines.append(f"{ts} depth/{ts}.png")
        if f.map_from_cam is not None:
            row = pose_to_tum(f.map_from_cam)[0]
            gt_lines.append(ts + " " + " ".join(f"{v:.9f}" for v in row))
        cam = f.intrinsics or cam
    for name, lines in (("rgb.txt", rgb_lines), ("depth.txt", depth_lines),
                        ("groundtruth.txt", gt_lines)):
        atomic_write_text(os.path.join(folder, name), "\n".join(lines) + "\n")
    if cam is not None:
        atomic_write_text(os.path.join(folder, "camera.yaml"), camera_yaml(cam))
    return folder


def write_demo_sequences(out_dir: str, num_frames: int = 60, width: int = 640, height: int = 480,
                         seed: int = 0,
                         progress: Optional[Callable[[Iterator[Frame], int], Iterable[Frame]]]
                         = None) -> Tuple[str, str]:
    """Render the demo loop and write even frames to ``out_dir/map``, odd frames (held out, in
    between the map's) to ``out_dir/query``. Returns (map folder, query folder). ``progress``
    (the frames being rendered, their number) wraps the rendering (the demo's progress bar).
    Each frame is written as it is rendered (the even ones first), so one frame is held in
    memory whatever ``num_frames``: the list of all of them took 7 bytes a pixel each (2.1 GB
    for 1000 frames at 640x480)."""
    cam = default_intrinsics(width, height)
    evens, odds = range(0, num_frames, 2), range(1, num_frames, 2)
    rendered = render_frames(num_frames, cam, seed, indices=itertools.chain(evens, odds))
    frames = iter(progress(rendered, num_frames) if progress else rendered)
    map_dir = write_tum_sequence(os.path.join(out_dir, "map"),
                                 itertools.islice(frames, len(evens)))
    query_dir = write_tum_sequence(os.path.join(out_dir, "query"), frames)
    return map_dir, query_dir
