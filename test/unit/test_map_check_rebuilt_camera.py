"""A map-check record reduced by hand (``camera_scale`` != 1, no ``camera_intrinsics``: the
public `KeyframeRecord` API) names the camera its distortion figure judged, and a query from
that very camera is vouched for by it (`distortion_run_gate.map_images_right`).

Before, the calibration was rebuilt from the check's own 320 px copy with the x scale for both
axes: a 752x480 camera (fy 457.30, cy 248.38) given as its 376x240 copy was recorded as 752x479
with fy 456.72, cy 248.06, another camera by `camera_key.same_camera`, so its own rectified
query was marked "published, degraded" instead of refused. Now it is rebuilt per axis from the
record as given, and where a rounding pixel of the copy is all that can be known the record
says so (``within_px``) and the comparison takes that as the same camera; a camera of another
size, K or D is still another."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from mast3r_ros.core.camera_key import (camera_key, camera_record, key_of_record, same_camera,
                                        within_of_record)
from mast3r_ros.core.config import Config
from mast3r_ros.core.distortion_evidence import distortion_camera_of
from mast3r_ros.core.localizer.distortion_run_gate import map_images_right
from mast3r_ros.core.map_check.distortion import _checked_camera
from mast3r_ros.core.map_check.measure import _prepare
from mast3r_ros.core.map_check.records import KeyframeRecord, _scaled_intrinsics
from mast3r_ros.core.types import CameraIntrinsics

D = [-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05, 0.0]
# what the map's pairs fitted: a right map (the figures of test_distortion_rect_midrun.MAP_RIGHT)
VERDICT = {"k1": -0.021, "k1_sigma": 0.048, "frames_used": 9, "off": False, "diagnosis": None}


def _cam(w=752, h=480, fx=458.654, fy=457.296, cx=367.215, cy=248.375, d=D):
    return CameraIntrinsics(w, h, np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]),
                            np.array(d, np.float64))


def _map_figure(small, scale):
    """The distortion figure a map of hand-reduced records (``small`` at ``scale``) writes."""
    rec = KeyframeRecord(np.zeros((small.height, small.width, 3), np.uint8), None, small,
                         np.eye(4), camera_scale=scale)
    record, _ = _checked_camera(_prepare(rec, 0, Config().map_check, cv2.ORB_create()))
    record = json.loads(json.dumps(record))  # as the manifest holds it
    fx, given = distortion_camera_of(_cam())[1][:2]
    return dict(VERDICT, fx_px=fx, given_k1=given, given_zero=False, camera=record)


def _vouched(figure, cam):
    key, facts = distortion_camera_of(cam)
    return map_images_right(figure, facts, key)


def test_a_copy_reduced_as_the_check_reduces_records_its_own_camera_exactly():
    figure = _map_figure(_scaled_intrinsics(_cam(), 0.5), 0.5)   # 376x240
    assert (figure["camera"]["width"], figure["camera"]["height"]) == (752, 480)  # was 479
    assert "within_px" in figure["camera"]  # rebuilt: it cannot know it is exact
    assert np.allclose(figure["camera"]["K"], _cam().K, rtol=0, atol=1e-9)
    assert _vouched(figure, _cam())


def _by_hand(cam, s):
    """``cam`` reduced as a user might: sizes floored, K times ``s`` (no pixel-centre shift)."""
    return CameraIntrinsics(int(cam.width * s), int(cam.height * s), cam.K * [[s], [s], [1]],
                            cam.dist.copy())


def test_a_copy_reduced_another_way_is_its_camera_within_a_rounding_pixel():
    true = _cam(h=481, cy=240.3)
    figure = _map_figure(_by_hand(true, 0.5), 0.5)             # 376x240: 481 rounds away
    assert figure["camera"]["height"] == 480 and 2 < within_of_record(figure["camera"]) < 4
    assert _vouched(figure, true)
    # a genuinely different camera is still another: size, K (1 % fx) or any coefficient
    for other in (_cam(1504, 960, 917.3, 914.6, 734.9, 497.3), _cam(h=481, cy=240.3, fy=462.0),
                  _cam(h=481, cy=240.3, d=[D[0], 0.09] + D[2:])):
        assert not _vouched(figure, other)


def test_an_exact_calibration_keeps_the_exact_comparison():
    """Records with their camera's own intrinsics (build-map's, `reduced`'s) write no
    ``within_px``: one row of height is another camera there, as before."""
    rec = KeyframeRecord(np.zeros((480, 752, 3), np.uint8), None, _cam(), np.eye(4)).reduced(376)
    record, _ = _checked_camera(_prepare(rec, 0, Config().map_check, cv2.ORB_create()))
    assert "within_px" not in record and record == camera_record(_cam())
    assert not same_camera(camera_key(_cam()), camera_key(_cam(h=481)))
    assert same_camera(camera_key(_cam()), camera_key(_cam(h=481)), within_px=1.0)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "3", True])
def test_a_bad_within_px_is_refused_when_read(bad):
    with pytest.raises(ValueError, match="'within_px'"):
        key_of_record(dict(camera_record(_cam()), within_px=bad))


def test_a_record_without_the_full_calibration_says_what_it_knows():
    """The docstring's advice: give ``camera_intrinsics`` with a hand-reduced record."""
    assert "camera_intrinsics" in KeyframeRecord.__doc__ and "rebuilt" in KeyframeRecord.__doc__
    small = dataclasses.replace(KeyframeRecord(np.zeros((480, 752, 3), np.uint8), None, _cam(),
                                               np.eye(4)).reduced(376), camera_intrinsics=None)
    assert small.calibration() is None  # unknown: rebuilt by the check, with its tolerance


def test_full_size_figures_of_a_hand_reduced_record_are_its_cameras_per_axis():
    """The distortion record was rebuilt per axis, but the map check's words still divided the
    check copy's height and fy, cy by the x scale: a 752x480 camera given at 376x240 was "not
    judged at 752x479", "these 752x479 images" (one "made at 1504x958"), fy 456.7 for 457.3.
    Each full-size figure is now its calibration's, rebuilt per axis."""
    from mast3r_ros.core.map_check.distortion import lens_unjudged
    from mast3r_ros.core.map_check.focal import _resolution_fix
    from mast3r_ros.core.map_check.resolution import _cause, _crop_cause, _moved_cause

    small = _scaled_intrinsics(_cam(), 0.5)
    rec = KeyframeRecord(np.zeros((small.height, small.width, 3), np.uint8), None, small,
                         np.eye(4), camera_scale=0.5)
    view = _prepare(rec, 0, Config().map_check, cv2.ORB_create())
    assert (view.cam.width, view.cam.height) == (320, 204)  # the check's copy: 0.4255, 0.425
    said = lens_unjudged(None, [view, view], {})
    assert "at 752x480 the check" in said, said
    said = _resolution_fix(view, 2.0)
    assert "one made at 1504x960 for these 752x480 images?" in said, said
    cause = _cause(view, 2.0, True)
    said = cause.what + cause.fix
    assert "these 752x480 images" in said and "fy 228.6, " in said, said
    said = " ".join(c.what + c.fix for c in (_moved_cause(view, 1.1, 1.1),
                                            _crop_cause(view, 10, 6, (772, 492))))
    assert "752x479" not in said and "fy 457.3 px" in said, said
