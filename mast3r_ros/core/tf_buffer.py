"""A small ROS-free transform buffer (the part of tf2 that offline readers need).

Transforms are stored per child frame as ``parent_from_child`` 4x4 float64 matrices, as tf2 does:
every frame has at most one parent, so the frames form a forest. A lookup walks from both frames
up to their common ancestor and composes the edges, taking each time-varying edge at the
requested stamp by the one pose-at-stamp rule of `trajectory.poses_at_stamps` (exact sample, else
linear/slerp interpolation across a gap of at most ``max_gap_ns``, else the nearest sample within
``tolerance_ns``). Stamps are integer nanoseconds.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple

import dataclasses

import numpy as np

from .errors import InputError
from .geometry import finite_pose
from .trajectory import bracketing_gaps, lookup_samples, poses_at_samples
from .types import check_stamp_ns


class TransformError(InputError):
    """A transform cannot be looked up: unknown or disconnected frames."""


class ExtrapolationError(TransformError):
    """The frames are connected, but a time-varying edge has no sample near the stamp.

    ``gap_ns``: when the stamp lies between two samples of the edge that are more than
    ``max_gap_ns`` apart (the edge is published too sparsely for the pose-at-stamp rule), how
    far apart they are; None when the stamp is before the first or after the last sample."""

    def __init__(self, message: str, gap_ns: Optional[int] = None) -> None:
        super().__init__(message)
        self.gap_ns = gap_ns


def _finite_transform(parent_from_child: np.ndarray, parent: str, child: str) -> np.ndarray:
    # a copy: a caller that fills one array for every message must not rewrite stored samples
    return np.array(finite_pose(parent_from_child, f"transform {parent} -> {child}"))


@dataclasses.dataclass
class _Edge:
    """All samples of one parent -> child transform (arrays rebuilt lazily after an add)."""

    parent: str
    static: bool
    stamps_ns: List[int] = dataclasses.field(default_factory=list)
    poses: List[np.ndarray] = dataclasses.field(default_factory=list)
    _arrays: Optional[Tuple[np.ndarray, np.ndarray]] = None

    def add(self, stamp_ns: int, pose: np.ndarray) -> None:
        self.stamps_ns.append(int(stamp_ns))
        self.poses.append(pose)
        self._arrays = None

    def at(self, stamp_ns: int, tolerance_ns: int, max_gap_ns: Optional[int],
           child: str) -> np.ndarray:
        """parent_from_child at ``stamp_ns``; see ``TransformBuffer.lookup``."""
        if self.static:
            return self.poses[-1]
        if self._arrays is None:
            # sorted, first of equal stamps kept, once: not per lookup (`lookup_samples`)
            self._arrays = lookup_samples(np.asarray(self.stamps_ns, np.int64),
                                          np.stack(self.poses))
        pose, valid = poses_at_samples(*self._arrays, [stamp_ns], tolerance_ns, max_gap_ns)
        if valid[0]:
            return pose[0]
        stamps = self._arrays[0]
        gap = "any" if max_gap_ns is None else f"{max_gap_ns * 1e-9:.3f} s"
        around = int(bracketing_gaps(stamps, [stamp_ns])[0])  # sorted by `lookup_samples`
        apart = f"; its samples around t are {around * 1e-9:.3f} s apart" if around > 0 else ""
        raise ExtrapolationError(
            f"transform {self.parent} -> {child} is not available at t={stamp_ns * 1e-9:.6f} s: "
            f"it is known from {stamps[0] * 1e-9:.6f} s to {stamps[-1] * 1e-9:.6f} s "
            f"(tolerance {tolerance_ns * 1e-9:.3f} s, interpolation across gaps up to {gap}"
            f"{apart})", gap_ns=around if around > 0 else None,
        )


class TransformBuffer:
    """Static and time-varying transforms between named frames, with chained lookups.

    >>> buf = TransformBuffer()
    >>> buf.add_static("base_link", "camera_optical", base_from_cam)
    >>> buf.add_dynamic("map", "base_link", stamp_ns, map_from_base)
    >>> map_from_cam = buf.lookup("map", "camera_optical", stamp_ns)
    """

    def __init__(self) -> None:
        self._edges: Dict[str, _Edge] = {}

    def add_static(self, parent: str, child: str, parent_from_child: np.ndarray) -> None:
        """Set the constant transform ``parent_from_child`` (a later call replaces it)."""
        pose = _finite_transform(parent_from_child, parent, child)
        edge = self._edge(parent, child, static=True)
        edge.stamps_ns, edge.poses = [0], [pose]

    def add_dynamic(
        self, parent: str, child: str, stamp_ns: int, parent_from_child: np.ndarray
    ) -> None:
        """Add one sample of the time-varying transform ``parent_from_child`` (4x4 float) at
        ``stamp_ns`` (integer nanoseconds: a Python int or numpy integer). Raises InputError
        for a float or bool stamp (it would be truncated to whole nanoseconds), a transform that
        is not a finite 4x4 matrix, or one that breaks the tree rules."""
        stamp_ns = check_stamp_ns(stamp_ns, f"transform {parent} -> {child}: stamp_ns")
        pose = _finite_transform(parent_from_child, parent, child)
        self._edge(parent, child, static=False).add(stamp_ns, pose)

    @property
    def frames(self) -> Set[str]:
        """Every frame named as a parent or a child."""
        return set(self._edges) | {e.parent for e in self._edges.values()}

    def lookup(
        self, target: str, source: str, stamp_ns: int, tolerance_ns: int = 0,
        max_gap_ns: Optional[int] = None,
    ) -> np.ndarray:
        """``target_from_source`` (4x4 float64) at ``stamp_ns``.

        Each time-varying edge is taken at ``stamp_ns`` by `trajectory.poses_at_stamps`:
        interpolated between the samples bracketing it when they are at most ``max_gap_ns`` apart
        (``None``: any gap, as tf2), else the nearest sample within ``tolerance_ns``, else
        ``ExtrapolationError``. Unknown or disconnected frames raise ``TransformError``, except
        that a frame looked up from itself is the identity, known or not (as in tf2).
        """
        if target == source:
            return np.eye(4)
        known = self.frames
        for name in (target, source):
            if name not in known:
                raise TransformError(
                    f"frame {name!r} is not in the transform tree (lookup {target} <- {source}); "
                    f"known frames: {sorted(known)}"
                )
        target_chain, source_chain = self._chain(target), self._chain(source)
        common = next((f for f in source_chain if f in target_chain), None)
        if common is None:
            raise TransformError(
                f"frames {target!r} and {source!r} are not connected: their roots are "
                f"{target_chain[-1]!r} and {source_chain[-1]!r}; a transform between the two "
                "trees is missing (check /tf_static)"
            )
        rule = (stamp_ns, tolerance_ns, max_gap_ns)
        common_from_source = self._compose(source_chain, common, *rule)
        common_from_target = self._compose(target_chain, common, *rule)
        return np.linalg.inv(common_from_target) @ common_from_source

    def _edge(self, parent: str, child: str, static: bool) -> _Edge:
        if parent == child:
            raise InputError(f"transform from frame {child!r} to itself")
        edge = self._edges.get(child)
        if edge is None:
            edge = self._edges[child] = _Edge(parent=parent, static=static)
            self._check_no_cycle(child)
        elif edge.parent != parent:
            raise InputError(
                f"frame {child!r} has two parents, {edge.parent!r} and {parent!r}: a tf tree "
                "allows one parent per frame"
            )
        elif edge.static != static:
            raise InputError(
                f"transform {parent} -> {child} is published both on /tf and /tf_static"
            )
        return edge

    def _check_no_cycle(self, child: str) -> None:
        seen = {child}
        frame = child
        while frame in self._edges:
            frame = self._edges[frame].parent
            if frame in seen:
                parent = self._edges.pop(child).parent
                raise InputError(f"transform {parent} -> {child} would close a loop in the tf tree")
            seen.add(frame)

    def _chain(self, frame: str) -> List[str]:
        """[frame, parent, grandparent, ..., root]."""
        chain = [frame]
        while chain[-1] in self._edges:
            chain.append(self._edges[chain[-1]].parent)
        return chain

    def _compose(
        self, chain: List[str], ancestor: str, stamp_ns: int, tolerance_ns: int,
        max_gap_ns: Optional[int],
    ) -> np.ndarray:
        """``ancestor_from_chain[0]`` by walking the chain up to ``ancestor``."""
        ancestor_from_frame = np.eye(4)
        for frame in chain[: chain.index(ancestor)]:
            parent_from_frame = self._edges[frame].at(stamp_ns, tolerance_ns, max_gap_ns, frame)
            ancestor_from_frame = parent_from_frame @ ancestor_from_frame
        return ancestor_from_frame
