"""A small ROS-free transform buffer (the part of tf2 that offline readers need).

Transforms are stored per child frame as ``parent_from_child`` 4x4 float64 matrices, as tf2 does:
every frame has at most one parent, so the frames form a forest. A lookup walks from both frames
up to their common ancestor and composes the edges, taking each time-varying edge at the
requested stamp by the one pose-at-stamp rule of `trajectory.poses_at_stamps` (exact sample, else
linear/slerp interpolation across a gap of at most ``max_gap_ns``, else the nearest sample within
``tolerance_ns``). Stamps are integer nanoseconds.

The gap an edge is interpolated across is its own: the larger of ``max_gap_ns`` and
`EDGE_GAP_PERIODS` times the edge's median sample spacing (`edge_max_gap_ns`). tf2 interpolates
across any gap, and a slowly published edge is normal in ROS (REP 105: map -> odom from a
localizer at a few Hz); a frame between two samples of a 5 Hz map -> odom had no pose with a
``max_gap_ns`` of 0.1 s. A hole in a fast edge (odom -> base_link at 50 Hz, 1 s without a
sample) is still refused: its median spacing is 0.02 s, so its gap stays ``max_gap_ns``.

An offline read keeps every sample of a bag's tf (an hour of 100 Hz odometry and five 50 Hz
edges: 1.26 M samples), so an edge keeps them in numpy columns, not as Python objects: 64 B a
sample given as translation + quaternion (`TransformBuffer.add_dynamic_tq`, what the bag reader
uses: 81 MB for that hour), 136 B given as a 4x4 matrix (`add_dynamic`); 4x4 arrays in lists
took ~310 B, and ~410 B once the first lookup had stacked them (`bench/bench_tf_buffer.py`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

import numpy as np

from . import trajectory
from .errors import InputError
from .geometry import invert_poses, rigid_pose
from .message_fields import checked_tq_to_matrix, tq_to_matrix
from .trajectory import bracketing_gaps, poses_at_samples
from .types import check_stamp_ns


class TransformError(InputError):
    """A transform cannot be looked up: unknown or disconnected frames."""


class ExtrapolationError(TransformError):
    """The frames are connected, but a time-varying edge has no sample near the stamp.

    ``gap_ns``: when the stamp lies between two samples of the edge that are farther apart than
    the edge is interpolated across (`edge_max_gap_ns`: a dropout in its samples), how far
    apart they are; None when the stamp is before the first or after the last sample.
    ``spacing_ns``: with ``gap_ns``, the 90th percentile of the edge's sample spacing (float ns:
    its usual longest step, bursts of a bursty publisher included), None when it has fewer than
    4 samples (its rate unknown): whether the gap is a hole in it. The message is ``reason``
    followed by ``note``: the closing note that the stamp is more than a day outside the
    samples (another clock), '' when there is none; a caller that names the clocks itself
    words its own message from ``reason`` alone."""

    def __init__(self, reason: str, gap_ns: Optional[int] = None,
                 spacing_ns: Optional[float] = None, note: str = "") -> None:
        super().__init__(reason + note)
        self.reason, self.note = reason, note
        self.gap_ns, self.spacing_ns = gap_ns, spacing_ns


def _finite_transform(parent_from_child: np.ndarray, parent: str, child: str) -> np.ndarray:
    # a copy: a caller that fills one array for every message must not rewrite stored samples
    return np.array(rigid_pose(parent_from_child, f"transform {parent} -> {child}"))


# A time-varying tf edge is interpolated across gaps up to this many times its median sample
# spacing (when more than max_gap_ns): a gap of n + 1 periods is n lost messages, so 2.5 takes
# one lost message and half a period of jitter (a 5 Hz edge's 0.4 s gap where one message is
# missing: interpolated, as tf2 does), while two lost in a row (0.6 s) are an outage, a gap. At
# 1.5 a single lost message of a slow edge left every image in it without a pose.
EDGE_GAP_PERIODS = 2.5
# the median spacing of fewer samples says nothing of the publisher's rate: max_gap_ns alone
_MIN_SAMPLES_FOR_RATE = 4


def edge_max_gap_ns(max_gap_ns: Optional[int], spacing_ns: Optional[float]) -> Optional[int]:
    """The longest gap (int ns) a time-varying edge is interpolated across: ``max_gap_ns``, or
    `EDGE_GAP_PERIODS` times ``spacing_ns`` (the edge's median sample spacing, ns; None when it
    has fewer than 4 samples) when that is longer. None (any gap, as tf2) for ``max_gap_ns``
    None."""
    if max_gap_ns is None:
        return None
    if spacing_ns is None:
        return max_gap_ns
    return max(int(max_gap_ns), int(round(EDGE_GAP_PERIODS * spacing_ns)))


# How an edge keeps its samples: 4x4 matrices (`add_dynamic`: 136 B a sample with its stamp)
# or translation + quaternion as a message gave them (`add_dynamic_tq`, a bag's tf: 64 B).
_MATRIX, _TQ = 16, 7


class _TqPoses:
    """The samples of a translation + quaternion edge as 4x4 poses: ``poses[i]`` is
    `tq_to_matrix` of row i ((N, 7) float64: x y z, qx qy qz qw as given), the very matrix a
    reader that built it from the message would have stored (bit for bit: each part copied into
    a fresh array as the message's numbers were)."""

    __slots__ = ("tq",)

    def __init__(self, tq: np.ndarray) -> None:
        self.tq = tq

    def __len__(self) -> int:
        return len(self.tq)

    def __getitem__(self, i: int) -> np.ndarray:
        q = np.array(self.tq[i, 3:])  # checked by `add_dynamic_tq`: not again per lookup
        return checked_tq_to_matrix(np.array(self.tq[i, :3]), q, float(np.linalg.norm(q)))


class _Edge:
    """All samples of one parent -> child transform, in compact growing columns ``_cols``:
    ((capacity,) int64 stamps, (capacity, width) float64 poses (width `_MATRIX` or `_TQ`), the
    count filled), one tuple so that a lookup reads them consistently. Amortised growth; sorted
    by stamp (stably, of equal stamps the first added kept, as `trajectory.lookup_samples`
    does) and trimmed once, at the first lookup after an add (two threads' first lookups both
    sort, to the same columns). A static edge keeps its one matrix in ``pose``."""

    __slots__ = ("parent", "static", "pose", "width", "_cols", "_ready", "_spacing", "_wide")

    def __init__(self, parent: str, static: bool) -> None:
        self.parent, self.static = parent, static
        self.pose: Optional[np.ndarray] = None
        self.width, self._ready = 0, True
        self._spacing: Optional[float] = None  # median sample spacing (ns), set with `_cols`
        self._wide: Optional[float] = None  # its 90th percentile, at the first refusal (`at`)
        self._cols: Tuple[np.ndarray, np.ndarray, int] = (
            np.empty(0, np.int64), np.empty((0, 0), np.float64), 0)

    def add(self, stamps_ns: np.ndarray, poses: np.ndarray) -> None:
        """Append (n,) int64 stamps and their (n, width) float64 poses (not thread-safe, as
        any add: the reader adds before it looks up)."""
        stamps, stored, size = self._cols
        width = poses.shape[1]
        if self.width and width != self.width:  # both kinds on one edge: matrices for all
            if width == _TQ:
                poses = np.stack([_TqPoses(poses)[i] for i in range(len(poses))]).reshape(-1, 16)
            else:
                old = _TqPoses(stored[:size])
                stored = np.stack([old[i] for i in range(size)]).reshape(-1, 16)
                stamps = stamps[:size].copy()
            width = _MATRIX
        self.width = width
        end = size + len(stamps_ns)
        if end > len(stamps):
            capacity = max(end, len(stamps) * 3 // 2 + 64)
            grown_stamps = np.empty(capacity, np.int64)
            grown_stamps[:size] = stamps[:size]
            grown = np.empty((capacity, width), np.float64)
            if size:
                grown[:size] = stored[:size]
            stamps, stored = grown_stamps, grown
        stamps[size:end] = stamps_ns
        stored[size:end] = poses
        self._ready = False
        self._cols = (stamps, stored, end)

    def _samples(self) -> Tuple[np.ndarray, Any]:
        """(N,) sorted stamps, none repeated, and their poses (``poses[i]``: 4x4 float64)."""
        ready = self._ready  # read first: `_cols` is sorted before `_ready` is set
        stamps, poses, size = self._cols
        if not ready:
            # sorted, first of equal stamps kept, once: not per lookup (`lookup_samples`)
            room = len(stamps)
            stamps, poses = trajectory._first_of_sorted(stamps[:size], poses[:size])
            if len(stamps) < room and np.may_share_memory(stamps, self._cols[0]):
                # not copied by the sort: trim the spare room
                stamps, poses = stamps.copy(), poses.copy()
            # once per add, not per lookup (a median over an hour of 100 Hz tf: ~8 ms)
            self._spacing = (float(np.median(trajectory.stamp_steps(stamps)[0]))
                             if len(stamps) >= _MIN_SAMPLES_FOR_RATE else None)
            self._wide = None
            self._cols = (stamps, poses, len(stamps))
            self._ready = True
        if self.width == _TQ:
            return stamps[:size], _TqPoses(poses)
        return stamps[:size], poses.reshape(-1, 4, 4)

    def at(self, stamp_ns: int, tolerance_ns: int, max_gap_ns: Optional[int],
           child: str) -> np.ndarray:
        """parent_from_child at ``stamp_ns``; see ``TransformBuffer.lookup``."""
        if self.static:
            return self.pose
        stamps, poses = self._samples()
        spacing = self._spacing  # set by `_samples` before it marked the columns ready
        allowed = edge_max_gap_ns(max_gap_ns, spacing)
        pose, valid = poses_at_samples(stamps, poses, [stamp_ns], tolerance_ns, allowed)
        if valid[0]:
            return pose[0]
        gap = "any" if allowed is None else f"{allowed * 1e-9:.3f} s"
        if spacing is not None and max_gap_ns is not None and allowed != max_gap_ns:
            gap += (f", {EDGE_GAP_PERIODS:g} x its median sample spacing of {spacing * 1e-9:.3f} s "
                    "(one lost message)")
        around = int(bracketing_gaps(stamps, [stamp_ns])[0])  # sorted by `_samples`
        if around > 0 and spacing is not None and self._wide is None:  # once, not per refusal
            self._wide = float(np.percentile(trajectory.stamp_steps(stamps)[0], 90))
        apart = f"; its samples around t are {around * 1e-9:.3f} s apart" if around > 0 else ""
        if stamps[0] == stamps[-1] == 0 and stamp_ns != 0:
            # tf2 refuses it as well (one sample at 0, no extrapolation); the range said
            # 'known from 0.000000 s to 0.000000 s' and left the cause to be guessed
            raise ExtrapolationError(
                f"transform {self.parent} -> {child} is not available at "
                f"t={stamp_ns * 1e-9:.6f} s: every sample of it is stamped 0, so its publisher "
                "leaves header.stamp unset; stamp each transform with its time (one that never "
                "changes belongs on /tf_static)")
        clock = _other_clock_note(stamp_ns, int(stamps[0]), int(stamps[-1]))
        raise ExtrapolationError(
            f"transform {self.parent} -> {child} is not available at t={stamp_ns * 1e-9:.6f} s: "
            f"it is known from {stamps[0] * 1e-9:.6f} s to {stamps[-1] * 1e-9:.6f} s "
            f"(tolerance {tolerance_ns * 1e-9:.3f} s, interpolation across gaps up to {gap}"
            f"{apart})",
            gap_ns=around if around > 0 else None,
            spacing_ns=self._wide if around > 0 and spacing is not None else None,
            note=clock,
        )


def _edge_at_stamps(edge: _Edge, query_ns: np.ndarray) -> np.ndarray:
    """(U, 4, 4) ``parent_from_child`` of ``edge`` at the sorted stamps ``query_ns``: its one
    pose when static; else translation interpolated linearly and rotation by slerp between its
    samples, its first / last sample before / after them (`TransformBuffer.samples_between`)."""
    if edge.static:
        return np.broadcast_to(edge.pose, (query_ns.size, 4, 4))
    from scipy.spatial.transform import Rotation, Slerp

    stamps, poses = edge._samples()
    if isinstance(poses, _TqPoses):
        t, rot = poses.tq[:, :3], Rotation.from_quat(poses.tq[:, 3:])
    else:
        t, rot = poses[:, :3, 3], Rotation.from_matrix(poses[:, :3, :3])
    out = np.tile(np.eye(4), (query_ns.size, 1, 1))
    if stamps.size == 1:
        out[:, :3, :3], out[:, :3, 3] = rot.as_matrix()[0], t[0]
        return out
    # offsets from the first sample as float: 1.7e18 ns as a float64 keeps 256 ns steps only
    at = (np.clip(query_ns, stamps[0], stamps[-1]) - stamps[0]).astype(np.float64)
    times = (stamps - stamps[0]).astype(np.float64)
    out[:, :3, 3] = np.stack([np.interp(at, times, t[:, k]) for k in range(3)], axis=1)
    out[:, :3, :3] = Slerp(times, rot)(at).as_matrix()
    return out


# a stamp this far outside a transform's samples is on another clock, not merely late
_OTHER_CLOCK_NS = 86_400 * 1_000_000_000


def _other_clock_note(stamp_ns: int, first_ns: int, last_ns: int) -> str:
    """'; t is N days before ...: another clock' for a stamp more than a day outside the
    samples [first_ns, last_ns] (a camera stamping its time since boot against tf in ROS time:
    the bare range left the cause to be worked out), a stamp of 0 named as unset, else ''."""
    off = first_ns - stamp_ns if stamp_ns < first_ns else stamp_ns - last_ns
    if off <= _OTHER_CLOCK_NS:
        return ""
    if stamp_ns == 0:  # no clock's time: a message never stamped (one republished by a relay)
        return ("; t is 0, an unset header.stamp: that message was never stamped, so it has no "
                "time to look its pose up at")
    side = "before its first" if stamp_ns < first_ns else "after its last"
    return (f"; t is {off / _OTHER_CLOCK_NS:.1f} days {side} sample, so the two are stamped by "
            "different clocks (a camera's time since boot, or a simulator's, against ROS "
            "time?): have the driver stamp with ROS time")


def _int64_stamps(stamps: np.ndarray, what: str) -> np.ndarray:
    """(N,) integer stamps (any integer dtype, or Python ints as object) -> (N,) int64, or
    `InputError` naming ``what`` for one outside int64: a ROS stamp (int32 sec, uint32 nanosec)
    stays within +-2**62 ns, so one past it is a corrupt message or a negative stamp stored as
    uint64, which astype(int64) wrapped to another time without a word."""
    if stamps.size and stamps.dtype.kind in "uO":
        top, bottom = int(stamps.max()), int(stamps.min())
        if top > _INT64_MAX or bottom < -_INT64_MAX - 1:
            bad = top if top > _INT64_MAX else bottom
            raise InputError(f"{what}: a stamp of {bad} ns lies outside int64 (|t| < 2**63 ns, "
                             "about 292 years): no ROS stamp (int32 sec, uint32 nanosec) reaches "
                             "it; a corrupt message, or a negative stamp stored as uint64")
    return stamps.astype(np.int64)


_INT64_MAX = 2**63 - 1


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
        edge = self._edges.get(child)
        if edge is not None and not edge.static and edge.parent == parent:
            _, samples = edge._samples()
            self._same_on_both(parent, child, pose, [samples[i] for i in range(len(samples))])
            edge.static, edge.pose, edge.width = True, None, 0  # as tf2: one value, read static
            edge._cols, edge._ready = (np.empty(0, np.int64), np.empty((0, 0)), 0), True
        self._edge(parent, child, static=True).pose = pose

    def add_dynamic(
        self, parent: str, child: str, stamp_ns: int, parent_from_child: np.ndarray
    ) -> None:
        """Add one sample of the time-varying transform ``parent_from_child`` (4x4 float) at
        ``stamp_ns`` (integer nanoseconds: a Python int or numpy integer). Raises InputError
        for a float or bool stamp (it would be truncated to whole nanoseconds), a transform that
        is not a finite rigid 4x4 matrix, or one that breaks the tree rules."""
        stamp_ns = check_stamp_ns(stamp_ns, f"transform {parent} -> {child}: stamp_ns")
        _int64_stamps(np.array([stamp_ns], dtype=object), f"transform {parent} -> {child}")
        pose = _finite_transform(parent_from_child, parent, child)
        if self._static_already(parent, child, [pose]):
            return
        self._edge(parent, child, static=False).add(np.array([stamp_ns], np.int64),
                                                    pose.reshape(1, 16))

    def add_dynamic_tq(
        self, parent: str, child: str, stamps_ns: Any, translations: Any, quats_xyzw: Any
    ) -> None:
        """Add N samples of the time-varying transform ``parent_from_child`` as a
        ``geometry_msgs/Transform`` gives them: (N,) stamps (integer nanoseconds), (N, 3)
        translations (metres) and (N, 4) quaternions (x, y, z, w), as the messages gave them
        (one sample: a stamp, (3,) and (4,) also do). A lookup takes each sample as
        `message_fields.tq_to_matrix` of its numbers (the quaternion normalised then): the
        same result, bit for bit, as ``add_dynamic`` of that matrix, but the buffer keeps 64 B
        a sample instead of 136 B (a bag's tf, `replay.rosbag`). N = 0 adds nothing.

        Raises InputError for stamps that are not integers (floats, bools) or lie outside
        int64 (a uint64 stamp of 2**63 ns or more was wrapped to a negative one), arrays of other
        shapes, a non-finite number or a quaternion of norm under 1e-6 (`tq_to_matrix`'s
        error, naming the edge and the sample's stamp), or an edge that breaks the tree rules.
        """
        what = f"transform {parent} -> {child}"
        stamps = np.asarray(stamps_ns)
        if stamps.size and stamps.dtype.kind not in "iu":
            raise InputError(f"{what}: stamps_ns must be integer nanoseconds, got a "
                             f"{stamps.dtype} array; convert seconds with "
                             "np.round(t * 1e9).astype(np.int64)")
        stamps = _int64_stamps(stamps.reshape(-1), what)
        n = stamps.size
        parts = []
        for name, values, width in (("translations", translations, 3),
                                    ("quats_xyzw", quats_xyzw, 4)):
            try:
                a = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(f"{what}: {name} must be numbers, got "
                                 f"{type(values).__name__}") from None
            if a.shape == (width,) and n == 1:
                a = a.reshape(1, width)
            if a.shape != (n, width):
                raise InputError(f"{what}: {name} must be ({n}, {width}): one per stamp, got "
                                 f"shape {a.shape}")
            parts.append(a)
        if n == 0:
            return
        tq = np.concatenate(parts, axis=1)
        # the rows tq_to_matrix may refuse (it says why): non-finite, or a quaternion norm near
        # its limits, 1e-6 and overflow (checked by it exactly, not by this vectorised norm)
        with np.errstate(over="ignore"):
            norms = np.sqrt(np.einsum("ij,ij->i", tq[:, 3:], tq[:, 3:]))
        for i in np.flatnonzero(~np.isfinite(tq).all(axis=1) | ~(norms >= 2e-6)
                                | ~(norms <= 1e150)):
            try:
                tq_to_matrix(tq[i, :3], tq[i, 3:])
            except InputError as err:
                raise InputError(f"{what} at t={stamps[i] * 1e-9:.6f} s: {err}") from None
        if self._static_already(parent, child, _TqPoses(tq)):
            return
        self._edge(parent, child, static=False).add(stamps, tq)

    def _static_already(self, parent: str, child: str, poses: Any) -> bool:
        """Whether the time-varying samples ``poses`` (indexable 4x4s) of an edge already set
        static repeat its value (a driver publishing its static transforms on /tf as well:
        realsense-ros with tf_publish_rate > 0): then they add nothing, as in tf2, which keeps
        one cache per frame and takes both. `InputError` when they differ from it."""
        edge = self._edges.get(child)
        if edge is None or not edge.static or edge.parent != parent or edge.pose is None:
            return False
        self._same_on_both(parent, child, edge.pose, [poses[i] for i in range(len(poses))])
        return True

    @staticmethod
    def _same_on_both(parent: str, child: str, static: np.ndarray, samples: List) -> None:
        """`InputError` unless every time-varying sample equals the static value (1e-9)."""
        off = max((float(np.abs(m - static).max()) for m in samples), default=0.0)
        if off > 1e-9:
            raise InputError(
                f"transform {parent} -> {child} is published both on /tf and /tf_static, with "
                f"values {off:.3g} apart: a transform that changes belongs on /tf only, one "
                "that never does on /tf_static only; stop one of the two publishers")

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
        (``None``: any gap, as tf2) or, for an edge of 4 samples or more, at most
        `EDGE_GAP_PERIODS` times its median sample spacing (`edge_max_gap_ns`: a slowly
        published edge, as map -> odom at 5 Hz), else the nearest sample within
        ``tolerance_ns``, else ``ExtrapolationError``. Unknown or disconnected frames raise
        ``TransformError``, except that a frame looked up from itself is the identity, known
        or not (as in tf2).
        """
        if target == source:
            return np.eye(4)
        target_chain, source_chain, common = self._joining(target, source)
        rule = (stamp_ns, tolerance_ns, max_gap_ns)
        common_from_source = self._compose(source_chain, common, *rule)
        common_from_target = self._compose(target_chain, common, *rule)
        return invert_poses(common_from_target) @ common_from_source

    def _joining(self, target: str, source: str) -> Tuple[List[str], List[str], str]:
        """(target's chain, source's chain, their common ancestor); `TransformError` for an
        unknown frame or frames not connected."""
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
        return target_chain, source_chain, common

    def samples_between(self, target: str, source: str) -> Tuple[np.ndarray, np.ndarray]:
        """``target_from_source`` at every stamp at which a time-varying transform joining the
        two frames has a sample: ((U,) int64 stamps, sorted, and (U, 4, 4) float64). Each
        time-varying edge of the chain is taken at those stamps between its samples (linear
        translation, slerp rotation) and held at its first or last sample outside them, so
        every sample of every edge counts, whatever the gaps (a fixed transform republished
        on /tf at a rate: is it constant?); static edges as they are. Frames joined by static
        transforms only, or one frame: (1,) stamp 0 and their one transform. Raises
        `TransformError` for an unknown frame or frames not connected, as `lookup`."""
        if target == source:
            return np.zeros(1, np.int64), np.eye(4)[None]
        target_chain, source_chain, common = self._joining(target, source)
        edges = [self._edges[f] for f in target_chain[: target_chain.index(common)]
                 + source_chain[: source_chain.index(common)]]
        stamps = np.unique(np.concatenate(
            [np.zeros(0, np.int64)] + [e._samples()[0] for e in edges if not e.static]))
        if not stamps.size:
            stamps = np.zeros(1, np.int64)

        def up(chain: List[str]) -> np.ndarray:  # (U, 4, 4) common_from_chain[0]
            out = np.broadcast_to(np.eye(4), (stamps.size, 4, 4))
            for frame in chain[: chain.index(common)]:
                out = _edge_at_stamps(self._edges[frame], stamps) @ out
            return out

        return stamps, invert_poses(up(target_chain)) @ up(source_chain)

    def static_between(self, target: str, source: str) -> List[Tuple[str, str]]:
        """The (parent, child) transforms joining ``target`` and ``source`` when every one of
        them is static (their transform is then the same at every stamp); [] when one is
        time-varying, the frames are one, unknown or not connected."""
        if target == source or not {target, source} <= self.frames:
            return []
        target_chain, source_chain = self._chain(target), self._chain(source)
        common = next((f for f in source_chain if f in target_chain), None)
        if common is None:
            return []
        children = (target_chain[: target_chain.index(common)]
                    + source_chain[: source_chain.index(common)])
        if not all(self._edges[c].static for c in children):
            return []
        return [(self._edges[c].parent, c) for c in children]

    def connected(self, target: str, source: str) -> bool:
        """Whether a chain of transforms (static or time-varying) joins the two frames; a
        frame is joined to itself, known or not (as `lookup`)."""
        if target == source:
            return True
        if not {target, source} <= self.frames:
            return False
        return bool(set(self._chain(target)) & set(self._chain(source)))

    def root(self, frame: str) -> str:
        """The root of ``frame``'s tree: its topmost ancestor (``frame`` itself without one)."""
        return self._chain(frame)[-1]

    def static_edges(self) -> List[Tuple[str, str]]:
        """Every static (parent, child) transform (/tf_static), sorted."""
        return sorted((e.parent, c) for c, e in self._edges.items() if e.static)

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
