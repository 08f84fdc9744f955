"""Warnings said once a frame_id stay bounded when the frame_id's letters change at every image
(a uuid-like tag, 'cam_3f2a9c', or letters alone, 'cam_xkqzpt'), and two different frame
problems, or two cameras with one problem, are still both said.

Before: the key normaliser stripped digits only and 256 keys were kept, so each such image was
a new key: 1000 images of '/cam_<6 hex>' gave 625 "starts with '/'" lines, 1000 16UC1 images of
'depth_<6 hex>' 1242 lines (the depth encoding and its 12-bit data), and the node's
optical-frame warning a line every 5 s for as long as the stream ran. Now a hex tag is a number
(`without_numbers`), and `SaidOnce.say` says at most 8 new keys, then only counts, at 10, 100,
... 10**6 of them."""

from __future__ import annotations

import logging
from types import SimpleNamespace as NS

import numpy as np
import pytest
from test_ros_log_flood import S0, UpTf, _run
from test_ros_processing import NS_PER_S, Host, image

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.image_codec import raw
from mast3r_ros.core.said_once import DEFAULT_MAX_SAID, SaidOnce, without_numbers
from mast3r_ros.ros import processing


def _letters(k: int, n: int = 6) -> str:
    """A tag of ``n`` letters, another one for each k (no digit, no hex tag)."""
    return "".join("ghijklmnopqrstuvwxyz"[(k // 20 ** i) % 20] for i in range(n))


@pytest.fixture
def said(monkeypatch, caplog):
    for module, name in ((mf, "_SLASHED_FRAME_IDS"), (mf, "_DEPTH_ENCODED_FRAME_IDS"),
                         (raw, "_LOW_BIT_DEPTH_CHECKED")):
        monkeypatch.setattr(module, name, SaidOnce())
    caplog.set_level(logging.WARNING, logger="mast3r_ros.core")
    return lambda: [r.getMessage() for r in caplog.records]


def _depth_image(frame_id: str) -> NS:
    a = np.full((4, 6), 2500, dtype="<u2")
    return NS(header=NS(stamp=NS(sec=1, nanosec=0), frame_id=frame_id), encoding="16UC1",
              height=4, width=6, step=12, is_bigendian=0, data=a.tobytes())


def test_say_bounds_the_lines_of_a_stream_of_new_keys():
    once = SaidOnce()
    out = [once.say(k) for k in range(100_000)]
    lines = [o for o in out if o is not None]
    assert len(lines) == DEFAULT_MAX_SAID + 4  # then at 10, 100, 1000, 10000 held back
    assert lines[:DEFAULT_MAX_SAID - 1] == [""] * (DEFAULT_MAX_SAID - 1)
    assert "more new ones are counted" in lines[DEFAULT_MAX_SAID - 1]
    assert lines[-1].startswith(" (10000 more frame ids like it since the first 8")
    assert once.say(99_999) is None and len(once) == 256  # remembered; memory still bounded
    again = SaidOnce()
    assert [again.say("cam")] + [again.say("cam") for _ in range(50)] == [""] + [None] * 50


def test_a_hex_tag_is_a_number_and_letters_still_tell_sources_apart():
    assert without_numbers("cam_3f2a9c") == without_numbers("/cam_0b1e77"[1:]) == "cam_#"
    assert without_numbers("3f2a9c1e-77b0-4c1d-9f00-aa11bb22cc33") == "#-#-#-#-#"
    assert without_numbers("left_cam") != without_numbers("right_cam")
    assert without_numbers("feed_cam") == "feed_cam" and without_numbers("cafe") == "cafe"


def test_frame_ids_whose_letters_change_give_a_bounded_number_of_lines(said):
    for k in range(1000):
        mf.header_frame_name(f"/cam_{_letters(k)}")
    lines = said()
    assert len(lines) == DEFAULT_MAX_SAID + 2, lines  # 8, then counts at 10 and 100
    assert "(100 more frame ids like it since the first 8" in lines[-1]
    for k in range(1000):
        mf.frame_from_image_message(_depth_image(f"depth_{k:04x}a9"), None)
    assert len(said()) == len(lines) + 2  # a hex tag: one stream, its two problems said once


def test_two_different_frame_problems_are_both_said(said):
    for k in range(200):  # one problem's budget spent by a stream of unique ids
        mf.header_frame_name(f"/cam_{_letters(k)}")
    n = len(said())
    mf.frame_from_image_message(_depth_image("depth_optical"), None)  # another problem
    assert len(said()) == n + 2 and "REP-118" in said()[n]


def test_the_nodes_optical_frame_warning_is_bounded_not_one_every_5_s(monkeypatch):
    clock = NS(t=1000.0)
    monkeypatch.setattr(processing, "time", NS(monotonic=lambda: clock.t))
    host = Host()
    host._tf = UpTf()

    def step(host, k):  # 60 s at 30 Hz, a camera_link named anew by its letters each image
        msg = image(S0 + k * NS_PER_S // 30)
        msg.header.frame_id = f"camera_link_{_letters(k)}"
        host._process(msg)

    lines = [m for m in _run(host, clock, step, 1800) if "optical axis" in m]
    assert 1 <= len(lines) <= 4, lines  # was 12: one every 5 s
    assert "more frame ids like it since the first 8" in lines[-1], lines
