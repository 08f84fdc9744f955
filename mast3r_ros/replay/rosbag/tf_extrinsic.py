"""A depth camera's extrinsic to the colour camera taken from a bag's /tf when /tf_static lacks
it: older drivers, ``ros2 bag record`` started after /tf_static was latched, and ROS 1 bags
whose robot_state_publisher put fixed transforms on /tf at a rate carry it only there,
repeated. Every /tf sample of the transforms joining the two frames (directly or through a
chain, `TransformBuffer.samples_between`) must give one transform, within `MOVED_MM` and
`MOVED_DEG`; one that moves is no fixed extrinsic and is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
from rosbags.highlevel import AnyReaderError

from .opening import _open_bag, bag_deserialize, bag_messages, progress_messages
from ...core.errors import InputError
from ...core.message_fields import header_stamp_ns, tq_to_matrix, transform_to_tq
from ...core.tf_buffer import TransformBuffer

# How far the transform joining the depth and colour frames may move over the recording and
# still be one fixed extrinsic. Republishing a calibration changes it by float rounding only
# (1e-9); anything real that moves it (a pan-tilt unit, a frame published from odometry) moves
# it by centimetres or degrees. 1 mm and 0.1 deg move a registered depth pixel by at most ~1
# colour pixel (0.1 deg at fx 600 is 1.05 px at any depth, 1 mm at 1 m is 0.6 px): within the
# registration's own half-pixel footprint ambiguity and a depth camera's noise (a D435's is
# ~2 mm at 1 m). `registered_depth._one_place` calls frames that close one place, for the same
# reason.
MOVED_MM = 1.0
MOVED_DEG = 0.1


def bag_tf(path: Any, tf_topics: List[str]) -> TransformBuffer:
    """`read_tf` of the bag at ``path`` (opened for it: a pass over its tf topics, the whole
    bag's: its progress shown, `opening.progress_messages`, ~24 s an hour of 100 Hz /tf)."""
    with _open_bag(path) as reader:
        return read_tf(reader, tf_topics, f"reading the tf of {Path(path).name} (the depth "
                       "camera's extrinsic)")


def read_tf(reader: Any, tf_topics: List[str], progress: str = "") -> TransformBuffer:
    """A fresh buffer of every transform on ``tf_topics`` of the open bag ``reader``: those on
    a topic ending in tf_static static, the others time-varying (`every_sample_buffer`).
    Invalid samples (NaN, a zero quaternion, an invalid stamp) are dropped, as tf2 drops
    them; messages that cannot be deserialized are skipped. Raises InputError for a tf that
    breaks the tree rules. ``progress``: the pass's progress shown under that name."""
    statics: List[Tuple[str, str, np.ndarray]] = []
    dynamic: Dict[Tuple[str, str], Tuple[List[int], List[np.ndarray]]] = {}
    conns = [c for t in tf_topics for c in reader.topics[t].connections]
    for conn, _, raw in (progress_messages(reader, conns, progress) if progress else
                         bag_messages(reader, connections=conns)):
        try:
            msg = bag_deserialize(reader, raw, conn.msgtype)
        except (AnyReaderError, ValueError):  # damaged: the other samples still tell
            continue
        for ts in msg.transforms:
            parent, child = ts.header.frame_id.lstrip("/"), ts.child_frame_id.lstrip("/")
            try:
                t, q = transform_to_tq(ts.transform)
                stamp = header_stamp_ns(ts.header)
            except ValueError:
                continue
            if conn.topic.endswith("tf_static"):
                statics.append((parent, child, tq_to_matrix(t, q)))
            else:
                stamps, tq = dynamic.setdefault((parent, child), ([], []))
                stamps.append(stamp)
                tq.append(np.concatenate([t, q]))
    return every_sample_buffer(statics, (
        (edge, np.array(stamps, np.int64), np.array(tq, np.float64))
        for edge, (stamps, tq) in dynamic.items()))


def every_sample_buffer(statics: List[Tuple[str, str, np.ndarray]],
                        dynamic: Iterable[Tuple[Tuple[str, str], np.ndarray, np.ndarray]]
                        ) -> TransformBuffer:
    """A fresh buffer of a bag's tf: ``statics`` ((parent, child, 4x4 parent_from_child) in
    the order read; a later one replaces an earlier) added first, then each time-varying edge
    of ``dynamic`` ((parent, child), (N,) int64 header stamps, (N, 7) float64 translation x y
    z and quaternion x y z w, each sample as read; edges in the order first read) with every
    sample: one that repeats a stamp is kept 1 ns after the last, where a lookup would keep
    only the first, so that a transform that changes while its stamp does not (a publisher
    stamping 0) moves for `constant_extrinsic`. Both `read_tf` (a pass of its own) and the
    indexing pass's samples (`BagSequence` with --pose-frames) build it so: the same buffer.
    Raises InputError for a tf that breaks the tree rules."""
    buffer = TransformBuffer()
    for parent, child, pose in statics:
        buffer.add_static(parent, child, pose)
    for (parent, child), at, rows in dynamic:
        order = np.argsort(at, kind="stable")
        repeats = np.zeros(at.size, np.int64)  # how many samples before it share its stamp
        same = np.diff(at[order]) == 0
        for k in np.flatnonzero(same):
            repeats[order[k + 1]] = repeats[order[k]] + 1
        buffer.add_dynamic_tq(parent, child, at + repeats, rows[:, :3], rows[:, 3:])
    return buffer


def constant_extrinsic(buffer: TransformBuffer, image: str, depth: str, where: str, fix: str
                       ) -> Optional[Tuple[np.ndarray, int]]:
    """(``image_from_depth`` 4x4 float64, metres: its value at the first sample, how many
    samples gave it) when ``buffer`` joins the frames ``image`` and ``depth`` by transforms
    that stay within `MOVED_MM` and `MOVED_DEG` over all their samples; None when it does not
    join them. Raises InputError (one line: ``where``, the two frames, how much and when the
    transform moved, and ``fix``) when it moves more."""
    if not {image, depth} <= buffer.frames:
        return None
    try:
        stamps, samples = buffer.samples_between(image, depth)
    except InputError:  # not connected
        return None
    first = samples[0]
    with np.errstate(over="ignore"):  # a damaged 1e300 m sample: moved inf m, no warning line
        moved_m = np.linalg.norm(samples[:, :3, 3] - first[:3, 3], axis=1)
    turn = np.einsum("ij,nij->n", first[:3, :3], samples[:, :3, :3])  # trace(R0^T Ri)
    moved_deg = np.degrees(np.arccos(np.clip((turn - 1) / 2, -1.0, 1.0)))
    bad = (moved_m > MOVED_MM * 1e-3) | (moved_deg > MOVED_DEG)
    if bad.any():
        worst = int(np.argmax(moved_m * 1e3 / MOVED_MM + moved_deg / MOVED_DEG))
        raise InputError(
            f"{where}, and /tf (not /tf_static) joins '{depth}' to '{image}' by a transform "
            f"that moves during the recording: by up to {moved_m.max() * 1e3:.1f} mm and "
            f"{moved_deg.max():.2f} deg (at t={stamps[worst] * 1e-9:.6f} s against "
            f"t={stamps[0] * 1e-9:.6f} s; a fixed extrinsic stays within {MOVED_MM:g} mm and "
            f"{MOVED_DEG:g} deg), so it is no depth camera's extrinsic to register the depth "
            f"with: publish the fixed depth-to-colour transform on /tf_static (and nothing "
            f"moving between the two frames); or {fix}")
    return np.array(first), int(stamps.size)

