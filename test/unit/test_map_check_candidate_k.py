"""The map check's diagnosis tries K the user never gave (fx, fy divided by a factor, the whole K
by a size ratio): one that `CameraIntrinsics` refuses (its principal point over 10 focal lengths
off) is scored as not fitting, and the check reports; it never raises `InputError` blaming K
"normalised or millimetres?". The given K is still checked where it is read."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.map_check import INCONSISTENT, KeyframeRecord, check_keyframes
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check


def k_of(fx, fy, cx, cy, skew=0.0):
    return np.array([[fx, skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def given(frames, cams):
    """The frames' records, keyframe i given ``cams[i % len(cams)]``."""
    return [KeyframeRecord(f.rgb, f.depth_m, cams[i % len(cams)], f.map_from_cam, f.stamp_ns)
            for i, f in enumerate(frames)]


@pytest.fixture(scope="module")
def walk320():
    cam = default_intrinsics(320, 240)
    return cam, list(render_frames(40, cam, indices=range(0, 20, 2)))


def test_a_principal_point_far_off_with_fx_fy_right_is_reported_not_raised(walk320):
    """A 1920x1080 principal point (959.5, 539.5) with 320x240 images, fx, fy right: 3.4 focal
    lengths off, a valid K. The focal scan's fx / 3.4 (77 px) put it over 10, and the check
    raised "K is not in this image's pixels (normalised or millimetres?)" for a K the user never
    gave (build-map runs the check after writing the map). Now it says what it found."""
    cam, frames = walk320
    K = cam.K.copy()
    K[0, 2], K[1, 2] = 959.5, 539.5
    rep = check_keyframes(given(frames, [dataclasses.replace(cam, K=K)]), CFG)
    assert rep.verdict == INCONSISTENT, rep.message
    assert "normalised or millimetres" not in rep.message + rep.fix, rep.message


def test_the_focal_slip_of_an_implausible_fx_skips_a_k_no_camera_has(walk320):
    """fx 10x (a 17 deg view is fine, the principal point 9 focal lengths off is too): the
    implausible-focal-length check's slips (`_focal_slip`: fx / 10 ...) put the principal point
    at 90 focal lengths and raised; now the slip is not taken and the cause is named."""
    cam, frames = walk320
    f0, (cx, cy) = cam.K[0, 0], cam.K[:2, 2]
    K = k_of(10 * f0, 10 * f0, cx + 90 * f0, cy + 50 * f0)
    rep = check_keyframes(given(frames, [dataclasses.replace(cam, K=K)]), CFG)
    assert rep.verdict == INCONSISTENT and rep.cause == "focal_length", rep.message


@pytest.fixture(scope="module")
def walk240():
    cam = default_intrinsics(240, 180)
    return cam, list(render_frames(40, cam, indices=range(0, 20, 2)))


@pytest.mark.parametrize("ry", [3.0, 2.25], ids=["whole_k", "other_aspect"])
def test_a_whole_k_ratio_that_leaves_another_keyframe_no_camera_is_not_taken(walk240, ry):
    """Keyframe 0's principal point says its K is x3 (across; ``ry`` down: one ratio,
    `_whole_k_scaled`, or another, `_other_aspect`); the others' K is valid with its principal
    point 9 focal lengths left of centre. Their K divided by 3 is 10.2 focal lengths off: the
    ratio raised `InputError` there; now it does not fit, and the check reports."""
    cam, frames = walk240
    f0, (cx, cy) = cam.K[0, 0], cam.K[:2, 2]
    first = k_of(f0, f0, (cx + 0.5) * 3.0 - 0.5, (cy + 0.5) * ry - 0.5)
    other = k_of(f0, f0, cx - 9.0 * f0, cy)
    cams = [dataclasses.replace(cam, K=first)] + [dataclasses.replace(cam, K=other)] * 9
    recs = [KeyframeRecord(f.rgb, f.depth_m, c, f.map_from_cam, f.stamp_ns)
            for f, c in zip(frames, cams)]
    rep = check_keyframes(recs, CFG)
    assert rep.verdict == INCONSISTENT and rep.cause != "intrinsics_resolution", rep.message
    assert "normalised or millimetres" not in rep.message + rep.fix, rep.message


def test_k_divided_is_none_for_a_k_no_camera_has(walk240):
    """`resolution._k_divided` (the whole K / r) gives None, not `InputError`, when a view's
    new K is refused, and the views as they were otherwise."""
    from mast3r_ros.core.map_check.measure import _prepare
    from mast3r_ros.core.map_check.resolution import _k_divided

    cam, frames = walk240
    f0, (cx, cy) = cam.K[0, 0], cam.K[:2, 2]
    far = dataclasses.replace(cam, K=k_of(f0, f0, cx - 9.0 * f0, cy))
    views = [_prepare(r, i, CFG, cv2.ORB_create(500))
             for i, r in enumerate(given(frames[:2], [far]))]
    assert _k_divided(views, 3.0) is None
    assert _k_divided(views, 0.5) is not None  # 4.5 focal lengths off: a camera's


def test_a_distorted_colour_focal_factor_no_camera_has_scores_inf(walk240):
    """`focal._pair_reproj_factors` rebuilds a distorted camera per factor (`_focal_times`):
    fx x0.6 with the principal point 7 focal lengths off raised `InputError` in the colour focal
    scan (which runs on a consistent map's check too); now that factor scores inf and the
    others as before."""
    from mast3r_ros.core.map_check.focal import _pair_reproj_factors
    from mast3r_ros.core.map_check.measure import _Matches, _prepare

    cam, frames = walk240
    f0, (cx, cy) = cam.K[0, 0], cam.K[:2, 2]
    far = CameraIntrinsics(240, 180, k_of(f0, f0, cx + 7.0 * f0, cy),
                           np.array([1e-3, 0.0, 0.0, 0.0, 0.0]))
    va, vb = (_prepare(r, i, CFG, cv2.ORB_create(500))
              for i, r in enumerate(given(frames[:2], [far])))
    xa = np.array([[60.0, 50.0], [120.0, 90.0], [180.0, 130.0]])
    m = _Matches(xa, xa.copy(), np.full(3, 2.0), np.full(3, 2.0))  # the same pixels, no motion
    meds, n = _pair_reproj_factors(va, vb, m, np.eye(4), np.array([0.6, 1.0, 1.2]))
    assert n == 6
    assert meds[0] == np.inf and np.allclose(meds[1:], 0.0, atol=1e-6), meds


# --- never raises: a handful of nasty K, sizes and distortion models ------------------------

@pytest.fixture(scope="module")
def walk160():
    cam = default_intrinsics(160, 120)
    return cam, list(render_frames(40, cam, indices=range(0, 12, 2)))


def nasty(cam):
    """(name, CameraIntrinsics) given with the 160x120 walk: principal points far off (up to
    just under 10 focal lengths, either side), fx far off, anisotropic, skewed, distorted
    (plumb_bob, equidistant, rational_polynomial) with K scaled or moved."""
    w, h = cam.width, cam.height
    f0, (cx, cy) = cam.K[0, 0], cam.K[:2, 2]
    whole2 = k_of(2 * f0, 2 * f0, 2 * (cx + 0.5) - 0.5, 2 * (cy + 0.5) - 0.5)
    pb = np.array([0.1, -0.05, 0.001, 0.001, 0.01])
    return [
        ("pp x6, x4.5", CameraIntrinsics(w, h, k_of(f0, f0, 6 * w, 4.5 * h))),
        ("pp -x +y", CameraIntrinsics(w, h, k_of(f0, f0, -3 * f0, cy + 3 * f0))),
        ("pp 9.999 f", CameraIntrinsics(w, h, k_of(f0, f0, cx + 9.999 * f0, cy + 9.999 * f0))),
        ("fx x10 pp 9 f", CameraIntrinsics(w, h, k_of(10 * f0, 10 * f0, cx + 90 * f0,
                                                      cy + 50 * f0))),
        ("fy x0.3 pp off", CameraIntrinsics(w, h, k_of(f0, 0.3 * f0, cx + 3 * f0,
                                                       cy + 0.9 * f0))),
        ("skew pp off", CameraIntrinsics(w, h, k_of(f0, f0, 3 * w, 3 * h, skew=5.0))),
        ("plumb_bob pp off", CameraIntrinsics(w, h, k_of(f0, f0, 3 * w, 2.25 * h), pb)),
        ("equidistant pp off", CameraIntrinsics(w, h, k_of(f0, f0, 3 * w, 2.25 * h),
                                                np.array([0.1, -0.05, 0.01, -0.01]),
                                                "equidistant")),
        ("equidistant whole x2", CameraIntrinsics(w, h, whole2, np.array([0.05, 0.01, 0, 0]),
                                                  "equidistant")),
        ("rational pp off", CameraIntrinsics(w, h, k_of(f0, f0, 2 * w, 1.5 * h),
                                             np.array([0.1, 0.01, 0, 0, 0, 0.02, 0, 0]),
                                             "rational_polynomial")),
    ]


def test_nasty_intrinsics_get_a_report_never_an_exception(walk160):
    """Every K here is valid as given; the check of the walk seen through it reports (the
    verdict is whatever it is), whatever K its diagnosis tries."""
    cam, frames = walk160
    failed = []
    for name, bad in nasty(cam):
        try:
            rep = check_keyframes(given(frames, [bad]), CFG)
        except (InputError, ValueError, ArithmeticError, cv2.error) as e:
            failed.append(f"{name}: {type(e).__name__}: {e}")
            continue
        assert rep.verdict == INCONSISTENT and rep.message, (name, rep.message)
    assert not failed, "\n".join(failed)


def test_the_given_k_is_still_checked_at_the_boundary():
    """The user's own K 10.5 focal lengths off is refused where it is read, as before."""
    cam = default_intrinsics(160, 120)
    f0, (cx, cy) = cam.K[0, 0], cam.K[:2, 2]
    with pytest.raises(InputError, match="normalised or millimetres"):
        CameraIntrinsics(160, 120, k_of(f0, f0, cx + 10.5 * f0, cy))


def test_a_colour_focal_fit_whose_k_no_camera_has_is_not_named():
    """A pinhole map whose colour fits fx, fy x0.9 (`_colour_focal_fit`, scored without
    rebuilding a camera), its principal point 9.5 focal lengths off (the walk's views and
    matches moved with it: the same rays): fx x0.9 puts it 10.6 off, a K that `CameraIntrinsics`
    refuses, and the note or cause would have told the user to give it. Now no fit; the same
    map with its principal point as rendered still fits x0.9."""
    from mast3r_ros.core.map_check import focal
    from mast3r_ros.core.map_check.measure import StreamingMeasure

    cam = default_intrinsics(160, 120)
    K = cam.K.copy()
    K[:2, :2] *= 0.9
    colour = dataclasses.replace(cam, K=K)
    idx = range(0, 20, 2)
    sm = StreamingMeasure(CFG, cv2.ORB_create(nfeatures=CFG.max_features),
                          cv2.BFMatcher(cv2.NORM_HAMMING))
    for d, c in zip(render_frames(40, cam, indices=idx), render_frames(40, colour, indices=idx)):
        sm.add(KeyframeRecord(c.rgb, d.depth_m, cam, d.map_from_cam, d.stamp_ns))
    views, matches, pairs = sm.close()
    fit = focal._colour_focal_fit(views, matches, pairs, CFG)
    assert fit is not None and abs(fit[0] / 0.9 - 1) < 0.02, fit

    def moved(v):
        K = v.cam.K.copy()
        K[0, 2] += 9.5 * K[0, 0]
        return dataclasses.replace(v, cam=dataclasses.replace(v.cam, K=K))
    dx = np.array([9.5 * views[0].cam.K[0, 0], 0.0])
    shifted = {k: None if m is None else dataclasses.replace(m, xa=m.xa + dx, xb=m.xb + dx)
               for k, m in matches.items()}
    assert focal._colour_focal_fit([moved(v) for v in views], shifted, pairs, CFG) is None


def test_build_map_and_check_map_of_such_a_camera_say_what_the_check_found(tmp_path, capsys):
    """The same camera in a TUM folder's camera.yaml: build-map failed with the check's
    `InputError` ("normalised or millimetres?"), --force or not, and wrote no map. Now it is
    refused as an inconsistent map (exit 2, the finding), written under --force (exit 0), and
    check-map says the finding (exit 2)."""
    from mast3r_ros.replay.cli import main
    from mast3r_ros.replay.synthetic import write_tum_sequence

    cam = default_intrinsics(320, 240)
    K = cam.K.copy()
    K[0, 2], K[1, 2] = 959.5, 539.5
    far = dataclasses.replace(cam, K=K)
    folder = write_tum_sequence(str(tmp_path / "tum"), (
        dataclasses.replace(f, intrinsics=far)
        for f in render_frames(40, cam, indices=range(0, 20, 2))))
    out = str(tmp_path / "map")
    args = ["build-map", folder, "--out", out, "--matcher", "sift", "--log-level", "error"]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error: map inconsistent: " in err and "normalised" not in err, err
    assert main(args + ["--force"]) == 0
    assert "map check: inconsistent, forced (--force)" in capsys.readouterr().out
    assert main(["check-map", out]) == 2
    err = capsys.readouterr().err
    assert "error: map inconsistent: " in err and "normalised" not in err, err


def test_a_given_k_at_the_limit_is_reduced_to_the_working_width_unchecked():
    """848x480 with fx 441.4 and the principal point 10 focal lengths off (cx 4837.5): valid
    as given, but scaled to the check's 320 px working width it came out a rounding error over
    10 and `KeyframeRecord.reduced` (every check's first step) raised `InputError` blaming K
    "normalised or millimetres?". Now it is the same camera at that width, and the check
    reports."""
    cam = CameraIntrinsics(848, 480, k_of(441.4, 441.4, 423.5 + 4414.0, 239.5))
    frames = list(render_frames(40, default_intrinsics(848, 480), indices=range(0, 6, 2)))
    recs = given(frames, [cam])
    small = recs[0].reduced(CFG.work_width).intrinsics
    assert (small.width, small.height) == (320, 181)
    assert np.allclose(small.K[0, 0], 441.4 * 320 / 848)
    assert check_keyframes(recs, CFG).message


def test_an_unconfirmed_guess_names_the_far_principal_point_as_well(walk320):
    """The 1920x1080 principal point with fx, fy right read "likely cause: the poses are
    inverted ...; depth is x5 ... (not fully confirmed ...)" alone, and a user who inverted the
    poses broke the map: an unconfirmed cause now says the principal point hint beside it, as
    "unknown" does. (That K, fx, fy right, is now named a crop: the centred 320x240 region of
    1920x1080, test_map_check_resolution.py; here the principal point as far left of and above
    the centre, (-640, -300), where no crop puts it, reads an unconfirmed guess as that did.)"""
    cam, frames = walk320
    K = cam.K.copy()
    K[0, 2], K[1, 2] = -640.5, -300.5
    rep = check_keyframes(given(frames, [dataclasses.replace(cam, K=K)]), CFG)
    assert rep.verdict == INCONSISTENT and "(not fully confirmed" in rep.message, rep.message
    assert rep.message.endswith("; or the intrinsics: the principal point (-640, -300) of "
                                "keyframe 0 is outside the image: is K for another resolution "
                                "(here 320x240)? scale fx, fy, cx, cy with the image"), \
        rep.message
