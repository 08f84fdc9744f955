"""The node's /diagnostics summary over a sliding window of frames (no rclpy).

Levels are ints (0 OK, 1 WARN, 2 ERROR, 3 STALE, as ``diagnostic_msgs/DiagnosticStatus``); the
message builder turns them into the byte the field requires. Values are strings. Images are
counted twice: as they arrive (`DiagnosticsWindow.note_arrival`, so "no images" is never said
while they arrive) and as frames are handled (`FrameRecord`).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import collections
import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from mast3r_ros.core.focal_evidence import (CHECK_NODE, NODE_MAX_FRAMES, FocalFit,
                                            RunFocalEvidence)
from mast3r_ros.core.pose_uncertainty import FAR_CLAIM_RATIO
from mast3r_ros.core.distortion_evidence import CHECK_NODE as DIST_CHECK_NODE
from mast3r_ros.core.distortion_evidence import RunDistortionEvidence, distortion_camera_of
from mast3r_ros.core.localizer.distortion_run_gate import RECTIFIED_REASON
from mast3r_ros.core.principal_point_evidence import CHECK_NODE as PP_CHECK_NODE
from mast3r_ros.core.principal_point_evidence import RunPrincipalPointEvidence
from mast3r_ros.core.tracker import Track
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.ros.admission import ArrivalStats

OK, WARN, ERROR, STALE = 0, 1, 2, 3

# what `DiagnosticsWindow.note` keeps, each the value ``last_<key>``: an /initialpose the node
# ignored, a bond with the lifecycle manager that broke, a frame in inference that outlived a
# transition's wait, images of the subscription that are not what their encoding says (mono8
# that is a raw Bayer mosaic)
NOTE_KEYS = ("initialpose_ignored", "bond_failure", "teardown_problem", "image_warning")


@dataclasses.dataclass(frozen=True)
class Note:
    """A problem outside the frames (`DiagnosticsWindow.note`): monotonic ``t_s``, its level
    (WARN or ERROR) and text."""

    t_s: float
    level: int
    text: str


@dataclasses.dataclass(frozen=True)
class FrameRecord:
    """One processed (or dropped) image, for diagnostics.

    ``t_s`` monotonic wall seconds when handling ended; ``latency_s`` image stamp -> result (node
    clock); ``processing_s`` time spent in the localizer; ``reason`` why a frame was not
    localized, or a published pose's caveat (`is_degraded`); ``error`` when an exception was
    caught; ``dropped`` for a frame not handed to the localizer (replaced, stale, refused),
    ``refused`` for one refused at the boundary (stamp, size, CameraInfo); ``focal_fit`` the
    focal scale its inliers fit (`LocalizationResult.focal_fit`), for the run-level focal evidence;
    ``sigma_depth_ratio`` a localized pose's 1-sigma position over its inliers' median depth
    (`core.pose_uncertainty.sigma_depth_ratio`, NaN when not known); ``camera`` the intrinsics
    a frame the localizer judged was localized with (None otherwise): a new one starts the
    principal point and distortion evidence over, fit or not, as the localizer's run gates do.
    """

    t_s: float
    success: bool
    num_inliers: int = 0
    latency_s: float = float("nan")
    processing_s: float = float("nan")
    reason: str = ""
    error: bool = False
    dropped: bool = False
    refused: bool = False
    timings_s: Tuple[Tuple[str, float], ...] = ()
    focal_fit: Optional[FocalFit] = None
    sigma_depth_ratio: float = float("nan")
    camera: Optional[CameraIntrinsics] = None


@dataclasses.dataclass(frozen=True)
class DiagnosticsSummary:
    level: int
    message: str
    values: List[Tuple[str, str]]


def _fmt(v: float, digits: int = 3) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.{digits}f}"


def _stage_medians(recs: Sequence[FrameRecord]) -> List[Tuple[str, str]]:
    """Median time of each localizer stage over ``recs``, as ('time_<stage>_ms', value)."""
    stages: Dict[str, List[float]] = {}
    for r in recs:
        for name, seconds in r.timings_s:
            stages.setdefault(name, []).append(float(seconds))
    return [(f"time_{k}_ms", _fmt(1000.0 * float(np.median(v)), 1)) for k, v in stages.items()]


def is_degraded(rec: FrameRecord) -> bool:
    """A pose published with a caveat: a localized frame with a reason (the localizer gives a
    published pose a reason only as a caveat; today the distortion gate's `DEGRADED_REASON`),
    as `localize` counts them (metrics.json's ``degraded_poses``)."""
    return rec.success and bool(rec.reason)


def degraded_message(recs: Sequence[FrameRecord], window_s: float) -> str:
    """The WARN message while poses published degraded are among ``recs`` (the window's frames
    handed to the localizer), or '': how many of the window's published poses were, and why.
    One caveat (today's): 'published, degraded: the images look already rectified by this
    run's frames: 7 of the 12 poses published in the last 10 s; the last (over 20 frames
    ...): ...' ('all 12 poses ...'; for a single pose 'the 1 pose published in the last 10 s
    (over 20 frames ...): ...'); several: '7 of the 12 poses published in the last 10 s
    degraded (A: 4; B: 3); the last: <its reason>'."""
    marked = [r for r in recs if is_degraded(r)]
    if not marked:
        return ""
    counts: Dict[str, int] = {}
    for r in marked:
        key = r.reason.split(" (")[0]   # the caveat's words, as metrics.json's reasons
        counts[key] = counts.get(key, 0) + 1
    last, m, n = marked[-1].reason, len(marked), sum(r.success for r in recs)
    of = ("the 1 pose" if n == 1 else f"all {n} poses" if m == n else f"{m} of the {n} poses") \
        + f" published in the last {window_s:g} s"
    if len(counts) == 1:
        key = next(iter(counts))
        detail = last[len(key):]  # ' (over 20 frames ...): ...', or ''
        return f"{key}: {of}" + (f"; the last{detail}" if detail and n > 1 else detail)
    said = "; ".join(f"{k}: {c}" for k, c in counts.items())
    return f"{of} degraded ({said}); the last: {last}"


def status_identity(namespace: str, name: str, task: str) -> Tuple[str, str]:
    """(status name, hardware_id) of the node's /diagnostics status, both carrying the fully
    qualified node name so that two robots' localizers can be told apart:
    ('/robot1/mast3r_localizer: localization', '/robot1/mast3r_localizer')."""
    fqn = f"{namespace.rstrip('/')}/{name}"
    return f"{fqn}: {task}", fqn


class DiagnosticsWindow:
    """Recent `FrameRecord`s and image arrivals -> a /diagnostics summary. Not thread-safe (the
    node locks)."""

    def __init__(self, window_s: float = 10.0, no_image_warn_s: float = 5.0) -> None:
        self.window_s = float(window_s)
        self.no_image_warn_s = float(no_image_warn_s)
        self.records: collections.deque[FrameRecord] = collections.deque()
        self.arrivals = ArrivalStats(window_s)
        self.last_failure = ""
        self.last_error = ""
        self.last_error_t_s = -math.inf
        self.last_reset = ""
        self.notes: Dict[str, Note] = {}
        self.config_warning = ""  # set at configure: a map_frame other than the map's, ...
        # why the node is not configured (ERROR while not active): bad start-up parameter
        # values still in force (`params.startup_errors_text`), the last configure's failure
        self.parameter_errors = ""
        self.configure_error = ""
        # why the last lifecycle transition other than configure failed (activate, deactivate,
        # cleanup: the node is not active); "" once a transition succeeds
        self.transition_error = ""
        self.finalized = False  # shut down (lifecycle 'finalized'): it cannot be configured
        self.autostart = "off"  # parameter autostart: what became of the node's own bring-up
        # why the start value of autostart was refused (WARN while not active, until the node
        # is first activated: then a later inactive state is whoever drives it)
        self.autostart_refused = ""
        self.last_t_s: Optional[float] = None
        self.started_t_s: Optional[float] = None
        # set by the node while configure builds the model (monotonic s), else None
        self.configuring_since_s: Optional[float] = None
        # "degraded": poses published with a caveat in their reason (`is_degraded`)
        self.total = {"processed": 0, "localized": 0, "dropped": 0, "refused": 0, "errors": 0,
                      "resets": 0, "degraded": 0}
        self.last_degraded = ""  # the last such pose's reason
        # the focal scales frames' inliers fit, together (`core.focal_evidence`): WARN with the
        # fx they fit when it is off by more than gates.max_focal_error (`set_focal_tolerance`)
        self.focal = RunFocalEvidence(0.05, NODE_MAX_FRAMES)
        # the principal point offsets the same frames fit (`core.principal_point_evidence`):
        # WARN with the cx, cy they fit when either is off by more than 1 deg of view
        self.principal_point = RunPrincipalPointEvidence(NODE_MAX_FRAMES)
        # the residual lens distortion they fit (`core.distortion_evidence`): WARN, named before
        # the focal length (a wrong D makes the frames fit another fx too)
        self.distortion = RunDistortionEvidence(NODE_MAX_FRAMES)
        # localized poses uncertain for their distance since activation (1-sigma position over
        # FAR_CLAIM_RATIO of the inliers' median depth) and the last one's ratio
        self.uncertain_poses = 0
        self.last_uncertain_ratio = math.nan

    def set_focal_tolerance(self, tolerance: float) -> None:
        """Judge the focal evidence against ``tolerance`` (the configured
        ``gates.max_focal_error``), starting it over, and the principal point evidence with
        it (a new configuration)."""
        self.focal = RunFocalEvidence(tolerance, NODE_MAX_FRAMES)
        self.principal_point = RunPrincipalPointEvidence(NODE_MAX_FRAMES)
        self.distortion = RunDistortionEvidence(NODE_MAX_FRAMES)

    def cleaned_up(self) -> None:
        """The node released its configuration (cleanup, shutdown, error): what configure said
        about it (`config_warning`: the map's frame against ``map_frame``, ...) is no longer
        reported; a bad start-up parameter value still in force stays."""
        self.config_warning = ""
        self.configuring_since_s = None

    def start(self, t_s: float) -> None:
        """Mark activation: the no-image timer counts from here, and the window's frames are
        this activation's (those of an earlier one are dropped: its success rate, inliers and
        latencies are not this one's; the totals stay), the focal, principal point and
        distortion evidence start over, and the notes stop setting the level (their values
        stay)."""
        self.started_t_s = t_s
        self.autostart_refused = ""  # activated all the same: no longer why it is not active
        self.records.clear()
        # the notes were of the time before (a bond of the last activation): values only now
        self.notes = {k: dataclasses.replace(n, t_s=-math.inf) for k, n in self.notes.items()}
        # a new activation may come with another camera: the run-level camera evidence of the
        # last one is not this one's (the focal's, the principal point's, the distortion's)
        self.focal.clear()
        self.principal_point.clear()
        self.distortion.clear()
        self.uncertain_poses, self.last_uncertain_ratio = 0, math.nan

    def note_arrival(self, t_s: float, stamp_ns: int) -> None:
        """An image arrived on the subscription (whatever happens to it later)."""
        self.arrivals.note(t_s, stamp_ns)

    def note_reset(self, t_s: float, reason: str) -> None:
        """The tracking was reset (time went backwards, the clock jumped back, /initialpose)."""
        self.total["resets"] += 1
        self.last_reset = reason

    def note_error(self, t_s: float, reason: str) -> None:
        """An unexpected exception outside the frames (the executor, the TF timer): counted in
        ``errors`` and ERROR for the window, as a frame's error is, but no frame."""
        self.total["errors"] += 1
        self.last_error = reason
        self.last_error_t_s = t_s

    def note(self, t_s: float, key: str, level: int, text: str) -> None:
        """A problem outside the frames that the log says (``key`` one of `NOTE_KEYS`): the value
        ``last_<key>`` is ``text`` from now on, and for ``window_s`` the status is ``level``
        (WARN or ERROR) with it as the message: while active, after an unexpected error and
        any ERROR note before the frames' own warnings; while not active an ERROR note only
        (a WARN note there, say an /initialpose sent to an inactive node, is the value alone).
        Raises ValueError for another key or level."""
        if key not in NOTE_KEYS or level not in (WARN, ERROR):
            raise ValueError(f"diagnostics note: key {key!r} level {level!r}, expected one of "
                             f"{NOTE_KEYS} and WARN or ERROR")
        self.notes[key] = Note(t_s, level, text)

    def _recent_note(self, now_s: float, level: int) -> str:
        """The text of the latest note of ``level`` within the window, or ''."""
        recent = [n for n in self.notes.values()
                  if n.level == level and now_s - n.t_s <= self.window_s]
        return max(recent, key=lambda n: n.t_s).text if recent else ""

    def add(self, rec: FrameRecord) -> None:
        self.records.append(rec)
        self.last_t_s = rec.t_s
        if rec.dropped:
            self.total["dropped"] += 1
        else:
            self.total["processed"] += 1
            self.total["localized"] += int(rec.success)
        self.total["refused"] += int(rec.refused)
        if is_degraded(rec):
            self.total["degraded"] += 1
            self.last_degraded = rec.reason
        cam, fit = rec.camera, rec.focal_fit
        if cam is not None:  # a new CameraInfo: not judged on the old one's fits
            key, facts = distortion_camera_of(cam)  # computed once per calibration
            self.focal.use_camera(float(cam.K[0, 0]), key)
            self.principal_point.use_camera((float(cam.K[0, 0]), float(cam.K[0, 2]),
                                             float(cam.K[1, 2])), key)
            self.distortion.use_camera(facts, key)
            if fit is not None and fit.camera is None:  # the record's frame's camera
                fit = dataclasses.replace(fit, camera=key)
        self.focal.add(fit)
        self.principal_point.add(fit)
        self.distortion.add(fit)
        if rec.success and rec.sigma_depth_ratio > FAR_CLAIM_RATIO:  # NaN: not judged
            self.uncertain_poses += 1
            self.last_uncertain_ratio = rec.sigma_depth_ratio
        if not rec.success and rec.reason:
            self.last_failure = rec.reason
        if rec.error:
            self.total["errors"] += 1
            self.last_error = rec.reason
            self.last_error_t_s = rec.t_s
        self._trim(rec.t_s)

    def _trim(self, now_s: float) -> None:
        while self.records and self.records[0].t_s < now_s - self.window_s:
            self.records.popleft()

    def summary(self, now_s: float, track: Track, active: bool) -> DiagnosticsSummary:
        """Level, one-line message and key/values (all strings) for /diagnostics."""
        self._trim(now_s)
        recs = [r for r in self.records if not r.dropped]
        ok = [r for r in recs if r.success]
        started = now_s if self.started_t_s is None else self.started_t_s
        since = max(started, now_s - self.window_s)
        # frames of an earlier activation still in the window are not this one's rate
        rate = sum(r.t_s >= since for r in recs) / max(now_s - since, 1e-9)
        lat = [r.latency_s for r in recs if math.isfinite(r.latency_s)]
        proc = [r.processing_s for r in recs if math.isfinite(r.processing_s)]
        arr = self.arrivals
        values = [
            ("state", track.value if active else
             "configuring" if self.configuring_since_s is not None else
             "finalized" if self.finalized else "inactive"),
            ("rate_hz", _fmt(rate, 2)),
            ("arrival_rate_hz", _fmt(arr.rate_hz(now_s, self.started_t_s), 2)),
            ("success_rate", _fmt(len(ok) / len(recs), 2) if recs else "nan"),
            ("inliers", str(ok[-1].num_inliers) if ok else "0"),
            ("latency_s", _fmt(float(np.median(lat))) if lat else "nan"),
            ("processing_s", _fmt(float(np.median(proc))) if proc else "nan"),
            ("dropped_in_window", str(sum(r.dropped for r in self.records))),
            ("images_received", str(arr.received)),
            ("stamps_zero", str(arr.zero_stamps)),
            ("stamps_repeated", str(arr.repeated_stamps)),
            ("frames_refused", str(self.total["refused"])),
            ("frames_processed", str(self.total["processed"])),
            ("frames_localized", str(self.total["localized"])),
            ("degraded_in_window", str(sum(map(is_degraded, recs)))),
            ("frames_degraded", str(self.total["degraded"])),
            ("last_degraded", self.last_degraded or "none"),
            ("errors", str(self.total["errors"])),
            ("last_failure", self.last_failure or "none"),
            ("resets", str(self.total["resets"])),
            ("last_reset", self.last_reset or "none"),
            ("config_warning", self.config_warning or "none"),
            ("config_error", self._config_error() or "none"),
            ("autostart", self.autostart),
            *((f"last_{k}", self.notes[k].text if k in self.notes else "none")
              for k in NOTE_KEYS),
            *self._focal_values(),
            *self._principal_point_values(),
            ("distortion_k1", self._distortion_value()),
            *self._uncertain_values(),
        ]
        values += _stage_medians(recs)
        level, message = self._level(now_s, track, active, recs)
        return DiagnosticsSummary(level, message, values)

    def _config_error(self) -> str:
        """Why configure fails or failed, while that holds: the last configure's error (cleared
        by a configure that succeeds), else the failure of the last transition (activate,
        deactivate, cleanup; cleared by one that succeeds), else bad start-up parameter values
        still in force."""
        if self.configure_error:
            return f"configure failed: {self.configure_error}"
        if self.transition_error:
            return self.transition_error
        if self.parameter_errors:
            return ("invalid parameter values, configure will fail until they are set right: "
                    + self.parameter_errors)
        return ""

    def _focal_values(self) -> List[Tuple[str, str]]:
        ev = self.focal.evidence()
        if ev.scale is None or ev.sigma_log is None:
            return [("focal_scale", f"not judged ({ev.frames_judged} frames)"),
                    ("focal_fx_fitted_px", "nan")]
        return [("focal_scale", f"{ev.scale:.3f} +- {100 * ev.sigma_log:.1f} % "
                                f"({ev.frames_used} frames)"),
                ("focal_fx_fitted_px", _fmt(ev.scale * (self.focal.fx_px or math.nan), 1))]

    def _principal_point_values(self) -> List[Tuple[str, str]]:
        ev, cam = self.principal_point.evidence(), self.principal_point.camera
        if ev.dcx.value is None or ev.dcy.value is None or cam is None:
            return [("principal_point_offset_px",
                     f"not judged ({min(ev.dcx.frames_judged, ev.dcy.frames_judged)} frames)"),
                    ("principal_point_fitted_px", "nan")]
        return [("principal_point_offset_px",
                 f"cx {ev.dcx.value:+.1f} +- {ev.dcx.sigma:.1f}, cy {ev.dcy.value:+.1f} +- "
                 f"{ev.dcy.sigma:.1f} ({ev.dcx.frames_used} / {ev.dcy.frames_used} frames)"),
                ("principal_point_fitted_px",
                 f"{cam[1] + ev.dcx.value:.1f}, {cam[2] + ev.dcy.value:.1f}")]

    def _distortion_value(self) -> str:
        c = self.distortion.evidence().k1
        if c.value is None or c.sigma is None:
            return f"not judged ({c.frames_judged} frames)"
        return f"{c.value:+.3f} +- {c.sigma:.3f} ({c.frames_used} frames)"

    def _uncertain_values(self) -> List[Tuple[str, str]]:
        """The localized poses uncertain for their distance since activation (localize's
        "poses uncertain for their distance": 1-sigma position over `FAR_CLAIM_RATIO` of the
        PnP inliers' median depth; `gates.max_position_sigma_ratio` refuses them) and the last
        such pose's ratio. Plain numbers, as the other counters, so a monitor can plot them
        (diagnostic_msgs/KeyValue: "a value to track over time"); docs/ros_node.md explains."""
        return [("poses_uncertain_for_distance", str(self.uncertain_poses)),
                ("last_uncertain_pose_ratio",
                 "nan" if not self.uncertain_poses else _fmt(self.last_uncertain_ratio))]

    def _level(self, now_s: float, track: Track, active: bool,
               recs: List[FrameRecord]) -> Tuple[int, str]:
        # Not active with nothing wrong is OK, not STALE: STALE is for a status that stopped
        # coming (diagnostic_aggregator marks an item stale when its updates stop), and the
        # aggregator's GenericAnalyzerBase turns a group header whose items are STALE, but not
        # all of them, into ERROR: a node paused by Nav2's lifecycle manager would show the
        # localization group as an error. `state` and the message say what it is doing.
        if not active:
            if self.configuring_since_s is not None:
                return OK, (f"configuring: loading the model and the map "
                            f"({now_s - self.configuring_since_s:.0f} s so far)")
            if self.finalized:      # never localizes again until restarted: a warning
                return WARN, ("shut down (lifecycle state finalized): restart the node to "
                              "localize again")
            error = self._recent_note(now_s, ERROR)
            if error:
                return ERROR, error
            error = self._config_error()
            if error:
                return ERROR, error
            if self.autostart_refused:  # told to bring itself up and could not
                return WARN, (f"not active: autostart was refused ({self.autostart_refused}), "
                              "so the node did not configure and activate itself: start the "
                              "node again with autostart set right, or configure and activate "
                              "it through its lifecycle services")
            return OK, "not active (configure and activate the lifecycle node)"
        if now_s - self.last_error_t_s <= self.window_s:
            return ERROR, f"unexpected error (traceback in the log): {self.last_error}"
        for level in (ERROR, WARN):
            noted = self._recent_note(now_s, level)
            if noted:
                return level, noted
        marks = [t for t in (self.arrivals.last_t_s, self.last_t_s, self.started_t_s)
                 if t is not None]
        since = max(marks) if marks else None
        if since is not None and now_s - since > self.no_image_warn_s:
            return WARN, f"no images for {now_s - since:.1f} s: check the image topic and QoS"
        arriving = self.arrivals.last_t_s is not None and \
            now_s - self.arrivals.last_t_s <= self.no_image_warn_s
        started = -math.inf if self.started_t_s is None else self.started_t_s
        if arriving and self.records and not recs and now_s - started > self.no_image_warn_s:
            rate = self.arrivals.rate_hz(now_s, self.started_t_s)
            return WARN, (f"images arrive ({rate:.1f} Hz) but none reaches the localizer: "
                          f"{self.last_failure}")
        # the localizer's mid-run distortion rule (refusing the last frame, or poses published
        # marked in the window): its reason says what the poses are, before the evidence's own
        # warning
        if recs and recs[-1].reason.startswith(RECTIFIED_REASON):
            return WARN, recs[-1].reason
        degraded = degraded_message(recs, self.window_s)
        if degraded:
            return WARN, degraded
        dist = self.distortion.warning(DIST_CHECK_NODE)  # first: it also moves the focal fit
        if dist:
            return WARN, dist
        focal = self.focal.warning(CHECK_NODE)  # the cause of the failures, or of biased poses
        if focal:
            return WARN, focal
        pp = self.principal_point.warning(PP_CHECK_NODE)  # refused beyond 3 deg: localizer
        if pp:
            return WARN, pp
        if track is Track.UNINITIALIZED:
            why = f" (last failure: {self.last_failure})" if self.last_failure else ""
            if not why and self.last_reset:
                why = f" (reset: {self.last_reset})"
            return WARN, f"not localized yet{why}"
        if track is Track.LOST:
            return WARN, f"lost, relocalizing globally (last failure: {self.last_failure})"
        if recs and not recs[-1].success:
            return WARN, f"tracking, last frame failed: {recs[-1].reason}"
        return OK, "tracking"
