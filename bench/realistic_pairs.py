"""Realistic correspondences for timing a whole frame on random network weights (bench_gpu.py).

Random weights give about one reciprocal match per keyframe pair, so a `Localizer.localize`
timed on them never runs PnP and walks a cheap, collapsed matching: not a trained model's frame.
`RealisticEngine` wraps a real engine (here, in the bench: the library is unchanged): encode and
decode run the real network, so their time and memory are real; then each prediction's
descriptor maps (``desc_1``/``desc_2``, ``desc_conf_1``/``desc_conf_2``) and the keyframe's
pointmap (``pts3d_1``, ``conf_1``) are replaced, on the device, by a pair fabricated from a
rendered scene (`make_scene`):

* ``pts3d_1``: the keyframe's rendered z-depth under each network pixel, times a smooth 0.5 %
  depth error, back-projected (keyframe camera frame, metres): a plausible metric pointmap
  consistent with the keyframe's pose;
* ``desc_1``: a smooth multi-scale random field (``mast3r_test_utils._smooth_field``, as
  ``warped_descriptor_pair``), unit rows; ``desc_2``: that field sampled where each query
  network pixel's 3-D point (the query's rendered depth, its true pose) lands in the keyframe,
  with 15 % noise, and an unrelated field where the keyframe does not see it (outside, behind,
  occluded): the reciprocal walk finds ~3000 matches at 512x384, ~80 % of them on the true
  geometry (the rest in 'repetitive texture' blobs, `fabricate_pair`), so PnP-RANSAC runs and
  recovers the query's true pose;
* confidences: smooth fields, pointmap conf ~2-10 and descriptor conf ~1.5-6 (> the filters'
  thresholds everywhere).

A decode's keyframes are recognised by a fingerprint of their cached encoding (the first 16
values of ``feats``, compared on the device: no host round trip) against the map's encodings
(`RealisticEngine.bind`); an unrecognised one gets keyframe 0's pair and is counted
(`RealisticEngine.misses`). The substitution itself (a few small kernels and gathers) is timed
apart (`RealisticEngine.substitution_ms`) and included in the frame figures.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

_REPO = Path(__file__).resolve().parents[1]
for _p in (str(_REPO), str(_REPO / "test")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from mast3r_ros.core.geometry import (  # noqa: E402
    apply_homography, backproject, compose, invert_pose, look_at, pixel_grid, project,
    sample_depth, transform_points)
from mast3r_ros.core.types import Frame  # noqa: E402
from mast3r_test_utils import _smooth_field  # noqa: E402

FIELDS = ("desc_1", "desc_2", "desc_conf_1", "desc_conf_2", "pts3d_1", "conf_1")
FINGERPRINT = 16  # leading values of an encoding's feats that identify its keyframe


def make_scene(n_keyframes: int, camera: Tuple[int, int] = (640, 480), seed: int = 0
               ) -> Tuple[List[Frame], Frame]:
    """Keyframes and a query rendered in the synthetic room (`replay.synthetic`): the query
    looks at a wall from ~1.4 m height; keyframe j is 0.15-0.35 m from it and turned 2-7 deg,
    so every keyframe overlaps the query by most of its view (as a map's nearest keyframes do).
    Returns (keyframes, query), each a `Frame` with rgb, intrinsics, z-depth and its true
    ``map_from_cam``."""
    from mast3r_ros.replay.synthetic import default_intrinsics, make_room, render

    cam = default_intrinsics(*camera)
    room = make_room(seed)
    rng = np.random.default_rng(seed)
    eye = np.array([0.6, 0.3, 1.4])
    q_pose = look_at(eye, eye + np.array([1.0, 0.35, -0.12]))
    poses = []
    for j in range(n_keyframes):
        a = 2 * np.pi * j / max(n_keyframes, 1) + rng.uniform(-0.3, 0.3)
        step = rng.uniform(0.15, 0.35) * np.array([np.cos(a), 0.4 * np.sin(a), np.sin(a)])
        yaw, pitch = np.radians(rng.uniform(2, 7) * rng.choice([-1, 1])), rng.uniform(-0.05, 0.05)
        c, s = np.cos(yaw), np.sin(yaw)
        turn = np.array([[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, 0], [0, 0, 0, 1.0]])
        turn[:3, :3] = turn[:3, :3] @ np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)],
                                                 [0, np.sin(pitch), np.cos(pitch)]])
        move = np.eye(4)
        move[:3, 3] = step  # in the query camera's frame (x right, y down, z forward)
        poses.append(compose(q_pose, move, turn))
    frames = []
    for k, pose in enumerate(poses + [q_pose]):
        rgb, depth = render(room, cam, pose)
        frames.append(Frame(rgb, cam, k * 100_000_000, "camera_optical", depth, pose))
    return frames[:-1], frames[-1]


def fabricate_pair(kf: Frame, query: Frame, kf_to_orig: np.ndarray, q_to_orig: np.ndarray,
                   hw: Tuple[int, int], dim: int, seed: int = 0, noise: float = 0.15,
                   depth_error: float = 0.005, outliers: float = 0.2,
                   outlier_shift_px: float = 20.0) -> Dict[str, Any]:
    """The `FIELDS` of one (keyframe, query) pair on the (H, W) = ``hw`` network grid of both
    views (module docstring), as float32 CPU tensors, plus ``seen`` (float): the fraction of
    query network pixels the keyframe sees. ``kf_to_orig``/``q_to_orig`` (3, 3) map network
    pixels to original pixels (``PreparedImage.to_orig``). In smooth blobs covering about
    ``outliers`` of the seen query pixels, the query's descriptors come from keyframe positions
    shifted by ``outlier_shift_px`` network pixels in a smoothly varying direction (a
    repetitive-texture confusion): the walk matches them confidently and wrongly, so RANSAC
    meets outliers as on real images."""
    import torch.nn.functional as F

    h, w = hw
    g = torch.Generator().manual_seed(seed)
    grid = pixel_grid(w, h).reshape(-1, 2)
    # keyframe pointmap: depth at the original pixel under each network pixel (nearest; the room
    # is closed, so every ray hits), with a smooth relative error
    u1 = apply_homography(kf_to_orig, grid)
    H1, W1 = kf.depth_m.shape
    ui = np.clip(np.round(u1).astype(np.int64), 0, [W1 - 1, H1 - 1])
    err = _smooth_field(g, 1, h, w)[0, 0].double().numpy().reshape(-1)
    z1 = kf.depth_m[ui[:, 1], ui[:, 0]].astype(np.float64) * (1 + depth_error * err / err.std())
    pts1 = backproject(u1, z1, kf.intrinsics.K).reshape(h, w, 3)
    # where each query network pixel's point lands in the keyframe's network grid
    u2 = apply_homography(q_to_orig, grid)
    Xq = backproject(u2, sample_depth(query.depth_m, u2), query.intrinsics.K)
    Xk = transform_points(compose(invert_pose(kf.map_from_cam), query.map_from_cam), Xq)
    uk, zk = project(Xk, kf.intrinsics.K)
    p1 = apply_homography(np.linalg.inv(kf_to_orig), np.nan_to_num(uk, nan=-1e6))
    with np.errstate(invalid="ignore"):
        seen = (np.isfinite(Xq).all(1) & (zk > 0) & (p1[:, 0] >= 0) & (p1[:, 0] <= w - 1)
                & (p1[:, 1] >= 0) & (p1[:, 1] <= h - 1)
                & (np.abs(sample_depth(kf.depth_m, np.nan_to_num(uk, nan=-1.0)) - zk)
                   <= 0.02 * zk))  # not occluded: the keyframe's own depth there agrees
    blob = _smooth_field(g, 1, h, w)[0, 0].numpy().reshape(-1)
    wrong = seen & (blob >= np.quantile(blob[seen], 1 - outliers)) if outliers > 0 else seen & False
    shift = _smooth_field(g, 2, h, w)[0].numpy().reshape(2, -1).T
    shift = outlier_shift_px * shift / np.maximum(np.linalg.norm(shift, axis=1, keepdims=True),
                                                  1e-9)
    p1 = np.where(wrong[:, None], np.clip(p1 + shift, 0, [w - 1, h - 1]), p1)
    f1 = _smooth_field(g, dim, h, w)
    other = _smooth_field(g, dim, h, w)
    gxy = np.where(seen[:, None], p1, 0.0)
    gxy = torch.from_numpy(np.stack([2 * gxy[:, 0] / (w - 1) - 1, 2 * gxy[:, 1] / (h - 1) - 1],
                                    -1).reshape(1, h, w, 2)).float()
    warped = F.grid_sample(f1, gxy, mode="bilinear", align_corners=True)
    seen_t = torch.from_numpy(seen.reshape(h, w))
    f2 = torch.where(seen_t[None, None], warped, other)
    f2 = f2 + noise * f1.std() * torch.randn(f2.shape, generator=g)

    def conf(lo: float, spread: float) -> torch.Tensor:
        c = _smooth_field(g, 1, h, w)[0, 0]
        return 1 + torch.exp(lo + spread * c / c.std())

    return {"desc_1": F.normalize(f1[0].permute(1, 2, 0), dim=-1).contiguous(),
            "desc_2": F.normalize(f2[0].permute(1, 2, 0), dim=-1).contiguous(),
            "desc_conf_1": conf(1.0, 0.35), "desc_conf_2": conf(1.0, 0.35),
            "pts3d_1": torch.from_numpy(pts1).float(), "conf_1": conf(1.5, 0.4),
            "seen": float(seen.mean())}


def fabricate_tables(keyframes: Sequence[Frame], query: Frame, image_size: int,
                     hw: Tuple[int, int], dim: int, seed: int = 0
                     ) -> Tuple[Dict[str, torch.Tensor], List[float]]:
    """`fabricate_pair` for every keyframe against ``query`` at ``image_size`` (network grid
    ``hw`` (H, W), descriptor width ``dim``): ({field: (keyframes, ...) float32 CPU tensor},
    per keyframe the fraction of the query it sees). Keyframe j's pair is seeded ``seed + j``."""
    from mast3r_ros.core.model.preprocess import resize_crop

    def to_orig(rgb: np.ndarray) -> np.ndarray:
        return np.asarray(resize_crop(rgb, image_size)[1].to_orig(), np.float64)

    q_to_orig = to_orig(query.rgb)
    per = [fabricate_pair(kf, query, to_orig(kf.rgb), q_to_orig, hw, dim, seed=seed + j)
           for j, kf in enumerate(keyframes)]
    return {f: torch.stack([p[f] for p in per]) for f in FIELDS}, [p["seen"] for p in per]


class RealisticEngine:
    """A `Mast3rEngine` (or anything with its API) whose decode returns realistic pairs for the
    keyframes ``keyframes`` (map order) against ``query`` at ``image_size`` (module docstring).
    Every other attribute is the wrapped engine's. Call `bind` with the map's cached encodings
    (``Localizer.matcher.encodings``) before the first decode. ``tables``: `fabricate_tables`'
    result made beforehand (shared between engines); else they are made at the first decode,
    on the real output's grid. They are copied to the output's device and dtype once."""

    def __init__(self, engine: Any, keyframes: Sequence[Frame], query: Frame, image_size: int,
                 seed: int = 0, tables: Any = None):
        self._engine = engine
        self._keyframes, self._query = list(keyframes), query
        self._size, self._seed = int(image_size), seed
        self._cpu, self.seen = tables if tables is not None else (None, [])
        self._tables: Dict[str, torch.Tensor] = {}
        self._fp = None
        self._miss = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def bind(self, encodings: Sequence[Any]) -> None:
        """Fingerprints of the map's keyframe encodings, in map order (what decode is given)."""
        self._fp = torch.stack([encodings[i].feats.reshape(-1)[:FINGERPRINT]
                                for i in range(len(encodings))])
        self._miss = torch.zeros((), dtype=torch.int64, device=self._fp.device)

    def misses(self) -> int:
        """Keyframes decoded so far that matched no fingerprint (one host read)."""
        return int(self._miss) if self._miss is not None else 0

    def table_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self._tables.values())

    def _build(self, like: Any) -> None:
        if self._cpu is None:
            self._cpu, self.seen = fabricate_tables(
                self._keyframes, self._query, self._size, tuple(like.desc_1.shape[:2]),
                int(like.desc_1.shape[-1]), self._seed)
        if tuple(self._cpu["desc_1"].shape[1:]) != tuple(like.desc_1.shape):
            raise ValueError(f"realistic pairs fabricated for desc maps of shape "
                             f"{tuple(self._cpu['desc_1'].shape[1:])}, the network gives "
                             f"{tuple(like.desc_1.shape)}: fabricate them on its grid")
        self._tables = {f: t.to(device=getattr(like, f).device, dtype=getattr(like, f).dtype)
                        for f, t in self._cpu.items()}

    def decode(self, view1: Sequence[Any], view2: Any, *, pts3d_2: bool = False) -> List[Any]:
        """The wrapped engine's decode, then `substitute`; raises RuntimeError before `bind`."""
        self._check_bound()
        return self.substitute(view1, self._engine.decode(view1, view2, pts3d_2=pts3d_2))

    def _check_bound(self) -> None:
        if self._fp is None:
            raise RuntimeError("RealisticEngine.bind(encodings) must come before decode")

    def substitute(self, view1: Sequence[Any], preds: Sequence[Any]) -> List[Any]:
        """``preds`` (the real decode of ``view1``) with the `FIELDS` replaced by each
        keyframe's fabricated pair, selected on the device."""
        self._check_bound()
        if not preds:
            return list(preds)
        if not self._tables:
            self._build(preds[0])
        fp = torch.stack([e.feats.reshape(-1)[:FINGERPRINT] for e in view1]).to(
            self._fp.device, self._fp.dtype)
        hit = (fp[:, None, :] == self._fp[None]).all(-1)  # (K, keyframes)
        self._miss += (~hit.any(1)).sum()
        idx = hit.float().argmax(1)
        sel = {f: t.index_select(0, idx) for f, t in self._tables.items()}
        return [dataclasses.replace(p, **{f: sel[f][i] for f in FIELDS})
                for i, p in enumerate(preds)]

    def substitution_ms(self, view1: Sequence[Any], repeats: int = 10) -> float:
        """Median time of `substitute` alone for the keyframes ``view1`` (synchronised): the
        bench's own overhead, which the frame figures include."""
        from mast3r_ros.core.model.engine import PairPrediction

        preds = [PairPrediction(*([None] * len(dataclasses.fields(PairPrediction))))
                 for _ in view1]
        dev = self._fp.device
        ts = []
        for _ in range(repeats + 1):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            self.substitute(view1, preds)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            ts.append(time.perf_counter() - t0)
        return float(np.median(ts[1:]) * 1e3)
