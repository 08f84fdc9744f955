"""The map's own distortion check names the camera it judged (`map_check.distortion.
MapDistortionEvidence`: the manifest's ``consistency.distortion.camera``), and the mid-run rule
takes its word only for that camera (`distortion_run_gate.map_images_right`).

Before, the check was "the same camera" on fx and the given k1 alone: a query whose D differed
in k2 (-0.3, -0.2, 0.01 against the map's -0.3, 0.1), or whose images were 1280x960 with the
same fx and k1, had its poses refused mid-run as rectified on the word of a check of another
camera, instead of published as degraded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mast3r_ros.core.camera_key import camera_key, camera_record, key_of_record
from mast3r_ros.core.distortion_evidence import DistortionFit, distortion_camera_of
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.localizer.distortion_run_gate import (DEGRADED_REASON, RECTIFIED_REASON,
                                                           RunDistortionGate, map_images_right)
from mast3r_ros.core.types import CameraIntrinsics, LocalizationResult
from test_distortion_rect_midrun import FIELD_RECTIFIED, MAP_RIGHT


def _cam(d, w=640, h=480, model="plumb_bob"):
    K = np.array([[585.0, 0, w / 2], [0, 585.0, h / 2], [0, 0, 1]])
    return CameraIntrinsics(w, h, K, np.array(d, np.float64), model)


MAP_CAM = _cam([-0.3, 0.1, 0, 0, 0])
KEYED = dict(MAP_RIGHT, camera=camera_record(MAP_CAM))
OTHER_K2 = _cam([-0.3, -0.2, 0.01, 0, 0])
BIGGER = _cam([-0.3, 0.1, 0, 0, 0], 1280, 960)
RENAMED = _cam([-0.3, 0.1, 0, 0, 0, 0, 0, 0], model="rational_polynomial")


def _right(report, cam):
    key, facts = distortion_camera_of(cam)
    return map_images_right(report, facts, key)


def test_a_map_check_naming_its_camera_vouches_for_that_camera_only():
    assert _right(KEYED, MAP_CAM) and _right(KEYED, RENAMED)
    assert not _right(KEYED, OTHER_K2)   # the same fx and k1, another k2
    assert not _right(KEYED, BIGGER)     # the same fx and k1, another size
    # no key to compare with, or an unreadable camera: not vouched for
    assert not map_images_right(KEYED, distortion_camera_of(MAP_CAM)[1])
    assert not _right(dict(KEYED, camera={"width": 640}), MAP_CAM)


def test_an_older_maps_check_without_its_camera_keeps_the_fx_and_k1_rule():
    assert _right(MAP_RIGHT, MAP_CAM) and _right(MAP_RIGHT, OTHER_K2)
    assert map_images_right(MAP_RIGHT, distortion_camera_of(MAP_CAM)[1])


def _run(check, cam):
    key, (fx, given, zero, r) = distortion_camera_of(cam)
    gate = RunDistortionGate(check)
    out = []
    for i, row in enumerate(FIELD_RECTIFIED):
        fit = FocalFit(1.0, 0.002, fx, camera=key, distortion=None if row is None else
                       DistortionFit(row[0], row[1], given, zero, fx, r, True))
        out.append(gate.judge(LocalizationResult(True, i, np.eye(4), focal_fit=fit),
                              camera=cam))
    return out


@pytest.mark.parametrize("cam", [OTHER_K2, BIGGER], ids=["k2", "size"])
def test_another_cameras_rectified_frames_are_published_degraded(cam):
    out = _run(KEYED, cam)
    assert all(r.success for r in out)  # frame 18 (19 at 1280x960) on: said, published
    assert 17 <= [r.reason.startswith(DEGRADED_REASON) for r in out].index(True) <= 18
    assert "no distortion check of this camera" in out[-1].reason


def test_the_checked_cameras_rectified_frames_are_refused():
    out = _run(KEYED, MAP_CAM)
    assert all(r.success for r in out[:18]) and not any(r.success for r in out[18:])
    assert out[18].reason.startswith(RECTIFIED_REASON)


def test_a_camera_record_reads_back_as_its_key_and_refuses_bad_values():
    assert key_of_record(json.loads(json.dumps(camera_record(MAP_CAM)))) == camera_key(MAP_CAM)
    good = camera_record(MAP_CAM)
    for bad, words in ((None, "must be an object"), (dict(good, width=0), "'width' and"),
                       (dict(good, height=True), "'width' and"), (dict(good, K=[1, 2]), "'K' must"),
                       (dict(good, K="x"), "lists of numbers"),
                       (dict(good, dist=[float("nan")]), "'dist' must"),
                       (dict(good, distortion_model=5), "'distortion_model' must")):
        with pytest.raises(ValueError, match=words):
            key_of_record(bad)


def test_a_map_with_an_unreadable_checked_camera_is_refused_at_load(tmp_path):
    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.geometry import make_pose
    from mast3r_ros.core.keyframes import KeyframeMap, write_map

    cam = _cam([0.0] * 5, 64, 48)
    path = write_map(str(tmp_path / "map"), [(np.zeros((48, 64, 3), np.uint8), cam,
                                              make_pose(np.eye(3), [0.0, 0, 0]), 0, None)])
    mpath = tmp_path / "map" / "manifest.json"
    doc = json.loads(mpath.read_text())
    doc["consistency"] = {"distortion": dict(MAP_RIGHT, camera=camera_record(cam))}
    mpath.write_text(json.dumps(doc))
    assert KeyframeMap.load(path).manifest["consistency"]["distortion"]["camera"]["width"] == 64
    doc["consistency"]["distortion"]["camera"]["K"] = [[585.0]]
    mpath.write_text(json.dumps(doc))
    with pytest.raises(MapFormatError, match=r"'consistency.distortion.camera' \(the camera "
                       r"the map's distortion check judged\) 'K' must be 3x3"):
        KeyframeMap.load(path)
