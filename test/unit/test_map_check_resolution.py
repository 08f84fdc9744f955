"""The map check names a whole K made for another resolution (fx, fy, cx, cy all scaled: a
camera's full-resolution camera_info given with its reduced stream), with the K that fits."""

from __future__ import annotations

import dataclasses

import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.map_check import INCONSISTENT, KeyframeRecord, check_keyframes
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check


@pytest.fixture(scope="module")
def frames():
    """Every other frame of the first half of the demo loop at 240x180 (pinhole)."""
    return list(render_frames(40, default_intrinsics(240, 180), indices=range(0, 20, 2)))


def with_k(frames, K):
    cam = dataclasses.replace(frames[0].intrinsics, K=K)
    return [KeyframeRecord(f.rgb, f.depth_m, cam, f.map_from_cam, f.stamp_ns) for f in frames]


def whole_k_times(K, r):
    """K for images ``r`` x the size, about pixel centres (c' = (c + 0.5) r - 0.5)."""
    out = K.copy()
    out[:2, :2] *= r
    out[:2, 2] = (out[:2, 2] + 0.5) * r - 0.5
    return out


@pytest.mark.parametrize("r, made, fix", [
    (3.0, "720x540", "divide fx, fy, cx, cy by 3 (fx 196.9, fy 196.9, cx 119.5, cy 89.5 px;"),
    (2.0, "480x360", "divide fx, fy, cx, cy by 2 (fx 196.9, fy 196.9, cx 119.5, cy 89.5 px;"),
    (4.0, "960x720", "divide fx, fy, cx, cy by 4 (fx 196.9, fy 196.9, cx 119.5, cy 89.5 px;"),
    (0.5, "120x90", "multiply fx, fy, cx, cy by 2 (fx 196.9, fy 196.9, cx 119.5, cy 89.5 px;")])
def test_a_whole_k_for_another_resolution_is_named_with_the_k_that_fits(frames, r, made, fix):
    """K of a 720x540 stream given with 240x180 images (the walk's own K x3, principal point
    too) read "likely cause: no pose convention or depth scale explains it; fix: check the
    poses ... and the depth unit; or the intrinsics: the principal point (360, 270) ... is
    outside the image": the focal scans fit fx, fy only. The principal point gives the size
    ratio, and the whole K divided by it makes every pair agree: named, with that K."""
    K = frames[0].intrinsics.K
    rep = check_keyframes(with_k(frames, whole_k_times(K, r)), CFG, depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause == "intrinsics_resolution", rep.message
    assert f"a calibration for another resolution (one made at {made} for these 240x180 " \
        "images?)" in rep.message, rep.message
    assert "every pair agrees" in rep.message, rep.message
    assert rep.fix.startswith("give the camera_info of the stream these images came from (its "
                              "K for 240x180), or scale the whole K by the image size ratio: "
                              + fix), rep.fix
    assert ("binning_x: " in rep.fix) == (r > 1), rep.fix
    for wrong in ("no pose convention", "depth unit", "or the intrinsics:"):
        assert wrong not in rep.message, rep.message


def test_a_principal_point_off_alone_is_not_named_a_resolution(frames):
    """Only cx, cy of another resolution (fx, fy right): the whole K divided does not fit, so
    the resolution is not named (the principal point hint stays where nothing else explains
    the disagreement)."""
    K = frames[0].intrinsics.K.copy()
    K[:2, 2] = (K[:2, 2] + 0.5) * 3.0 - 0.5
    rep = check_keyframes(with_k(frames, K), CFG, depth_units_per_m=1000.0)
    assert rep.verdict == INCONSISTENT and rep.cause != "intrinsics_resolution", rep.message
    assert rep.message.endswith("or the intrinsics: the principal point (360, 270) of "
                                "keyframe 0 is outside the image: is K for another "
                                "resolution (here 240x180)? scale fx, fy, cx, cy with "
                                "the image"), rep.message


def test_a_centred_principal_point_is_not_measured_again(frames, monkeypatch):
    """The principal point near the centre: no K is tried (no `_measure`), None."""
    from mast3r_ros.core.map_check import resolution

    monkeypatch.setattr(resolution, "_measure", lambda *a, **k: pytest.fail("measured"))
    view = type("V", (), {})()
    view.cam, view.scale, view.width_px = frames[0].intrinsics, 1.0, 240
    assert resolution._whole_k_scaled([view], {(0, 1): None}, CFG) is None
