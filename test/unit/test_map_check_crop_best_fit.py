"""Of the crops a principal point suggests, the map check names the one the evidence fits best:
a usual resolution's centred crop within 5 % of the principal point's own offsets was named
whenever it fitted (424x240's, x_offset 52, for a true 40), though the own offsets fitted
clearly better; the usual one is still named when it fits as well."""

from __future__ import annotations

import math

from mast3r_ros.core.map_check import resolution
from mast3r_ros.core.map_check.report import PairFigures
from mast3r_ros.replay.synthetic import default_intrinsics
from test_map_check_crop import check
from test_map_check_resolution import k_of

OWN = default_intrinsics(320, 240).K  # fx = fy = 262.5, cx 159.5, cy 119.5


def test_a_crop_40_px_right_is_named_with_its_own_offsets_not_424x240s():
    """The images the centred 320x240 of a 400x240 frame, its K (cx 199.5) given: 424x240's
    centred crop (x_offset 52) is within 5 % of the principal point's 40 px and fits too, but
    its depth residual is 0.011 against 0.000 at 40: x_offset 40 is named."""
    true_k = k_of(262.5, 262.5, 159.5, 119.5)
    rep = check(320, 240, true_k, k_of(262.5, 262.5, 199.5, 119.5))
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "(one made at 400x240, these images its centred 320x240?)" in rep.message, \
        rep.message
    assert "set cx 159.5, cy 119.5 px, fx, fy as they are" in rep.fix, rep.fix
    assert "roi: x_offset 40, y_offset 0, width 320, height 240" in rep.fix, rep.fix
    assert "x_offset 52" not in rep.fix, rep.fix


def test_a_usual_frames_crop_with_its_principal_point_off_centre_is_named():
    """424x240's K with its principal point 3 px right of that frame's centre (cx 214.5), the
    images its centred 320x240 (x_offset 52, cx 162.5 for them): the principal point's own
    offsets (55) put cx 3 px off; 424x240's crop fits best and is named."""
    true_k = k_of(262.5, 262.5, 162.5, 119.5)
    rep = check(320, 240, true_k, k_of(262.5, 262.5, 214.5, 119.5))
    assert rep.cause == "intrinsics_resolution", rep.message
    assert "(one made at 424x240, these images its centred 320x240?)" in rep.message, \
        rep.message
    assert "roi: x_offset 52, y_offset 0, width 320, height 240" in rep.fix, rep.fix


def figures(depth, reproj):
    p = PairFigures(0, 1)
    p.depth_residual, p.depth_points, p.reproj_px = depth, 100, reproj
    return p


def test_the_usual_crop_is_named_while_it_fits_within_10_per_cent_and_the_slack():
    """`_fits_as_well`: the usual crop's errors within x1.1 plus 0.002 (depth) and 0.25 px
    (reprojection) of the other's on every measure both have; NaN (a measure no pair has) is
    left out."""
    fits = resolution._fits_as_well
    assert fits((0.0125, 1.0), (0.01, 1.0))           # 0.0125 <= 0.011 + 0.002
    assert not fits((0.0131, 1.0), (0.01, 1.0))       # past 0.013
    assert fits((0.01, 1.35), (0.01, 1.0))             # 1.35 <= 1.1 + 0.25
    assert not fits((0.01, 1.36), (0.01, 1.0))
    assert fits((0.02, 1.0), (math.nan, 1.0))          # depth not measured by the other
    assert not fits((math.nan, 2.0), (0.0, 1.0))
    assert resolution._fit_error([figures(0.01, 1.0), figures(0.03, math.nan),
                                  figures(0.02, 3.0)]) == (0.02, 2.0)
    none = PairFigures(0, 1)
    assert all(math.isnan(e) for e in resolution._fit_error([none]))
