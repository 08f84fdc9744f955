"""A map that fails only through its matches (every pair's depth agrees) is named for a lens
distortion its camera's D lacks before a colour camera unregistered to the depth, and a
consistent map whose distortion its pairs could not judge (small images: too few matches)
says so instead of "no action needed".

Field case (docs/bench/map_check_lens_cpu_2026-12-10h): the redkitchen map distorted (k1 -0.3,
k2 0.1) with D zero, resized to 320x240, failed on one pair's reprojection (26.9 px, limit
26 px) and read "the colour images fit fx, fy x0.856 ... register the depth to the colour
camera"; its pairs fit k1 -0.327 +-0.045. At 160x120 it passed with the note "the colour
images fit fx, fy x0.823 ...: no action needed" (2 pairs fitted, none judged).
"""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import diagnose
from mast3r_ros.core.map_check.distortion import (lens_cause, lens_unjudged, map_distortion,
                                                  unjudged_note)
from mast3r_ros.core.map_check.focal import FocalNote
from mast3r_ros.core.map_check.records import _Cause

from test_map_check_distortion import RAW_D, _pairs

COLOUR = _Cause("colour_focal", 1.0, "the colour images fit fx, fy x0.856 ...",
                "register the depth to the colour camera ...", True)


@pytest.fixture
def colour_rule_holds(monkeypatch):
    """Every pair's depth agrees and the matches fit a colour focal length (stubbed: the walk
    of `_pairs` has no depth images)."""
    monkeypatch.setattr(diagnose, "_colour_focal", lambda *a: COLOUR)


def test_a_distortion_with_d_zero_is_named_before_an_unregistered_colour_camera(
        colour_rule_holds):
    views, matches = _pairs(-0.3, np.zeros(5))
    cause = diagnose._diagnose(views, matches, Config().map_check, [], 1000.0)
    assert cause.name == "lens_distortion", cause
    assert cause.what.startswith("the images look distorted (barrel) but the camera's D is "
                                 "zero: over 5 keyframe pairs the matches fit a residual "
                                 "radial distortion k1 -0."), cause.what
    assert cause.fix.startswith("calibrate the camera") and "register" not in cause.fix
    assert cause.confirmed is False


def test_rectified_images_with_a_raw_d_are_named_so(colour_rule_holds):
    views, matches = _pairs(0.0, RAW_D)
    cause = diagnose._diagnose(views, matches, Config().map_check, [], 1000.0)
    assert cause.name == "lens_distortion" and "already rectified" in cause.what, cause.what
    assert "(its k1 -0.300)" in cause.what


def test_the_right_lens_keeps_the_colour_focal_cause(colour_rule_holds):
    views, matches = _pairs(0.0, np.zeros(5))
    assert diagnose._diagnose(views, matches, Config().map_check, [], 1000.0) is COLOUR
    assert lens_cause(views, matches) is None


NOTE = FocalNote("the colour images fit fx, fy x0.823 the given ones (fx 120.3 px, not 146.2): "
                 "match reprojection 1.4 px against 4.1 px; the given K fits the depth and the "
                 "map passes: no action needed, keep it for the map and its queries (docs)",
                 "brief", False)


def test_a_lens_not_judged_turns_no_action_needed_into_check_the_d():
    views, matches = _pairs(-0.3, np.zeros(5), n_views=3)  # 2 pairs: fewer than 5
    lens = map_distortion(views, matches)
    assert lens.report()["k1"] is None and lens.report()["frames_fitted"] == 2
    why = lens_unjudged(lens, views, matches)
    assert why.startswith("the lens distortion was not judged: 2 of 2 keyframe pairs fitted "
                          "(5 needed, each with at least 12 matches with depth; their "
                          "matches with depth "), why
    assert why.endswith("at 320x240 the check is not sensitive enough to tell distorted "
                        "images given with D zero from right ones"), why
    said = unjudged_note(NOTE, why)
    assert said.action and said.brief == said.text
    assert "no action needed" not in said.text
    assert said.text.startswith(NOTE.text.split("; the given K")[0] + "; the given K fits the "
                                "depth and the map passes, but the lens distortion was not "
                                "judged: 2 of 2")
    assert "check the camera's D" in said.text


def test_a_judged_lens_keeps_the_note():
    views, matches = _pairs(0.0, np.zeros(5))
    lens = map_distortion(views, matches)
    assert lens_unjudged(lens, views, matches) == ""
    assert unjudged_note(NOTE, "") is NOTE
    # a note asking for a change already (--stereo-depth) is kept as it is
    action = FocalNote("the images fit ...; the given K fits the depth ...", "b", True)
    assert unjudged_note(action, "the lens distortion was not judged: ...") is action


def test_no_pair_fitted_at_all_is_not_judged_either():
    views, matches = _pairs(-0.3, np.zeros(5), n_views=3)
    for m in matches.values():
        m.da[:] = np.nan  # no match with depth
    assert map_distortion(views, matches) is None
    assert lens_unjudged(None, views, matches).startswith(
        "the lens distortion was not judged: 0 of 2 keyframe pairs fitted")
