"""A RealSense recording's topic choice when its layout is not the usual one: several colour
streams, a colour stream or its CameraInfo recorded without messages, no CameraInfo for the
colour stream. Each is refused in one line naming what is missing, where, and the option that
fixes it -- and that option then reads the recording."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag1 import Reader, Writer  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.core.types import CameraIntrinsics  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

from test_realsense_bag import COLOUR, RGB, TS, write_realsense_bag  # noqa: E402

STREAM = COLOUR.rsplit("/image/data", 1)[0]  # /device_0/sensor_1/Color_0
INFO = f"{STREAM}/info/camera_info"
INFRARED = "/device_0/sensor_0/Infrared_1/image/data"
SECOND = "/device_0/sensor_2/Color_1"  # a second RGB camera's stream
CLI_NAMES = {"image_topic": "--image-topic", "camera_info_topic": "--camera-info-topic",
             "camera_info": "--camera-info"}


def _rewritten(tmp_path, drop=(), empty=(), copy=None):
    """The default RealSense recording rewritten: topics starting with an entry of ``drop``
    left out, those of ``empty`` kept as connections without messages, and with ``copy``
    (a stream prefix) each Color_0 topic also recorded under that stream."""
    src = write_realsense_bag(tmp_path / "rs.bag")
    out = tmp_path / "edited.bag"
    with Reader(src) as reader, Writer(out) as writer:
        conns = {}

        def conn_of(topic, msgtype):
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=TS)
            return conns[topic]

        for conn, t, raw in reader.messages():
            if conn.topic.startswith(tuple(drop)):
                continue
            c = conn_of(conn.topic, conn.msgtype)
            if conn.topic not in empty:
                writer.write(c, t, raw)
            topic = copy + conn.topic[len(STREAM):] if copy else ""
            if copy and conn.topic.startswith(STREAM) and not topic.startswith(tuple(drop)):
                writer.write(conn_of(topic, conn.msgtype), t + 5, raw)
    return str(out)


def _refusal(bag, **kw):
    with pytest.raises(InputError) as err:
        BagSequence(bag, option_names=CLI_NAMES, **kw)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1, msg
    return msg


def test_several_colour_streams_are_named_and_image_topic_picks_one(tmp_path):
    bag = _rewritten(tmp_path, copy=SECOND)
    msg = _refusal(bag)
    assert "is a RealSense recording of several colour streams: " in msg, msg
    assert f"{COLOUR}, {SECOND}/image/data" in msg and msg.endswith("with --image-topic"), msg
    seq = BagSequence(bag, image_topic=f"{SECOND}/image/data")
    assert seq.image_topic == f"{SECOND}/image/data"
    assert seq.camera_info_topic == f"{SECOND}/info/camera_info"  # its own, not Color_0's
    assert len(list(seq)) == 3


def test_a_colour_stream_without_messages_is_no_colour_stream(tmp_path):
    """Color_0's image topic recorded without a message: refused as a recording without a
    colour stream naming the infrared stream that has images (not taken, nor read as
    empty)."""
    msg = _refusal(_rewritten(tmp_path, empty={COLOUR}))
    assert "is a RealSense recording without a colour stream (its image streams: " in msg, msg
    listed = msg.split("(its image streams: ", 1)[1].split(")", 1)[0]
    assert INFRARED in listed and COLOUR not in listed, msg
    assert "record the RGB camera too" in msg and msg.endswith("with --image-topic"), msg


def test_a_recording_whose_image_streams_hold_no_message_lists_none(tmp_path):
    depth = "/device_0/sensor_0/Depth_0/image/data"
    msg = _refusal(_rewritten(tmp_path, empty={COLOUR, INFRARED, depth}))
    assert "without a colour stream (its image streams: none): record the RGB camera" in msg, msg


@pytest.mark.parametrize("how", ["dropped", "empty"])
def test_a_colour_stream_without_its_calibration_is_refused_naming_it(tmp_path, how):
    """No CameraInfo of the colour stream (not recorded, or a topic without messages) is
    refused naming the topic it would be on and --camera-info, not taken from another stream
    (the infrared's CameraInfo is another camera's); --camera-info then reads it."""
    bag = _rewritten(tmp_path, **({"drop": [INFO]} if how == "dropped" else {"empty": {INFO}}))
    msg = _refusal(bag)
    assert (f"is a RealSense recording without the calibration of {COLOUR} ({INFO}): pass it "
            "as a camera_info YAML (--camera-info)") in msg, msg
    cam = CameraIntrinsics(width=8, height=6, K=[[7.0, 0, 3.5], [0, 7.5, 2.5], [0, 0, 1]])
    seq = BagSequence(bag, camera_info=cam)
    assert seq.camera_info_topic is None and len(list(seq)) == 3


def test_an_image_topic_given_outside_the_layout_names_the_stream_fix(tmp_path):
    """--image-topic of a stream without CameraInfo (here the second colour stream, its
    calibration not recorded) is refused the same way, naming that stream's topic."""
    bag = _rewritten(tmp_path, copy=SECOND, drop=[f"{SECOND}/info/camera_info"])
    msg = _refusal(bag, image_topic=f"{SECOND}/image/data")
    assert f"without the calibration of {SECOND}/image/data ({SECOND}/info/camera_info)" in msg


def test_a_recording_of_one_frame_is_read(tmp_path):
    """A colour stream of a single image (a snapshot recording) is the colour stream, with its
    calibration (one message each)."""
    seq = BagSequence(write_realsense_bag(tmp_path / "one.bag", images=(RGB,)))
    assert seq.image_topic == COLOUR and seq.camera_info_topic == INFO
    frames = list(seq)
    assert len(frames) == 1
    np.testing.assert_array_equal(frames[0].rgb, RGB)
