"""Validation of a keyframe map manifest: required keys and types, numeric arrays, poses, and the
keyframe records (`Keyframe`) parsed from it; errors are
`MapFormatError` naming the file and key."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..errors import InputError, MapFormatError
from ..geometry import nonfinite_entries
from ..types import CameraIntrinsics
from .layout import (
    MANIFEST,
    Keyframe,
)


def _need(d: Mapping[str, Any], key: str, types: Any, where: str) -> Any:
    if not (type(d) is dict or isinstance(d, Mapping)) or key not in d:
        raise MapFormatError(f"{where}: missing field '{key}'")
    v = d[key]
    if not isinstance(v, types) or (isinstance(v, bool) and types is not bool):
        raise MapFormatError(f"{where}: field '{key}' has the wrong type "
                             f"({type(v).__name__})")
    return v


def _numbers(v: Any, n: Optional[int], where: str, key: str, finite: bool = True) -> np.ndarray:
    # JSON numbers are exactly int or float (bool is refused: type(True) is bool)
    ok = type(v) is list and all(type(x) is float or type(x) is int for x in v)
    if not ok or (n is not None and len(v) != n):
        raise MapFormatError(f"{where}: field '{key}' must be a list of "
                             f"{n if n is not None else 'some'} numbers")
    a = np.asarray(v, dtype=np.float64)
    if finite and not np.isfinite(a).all():
        raise MapFormatError(f"{where}: field '{key}' has non-finite values")
    return a


def _nonfinite_pose(pose: np.ndarray, kid: int, stamp_ns: int) -> str:
    """What is wrong with a keyframe's (4, 4) ``pose`` holding NaN or inf, where, and the fix
    (a map file's check names the file and the record before it)."""
    return (f"'map_from_cam' holds NaN/inf ({nonfinite_entries(pose)}) for keyframe id {kid} "
            f"(stamp {int(stamp_ns) * 1e-9:.6f} s), not a pose: the map was written with a pose "
            "its source did not have (a trajectory or TF gap?); rebuild the map (build-map "
            "refuses such a pose, naming its frame) or correct that pose")


def _invalid_poses(poses: np.ndarray, tol: float = 1e-4) -> np.ndarray:
    """Indices of the (K, 4, 4) poses that `geometry.is_valid_pose` refuses, in one pass (the
    same tests, vectorised: opening a 10^5-keyframe map checks 10^5 poses)."""
    fin = np.isfinite(poses).all(axis=(1, 2))
    P = np.where(fin[:, None, None], poses, 0.0)
    R = P[:, :3, :3]
    eye = np.eye(3)
    ortho = (np.abs(R @ R.transpose(0, 2, 1) - eye) <= tol + 1e-5 * eye).all(axis=(1, 2))
    det = np.abs(np.linalg.det(R) - 1) < tol if len(R) else np.zeros(0, bool)
    last_want = np.array([0.0, 0.0, 0.0, 1.0])
    last = (np.abs(P[:, 3] - last_want) <= tol + 1e-5 * last_want).all(axis=1)
    return np.flatnonzero(~(fin & ortho & det & last))


def _parse_keyframes(recs: List[Any], files: Mapping[str, Any]) -> List[Keyframe]:
    """Every keyframe record; poses validated together, identical intrinsics parsed once."""
    cams: Dict[str, CameraIntrinsics] = {}
    kfs = [_parse_keyframe(r, i, files, cams) for i, r in enumerate(recs)]
    if kfs:
        bad = _invalid_poses(np.stack([k.map_from_cam for k in kfs]))
        if len(bad):
            raise MapFormatError(f"{MANIFEST}: keyframes[{bad[0]}]: field 'map_from_cam' is not "
                                 "a rigid transform")
    return kfs


def _parse_keyframe(rec: Any, index: int, files: Mapping[str, Any],
                    cams: Dict[str, CameraIntrinsics]) -> Keyframe:
    """One keyframe record; the pose is checked by the caller (`_parse_keyframes`, with the
    others'); ``cams``: the intrinsics parsed so far, by record."""
    where = f"{MANIFEST}: keyframes[{index}]"
    if not (type(rec) is dict or isinstance(rec, Mapping)):
        raise MapFormatError(f"{where}: must be an object")
    kid = _need(rec, "id", int, where)
    stamp = _need(rec, "stamp_ns", int, where)
    image = _need(rec, "image", str, where)
    intr = _need(rec, "intrinsics", dict, where)
    key = repr(intr)
    cam = cams.get(key)
    if cam is None:
        iw = f"{where}.intrinsics"
        try:
            cam = CameraIntrinsics(
                _need(intr, "width", int, iw), _need(intr, "height", int, iw),
                _numbers(_need(intr, "K", list, iw), 9, iw, "K").reshape(3, 3),
                _numbers(_need(intr, "dist", list, iw), None, iw, "dist"),
                _need(intr, "distortion_model", str, iw))
        except InputError as e:
            raise MapFormatError(f"{iw}: {e}") from None
        cams[key] = cam
    pose = _numbers(_need(rec, "map_from_cam", list, where), 16, where, "map_from_cam",
                    finite=False).reshape(4, 4)
    if not np.isfinite(pose).all():  # a NaN is no rotation: said as such, not "not rigid"
        raise MapFormatError(f"{where}: field {_nonfinite_pose(pose, kid, stamp)}")
    depth = rec.get("depth")
    scale = 0.0
    if depth is not None:
        depth = _need(rec, "depth", str, where)
        scale = float(_need(rec, "depth_scale", (int, float), where))
        if not (scale > 0 and np.isfinite(scale)):
            raise MapFormatError(f"{where}: field 'depth_scale' must be positive, got {scale}")
    for rel in [image] + ([depth] if depth else []):
        if rel not in files:
            raise MapFormatError(f"{where}: file '{rel}' is not in the manifest's file table")
    return Keyframe(kid, stamp, cam, pose, image, depth, scale)
