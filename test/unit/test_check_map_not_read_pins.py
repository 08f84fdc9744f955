"""Pin from mutation audit 06j on replay/check_map.py's `_not_read_phrase`: a frames_not_read
record counting no frame, or a count that is not a number, adds nothing to the unreadable
note (only a positive count is a clause)."""

from __future__ import annotations

from mast3r_ros.replay.check_map import _not_read_phrase


def test_only_a_positive_count_of_frames_not_read_is_said():
    assert _not_read_phrase({"count": 0, "reason": "r"}) == ""
    assert _not_read_phrase({"count": "3", "reason": "r"}) == ""
    assert _not_read_phrase(None) == ""
    assert _not_read_phrase({"count": 3, "reason": "r"}) == (
        "; 3 frames not read: r, not known to be readable or not")
