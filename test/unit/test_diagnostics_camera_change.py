"""The node's /diagnostics starts its principal point and distortion evidence over when the
CameraInfo changes, whether the new camera's frames give a fit or not (as the localizer's run
gates do since `RunFits.use_camera`).

Before: only a fit restarted them, so after a camera whose frames fit a distortion k1 -0.26
(D zero: barrel images), a corrected CameraInfo whose frames give no distortion fit (a
fisheye D, which the fit cannot judge) kept /diagnostics warning 'the query images look
distorted (barrel) but the camera's D is zero' about the old camera, for good."""

from __future__ import annotations

import dataclasses

from mast3r_ros.core.distortion_evidence import DistortionFit, distortion_camera
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.principal_point_evidence import PrincipalPointFit
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.ros.diagnostics import DiagnosticsWindow, FrameRecord

K = [585.0, 0, 319.5, 0, 585.0, 239.5, 0, 0, 1]
OLD = CameraIntrinsics(K=K, width=640, height=480)
# corrected: cx where the frames put it, the lens's D (a fisheye model)
NEW = CameraIntrinsics(K=[585.0, 0, 279.5, 0, 585.0, 239.5, 0, 0, 1], width=640, height=480,
                       distortion_model="equidistant", dist=[0.1, 0.0, 0.0, 0.0])


def _barrel(i):
    fx, given, zero, r = distortion_camera(OLD.K, OLD.width, OLD.height, OLD.distortion_model,
                                           OLD.dist)
    return FocalFit(1.0, 0.002, 585.0, PrincipalPointFit(
        -40.0 + (1 if i % 2 else -1), 0.0, 1.5, 1.5, 319.5, 239.5), DistortionFit(
        -0.26 + (0.01 if i % 2 else -0.01), 0.01, given, zero, fx, r))


def _window(camera_on_records):
    w = DiagnosticsWindow()
    for i in range(30):  # cx 40 px off and barrel images under D zero
        w.add(FrameRecord(t_s=0.1 * i, success=True, focal_fit=_barrel(i),
                          camera=OLD if camera_on_records else None))
    assert w.distortion.warning("X") and w.principal_point.warning("X")
    for i in range(20):  # the new camera's frames: no distortion or principal point fit
        w.add(FrameRecord(t_s=3 + 0.1 * i, success=True, focal_fit=FocalFit(1.0, 0.002, 585.0),
                          camera=NEW if camera_on_records else None))
    return w


def test_a_new_camera_without_fits_is_not_warned_about_on_the_old_ones():
    assert _window(False).distortion.warning("X")      # no camera on the records: as before
    w = _window(True)
    assert w.distortion.warning("X") == "" and w.principal_point.warning("X") == ""
    # a record without its camera (dropped before the localizer) changes nothing
    w.add(FrameRecord(t_s=9.0, success=False, dropped=True))
    assert w.distortion.camera is not None


def test_the_node_records_the_camera_of_published_and_failed_frames():
    from test_ros_processing import Host, Localizer, image, stamp

    class HalfFailing(Localizer):
        def localize(self, frame, *a, **k):
            r = super().localize(frame, *a, **k)
            return r if self.calls % 2 else dataclasses.replace(
                r, success=False, reason="too few inliers", map_from_cam=None)

    host = Host(HalfFailing())
    for k in range(2):
        host._process(image(stamp(k)))
    recs = list(host._diag.records)
    assert [r.success for r in recs] == [True, False]
    assert all(isinstance(r.camera, CameraIntrinsics) for r in recs), recs


def test_an_activation_starts_the_principal_point_and_distortion_evidence_over():
    """`DiagnosticsWindow.start` (the node's activate) cleared the focal evidence only ("a new
    activation may come with another camera"): the last activation's principal point and
    distortion fits kept /diagnostics warning about a camera the new activation may not have."""
    w = _window(False)
    w.start(10.0)
    assert w.distortion.warning("X") == "" and w.principal_point.warning("X") == ""
    assert len(w.distortion) == 0 and len(w.principal_point) == 0 and len(w.focal) == 0
