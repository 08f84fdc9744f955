"""Ground truth of an OpenGL camera (x right, y up, looking down -z: Blender, NeRF's
transforms.json, ARKit exports) given as the optical frame's.

A fresh user's find: the redkitchen query scored against its ground truth turned to OpenGL's
camera axes read 'rotation error median 179.70 deg', recall 0 %, and nothing else: the table
names quaternions written w first or conjugated, not this. `metrics.quaternion_order` now
names it too (``written`` "opengl"), in metrics.json and the 'ground truth quaternions' row,
and only the rotation rows go unjudged (the positions are read right)."""

from __future__ import annotations

import numpy as np

from mast3r_ros.replay import metrics
from mast3r_ros.replay.metrics_table import _misread_quaternions, format_table

from test_groundtruth_quaternion_order import _poses, _run, _truth


def test_ground_truth_in_opengl_camera_axes_is_named_with_the_fix():
    rots, centres = _truth()
    res = _run(rots, centres)
    gl = _poses(rots.as_quat(), centres) @ np.diag([1.0, -1.0, -1.0, 1.0])
    m = metrics.summarize(res, gl)
    assert m["rotation_error_deg"]["median"] > 170
    qo = m["quaternion_order"]
    assert qo["written"] == "opengl" and qo["opengl_rotation_error_deg_median"] < 2, qo
    assert m["frame_offset"] is None
    table = format_table(m)
    row = [ln for ln in table.splitlines() if "ground truth quaternions" in ln]
    assert len(row) == 1 and "OpenGL camera axes" in row[0], row
    assert "times diag(1, -1, -1)" in row[0] and "metrics.json: quaternion_order" in row[0]
    # the covariance rows: rotation not judged, position judged (its columns read right)
    qo_only = {"written": "opengl"}
    assert "in OpenGL camera axes" in _misread_quaternions("rotation", qo_only)
    assert _misread_quaternions("position", qo_only) == ""
