"""TF for the node (imports tf2_ros): lookups at image stamps and broadcasts of `TfToPublish`.

Created in on_configure and closed in cleanup, as ROS_NOTES recommends for a lifecycle node: the
listener shares the node (``spin_thread=False``); the node's single-threaded executor fills the
buffer while the worker thread waits in a lookup with a timeout (tf2_ros waits by sleeping in the
calling thread). Broadcasts from the worker go through a `shutdown.PublishGate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.duration import Duration
from rclpy.time import Time
from tf2_ros import Buffer, TransformBroadcaster, TransformListener

from mast3r_ros.core.message_fields import transform_to_matrix
from mast3r_ros.ros import conversions as conv
from mast3r_ros.ros.frames import TfToPublish
from mast3r_ros.ros.shutdown import PublishGate

TF_CACHE_S = 10.0


class TfClient:
    """A TF buffer with its listener, and a broadcaster, on ``node``."""

    def __init__(self, node: Any, shutting_down: Callable[[], bool] = lambda: False) -> None:
        self._node = node
        self._gate = PublishGate(shutting_down)
        self.buffer = Buffer(cache_time=Duration(seconds=TF_CACHE_S))
        self._listener = TransformListener(self.buffer, node, spin_thread=False)
        self._broadcaster = TransformBroadcaster(node)

    def lookup(self, target: str, source: str, stamp_msg: Any, timeout_s: float) -> np.ndarray:
        """``target_from_source`` (4x4) at ``stamp_msg`` (None: latest), waiting up to
        ``timeout_s``. Raises tf2_ros.TransformException when it is not available."""
        if target == source:
            return np.eye(4)
        when = Time() if stamp_msg is None else Time.from_msg(stamp_msg)
        ts = self.buffer.lookup_transform(target, source, when,
                                          timeout=Duration(seconds=timeout_s))
        return transform_to_matrix(ts.transform)

    def send(self, tf: TfToPublish, stamp_ns: int) -> None:
        """Broadcast ``tf`` stamped ``stamp_ns`` (integer nanoseconds; the node passes now +
        ``transform_tolerance``, strictly increasing: `tracking.TrackingState.next_tf_stamp_ns`).
        Raises InputError for a transform that is not a finite 4x4 matrix."""
        msg = conv.transform_msg(tf, stamp_ns)
        self._gate.run(lambda: self._broadcaster.sendTransform(msg))

    def clear(self) -> None:
        """Forget dynamic transforms (a new timeline); static transforms survive a clear."""
        self.buffer.clear()

    def close(self) -> None:
        """Close the gate (waiting for a broadcast in progress), then destroy the entities; call
        on the executor thread or after the executor stopped."""
        self._gate.close()
        self._listener.unregister()
        self._node.destroy_publisher(self._broadcaster.pub_tf)
