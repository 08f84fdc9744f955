"""Depth published as mono16 (some drivers do; cv_bridge takes mono16 for a 16-bit grey image,
16UC1 is the depth encoding). Before, the detection read such a topic as grey only: where
depth was needed the bag was refused as having no depth, naming the topic among 'depth image
topics' without saying why it was not taken; given with --depth-topic it was read as 16UC1
without a word. Now a mono16 topic the user names as depth is read as 16-bit depth, as 16UC1
(REP-118 millimetres unless --depth-scale), said once at INFO; the refusal names a mono16
topic named like depth and the option that reads it; an image topic's mono16 is unchanged."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from test_source_errors import DEPTH_TOPIC, H, W, _write_bag, needs_rosbags

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.sources import SourceOptions, open_source

pytestmark = needs_rosbags
NEED = "the sift matcher"


def _bag(path, depth_encoding="mono16", image_encoding="rgb8", depth_topic=DEPTH_TOPIC):
    colour = np.full((H, W), 40000, "<u2") if image_encoding == "mono16" else None
    return str(_write_bag(Path(path), (depth_topic,) if depth_topic else (),
                          depth_encoding=depth_encoding, depth_raw=1500,
                          image_encoding=image_encoding, colour=colour))


def test_a_mono16_depth_topic_named_by_the_user_is_read_as_16_bit_depth(tmp_path, caplog):
    bag = _bag(tmp_path / "bag")
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        seq = open_source(bag, SourceOptions(depth_topic=DEPTH_TOPIC, depth_needed_by=NEED))
        frames = list(seq)
    said = [r.getMessage() for r in caplog.records if " is mono16 " in r.getMessage()]
    assert said == [f"depth topic {DEPTH_TOPIC} is mono16 (cv_bridge's 16-bit grey image): "
                    "read as 16-bit depth, as 16UC1 is: 1000 units per metre (REP-118 "
                    "millimetres; --depth-scale for another unit)"], said
    assert seq.depth_units_per_m == 1000.0
    assert np.allclose(frames[0].depth_m, 1.5)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        seq = open_source(bag, SourceOptions(depth_topic=DEPTH_TOPIC, depth_scale=5000.0,
                                             depth_needed_by=NEED))
        frames = list(seq)
    assert np.allclose(frames[0].depth_m, 0.3)
    said = [r.getMessage() for r in caplog.records if " is mono16 " in r.getMessage()]
    assert len(said) == 1 and "--depth-scale 5000 units per metre" in said[0], said


def test_a_16uc1_depth_topic_says_nothing_of_mono16(tmp_path, caplog):
    bag = _bag(tmp_path / "bag", depth_encoding="16UC1")
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        open_source(bag, SourceOptions(depth_topic=DEPTH_TOPIC, depth_needed_by=NEED))
    assert not [r for r in caplog.records if " is mono16 " in r.getMessage()]


def test_the_only_depth_like_topic_in_mono16_is_named_in_the_refusal(tmp_path):
    bag = _bag(tmp_path / "bag")
    with pytest.raises(InputError) as err:
        open_source(bag, SourceOptions(depth_needed_by=NEED))
    text = str(err.value)
    assert (f"{DEPTH_TOPIC} is named like depth but is mono16 (a 16-bit grey image to "
            f"cv_bridge, not taken as depth unasked): if it is depth (some drivers publish it "
            f"so), pass --depth-topic {DEPTH_TOPIC}") in text, text
    assert "is read without depth" not in text, text


def test_an_image_topics_mono16_is_still_a_grey_image(tmp_path):
    bag = _bag(tmp_path / "bag", image_encoding="mono16", depth_topic=None)
    seq = open_source(bag)
    assert seq.image_topic == "/camera/color/image_raw" and seq.depth_topic is None
    frame = next(iter(seq))
    assert frame.rgb.shape == (H, W, 3) and frame.depth_m is None
