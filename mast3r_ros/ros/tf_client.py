"""TF for the node (imports tf2_ros): lookups at image stamps and broadcasts of `TfToPublish`.

Created in on_configure and closed in cleanup, as ROS_NOTES recommends for a lifecycle node: the
listener shares the node (``spin_thread=False``); the node's single-threaded executor fills the
buffer while the worker thread waits in a lookup with a timeout (tf2_ros waits by sleeping in the
calling thread). Broadcasts from the worker go through a `shutdown.PublishGate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, List

import numpy as np
from rclpy.duration import Duration
from rclpy.time import Time
from tf2_ros import Buffer, TransformBroadcaster, TransformListener

from mast3r_ros.core.message_fields import transform_to_matrix
from mast3r_ros.ros import conversions as conv
from mast3r_ros.ros.frames import TfToPublish
from mast3r_ros.ros.shutdown import PublishGate

TF_CACHE_S = 10.0


class _Listener(TransformListener):
    """tf2_ros' TransformListener, without the noise of a constructor that failed part-way.

    Humble's (tf2_ros_py 0.25) ``__del__`` calls ``unregister()``, which reads ``self.tf_sub``
    and ``self.tf_static_sub`` unguarded; when a ``create_subscription`` in ``__init__`` raised
    (the context going down: SIGTERM while configuring), collecting the half-built listener
    printed "Exception ignored in: <function TransformListener.__del__>" with an AttributeError
    traceback (the newest tf2_ros read, with ``static_only``, still reads ``tf_static_sub``
    unguarded). Here a subscription the failed constructor did create is destroyed at once, and
    the inherited ``__del__`` runs only for a listener that was completely built.
    """

    _complete = False

    def __init__(self, buffer: Any, node: Any, **kwargs: Any) -> None:
        try:
            super().__init__(buffer, node, **kwargs)
        except BaseException:
            for name in ("tf_sub", "tf_static_sub"):
                sub = self.__dict__.pop(name, None)
                if sub is not None:
                    try:
                        node.destroy_subscription(sub)
                    except Exception:  # noqa: BLE001 - the constructor's error is the one
                        pass
            raise
        self._complete = True

    def __del__(self) -> None:
        inherited = getattr(super(), "__del__", None)
        if self._complete and inherited is not None:
            inherited()


class TfClient:
    """A TF buffer with its listener, and a broadcaster, on ``node``."""

    def __init__(self, node: Any, shutting_down: Callable[[], bool] = lambda: False) -> None:
        self._node = node
        self._gate = PublishGate(shutting_down)
        self._closed = False
        self.buffer = Buffer(cache_time=Duration(seconds=TF_CACHE_S))
        self._listener = _Listener(self.buffer, node, spin_thread=False)
        try:
            self._broadcaster = TransformBroadcaster(node)   # one create_publisher
        except BaseException:
            # configure fails; the listener's /tf and /tf_static subscriptions go with it
            try:
                self._listener.unregister()
            except Exception:  # noqa: BLE001 - the broadcaster's error is the one to report
                pass
            raise

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

    def close(self) -> List[str]:
        """Close the gate (waiting for a broadcast in progress), then destroy the entities; call
        on the executor thread or after the executor stopped.

        Idempotent and never raises: a second call does nothing, and each step runs even when
        the one before it failed (the /tf publisher is destroyed when unregistering the listener
        raised), so a teardown goes on to release the model. Returns the failures as lines
        ('<step>: <error>') for the caller to log; [] when all went well or already closed.

        tf2_ros' ``TransformListener.__del__`` calls ``unregister()`` again when the listener is
        collected; rclpy's ``destroy_subscription`` of a subscription no longer in the node's
        list returns False without raising or logging (rclpy humble and jazzy), so that second
        unregister is harmless.
        """
        if self._closed:
            return []
        self._closed = True
        problems = []
        for step, fn in (("closing the TF publish gate", self._gate.close),
                         ("unregistering the TF listener", self._listener.unregister),
                         ("destroying the /tf publisher",
                          lambda: self._node.destroy_publisher(self._broadcaster.pub_tf))):
            try:
                fn()
            except Exception as err:  # noqa: BLE001 - the teardown must go on
                problems.append(f"{step}: {err!r}")
        return problems
