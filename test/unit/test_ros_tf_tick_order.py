"""The TF timer's re-broadcast and a frame's own map->odom publish go out in stamp order.

Each stamps its TF from `next_tf_stamp_ns` (strictly increasing) and sends it in the same hold
of the node lock: a frame's publish holds it (a tick meanwhile waits), and so does the tick's
send (a frame stamped meanwhile waits) -- sent outside it, the tick's older stamp went out
after the frame's newer one, against the order tf2 relies on."""

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


def test_a_frames_tf_during_a_tf_ticks_send_goes_out_after_the_ticks_older_stamp():
    """The other way round: a frame stamped while the timer is sending its re-broadcast
    (stamped earlier) must not overtake it: the tick sends in the hold that stamped it."""
    host = _host()
    host._process(image(stamp(0)))  # a TF is held: the timer re-broadcasts it
    frames = []
    send_tf = host._send_tf

    def send_while_a_frame_arrives(*a):
        if not frames:  # the tick's send: a frame arrives and is stamped meanwhile
            host.clock.now_ns += NS_PER_S // 20
            frames.append(threading.Thread(target=lambda: host._process(image(stamp(1)))))
            frames[0].start()
            frames[0].join(0.5)  # a frame that waits for the tick's send finishes after it
        send_tf(*a)

    host._send_tf = send_while_a_frame_arrives
    host.clock.now_ns += NS_PER_S // 20
    before = len(host._tf.sent)
    host._tf_tick()
    frames[0].join(5)
    sent = host._tf.sent
    assert len(sent) == before + 2  # the tick's re-broadcast and the frame's own TF
    assert all(b > a for a, b in zip(sent, sent[1:])), sent
