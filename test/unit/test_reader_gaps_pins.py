"""Bounds of the reader-gap refusals (test_reader_gaps.py) that no test held: each test here
failed on a hand mutant of rvl.py or tf_buffer.py and passes on the code."""

from __future__ import annotations

import numpy as np
import pytest
from test_reader_gaps import RVL, _rvl_from_values

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import decode_compressed


def test_an_rvl_image_ending_on_a_word_then_one_zero_word_is_refused():
    """Eight values of one nibble each fill the stream's first word exactly, so the encoder
    pads nothing: one zero word after it is 8 nibbles of no image (a tail of 8 is refused, not
    only one of more than 8)."""
    values = [0, 6] + [2] * 6  # no zeros, 6 non-zeros: 1, 2, ... 6
    whole = _rvl_from_values(6, 1, values)
    np.testing.assert_array_equal(decode_compressed(RVL, whole)[0], [[1, 2, 3, 4, 5, 6]])
    with pytest.raises(InputError, match=r"runs on after the 6x1 image is full: 8 more "
                                         r"nibbles, 0 of them non-zero"):
        decode_compressed(RVL, whole + bytes(4))


def test_a_tf_stamp_below_int64_is_refused_and_int64_min_taken():
    """The lower bound of `_int64_stamps` (add_dynamic's Python int): -2**63 - 1 ns is outside
    int64 (an OverflowError without it), -2**63 ns itself is an int64 and is taken."""
    from mast3r_ros.core.tf_buffer import TransformBuffer

    buf = TransformBuffer()
    with pytest.raises(InputError, match=r"transform map -> cam: a stamp of "
                                         r"-9223372036854775809 ns lies outside int64"):
        buf.add_dynamic("map", "cam", -(2**63) - 1, np.eye(4))
    buf.add_dynamic("map", "cam", -(2**63), np.eye(4))  # taken: no InputError
