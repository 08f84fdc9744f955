"""The TF timer's re-broadcast and a frame's own map->odom publish go out in stamp order.

Since a frame's pose and TF publish left the node lock (rmw_fastrtps sends on the calling
thread; the executor's callbacks no longer wait for it), the TF timer could run while a frame
was publishing: it stamped the held map->odom later than the frame's stamp and sent it first,
so /tf carried the frame's older stamp after the newer one -- the order `next_tf_stamp_ns`
promises ("strictly increase") and tf2 relies on. A tick that meets a frame's publish in
progress now leaves the re-broadcast to that frame (it sends a fresh TF itself)."""

from __future__ import annotations

import threading

from test_ros_clock_jumps import _host
from test_ros_processing import NS_PER_S, image, stamp


def test_a_tf_tick_during_a_frames_publish_sends_no_stamp_before_the_frames():
    host = _host()
    host._process(image(stamp(0)))  # a TF is held: the timer re-broadcasts it
    ticked = []
    pose = host._outputs.pose

    def publish_while_the_timer_fires(*a):
        host.clock.now_ns += NS_PER_S // 20  # the next TF tick is due meanwhile
        tick = threading.Thread(target=lambda: (host._tf_tick(), ticked.append(True)))
        tick.start()
        tick.join(0.5)  # a tick that waits for the publish finishes after it
        pose(*a)

    host._outputs.pose = publish_while_the_timer_fires
    host.clock.now_ns += NS_PER_S // 20
    host._process(image(stamp(1)))
    for _ in range(100):  # the tick thread, when it waited for the publish
        if ticked:
            break
        threading.Event().wait(0.05)
    sent = host._tf.sent
    assert ticked and len(sent) >= 2
    assert all(b > a for a, b in zip(sent, sent[1:])), sent
