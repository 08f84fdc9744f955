"""The mid-run rule "rectified images given the raw camera's D" (`RunDistortionEvidence
.rectified_midrun`, `distortion_run_gate.RunDistortionGate`): synthetic fits, no data.

Field case (docs/bench/distortion_rect_midrun_cpu_2026-12-09d): rectified query images given the
raw camera's D against a map built right from the raw images with that D published 45 of 50
poses 9.2 cm off (27 cm at worst) and only the end of the run said "rectified": the fits go
through the map's keyframes, which the gate never refused, and the run's k1 was not 4 sigma
beyond the gate's 1.5 deg band.
"""

from __future__ import annotations

import logging

import numpy as np

from mast3r_ros.core.distortion_evidence import (MIDRUN_MIN_FRAMES, DistortionFit,
                                                 RunDistortionEvidence)
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.localizer.distortion_run_gate import (DEGRADED_REASON, RECTIFIED_REASON,
                                                           RunDistortionGate, map_images_right)
from mast3r_ros.core.types import CameraIntrinsics, LocalizationResult

RAW_K1 = -0.3
CORNER_R = 0.6838  # 640x480, fx 585, principal point at the centre
# the 50 frames' fitted (k1, sigma) of the field case's run, in frame order (None: no fit)
FIELD_RECTIFIED = [
    (0.007, 0.014), (0.044, 0.018), (0.032, 0.021), (0.035, 0.016), (-0.012, 0.017),
    (-0.119, 0.013), (0.639, 0.022), (0.35, 0.09), (0.573, 0.019), (0.431, 0.042),
    (0.833, 0.079), (1.158, 0.173), (0.791, 0.043), (0.655, 0.034), (0.355, 0.042),
    (-0.024, 0.013), (0.759, 0.016), (0.747, 0.021), (0.696, 0.019), (-0.017, 0.013),
    (0.558, 0.013), (0.622, 0.028), None, (0.146, 0.022), (0.105, 0.023), (0.278, 0.024),
    (0.176, 0.022), (0.274, 0.038), (-0.019, 0.002), (0.072, 0.02), (-0.33, 0.01),
    (-0.157, 0.032), (0.088, 0.035), (-0.296, 0.029), (0.015, 0.028), (0.011, 0.026),
    (0.496, 0.019), (0.104, 0.017), (0.004, 0.041), (0.012, 0.047), (0.528, 0.036),
    (0.525, 0.036), (0.515, 0.032), (0.449, 0.026), (0.576, 0.046), (-0.062, 0.012),
    (0.703, 0.048), (-0.108, 0.004), (0.622, 0.054), (0.624, 0.036)]
# ... and the right camera's on the same data (the raw images with their D)
FIELD_RIGHT = [
    (0.024, 0.009), (-0.024, 0.009), (0.012, 0.009), (0.008, 0.008), (-0.007, 0.006),
    (-0.018, 0.009), (-0.02, 0.009), (0.002, 0.013), (0.021, 0.025), (0.0, 0.013),
    (0.25, 0.089), (0.042, 0.012), (0.055, 0.023), (0.051, 0.015), (-0.062, 0.037),
    (-0.043, 0.006), (-0.024, 0.007), (-0.051, 0.006), (0.05, 0.03), (-0.012, 0.005),
    (-0.016, 0.012), (-0.028, 0.01), (-0.107, 0.016), (-0.092, 0.009), (-0.06, 0.01),
    (-0.014, 0.011), (-0.041, 0.011), (0.002, 0.012), (0.007, 0.008), (-0.026, 0.012), None,
    (-0.043, 0.011), (-0.101, 0.009), (-0.23, 0.015), (-0.076, 0.009), (-0.054, 0.006),
    (-0.045, 0.009), (-0.087, 0.009), (-0.064, 0.034), (0.065, 0.048), (-0.098, 0.016),
    (-0.017, 0.013), (-0.005, 0.026), (0.013, 0.045), (-0.06, 0.013), (0.12, 0.05),
    (0.063, 0.06), (0.049, 0.038), (-0.037, 0.013), (0.027, 0.033)]
# the field map's own check (build-map's manifest consistency.distortion): its images right
MAP_RIGHT = {"fx_px": 585.0, "given_k1": RAW_K1, "given_zero": False, "k1": -0.021,
             "k1_sigma": 0.048, "frames_used": 9, "off": False, "diagnosis": None}


def _fit(k1, sigma=0.02, given=RAW_K1, fx=585.0):
    return FocalFit(1.0, 0.002, fx, distortion=DistortionFit(
        k1, sigma, given, given == 0.0, fx, CORNER_R, through_keyframes=True))


def _field(rows, given=RAW_K1):
    return [FocalFit(1.0, 0.002, 585.0) if r is None else _fit(*r, given=given) for r in rows]


def _said(ev: RunDistortionEvidence, fits) -> list:
    out = []
    for f in fits:
        ev.add(f)
        out.append(ev.rectified_midrun() is not None)
    return out


def test_the_field_runs_fits_say_rectified_at_frame_19_and_hold_it():
    """The end-of-run verdict over the fits so far comes at frame 19, goes at 32-41 and comes
    back: the rule says it at 19 and holds it to the end."""
    said = _said(RunDistortionEvidence(), _field(FIELD_RECTIFIED))
    assert said.index(True) == 18
    assert all(said[18:])


def test_the_right_camera_and_a_camera_without_d_are_never_called_rectified():
    assert not any(_said(RunDistortionEvidence(), _field(FIELD_RIGHT)))
    # D zero: the same fits name distorted images, never rectified ones
    assert not any(_said(RunDistortionEvidence(), [_fit(0.3, given=0.0)] * 40))
    # a k1 of the camera's own sign is another calibration, not rectified images
    assert not any(_said(RunDistortionEvidence(), [_fit(-0.3)] * 40))


def test_it_waits_for_enough_frames():
    said = _said(RunDistortionEvidence(), [_fit(0.3)] * 20)
    assert said.index(True) == MIDRUN_MIN_FRAMES - 1


def test_a_new_camera_or_fits_well_inside_the_band_end_it():
    ev = RunDistortionEvidence()
    assert _said(ev, [_fit(0.3)] * 12)[-1]
    ev.use_camera((600.0, RAW_K1, False, CORNER_R))  # another calibration
    assert ev.rectified_midrun() is None
    ev = RunDistortionEvidence(max_frames=30)
    _said(ev, [_fit(0.3)] * 12)
    assert _said(ev, [_fit(0.0, 0.005)] * 30)[-1] is False  # the images fixed, same D
    ev.clear()
    assert ev.rectified_midrun() is None


def test_the_gate_refuses_from_the_frame_it_is_said_where_the_maps_check_found_its_images_right():
    gate = RunDistortionGate(MAP_RIGHT)
    out = [gate.judge(LocalizationResult(True, i, np.eye(4), focal_fit=f))
           for i, f in enumerate(_field(FIELD_RECTIFIED))]
    assert all(r.success for r in out[:18])
    assert not any(r.success for r in out[18:])
    r = out[18]
    assert r.map_from_cam is None and r.reason.startswith(RECTIFIED_REASON + " (over 19 frames")
    assert "image_raw" in r.reason and r.reason.endswith(
        "; refused until the camera changes or the fits come back 2 sigma inside the 0.5 deg "
        "band")  # both ends of the hold (`rectified_midrun`), not the camera's alone
    right = RunDistortionGate(MAP_RIGHT)
    assert all(right.judge(LocalizationResult(True, i, np.eye(4), focal_fit=f)).reason == ""
               for i, f in enumerate(_field(FIELD_RIGHT)))


def test_without_the_maps_word_the_poses_are_published_marked():
    for check, words in ((None, "the map records no distortion figure to tell whether its "
                                "images were bent alike (built before build-map recorded it? "
                                "`mast3r-ros check-map MAP --record` adds it"),
                         (dict(MAP_RIGHT, k1=0.346, off=True, diagnosis="rectified"),
                          "found its images rectified too"),
                         (dict(MAP_RIGHT, fx_px=525.0), "no distortion check of this camera")):
        gate = RunDistortionGate(check)
        out = [gate.judge(LocalizationResult(True, i, np.eye(4), focal_fit=f))
               for i, f in enumerate(_field(FIELD_RECTIFIED))]
        assert all(r.success and r.map_from_cam is not None for r in out)
        assert [r.reason.startswith(DEGRADED_REASON) for r in out].index(True) == 18
        assert words in out[-1].reason


def test_a_new_camera_ends_the_refusal():
    K = [[585.0, 0, 320], [0, 585.0, 240], [0, 0, 1]]
    raw_d = CameraIntrinsics(640, 480, K, [RAW_K1, 0.1, 0, 0, 0], "plumb_bob")
    rect = CameraIntrinsics(640, 480, K, [0.0] * 5, "plumb_bob")
    gate = RunDistortionGate(MAP_RIGHT)
    out = [gate.judge(LocalizationResult(True, 1, np.eye(4), focal_fit=_fit(0.3)), camera=raw_d)
           for _ in range(12)]
    assert not out[-1].success
    after = gate.judge(LocalizationResult(True, 1, np.eye(4), focal_fit=_fit(0.0, given=0.0)),
                       camera=rect)
    assert after.success and after.reason == ""


def test_a_new_d_differing_only_in_k2_ends_the_refusal():
    """A recalibration that changes k2 alone is another camera (`camera_key`): its frames are
    not refused on the old calibration's fits (the hold ends with the evidence's restart)."""
    K = [[585.0, 0, 320], [0, 585.0, 240], [0, 0, 1]]
    raw_d = CameraIntrinsics(640, 480, K, [RAW_K1, 0.1, 0, 0, 0], "plumb_bob")
    new_k2 = CameraIntrinsics(640, 480, K, [RAW_K1, 0.05, 0, 0, 0], "plumb_bob")
    gate = RunDistortionGate(MAP_RIGHT)
    out = [gate.judge(LocalizationResult(True, 1, np.eye(4), focal_fit=_fit(0.3)), camera=raw_d)
           for _ in range(12)]
    assert not out[-1].success
    after = gate.judge(LocalizationResult(True, 1, np.eye(4), focal_fit=_fit(0.3)),
                       camera=new_k2)
    assert after.success and after.reason == ""


def test_map_images_right_reads_only_a_judged_check_of_the_same_camera():
    cam = (585.0, RAW_K1, False, CORNER_R)
    assert map_images_right(MAP_RIGHT, cam)
    assert not map_images_right(None, cam)
    assert not map_images_right({"verdict": "consistent"}, cam)  # an older manifest
    assert not map_images_right(dict(MAP_RIGHT, frames_used=2), cam)
    assert not map_images_right(dict(MAP_RIGHT, given_k1=-0.2), cam)
    assert not map_images_right(dict(MAP_RIGHT, off=True), cam)
    assert not map_images_right(MAP_RIGHT, (585.0, float("nan"), False, CORNER_R))


def test_localize_logs_the_first_frame_of_each_stretch(caplog):
    from mast3r_ros.replay.localize_run import say_at_once

    def res(ok, reason, stamp):
        return LocalizationResult(ok, stamp, np.eye(4) if ok else None, reason=reason)

    from mast3r_ros.core.localizer.stretch_log import StretchLog

    s = 1_000_000_000
    seq = [res(True, "", 1 * s), res(False, RECTIFIED_REASON + " (a)", 2 * s),
           res(False, "too few inliers", 3 * s), res(False, RECTIFIED_REASON + " (b)", 4 * s),
           res(True, "", 5 * s), res(False, RECTIFIED_REASON + " (c)", 12 * s)]
    said = StretchLog()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.localize_run"):
        for r in seq:
            say_at_once(r, said)
    lines = [m.getMessage() for m in caplog.records]
    assert lines == [f"frame at t=2.000000 s: {RECTIFIED_REASON} (a)",
                     f"frame at t=12.000000 s: {RECTIFIED_REASON} (c)"]


def test_localize_logs_a_flapping_stretch_a_bounded_number_of_times(caplog):
    """Refused / clean every other frame, 100 frames at 30 Hz (3.3 s of stamps): each refusal
    began a stretch and `localize` logged 50 lines; now one (the first, at once), and the 49
    held back are said in one line at the end of the run (`localize_frames`)."""
    from mast3r_ros.core.tracker import Tracker
    from mast3r_ros.core.types import Frame
    from mast3r_ros.replay.localize_run import localize_frames

    class Flapping:
        def localize(self, frame, prior=None, force_global=False, *, hint=None, **_):
            k = round((frame.stamp_ns - 10 ** 9) * 30 / 10 ** 9)
            return (LocalizationResult(True, frame.stamp_ns, np.eye(4)) if k % 2 else
                    LocalizationResult.failure(frame.stamp_ns, RECTIFIED_REASON + " (a)"))

    stamps = [10 ** 9 + k * 10 ** 9 // 30 for k in range(100)]
    frames = [Frame(np.full((4, 4, 3), k, np.uint8), None, t) for k, t in enumerate(stamps)]
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.localize_run"):
        out = list(localize_frames(Flapping(), frames, Tracker()))
    assert sum(not r.success for _, r in out) == 50     # every frame's result all the same
    lines = [m.getMessage() for m in caplog.records if RECTIFIED_REASON in m.getMessage()]
    assert lines == [f"frame at t=1.000000 s: {RECTIFIED_REASON} (a)",
                     f"{RECTIFIED_REASON}: 49 more stretches of it after its last line, not "
                     "logged one by one"], len(lines)


def test_the_node_diagnostics_say_the_refusal_at_once():
    from mast3r_ros.core.tracker import Track
    from mast3r_ros.ros.diagnostics import WARN, DiagnosticsWindow, FrameRecord

    d = DiagnosticsWindow()
    d.start(0.0)
    d.add(FrameRecord(0.1, True, 100))
    d.add(FrameRecord(0.2, False, 100, reason=RECTIFIED_REASON + " (over 19 frames ...)"))
    s = d.summary(0.3, Track.TRACKING, True)
    assert s.level == WARN and s.message.startswith(RECTIFIED_REASON)
    d.add(FrameRecord(0.4, True, 100, reason=DEGRADED_REASON + " (over 20 frames ...)"))
    s = d.summary(0.5, Track.TRACKING, True)
    assert s.level == WARN and s.message.startswith(DEGRADED_REASON)


def test_a_resumed_run_holds_the_refusal_as_the_run_in_one_go():
    """`Localizer.recall` hands a resumed run's recorded results to the gate's `judge`; a
    recorded refusal of the mid-run rule is a failure there, so the hold was not moved by it,
    and a run stopped where the field fits dip (frames 32-41: the end-of-run verdict comes and
    goes while the hold stays) published after the resume frames 33-40 that the run in one go
    refused. Every stop point now gives the run in one go's outcomes."""
    fits = _field(FIELD_RECTIFIED)

    def ok(i, f):
        return LocalizationResult(True, i, np.eye(4), None, focal_fit=f)

    gate = RunDistortionGate(MAP_RIGHT)
    whole = [gate.judge(ok(i, f)) for i, f in enumerate(fits)]
    assert [r.success for r in whole].count(True) == 18  # refused from frame 19 to the end
    for stop in range(len(fits)):
        gate = RunDistortionGate(MAP_RIGHT)
        for r in whole[:stop]:
            gate.judge(r)  # as `Localizer.recall` takes a recorded result
        resumed = [gate.judge(ok(i, f)) for i, f in enumerate(fits) if i >= stop]
        assert [(r.success, r.reason) for r in resumed] == \
            [(r.success, r.reason) for r in whole[stop:]], stop


def test_a_hold_whose_kept_fits_give_no_k1_refuses_without_a_type_error():
    """Held, then `NODE_MAX_FRAMES` fits whose k1 is not observable (sigma inf: a wall filling
    the view) push the observable ones out of the evidence: it has no value, and the refusal's
    words formatted None ('unsupported format string passed to NoneType.__format__'), an
    exception out of `Localizer.localize` on every frame. The hold stays, worded so."""
    from mast3r_ros.core.focal_evidence import NODE_MAX_FRAMES

    gate = RunDistortionGate(MAP_RIGHT)

    def ok(f):
        return LocalizationResult(True, 1, np.eye(4), focal_fit=f)

    assert not [gate.judge(ok(_fit(0.3))) for _ in range(12)][-1].success
    for _ in range(NODE_MAX_FRAMES):
        r = gate.judge(ok(_fit(float("nan"), float("inf"))))
    assert not r.success and r.reason.startswith(RECTIFIED_REASON), r.reason
    assert "too few to judge again" in r.reason, r.reason
