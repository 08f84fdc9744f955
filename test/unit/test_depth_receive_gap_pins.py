"""Pins from mutation audit 06j on replay/rosbag/depth.py's `_receive_gap` (the fix offered when
no depth matched an image read at the bag's receive times): which depth is nearest each image
(before or after it, the first or the last), nothing under header stamps or without images,
and --sync-tolerance's 1 s maximum itself still offered."""

from __future__ import annotations

from types import SimpleNamespace

from mast3r_ros.replay.rosbag.depth import _DepthAssociation

MS = 1_000_000


def _gap(image_ms, depth_ms, image_stamp="receive"):
    assoc = SimpleNamespace(_image_stamp=image_stamp,
                            _option_names={"image_stamp": "--image-stamp"},
                            _image_stamps=[int(t * MS) for t in image_ms],
                            _depth_stamps=[int(t * MS) for t in depth_ms])
    return _DepthAssociation._receive_gap(assoc)


def test_header_stamps_or_no_image_offer_no_receive_gap():
    assert _gap([1000], [1030], image_stamp="header") == ""
    assert _gap([], [1030]) == ""
    assert _gap([1000], []) == ""


def test_the_nearer_depth_before_an_image_is_its_gap():
    # depth 10 ms before the image and 40 ms after: the one before is nearer
    said = _gap([1000], [990, 1040])
    assert "its depth arrived 10 ms before the images (median)" in said, said
    assert "widen --sync-tolerance (e.g. 0.015)" in said
    # between the second and third of three depths: the second (10 ms before) is nearer
    said = _gap([1000], [890, 990, 1040])
    assert "its depth arrived 10 ms before the images (median)" in said, said


def test_an_image_after_the_last_depth_takes_the_last():
    said = _gap([1000, 1100], [990, 1090])
    assert "its depth arrived 10 ms before the images (median)" in said, said


def test_a_gap_of_exactly_the_maximum_is_still_offered_the_tolerance():
    said = _gap([1000], [2000])
    assert said == ("read at the bag's receive times (--image-stamp receive), its depth arrived "
                    "1000 ms after the images (median); widen --sync-tolerance (e.g. 1) or read "
                    "the header stamps (--image-stamp header)")


def test_the_no_depth_warning_names_the_tolerance_in_seconds(tmp_path, caplog):
    """The indexing pass's warning (not only no_depth_reason) says the tolerance in seconds."""
    import logging

    import pytest
    pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
    from test_rosbag_receive_times import _late_depth_bag

    from mast3r_ros.replay.rosbag import BagSequence

    bag = _late_depth_bag(tmp_path, 35)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        BagSequence(bag, depth_topic="/depth", image_stamp="receive")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(s.startswith("no depth on /depth within 0.020 s of any image on /cam/image: "
                            "read at the bag's receive times") for s in said), said
