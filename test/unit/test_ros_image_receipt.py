"""The node's image callback without ROS (`processing.FrameProcessing._receive_image`, which
`node.LocalizerNode._on_image` only calls), on the fake host of test_ros_processing.

With parameter ``image_stamp: receive`` the callback restamped the message with the node clock
outside any exception handling, in node.py: a clock the stamp cannot hold (a /clock past 2038
overflows builtin_interfaces/Time's int32 ``sec``; rclpy's setter raises) escaped the callback
(and ended spin()) instead of being a refused frame, logged and on /diagnostics. Nothing pinned
the restamp either: the node could stop calling it, or stop reading the parameter, and no test
failed. Both live in the rclpy-free path now and are checked here."""

from __future__ import annotations

from types import SimpleNamespace as NS

from test_ros_processing import NS_PER_S, Host, image, stamp

MAX_STAMP_SEC = 2**31 - 1  # builtin_interfaces/Time's int32 sec


class Int32Stamp:
    """builtin_interfaces/Time as rclpy builds it: its setters assert the field's range."""

    def __init__(self, sec, nanosec):
        self.sec, self.nanosec = sec, nanosec

    def __setattr__(self, name, value):
        limit = 2**31 if name == "sec" else 2**32
        lo = -(2**31) if name == "sec" else 0
        assert lo <= value < limit, f"The '{name}' field must be an integer in [{lo}, {limit})"
        object.__setattr__(self, name, value)


def _values(host):
    return dict(host.summary().values)


def test_receive_stamps_the_image_with_the_node_clock_and_the_path_publishes_at_it():
    """The wiring: 'receive' from the configuration replaces a camera clock's stamp (5 s since
    boot, refused as stale under 'header') by the node clock's now; the pose is published at
    that time."""
    host = Host(image_stamp="receive")
    offered = []
    host._receive_image(image(5 * NS_PER_S), offered.append)
    (msg,) = offered
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (100, 0)  # the fake clock: 100 s
    host._process(msg)
    assert host._outputs.poses == [100 * NS_PER_S]
    assert _values(host)["images_received"] == "1"


def test_header_keeps_the_driver_s_stamp():
    host = Host()                                   # image_stamp default: header
    offered = []
    host._receive_image(image(stamp(0)), offered.append)
    host._process(offered[0])
    assert host._outputs.poses == [stamp(0)]
    assert _values(host)["images_received"] == "1"


def test_an_image_is_counted_but_not_offered_while_inactive():
    host = Host(image_stamp="receive")
    host._active = False
    offered = []
    host._receive_image(image(stamp(0)), offered.append)
    assert offered == [] and _values(host)["images_received"] == "1"


def test_a_clock_past_2038_under_receive_is_a_refused_frame_not_an_exception():
    host = Host(image_stamp="receive")
    host.clock.now_ns = (MAX_STAMP_SEC + 10) * NS_PER_S
    msg = image(stamp(0))
    msg.header.stamp = Int32Stamp(99, 5)
    offered = []
    for _ in range(3):
        host._receive_image(msg, offered.append)      # raised AssertionError out of the callback
    assert offered == [] and (msg.header.stamp.sec, msg.header.stamp.nanosec) == (99, 5)
    values = _values(host)
    assert values["images_received"] == "3" and values["frames_refused"] == "3"
    assert values["stamps_repeated"] == "0"             # no stamp read, none repeated
    assert "2038-01-19" in values["last_failure"] and "image_stamp" in values["last_failure"]
    warnings = [m for lvl, m in host.logger.lines if lvl == "warning"]
    assert len(warnings) == 1 and "past what an image's header.stamp holds" in warnings[0]


def test_anything_else_the_restamp_raises_is_an_error_frame_not_an_exception():
    """A clock or message that raises something unforeseen: counted in ``errors`` with one
    traceback, the image dropped, the callback returns."""
    host = Host(image_stamp="receive")

    def broken_now():
        raise RuntimeError("clock is gone")
    host.clock.now = broken_now
    offered = []
    for _ in range(2):
        host._receive_image(image(stamp(0)), offered.append)
    assert offered == [] and host.logger.tracebacks() == 1
    values = _values(host)
    assert values["errors"] == "2" and "clock is gone" in values["last_failure"]
    assert values["images_received"] == "2"


def test_a_malformed_stamp_is_left_to_the_worker_as_before():
    host = Host()
    offered = []
    msg = image(stamp(0))
    msg.header.stamp = NS(sec="x", nanosec=0)
    host._receive_image(msg, offered.append)
    assert offered == [msg] and _values(host)["images_received"] == "1"
