"""Depth that holds no valid pixel (all 0 or NaN: a wrong topic, a blinded sensor) or is
negative (an OpenGL depth buffer's -z) went into a map without a word; the map check then said
'no neighbouring keyframes overlap or match' and the sift localizer failed every frame with
'too few correspondences (0 < 6)', neither naming the depth (an API review's find)."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from mast3r_ros.core.config import MapCheckConfig, config_from_params
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = dataclasses.replace(MapCheckConfig(), neighbours=1)


@pytest.fixture(scope="module")
def walk():
    return list(render_frames(40, default_intrinsics(96, 72), indices=range(0, 8, 2)))


def _write(path, frames, depth_of):
    with MapWriter(str(path)) as w:
        for f in frames:
            w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, depth_of(f))
        report = w.check_consistency(CFG)
        w.commit()
    return report


def test_depth_with_no_valid_pixel_is_warned_and_named_by_the_map_check(tmp_path, walk, caplog):
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        report = _write(tmp_path / "zeros", walk, lambda f: np.zeros_like(f.depth_m))
    warned = [r.getMessage() for r in caplog.records if "no valid pixel" in r.getMessage()]
    assert warned == [f"map {tmp_path / 'zeros'}: keyframe 0's depth has no valid pixel (every "
                      "value 0, NaN or negative): it gives no 3-D point to the sift matcher, "
                      "points_source 'depth' or the map check; is it the right depth image?"]
    assert report.message == (f"map not checked: no keyframe's depth has a valid pixel at the "
                              f"check's {CFG.work_width} px working width (every value 0, NaN or "
                              "negative, or depth too sparse to survive the nearest-pixel "
                              "reduction)")
    # NaN everywhere reads the same; real depth is neither warned nor unchecked
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        nan = _write(tmp_path / "nan", walk, lambda f: np.full_like(f.depth_m, np.nan))
        good = _write(tmp_path / "good", walk, lambda f: f.depth_m)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [f"map {tmp_path / 'nan'}"]
    assert nan.message == report.message
    assert good.verdict == "consistent"
    # one keyframe blinded among good ones: warned, and the map is still checked
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        one = _write(tmp_path / "one", walk,
                     lambda f: np.zeros_like(f.depth_m) if f is walk[2] else f.depth_m)
    assert ["keyframe 2's depth has no valid pixel" in r.getMessage()
            for r in caplog.records] == [True]
    assert one.verdict != "unchecked"


def test_negative_depth_is_refused_naming_the_convention(tmp_path, walk):
    f = walk[0]
    with MapWriter(str(tmp_path / "neg")) as w:
        with pytest.raises(InputError, match=r"keyframe 0's depth is negative in 6912 of 6912 "
                           r"pixels and positive in none: depth_m is z-depth in metres, positive "
                           r"in front of the camera .*must be negated"):
            w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, -f.depth_m)
        # negative pixels are 'no depth' otherwise (README: 'Supported inputs', the docstring):
        # beside positive ones, even outnumbering them (an SDK's -1 over the sky), or one constant
        # marker everywhere
        few = f.depth_m.copy()
        few[:10] = -1.0
        most = np.full_like(f.depth_m, np.nan)
        most[:10] = f.depth_m[:10]
        most[10:21] = -1.0
        marker = np.full_like(f.depth_m, -1.0)
        for k, d in enumerate((few, most, marker)):
            assert w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns + k, d) == k
        w.abort()


def test_the_sift_localizer_names_keyframes_without_valid_depth(tmp_path, walk, caplog):
    _write(tmp_path / "zeros", walk, lambda f: np.zeros_like(f.depth_m))
    loc = Localizer(KeyframeMap.load(str(tmp_path / "zeros")),
                    config_from_params({"matcher": "sift"}).localizer)
    try:
        with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
            r1 = loc.localize(walk[1])
            r2 = loc.localize(walk[2])
    finally:
        loc.close()
    assert not r1.success and not r2.success
    warned = [r.getMessage() for r in caplog.records if "no valid depth" in r.getMessage()]
    assert len(warned) == 1, warned  # once per matcher, not per frame
    assert "has no valid depth at any of its" in warned[0]
    assert "gives the sift matcher no 3-D point" in warned[0]
