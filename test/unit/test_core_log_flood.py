"""The core's warnings said once a source stay bounded when a driver numbers its source anew
at every image (a counter or the stamp in its frame_id).

Each was said "once per frame_id" (`said_once.SaidOnce`, which bounds the memory, not the
lines): 100 images of frame_id '/cam_<k>' gave 100 lines (a leading '/'), 16UC1 ones 200 (the
depth encoding, and 12-bit data in 16 bits), mono16 ones 100. Now the frame id is known without
its numbers (`said_once.without_numbers`): one line each, at the first image; another source
(another name) is still said at once.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace as NS

import numpy as np
import pytest

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.image_codec import raw
from mast3r_ros.core.said_once import SaidOnce, without_numbers


@pytest.fixture
def said(monkeypatch, caplog):
    """The warnings of `frame_from_image_message`, from records no other test filled."""
    for module, name in ((mf, "_SLASHED_FRAME_IDS"), (mf, "_DEPTH_ENCODED_FRAME_IDS"),
                         (raw, "_LOW_BIT_DEPTH_CHECKED")):
        monkeypatch.setattr(module, name, SaidOnce())
    caplog.set_level(logging.WARNING, logger="mast3r_ros.core")
    return lambda: [r.getMessage() for r in caplog.records]


def _image(frame_id: str, encoding: str) -> NS:
    if encoding == "rgb8":
        a = np.zeros((4, 6, 3), np.uint8)
    else:
        a = np.full((4, 6), 2500, dtype="<u2")
        a[0, 0] = 3000                                      # 12-bit data (or depth in mm)
    return NS(header=NS(stamp=NS(sec=1, nanosec=0), frame_id=frame_id), encoding=encoding,
              height=4, width=6, step=a.shape[1] * a[0, 0].size * a.itemsize, is_bigendian=0,
              data=a.tobytes())


@pytest.mark.parametrize("encoding, fid, lines", [
    ("rgb8", "/cam_{}", ["starts with '/'"]),
    ("16UC1", "depth_{}", ["REP-118", "10/12-bit"]),
    ("mono16", "ir_{}_optical", ["10/12-bit"]),
])
def test_a_frame_id_with_a_counter_is_said_once_not_once_an_image(said, encoding, fid, lines):
    for k in range(100):
        mf.frame_from_image_message(_image(fid.format(k), encoding), None)
    assert [next(w for w in lines if w in m) for m in said()] == lines, said()
    assert fid.format(0).lstrip("/") in said()[0]           # the first image's, at once
    mf.frame_from_image_message(_image(fid.replace("{}", "other"), encoding), None)
    assert len(said()) == 2 * len(lines)                    # a source of another name: said


def test_without_numbers_keeps_the_letters():
    assert without_numbers("/cam_17/x2") == "/cam_#/x#" == without_numbers("/cam_1700/x0")
    assert without_numbers("left") != without_numbers("right")
