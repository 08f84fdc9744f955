"""What the node keeps across frames stays bounded however long it runs (bench/bench_soak.py
measures it over thousands of frames; these tests feed each structure more distinct keys than
its bound and check its size, and that the behaviour within the bound is unchanged)."""

from __future__ import annotations

import logging
import uuid
from types import SimpleNamespace as NS

import numpy as np
import pytest

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.image_codec import raw
from mast3r_ros.core.said_once import SaidOnce

BOUND = 256  # said_once.DEFAULT_MAX_KEYS: the warn-once records of the node's path


def _msg(frame_id: str, encoding: str, value: int = 2500) -> NS:
    a = np.full((4, 6), value, dtype="<u2")
    a[0, 0] = 9000 if encoding == "16UC1" else 3000   # depth in mm / 12-bit data
    return NS(header=NS(stamp=NS(sec=1, nanosec=0), frame_id=frame_id), encoding=encoding,
              height=4, width=6, step=12, is_bigendian=0, data=a.tobytes())


def test_warn_once_records_of_frame_ids_stay_bounded_when_the_driver_varies_them(caplog):
    """A camera driver that puts a counter (or the stamp) in its frame_id: each image's id was
    added to three module-level sets (ROS 1 '/' prefix, 16UC1 given as colour, 10/12-bit
    data in 16 bits), one entry per image for as long as the node ran."""
    run = uuid.uuid4().hex[:8]  # ids no other test has warned about
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core"):
        for i in range(4 * BOUND):
            mf.frame_from_image_message(_msg(f"/cam_{run}_{i}", "16UC1"), None)
            mf.frame_from_image_message(_msg(f"cam_{run}_{i}", "mono16"), None)
            # one id that recurs every frame stays said once among all the others
            mf.frame_from_image_message(_msg(f"/steady_{run}", "16UC1"), None)
    assert len(mf._SLASHED_FRAME_IDS) <= BOUND
    assert len(mf._DEPTH_ENCODED_FRAME_IDS) <= BOUND
    assert len(raw._LOW_BIT_DEPTH_CHECKED) <= BOUND
    steady = [r for r in caplog.records if f"steady_{run}" in r.getMessage()]
    # once for its '/', once as 16UC1 (its data is over 4096: no low-bit warning)
    assert len(steady) == 2, [r.getMessage() for r in steady]
    # the newest ids are still remembered: not warned about again
    n = len(caplog.records)
    mf.frame_from_image_message(_msg(f"/cam_{run}_{4 * BOUND - 1}", "16UC1"), None)
    mf.frame_from_image_message(_msg(f"cam_{run}_{4 * BOUND - 1}", "mono16"), None)
    assert len(caplog.records) == n


def test_said_once_forgets_the_key_asked_about_least_recently():
    said = SaidOnce(3)
    assert [said.first(k) for k in "abc"] == [True] * 3
    assert not said.first("a")          # recent again: "b" is now the oldest
    assert said.first("d") and len(said) == 3
    assert "b" not in said and set(said) == {"a", "c", "d"}
    assert said.first("b")              # forgotten, so said again once
    assert not said.first("b")


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "8"])
def test_said_once_refuses_a_bound_that_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="max_keys must be an int >= 1"):
        SaidOnce(bad)
