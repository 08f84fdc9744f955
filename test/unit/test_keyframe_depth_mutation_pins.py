"""Pins for the survivors of the mutation audit of keyframes/pixels.py (docs/bench/
mutation_cpu_*): the 16-bit depth a map stores, and which depth a keyframe is refused for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import MapWriter, depth_to_png
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames


def _stored(depth):
    data, scale = depth_to_png(np.asarray(depth, np.float64))
    q = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return q.astype(np.float64) / scale, scale


def test_the_finest_depth_scale_that_holds_the_largest_depth_and_no_wrap_at_its_edge():
    # 13.1069 m is 65534.5 units at 5000/m: still held (0.2 mm steps); 13.1071 m would round to
    # 65536 at 5000/m, which a uint16 wraps to 0 (no depth): stored at 1000/m
    got, scale = _stored([[13.1069, 1.0]])
    assert scale == 5000.0
    np.testing.assert_allclose(got, [[13.1069, 1.0]], atol=1e-4)
    got, scale = _stored([[13.1071, 1.0]])
    assert scale == 1000.0
    np.testing.assert_allclose(got, [[13.107, 1.0]], atol=1e-3)


def test_complex_depth_is_refused_naming_its_dtype():
    with pytest.raises(InputError, match="depth has dtype complex128: depth_m must be a float"):
        depth_to_png(np.ones((2, 2), np.complex128))


@pytest.fixture(scope="module")
def frame():
    return next(iter(render_frames(40, default_intrinsics(96, 72), indices=[0])))


def _add(tmp_path, f, depth):
    with MapWriter(str(tmp_path / "m")) as w:
        return w.add_keyframe(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, depth)


def test_varying_negative_pixels_beside_positive_ones_under_a_metre_are_no_depth(tmp_path, frame):
    # most pixels negative and varying, a few positive (0.5 m): not an OpenGL buffer, taken
    depth = -np.linspace(0.5, 3.0, frame.depth_m.size).reshape(frame.depth_m.shape)
    depth[:5] = 0.5
    assert _add(tmp_path, frame, depth) == 0


def test_zeros_and_one_negative_marker_are_no_depth_not_an_opengl_buffer(tmp_path, frame):
    # an SDK's -1 for 'no depth' over most pixels, 0 elsewhere, nothing positive: no depth
    depth = np.zeros_like(frame.depth_m)
    depth[10:] = -1.0
    assert _add(tmp_path, frame, depth) == 0
