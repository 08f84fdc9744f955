"""What a bag's depth that may not be registered to the colour image tells the user to do.
Depth naming no frame (empty frame_id) with another calibration was refused without saying how
it could be registered; depth in another frame with the images' calibration (or none) was warned
about whatever /tf_static said, and without naming the bag's own registered topic. Now: the
refusal says to record the frame_id and /tf_static (then it is registered here) or to pass the
bag's aligned_depth_to_color topic; /tf_static putting both frames at one place silences the
warning; /tf_static putting them apart is said, the depth read as registered (its calibration
is the images', as registered depth's is: registering it again would move it by the baseline)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from test_rosbag import H, MS, W, image, write_bag  # noqa: E402
from test_rosbag_depth_frame import CAM, COLOR, DEPTH, _bag  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

TOPIC = "/camera/depth/image_rect_raw"
ALIGNED = "/camera/aligned_depth_to_color/image_raw"


def _static(x_m):
    link_from_depth = np.eye(4)
    link_from_depth[0, 3] = x_m
    return [("camera_link", COLOR, 0, np.eye(4)), ("camera_link", DEPTH, 0, link_from_depth)]


def _warned(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and "registered" in r.getMessage()]


def test_depth_naming_no_frame_is_refused_saying_how_to_register_it(tmp_path):
    bag = _bag(tmp_path / "bag", TOPIC, "", depth_info_fx=20.0)
    with pytest.raises(InputError) as err:
        BagSequence(bag, image_topic=CAM, depth_topic=TOPIC)
    text = str(err.value)
    assert ("record it with its header.frame_id set (the depth camera's optical frame) and "
            f"/tf_static joining that frame to '{COLOR}': it is then registered here") in text
    assert "aligned_depth_to_color" in text and "\n" not in text


def test_the_refusal_names_the_bags_own_registered_topic(tmp_path):
    """The bag holds aligned_depth_to_color too: the refusal says to pass it."""
    bag = _bag(tmp_path / "bag", TOPIC, "", depth_info_fx=20.0)
    extra = [(ALIGNED, (1000 + 100 * i) * MS + 2,
              image((1000 + 100 * i) * MS, "16UC1", np.full((H, W), 1000, np.uint16),
                    frame_id=COLOR)) for i in range(3)]
    from rosbags.highlevel import AnyReader

    with AnyReader([bag]) as reader:
        msgs = [(c.topic, t, reader.deserialize(raw, c.msgtype))
                for c, t, raw in reader.messages()]
    both = write_bag(tmp_path / "both", StoragePlugin.MCAP,
                     sorted(msgs + extra, key=lambda m: m[1]))
    with pytest.raises(InputError) as err:
        BagSequence(both, image_topic=CAM, depth_topic=TOPIC)
    assert (f"this bag holds {ALIGNED}, registered depth by its name: pass --depth-topic "
            f"{ALIGNED}") in str(err.value), str(err.value)


@pytest.mark.parametrize("source", ["/tf_static", "/tf"])
def test_same_calibration_in_a_frame_the_tf_puts_at_one_place_is_read_without_a_warning(
        tmp_path, caplog, source):
    """/tf_static, or a /tf transform that never moves, putting the frames at one place."""
    joined = ({"static_tf": _static(0.0)} if source == "/tf_static" else
              {"tf": _tf_only(0.0)})
    bag = _bag(tmp_path / "bag", TOPIC, DEPTH, depth_info_fx=30.0, **joined)
    with caplog.at_level(logging.INFO):
        frames = list(BagSequence(bag, image_topic=CAM, depth_topic=TOPIC))
    assert len(frames) == 3 and not _warned(caplog), _warned(caplog)
    assert f"which {source} puts at one place: read as registered" in caplog.text


def _read_unmoved(bag, caplog):
    """The one warning said reading ``bag`` (its depth and colour frames 15 mm apart, the same
    calibration), whose 1 m depth must come pixel for pixel, not moved by the 15 mm."""
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(bag, image_topic=CAM, depth_topic=TOPIC))
    for f in frames:  # pixel for pixel, not moved by the 15 mm
        assert np.all(f.depth_m > 0.999)
    (said,) = _warned(caplog)
    return said


def test_same_calibration_apart_by_tf_static_is_read_as_registered_and_said(tmp_path, caplog):
    said = _read_unmoved(_bag(tmp_path / "bag", TOPIC, DEPTH, depth_info_fx=30.0,
                              static_tf=_static(0.015)), caplog)
    assert "15.0 mm apart by /tf_static" in said and "read as registered, not moved" in said
    assert "--depth-topic" in said


def test_no_depth_calibration_in_another_frame_says_what_would_register_it(tmp_path, caplog):
    bag = _bag(tmp_path / "bag", TOPIC, DEPTH)
    with caplog.at_level(logging.WARNING):
        BagSequence(bag, image_topic=CAM, depth_topic=TOPIC)
    (said,) = _warned(caplog)
    assert (f"record its CameraInfo beside it and /tf_static joining '{DEPTH}' to '{COLOR}': "
            "it is then registered here") in said, said


def _tf_only(x_m, moved_mm=0.0):
    """camera_link -> each optical frame on /tf at 20 Hz (no /tf_static), the depth frame
    ``x_m`` beside the colour one, moved along x by up to ``moved_mm`` over the recording."""
    stamps = [t * MS for t in range(950, 1300, 50)]
    tf = []
    for k, t in enumerate(stamps):
        link_from_depth = np.eye(4)
        link_from_depth[0, 3] = x_m + moved_mm * 1e-3 * k / (len(stamps) - 1)
        tf += [("camera_link", COLOR, t, np.eye(4)), ("camera_link", DEPTH, t, link_from_depth)]
    return tf


def test_same_calibration_apart_by_a_constant_tf_is_said_as_by_tf_static(tmp_path, caplog):
    """The frames 15 mm apart on /tf only (a transform that never moves): the /tf_static
    warning, naming /tf (was: the warning of frames nothing joins, the offset unsaid)."""
    said = _read_unmoved(_bag(tmp_path / "bag", TOPIC, DEPTH, depth_info_fx=30.0,
                              tf=_tf_only(0.015)), caplog)
    assert "15.0 mm apart by /tf," in said and "read as registered, not moved by /tf;" in said
    assert "--depth-topic" in said


def test_same_calibration_joined_by_a_moving_tf_is_read_as_frames_nothing_joins(
        tmp_path, caplog):
    """A /tf transform that moves 12 mm is no extrinsic: read as registered, with the
    warning of frames nothing joins (as before), not refused."""
    bag = _bag(tmp_path / "bag", TOPIC, DEPTH, depth_info_fx=30.0, tf=_tf_only(0.0, 12.0))
    with caplog.at_level(logging.WARNING):
        frames = list(BagSequence(bag, image_topic=CAM, depth_topic=TOPIC))
    (said,) = _warned(caplog)
    assert len(frames) == 3 and "if this depth is not registered" in said, said
