"""`_colour_focal`'s rules, each at its edge, with the reprojection stubbed (fast): which pairs
it judges, when it reports no focal fit (a pair's depth disagreeing, no matches, no pair with
enough of them, a factor within 3 % of 1, a fit not at most half the given K's reprojection, a
pair still over its limit at the fit), fx and fy both scaled, and the figures it reports.
The real reprojection is test_map_check_colour_focal.py's."""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple

import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import focal
from mast3r_ros.core.map_check.report import PairFigures

CFG = Config().map_check
WIDTH = 160
LIMIT = CFG.max_reproj_frac * WIDTH  # every pair's reprojection limit (px)
SLOPE = 10 * LIMIT  # px of reprojection per unit |log| of fx's and of fy's misfit


@dataclasses.dataclass
class _Cam:  # what the colour-focal fit reads of a camera: K, and the size that tells cameras apart
    K: np.ndarray
    width: int = WIDTH
    height: int = 120


@dataclasses.dataclass
class _View:
    cam: _Cam
    scale: float
    pose: np.ndarray
    truth: Tuple[float, float]  # the colour camera's fx, fy (working px)
    given: Tuple[float, float]
    width_px: int = WIDTH


@dataclasses.dataclass
class _M:
    n: int = CFG.min_matches
    base: Optional[float] = None  # table mode: the median at the given K, ...
    fit: Optional[float] = None  # ... and at any other


def _fake_reproj(va, vb, m, b_from_a, scales):
    """(S,) medians and the match count, as `_pair_reproj`: the misfit of fx and of fy apart."""
    fx, fy = va.cam.K[0, 0], va.cam.K[1, 1]
    if m.base is not None:
        med = m.base if (fx, fy) == va.given else m.fit
    else:
        med = SLOPE * (abs(math.log(fx / va.truth[0])) + abs(math.log(fy / va.truth[1])))
    return np.full(len(scales), med), m.n


def _fake_reproj_factors(va, vb, m, b_from_a, gs):
    """`_pair_reproj_factors` as the rule it pins: `_fake_reproj` of the views with fx, fy x g,
    for each factor g."""
    rows = [_fake_reproj(focal._focal_times(va, g), focal._focal_times(vb, g), m, b_from_a,
                         np.ones(1)) for g in gs]
    return np.array([med[0] for med, _ in rows]), m.n


@pytest.fixture(autouse=True)
def _stubbed(monkeypatch):
    monkeypatch.setattr(focal, "_pair_reproj", _fake_reproj)
    monkeypatch.setattr(focal, "_pair_reproj_factors", _fake_reproj_factors)


def _views(g=0.9, n=3):
    """Keyframes given fx 585 px (view 0 at working scale 2, the others 1 with fx 600) whose
    colour fits fx, fy x ``g``."""
    out = []
    for i in range(n):
        scale, fx = (2.0, 585.0) if i == 0 else (1.0, 600.0)
        K = np.array([[fx * scale, 0, 80], [0, fx * scale, 60], [0, 0, 1]], float)
        pose = np.eye(4)
        pose[0, 3] = 0.1 * i
        out.append(_View(_Cam(K), scale, pose, (K[0, 0] * g, K[1, 1] * g), (K[0, 0], K[1, 1])))
    return out


def _pairs(residual=0.01, agree=0.99):
    return [PairFigures(0, 1, depth_residual=residual, depth_agree=agree, depth_points=500),
            PairFigures(1, 2, depth_residual=0.02, depth_agree=0.9, depth_points=400),
            PairFigures(0, 2)]  # no depth overlap: not read


def _run(matches=None, pairs=None, views=None):
    matches = {(0, 1): _M(), (1, 2): _M(), (0, 2): None} if matches is None else matches
    return focal._colour_focal(views or _views(), matches, _pairs() if pairs is None else pairs,
                               CFG)


def _fitted(cause):
    return float(cause.what.split("fit fx, fy x")[1].split(" ")[0])


def test_named_with_the_fitted_factor_and_the_given_fx_of_the_first_view():
    c = _run()
    assert c is not None and c.name == "colour_focal" and c.factor == 1.0 and c.confirmed is True
    assert abs(_fitted(c) / 0.9 - 1) < 0.01, c.what
    # view 0's fx in camera px (1170 working px at scale 2), not view 1's 600
    assert "not 585;" in c.what and "(fx 52" in c.what, c.what
    # the given K's median: fx and fy each 1/0.9 off
    assert f"against {2 * SLOPE * math.log(1 / 0.9):.1f} px" in c.what, c.what
    assert "median residual 1.5 %" in c.what, c.what  # median over the two depth pairs


@pytest.mark.parametrize("which", ["fx", "fy"])
def test_fx_alone_or_fy_alone_off_is_not_a_colour_focal_length(which):
    """Both scaled by one g: a colour camera whose fx alone (or fy alone) is off leaves the other
    misfit at every g, so the fit is not half the given reprojection (an unscaled fy or fx in
    the scan would see exactly this)."""
    views = _views()
    for v in views:
        v.truth = (v.truth[0], v.given[1]) if which == "fx" else (v.given[0], v.truth[1])
    assert _run(views=views) is None


@pytest.mark.parametrize("residual, agree, named", [
    (CFG.max_depth_residual, CFG.min_depth_agree, True),  # at both limits: agrees
    (CFG.max_depth_residual * 1.01, 0.99, False),  # depth residual over
    (0.01, CFG.min_depth_agree * 0.99, False),  # too few depth points agree
])
def test_every_depth_pair_must_agree(residual, agree, named):
    assert (_run(pairs=_pairs(residual, agree)) is not None) == named


def test_no_depth_pair_or_no_matches_is_no_fit():
    assert _run(pairs=[PairFigures(0, 1), PairFigures(1, 2)]) is None
    assert _run(matches={(0, 1): None, (1, 2): None}) is None


@pytest.mark.parametrize("judged", [0, 2])
def test_pairs_with_too_few_matches_are_not_scored(judged):
    """One pair of three has `min_matches` (exactly), the first or the last: it alone is scored
    and decides; with none judged there is nothing to fit."""
    keys = [(0, 1), (1, 2), (0, 2)]
    matches = {k: _M(n=CFG.min_matches if i == judged else CFG.min_matches - 1)
               for i, k in enumerate(keys)}
    assert _run(matches=matches) is not None
    matches[keys[judged]].n -= 1
    assert _run(matches=matches) is None


def _fixed_g(monkeypatch, g):
    monkeypatch.setattr(focal, "_log_argmin", lambda score, centre=1.0, many=None: g)


@pytest.mark.parametrize("g, named", [(1.03, True), (1.0299, False), (1.02, False),
                                      (1 / 1.0301, True), (1 / 1.0299, False)])
def test_a_factor_within_3_percent_of_1_is_no_fit(monkeypatch, g, named):
    _fixed_g(monkeypatch, g)
    assert (_run(views=_views(g)) is not None) == named


@pytest.mark.parametrize("fit, named", [(10.0, True), (10.01, False), (12.0, False)])
def test_the_fit_must_halve_the_given_reprojection(monkeypatch, fit, named):
    _fixed_g(monkeypatch, 0.9)
    matches = {(0, 1): _M(base=20.0, fit=fit), (1, 2): _M(base=20.0, fit=fit)}
    assert (_run(matches=matches) is not None) == named


@pytest.mark.parametrize("over, named", [(0.0, True), (0.01, False)])
def test_every_pair_must_be_within_its_limit_at_the_fit(monkeypatch, over, named):
    """The median over pairs halves; one pair of three stays over its limit: no fit."""
    _fixed_g(monkeypatch, 0.9)
    worst = LIMIT + over
    matches = {(0, 1): _M(base=8 * LIMIT, fit=1.0), (1, 2): _M(base=8 * LIMIT, fit=1.0),
               (0, 2): _M(base=8 * LIMIT, fit=worst)}
    assert (_run(matches=matches) is not None) == named


@pytest.mark.parametrize("g, noted", [(0.9, True), (1 / 1.0501, True), (1.0501, True),
                                      (1.0499, False), (1 / 1.0499, False), (1.04, False)])
def test_a_consistent_map_s_note_needs_the_fit_more_than_5_percent_off(monkeypatch, g, noted):
    """`colour_focal_note` (a map that passed: its colour focal fit was said nowhere) follows
    `_colour_focal`'s rules and says a factor more than 5 % from 1, not the 3-5 % that a
    calibration's usual error and the scan's steps leave; the figures as the cause words them."""
    _fixed_g(monkeypatch, g)
    views = _views(g)
    note = focal.colour_focal_note(views, {(0, 1): _M(), (1, 2): _M(), (0, 2): None}, _pairs(),
                                   CFG)
    assert _run(views=views) is not None  # the cause is named at 3 % already
    assert (note is not None) == noted, note
    if noted:
        assert note.text.startswith(f"the colour images fit fx, fy x{g:.2f} the given ones (fx "
                                    f"{585 * g:.0f} px, not 585; over 2 keyframe pairs, too few "
                                    "to tell its uncertainty): match reprojection "), note
        assert "the map passes" in note.text, note


def test_a_consistent_map_s_note_is_empty_where_the_rules_fail(monkeypatch):
    _fixed_g(monkeypatch, 0.9)
    assert focal.colour_focal_note(_views(), {(0, 1): None, (1, 2): None}, _pairs(), CFG) is None
    assert focal.colour_focal_note(_views(), {(0, 1): _M(), (1, 2): _M()},
                                   _pairs(CFG.max_depth_residual * 1.01), CFG) is None


def _note(monkeypatch, depth_source=None):
    _fixed_g(monkeypatch, 0.9)
    return focal.colour_focal_note(_views(0.9), {(0, 1): _M(), (1, 2): _M(), (0, 2): None},
                                   _pairs(), CFG, depth_source)


def test_a_sensor_depth_note_is_a_short_info_that_nothing_needs_changing(monkeypatch):
    """On 7-Scenes' redkitchen build-map printed a 1000-character WARNING that ended "nothing
    needs changing". Now build-map says it at INFO, in two lines at most (``brief``: the figure,
    why no action, the section of docs/maps.md holding the rest); the text check-map prints and
    the manifest keeps carries every figure. An older note said 'give the colour camera's K (fx
    about 531 px)', and a map built with that K alone (the depth still the depth camera's) fails
    the check: the note names no such change, and the section says what it takes."""
    from test_readme_refs import CITATION, cited_section

    note = _note(monkeypatch)
    assert note.action is False, note
    given = f"{2 * SLOPE * math.log(1 / 0.9):.1f} px"  # the given K's median reprojection
    assert note.text.startswith("the colour images fit fx, fy x0.90 the given ones (fx 526 px, "
                                "not 585; over 2 keyframe pairs, too few to tell its "
                                f"uncertainty): match reprojection 0.0 px against {given}"), note
    assert len(note.brief) <= 160, (len(note.brief), note.brief)  # + log prefix: two lines
    for said in (note.brief, note.text):
        assert "fx 526 px" in said and "585" in said and "x0.90" in said, said
        assert "no action needed" in said and "the given K fits the depth" in said, said
        assert CITATION.findall(said) == [("docs/maps.md", "The colour-focal note")], said
        assert "colour camera's K" not in said and "fx about" not in said, said
    section = " ".join(cited_section("docs/maps.md", "The colour-focal note").split())
    assert "keep the given K for the map and for its queries" in section, section
    assert (section.index("register the depth to the colour camera")
            < section.index("then give the colour K")), section
    assert "colour K given alone, the depth unregistered, breaks the depth" in section


def test_a_stereo_depth_note_is_a_warning_naming_the_calibration_and_the_fx_that_fits(
        monkeypatch):
    """Depth computed from the same images (--stereo-depth) leaves no depth camera to explain
    the fit: the user should check the calibration, so build-map keeps a warning, which names
    where fx, fy are given and the value the images fit."""
    note = _note(monkeypatch, focal.DEPTH_STEREO)
    assert note.action is True and note.brief == note.text, note
    assert note.text.startswith("the images fit fx, fy x0.90 the given ones"), note
    for where in ("cam0/sensor.yaml's intrinsics", "calib.txt's P0 or P2", "T_BS",
                  "the images fit about 526 px", "build the map again",
                  "docs/maps.md: 'The colour-focal note'"):
        assert where in note.text, (where, note.text)


def _twice(views, i):
    """``views`` with view ``i + 1`` at view ``i``'s pose: one frame added twice."""
    views[i + 1].pose = views[i].pose.copy()
    return views


def test_a_frame_added_twice_fits_no_focal_length(monkeypatch):
    """A map holding one frame twice (same pose, image and depth) and nothing else: its pair
    reprojects 0 px under any fx, and check-map noted "the colour images fit fx, fy x0.577
    ... (fx 337.4 px, not 585): match reprojection 0.0 px against 0.0 px". A pair without
    baseline is not scored: no fit, no note."""
    _fixed_g(monkeypatch, 0.577)
    views = _twice(_views(n=2), 0)
    matches = {(0, 1): _M(base=0.0, fit=0.0)}
    pairs = [PairFigures(0, 1, depth_residual=0.0, depth_agree=1.0, depth_points=500)]
    assert focal.colour_focal_note(views, matches, pairs, CFG) is None
    assert _run(matches=matches, pairs=pairs, views=views) is None


def test_a_pair_without_baseline_beside_others_is_neither_scored_nor_confirmed():
    """Views 1 and 2 one frame twice, their pair over its limit at every factor: the fit of the
    pairs with a baseline stands (it failed the every-pair confirmation before)."""
    matches = {(0, 1): _M(), (1, 2): _M(base=50 * LIMIT, fit=50 * LIMIT), (0, 2): None}
    c = _run(matches=matches, views=_twice(_views(), 1))
    assert c is not None and abs(_fitted(c) / 0.9 - 1) < 0.01, c


def test_pairs_turned_in_place_are_kept_and_only_one_frame_twice_left_out():
    """The baseline rule (1 mm) also dropped a pair turned in place, whose K R K^-1 depends on
    the focal length: kept now; the same place and direction (one frame twice) is not."""
    from scipy.spatial.transform import Rotation

    from mast3r_ros.core.map_check.baseline import with_baseline

    views = _views(n=3)
    views[1].pose = views[0].pose.copy()  # one frame twice
    views[2].pose = views[0].pose.copy()
    views[2].pose[:3, :3] = Rotation.from_euler("y", 10.0, degrees=True).as_matrix()
    assert with_baseline(views, [(0, 1), (0, 2), (1, 2)]) == [(0, 2), (1, 2)]
