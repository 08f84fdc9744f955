"""The node's lifecycle publishers (imports rclpy message types): ~/pose, ~/keyframes, ~/matches.

~/pose and ~/keyframes use AMCL's latched QoS (late subscribers get the last message); ~/matches
(depth 1) exists only with ``publish_debug_image``. The keyframe markers are published at activate,
stamped with the node clock; under ``use_sim_time`` before the first /clock that reads 0, so they
are published again, stamped, once the clock runs (`Outputs.restamp_keyframes`): the latched
message a late rviz or ``ros2 topic echo`` gets is then not dated 1970; so they are too when the
clock jumps back (a bag replayed with ``--loop``), or the old timeline's stamp would lie in the
new one's future. Lifecycle publishers
drop messages while the node is inactive. Created in on_configure, closed in cleanup. The worker
thread publishes through a `shutdown.PublishGate`: `close` waits for a publish in progress, and
nothing is published after it (nor raised, while the process is exiting).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional, TYPE_CHECKING, Tuple

import numpy as np
from geometry_msgs.msg import PoseWithCovarianceStamped
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from mast3r_ros.core.types import Frame
from mast3r_ros.ros import conversions as conv
from mast3r_ros.ros import debug_view, topics
from mast3r_ros.ros.shutdown import PublishGate

# keyframe markers stamped further than this ahead of the node clock were stamped on a timeline
# the clock left (it jumped back): `Outputs.restamp_keyframes` publishes them again
RESTAMP_BEHIND_NS = 1_000_000_000

if TYPE_CHECKING:
    from mast3r_ros.core.types import MatchDebug


class Outputs:
    """Publishers of one configured node; ``map_frame`` is the frame poses and markers are in.
    A constructor that fails part-way (the context going down during configure) destroys the
    publishers it created (`close`) before it raises."""

    def __init__(self, node: Any, map_frame: str, publish_debug_image: bool,
                 shutting_down: Callable[[], bool] = lambda: False) -> None:
        self._node = node
        self._gate = PublishGate(shutting_down)
        self._map_frame = map_frame
        self._pose = self._keyframes = self._matches = None
        # the keyframe map last published and its stamp, to publish again stamped on the
        # running clock (`restamp_keyframes`)
        self._shown: Optional[Tuple[Any, int]] = None
        try:
            self._pose = node.create_lifecycle_publisher(
                PoseWithCovarianceStamped, "~/pose", topics.latched())
            self._keyframes = node.create_lifecycle_publisher(MarkerArray, "~/keyframes",
                                                              topics.latched())
            self._matches = (node.create_lifecycle_publisher(Image, "~/matches", 1)
                             if publish_debug_image else None)
        except BaseException:
            # configure fails (the node's teardown never sees these Outputs): the publishers
            # created before the failure go now, not at destroy_node
            try:
                self.close()
            except Exception:  # noqa: BLE001 - the creation's error is the one to report
                pass
            raise

    def pose(self, map_from_base: np.ndarray, covariance: np.ndarray, stamp_ns: int) -> None:
        """The base pose ``map_from_base`` (4x4: base_frame -> map_frame) with its 6x6
        covariance in the `ros.frames` convention, stamped with the image stamp (integer ns)."""
        msg = conv.pose_with_covariance_msg(map_from_base, covariance, stamp_ns, self._map_frame)
        self._gate.run(lambda: self._pose.publish(msg))

    def keyframes(self, keyframe_map: Any, stamp_ns: int) -> None:
        """The markers of ``keyframe_map`` (replacing earlier ones): an arrow and an id label per
        keyframe, or a compact LINE_LIST + POINTS for a large map (`debug_view`), stamped
        ``stamp_ns`` (the node clock's now). A ``stamp_ns`` <= 0 (``use_sim_time`` before the
        first /clock) is published as it is (the markers are frame-locked, so rviz shows them)
        and remembered for `restamp_keyframes`."""
        specs = debug_view.map_keyframe_markers(keyframe_map)
        stamp_ns = max(int(stamp_ns), 0)
        msg = conv.marker_array_msg(specs, self._map_frame, stamp_ns)
        self._shown = (keyframe_map, stamp_ns)
        self._gate.run(lambda: self._keyframes.publish(msg))

    def restamp_keyframes(self, now_ns: int) -> bool:
        """Publish the keyframe markers again stamped ``now_ns`` (the node clock, integer ns)
        when the last `keyframes` was stamped 0 and the clock now runs (``now_ns`` > 0), or
        the clock jumped back more than `RESTAMP_BEHIND_NS` behind that stamp (a bag replayed
        with ``--loop --clock`` under ``use_sim_time``, a simulator reset: a latched message
        stamped on the old timeline is in the new one's future). The node calls it every second
        while active and when it sees the clock jump back. Returns True when it published."""
        shown = self._shown
        if shown is None or now_ns <= 0 or not self._gate.is_open:
            return False
        keyframe_map, stamp_ns = shown
        if stamp_ns > 0 and stamp_ns - int(now_ns) <= RESTAMP_BEHIND_NS:
            return False
        self.keyframes(keyframe_map, now_ns)
        return True

    def matches(self, frame: Frame, matches: Optional[MatchDebug], keyframe_map: Any) -> None:
        """The ~/matches picture of ``frame`` (see `debug_view.matches_picture`), if enabled."""
        pub = self._matches
        if pub is None or not self._gate.is_open:
            return
        rgb = debug_view.matches_picture(frame.rgb, matches, keyframe_map)
        msg = conv.image_msg(rgb, frame.stamp_ns, frame.frame_id)
        self._gate.run(lambda: pub.publish(msg))

    def close(self) -> None:
        """Close the gate (waiting for a publish in progress), then destroy the publishers."""
        self._gate.close()
        for pub in (self._pose, self._keyframes, self._matches):
            if pub is not None:
                self._node.destroy_lifecycle_publisher(pub)
        self._pose = self._keyframes = self._matches = None
        self._shown = None
