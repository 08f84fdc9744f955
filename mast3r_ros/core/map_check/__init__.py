"""Map consistency check: do the keyframes' poses and depths agree with each other and with the
images? Run before a map is written (``build-map``) and on a written map (``check-map``).

Two measurements per pair of neighbouring keyframes (a, b) (each keyframe against the next
``neighbours`` keyframes in recording order):

* **depth**: every ``depth_stride_px``-th pixel of a with depth is lifted to the map with a's pose,
  projected into b with b's pose, and its predicted z-depth compared with b's depth there (both
  directions). Figures: the median relative residual ``|z_pred - z_b| / z_b`` and the fraction of
  points within ``depth_tolerance`` (occlusions and sensor noise make the rest).
* **matches**: ORB features of both images, matched (ratio test) and verified with a fundamental
  matrix (RANSAC), so the correspondences do not depend on the poses; where ORB leaves fewer than
  ``min_matches`` (low texture: FAST finds few corners on 7-Scenes, whatever ``max_features``),
  SIFT features (contrast threshold 0.02, mutual ratio test) instead, unless ``sift_fallback``
  is off (those pairs are then judged by depth alone); a's matched pixels are
  lifted with a's depth, moved with the poses and projected into b (both directions). Figure: the
  median reprojection error in camera pixels.

A pair disagrees when a figure passes its threshold; the map is inconsistent when any pair
disagrees. Only then is the cause looked for, with the verified matches (cheap, pose-independent):
every pose convention mistake users meet (poses inverted, quaternion read in the other component
order, rotations transposed -- conjugate quaternions, JPL's convention or camera_from_world
rotations beside the camera's position --, poses of the body frame instead of the REP-103 optical
frame) combined with a depth scale
(fitted on a log grid), and the best fit is confirmed with the depth measurement. A depth factor
that is no unit confusion (x1.3), which the matches fit too coarsely or, when noisy, not at all,
is fitted on the depth residuals themselves (`diagnose._depth_fit`), before fx, fy off and a
local jump in the poses are looked for. Without a global
fix, stamps that go backwards (a clock reset or a looped recording) or a few keyframes that disagree
while the rest agree point to poses interpolated across a discontinuity. A pinhole focal
length whose field of view no usual camera has (fx mistyped 10x) is named before any of these:
every fit and measurement goes through K, and under such a K a pose convention or depth scale wins
by chance (fx x10 on the synthetic walk fitted "inverted poses, depth x0.5"); it is confirmed
when fx, fy divided by a unit slip (x10, x0.1, ...) make every pair agree. Before that, a whole
K for another resolution (cx, cy too: `resolution._whole_k_scaled`) is named when its principal
point gives the size ratio and K divided by it makes every pair agree (per axis when the two
axes' ratios differ: a K of another aspect ratio, the stream scaled non-uniformly or cropped,
`resolution._other_aspect`), else a larger frame's K for images cropped from it (fx, fy
right, cx, cy off by the crop's offsets: `resolution._cropped`). When nothing explains it,
a principal point far from the image centre (a K for another resolution) is named as well.
A depth fix that would take a plausible depth (metres) to kilometres names the trajectory's unit
instead (translations in mm or cm read as metres). When no neighbouring keyframes overlap at all,
a camera that moves faster than 10 m/s and further than twice its median depth per keyframe
(ten times without stamps) is a trajectory in mm or cm too: refused like an inconsistent map.
A map that passes has its pairs' residual lens distortion fitted (``distortion``): a camera's D
wrong for its images (rectified images with the raw D, distorted ones with D zero) is a warning
(`ConsistencyReport.distortion_warning`), not a refusal.

Layout: ``records`` (inputs), ``measure`` (the two measurements), ``diagnose`` (the cause),
``report`` (figures and verdict); this module runs them. ``overlap`` makes the two
measurements across two maps (``merge-maps``). Everything is computed at
``work_width`` pixels (images downsampled with their intrinsics), so the cost stays a small
fraction of a map build. Nothing here imports ROS or matplotlib.

Use in a map build, before the map is committed: either every keyframe at once, or (what
``build-map`` does, so that no keyframe is kept in memory) fed one at a time while reading, with
the written keyframes given back for the diagnosis of a map that fails::

    report = check_keyframes(records, cfg.map_check, depth_units_per_m=units)  # 1000 REP-118
    # or: check = KeyframeCheck(cfg.map_check); check.add(record) per keyframe, then
    #     report = check.report(writer.keyframe_records(), depth_units_per_m=units)
    log.info(report.summary())
    if not force:
        report.raise_if_inconsistent()        # MapConsistencyError: the CLI's exit 2, one line
    figures = report.to_manifest()            # into the manifest / build summary
    plot_keyframes(png, kf_poses, all_poses, consistency=report)   # replay/plots.py

On a written map: ``check_map(KeyframeMap.load(path), cfg.map_check)``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

import cv2
import numpy as np

from ..config import MapCheckConfig
from .diagnose import (BODY_FROM_OPTICAL, _Cause, _depth_range_m, _diagnose,
                       _implausible_focal_length, _implausible_motion, diagnosis_sample,
                       name_pose_suspect)
from .depth_words import worded_for_depth
from .distortion import lens_unjudged, map_distortion, unjudged_note
from .focal import DEPTH_STEREO, colour_focal_note
from .resolution import _whole_k_scaled
from .measure import StreamingMeasure, _keyframe_figures, _prepare, _View, camera_px
from .records import (CONSISTENT, INCONSISTENT, UNCHECKED, KeyframeRecord, MapConsistencyError,
                      MapRecords)
from .report import ConsistencyReport, KeyframeFigures, PairFigures, _listed, _pct, _px

__all__ = ["BODY_FROM_OPTICAL", "CONSISTENT", "DEPTH_STEREO", "INCONSISTENT", "UNCHECKED",
           "ConsistencyReport", "KeyframeCheck", "KeyframeFigures", "KeyframeRecord",
           "MapConsistencyError", "MapRecords", "PairFigures", "check_keyframes", "check_map",
           "worded_for_depth"]


# ---------------------------------------------------------------------------------- API ---

# ``progress(iterable, total, description)``: the iterable, wrapped in a progress bar; every
# loop is over keyframes (`replay.pipeline.keyframe_progress` counts them so)
Progress = Callable[[Iterable, int, str], Iterable]


def _no_progress(it: Iterable, total: int, desc: str) -> Iterable:
    return it


def check_keyframes(records: Sequence[KeyframeRecord], cfg: MapCheckConfig, *,
                    depth_units_per_m: Optional[float] = None,
                    progress: Optional[Progress] = None,
                    pose_suspect: Optional[str] = None,
                    depth_source: Optional[str] = None) -> ConsistencyReport:
    """Check that neighbouring keyframes' poses and depths agree (see the module docstring).

    ``records`` in recording order; ``depth_units_per_m`` is the raw depth unit the reader used
    (REP-118 16UC1: 1000, TUM: 5000), only to word the ``--depth-scale`` fix; ``pose_suspect``
    what else places the camera on the poses (an EuRoC/ASL camera's "T_BS in PATH",
    `EurocSequence.pose_suspect`), named where a pose convention would explain a failing map
    (`diagnose.name_pose_suspect`); ``depth_source`` as `KeyframeCheck`'s. Returns the report;
    raises `InputError` for a record without a finite 4x4 pose. Never raises for disagreement:
    call `ConsistencyReport.raise_if_inconsistent`. Keyframes none of which overlap are
    ``unchecked``, or ``inconsistent`` (cause ``trajectory_unit``) when the poses move them
    implausibly far and fast for their depth (metres; speeds from ``stamp_ns``).
    ``progress`` wraps the long loops (over the keyframes: minutes at 10^4; again to diagnose a
    map that fails) in progress bars (`replay.pipeline.progress`). `KeyframeCheck` is the same
    check fed one keyframe at a time.
    """
    check = KeyframeCheck(cfg, depth_source=depth_source)
    reader = _read_ahead(records, range(len(records)))
    # the bar counts the records handed to the check, not the reads ahead of them
    it: Iterable = (reader if progress is None
                    else progress(reader, len(records), "map check: keyframes"))
    try:
        for record in it:
            check.add(record)
    finally:
        reader.close()  # a bad pose raised: the worker's read finished, its thread ended
    return check.report(records, depth_units_per_m=depth_units_per_m, progress=progress,
                        pose_suspect=pose_suspect)


def _read_ahead(records: Sequence[KeyframeRecord], indices: Iterable[int]
                ) -> Iterator[KeyframeRecord]:
    """``records[i]`` for each i of ``indices``, in order, each read on one worker thread while
    the one before it is measured: a written map's keyframe is two PNG decodes (~17 ms at
    640x480, a fifth of its check), done beside the SIFT detection of the previous keyframe
    where a core is free. One read at a time (the map is read by one thread only), at most one
    record ahead; an error reading record i is raised where ``records[i]`` would have been
    (record i + 1 not asked for)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="map-check-read") as pool:
        pending: Optional[concurrent.futures.Future] = None
        for i in indices:
            record = None if pending is None else pending.result()  # raises its read's error
            pending = pool.submit(records.__getitem__, i)
            if record is not None:
                yield record
        if pending is not None:
            yield pending.result()


class KeyframeCheck:
    """`check_keyframes` fed one keyframe at a time, as a map build reads its source: `add` each
    keyframe in recording order (it is measured against the previous ones at once and not kept:
    memory stays that of ``cfg.neighbours + 1`` keyframes' working arrays, whatever the count),
    then `report`. Only a map that fails the check (or cannot be checked) is read again, from the
    ``records`` given to `report`, to find the cause."""

    def __init__(self, cfg: MapCheckConfig, depth_source: Optional[str] = None) -> None:
        self.cfg = cfg
        # where the depth came from: None a sensor's, `focal.DEPTH_STEREO` computed from the
        # images themselves (--stereo-depth); words the note of a consistent map and the cause
        # of a failing one (`worded_for_depth`)
        self.depth_source = depth_source
        self._orb = cv2.ORB_create(nfeatures=cfg.max_features)
        self._bf = cv2.BFMatcher(cv2.NORM_HAMMING)
        # matches on every neighbouring pair; the keyframes' arrays are kept only while their
        # pairs are measured
        self._stream: Optional[StreamingMeasure] = StreamingMeasure(cfg, self._orb, self._bf)
        self._spent_s = 0.0
        self._suspect: Optional[str] = None  # `report`'s pose_suspect

    def add(self, record: KeyframeRecord) -> None:
        """Measure the next keyframe (``record``, may be `KeyframeRecord.reduced`) against its
        predecessors. Raises `InputError` for a pose that is not a finite 4x4, `RuntimeError`
        after `report`."""
        if self._stream is None:
            raise RuntimeError("KeyframeCheck.add after report: make a new KeyframeCheck")
        t0 = time.perf_counter()
        self._stream.add(record)
        self._spent_s += time.perf_counter() - t0

    def report(self, records: Sequence[KeyframeRecord], *,
               depth_units_per_m: Optional[float] = None,
               progress: Optional[Progress] = None,
               pose_suspect: Optional[str] = None) -> ConsistencyReport:
        """The `ConsistencyReport` of the keyframes added (once: `RuntimeError` the second time).
        ``records``: the same keyframes in the same order, indexable again (e.g. read back from
        the files written; `MapWriter.keyframe_records`), read only when the map fails the check
        or cannot be checked; ``depth_units_per_m``, ``progress`` and ``pose_suspect`` as for
        `check_keyframes`.
        Raises ``ValueError`` when ``records`` holds another number of keyframes than added."""
        t0 = time.perf_counter()
        if self._stream is None:
            raise RuntimeError("KeyframeCheck.report twice: make a new KeyframeCheck")
        stream, self._stream = self._stream, None
        views, matches, pairs = stream.close()
        self._suspect = pose_suspect
        rep = self._conclude(records, views, matches, pairs, depth_units_per_m, progress,
                             stream.any_depth)
        rep.sift_fallback = self.cfg.sift_fallback
        rep.elapsed_s = self._spent_s + time.perf_counter() - t0
        if rep.verdict == CONSISTENT:
            rep.message = rep.summary()  # names the elapsed time
        return rep

    def _conclude(self, records: Sequence[KeyframeRecord], views: List[_View],
                  matches: Dict[Any, Any], pairs: List[PairFigures],
                  depth_units_per_m: Optional[float], progress: Optional[Progress],
                  any_depth: bool) -> ConsistencyReport:
        cfg = self.cfg
        bar = progress or _no_progress
        thresholds = {"max_depth_residual": cfg.max_depth_residual,
                      "min_depth_agree": cfg.min_depth_agree,
                      "max_reproj_frac": cfg.max_reproj_frac}
        n = len(views)
        if len(records) != n:
            raise ValueError(f"KeyframeCheck.report: {len(records)} records for {n} keyframes "
                             "added")
        if views:
            thresholds["max_reproj_px"] = cfg.max_reproj_frac * max(v.width_px for v in views)
        kfs = _keyframe_figures(views, pairs)
        judged = [p for p in pairs if p.ok is not None]
        if judged and all(p.ok for p in judged):  # the matches' colour focal fit noted
            note = colour_focal_note(views, matches, pairs, cfg, self.depth_source)
            lens = map_distortion(views, matches)  # a wrong D passes the rest: its own fit
            unjudged = lens_unjudged(lens, views, matches)  # '' when judged
            if lens is not None and lens.warning():  # the colour focal fit is the lens's then
                note = None  # (redkitchen distorted, D zero: x0.843 "no action needed")
            elif note is not None:  # a lens not judged (160x120) may be that fit: not "no action"
                note = unjudged_note(note, unjudged)
            return ConsistencyReport(CONSISTENT, kfs, pairs, "", elapsed_s=0.0,
                                     thresholds=thresholds, note=note.text if note else "",
                                     note_brief=note.brief if note else "",
                                     note_action=bool(note and note.action),
                                     distortion=lens.report() if lens else None,
                                     distortion_warning=lens.warning() if lens else "",
                                     lens_note="" if note and unjudged in note.text else unjudged)
        if not judged and (n < 2 or not any_depth):  # nothing to read the keyframes again for
            why = "fewer than two keyframes" if n < 2 else "no keyframe has depth"
            return ConsistencyReport(UNCHECKED, kfs, pairs, f"map not checked: {why}",
                                     thresholds=thresholds)
        light = views
        sample = diagnosis_sample(n, pairs, cfg.neighbours)
        if sample is not None and judged:  # a large map: its arrays on a sample
            return self._conclude_sampled(records, light, matches, pairs, sample, kfs,
                                          thresholds, depth_units_per_m, bar)
        # what is wrong is looked for in every keyframe's arrays: prepared again
        # (deterministic), all at once (a large map's: a sample of them, `diagnosis_sample`),
        # only for a map that fails (or cannot have) the check
        idx = range(n) if sample is None else sample
        views = [_prepare(records[i], i, cfg, self._orb, keep_grey=False)
                 for i in bar(idx, len(idx), "map check: diagnosing")]
        if not judged:
            depth = any_depth  # of every keyframe, the sampled ones or not
            valid = any(v.depth is not None and np.isfinite(v.depth).any() for v in views)
            why = ("fewer than two keyframes" if n < 2 else
                   "no keyframe has depth" if not depth else
                   f"no keyframe's depth has a valid pixel at the check's {cfg.work_width} px "
                   "working width (every value 0, NaN or negative, or depth too sparse to "
                   "survive the nearest-pixel reduction)"
                   if not valid else "no neighbouring keyframes overlap or match")
            motion = None
            if n >= 2 and depth:  # the steps between consecutive keyframes: every light view
                motion = (_implausible_motion(views) if sample is None else
                          _implausible_motion(light, depth_m=_depth_range_m(views)))
            if motion is not None:  # refused like an inconsistent map: no localization works
                evidence, cause = motion
                return ConsistencyReport(
                    INCONSISTENT, kfs, pairs, f"map inconsistent: {why}: {evidence}; likely "
                    f"cause: {cause.what}; fix: {cause.fix}", cause.name, cause.factor,
                    cause.fix, thresholds=thresholds)
            return ConsistencyReport(UNCHECKED, kfs, pairs, f"map not checked: {why}",
                                     thresholds=thresholds)
        # K first: the pose conventions and depth scales are fitted through it
        cause = name_pose_suspect(_whole_k_scaled(views, matches, cfg)
                                  or _implausible_focal_length(views, matches, cfg)
                                  or _diagnose(views, matches, cfg, pairs, depth_units_per_m),
                                  self._suspect)
        cause = worded_for_depth(cause, self.depth_source)  # --stereo-depth: no depth camera
        rep = ConsistencyReport(INCONSISTENT, kfs, pairs, "", cause.name, cause.factor, cause.fix,
                                thresholds=thresholds)
        rep.message = _message(rep, cause, views)
        return rep

    def _conclude_sampled(self, records: Sequence[KeyframeRecord], light: List[_View],
                          matches: Dict[Any, Any], pairs: List[PairFigures], sample: List[int],
                          kfs: List[KeyframeFigures], thresholds: Dict[str, float],
                          depth_units_per_m: Optional[float], bar: Progress
                          ) -> ConsistencyReport:
        """The diagnosis of a failing map on the keyframes ``sample`` (indices, sorted): their
        arrays prepared, their pairs and matches renumbered; the message, the clock and the local
        jumps from every keyframe's ``light`` view and every pair."""
        pos = {k: j for j, k in enumerate(sample)}
        views = [_prepare(records[k], k, self.cfg, self._orb, keep_grey=False)
                 for k in bar(sample, len(sample), "map check: diagnosing (a sample)")]
        sub_matches = {(pos[a], pos[b]): m for (a, b), m in matches.items()
                       if a in pos and b in pos}
        sub_pairs = [dataclasses.replace(p, a=pos[p.a], b=pos[p.b]) for p in pairs
                     if p.a in pos and p.b in pos]
        cause = (_whole_k_scaled(views, sub_matches, self.cfg)
                 or _implausible_focal_length(views, sub_matches, self.cfg)
                 or _diagnose(views, sub_matches, self.cfg, sub_pairs, depth_units_per_m,
                              whole=(light, pairs)))
        cause = worded_for_depth(name_pose_suspect(cause, self._suspect), self.depth_source)
        rep = ConsistencyReport(INCONSISTENT, kfs, pairs, "", cause.name, cause.factor, cause.fix,
                                thresholds=thresholds)
        rep.message = _message(rep, cause, light)
        return rep


def _message(rep: ConsistencyReport, cause: _Cause, views: List[_View]) -> str:
    bad_pairs = [p for p in rep.pairs if p.ok is False]
    judged = [p for p in rep.pairs if p.ok is not None]
    bad_kf = rep.bad_keyframes()
    if bad_kf:
        one = len(bad_kf) == 1
        who = (f"keyframe{'' if one else 's'} {_ranges([views[i].label for i in bad_kf])} "
               f"({len(bad_kf)} of {len(views)}) disagree{'s' if one else ''} with every "
               "neighbour")
    else:
        who = "keyframe pairs " + ", ".join(
            f"{views[p.a].label}-{views[p.b].label}" for p in bad_pairs[:6]) + (
            " ..." if len(bad_pairs) > 6 else "") + " disagree"
    res = [p.depth_residual for p in bad_pairs if p.depth_points]
    agree = [p.depth_agree for p in bad_pairs if p.depth_points]
    rep_px = [p.reproj_px for p in bad_pairs if not math.isnan(p.reproj_px)]
    figs = []
    if res:
        figs.append(f"median depth residual {_pct(float(np.median(res)))} (limit "
                    f"{_pct(rep.thresholds['max_depth_residual'])}), "
                    f"{_pct(float(np.median(agree)))} of depth agreeing")
    if rep_px:
        limit = rep.thresholds["max_reproj_px"]
        figs.append(f"match reprojection {_px(float(np.median(rep_px)))} (limit {limit:.0f} px)")
    how = ("" if cause.confirmed or cause.name in ("clock_jump", "pose_discontinuity", "unknown",
                                                    "focal_length")
           else " (not fully confirmed: more than this may be wrong)")
    # a guess (unconfirmed: cx, cy of 1920x1080 with 320x240 images read "the poses are
    # inverted ... (not fully confirmed)" alone) names a far principal point as well
    hint = _principal_point_hint(views) if cause.name == "unknown" or how else ""
    return (f"map inconsistent: {who}, {len(bad_pairs)} of {len(judged)} pairs "
            f"({'; '.join(figs)}); likely cause: {cause.what}{how}; fix: {cause.fix}"
            + (f"; or the intrinsics: {hint}" if hint else ""))


# a principal point further than this (fraction of the image size) from the image centre is
# not a real camera's: it is where K for a 2x larger image (the corner) or a 2x smaller one (the
# centre of the top-left quarter, exactly 1/4 from the centre) puts it
_FAR_PRINCIPAL_POINT = 0.2


def _principal_point_hint(views: List[_View]) -> str:
    """Why the intrinsics may be the cause when nothing else explains the disagreement: the
    first keyframe whose principal point is far from its image centre, in camera pixels, with
    where it is; "" when every principal point is near its image centre."""
    for v in views:
        K, w, h = camera_px(v)  # its calibration's: the height per axis
        cx, cy = K[0, 2], K[1, 2]
        dx, dy = (cx - (w - 1) / 2) / w, (cy - (h - 1) / 2) / h
        if max(abs(dx), abs(dy)) < _FAR_PRINCIPAL_POINT:
            continue
        if 0.4 <= min(abs(dx), abs(dy)) and max(abs(dx), abs(dy)) <= 0.6:
            where = "at the image's corner"
        elif -0.35 <= dx <= -0.15 and -0.35 <= dy <= -0.15:
            where = "in the middle of the image's top-left quarter"
        elif not (-0.5 <= cx <= w - 0.5 and -0.5 <= cy <= h - 0.5):
            where = "outside the image"
        else:
            where = f"far from the image centre ({(w - 1) / 2:g}, {(h - 1) / 2:g})"
        return (f"the principal point ({cx:.0f}, {cy:.0f}) of keyframe {v.label} is {where}: "
                f"is K for another resolution (here {w}x{h})? scale fx, fy, cx, cy with the "
                "image")
    return ""


def _ranges(labels: List[str]) -> str:
    if not all(s.isdigit() for s in labels):
        return _listed(labels)
    nums = sorted(int(s) for s in labels)
    out, start = [], nums[0]
    for prev, cur in zip(nums, nums[1:] + [None]):
        if cur != prev + 1:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = cur
    return _listed(out)


def check_map(keyframe_map: Any, cfg: MapCheckConfig, *,
              progress: Optional[Progress] = None) -> ConsistencyReport:
    """`check_keyframes` on a loaded `KeyframeMap` (its depth is stored in metres), the
    ``--depth-scale`` fix worded with the raw depth unit its build read, when the build recorded
    it (``consistency.depth_units_per_m``; a merged map's from its sources, `recorded_depth_units`;
    its PNGs' own ``depth_scale`` is a storage unit),
    and a pose convention's cause with the build's ``consistency.pose_suspect`` (a string; a
    merged map's from its sources, `recorded_pose_suspect`), the note worded for the build's
    ``consistency.depth_source`` (``stereo``: depth computed from the images; a merged map's
    from its sources, `recorded_depth_source`). Never raises for
    disagreement (`ConsistencyReport.raise_if_inconsistent`); raises `MapFormatError` when a
    keyframe image or depth PNG fails verification as it is read."""
    manifest = getattr(keyframe_map, "manifest", None) or {}
    return check_keyframes(MapRecords(keyframe_map, cfg.work_width), cfg,
                           depth_units_per_m=recorded_depth_units(manifest), progress=progress,
                           pose_suspect=recorded_pose_suspect(manifest),
                           depth_source=recorded_depth_source(manifest))


def recorded_depth_source(manifest: Any) -> Optional[str]:
    """Where a map's depth came from, as its manifest records it: the build's
    ``consistency.depth_source`` (``stereo``: build-map --stereo-depth), or for a merged map
    (``merged_from``, as merge-maps writes it) its sources' when every source records the same
    one. None otherwise (a depth sensor's, the default wording; a merge of stereo and sensor
    depth too: no one wording fits both)."""
    if not isinstance(manifest, dict):
        return None
    built = manifest.get("consistency")
    source = built.get("depth_source") if isinstance(built, dict) else None
    if isinstance(source, str) and source:
        return source
    sources = manifest.get("merged_from")
    if not isinstance(sources, list) or not sources:
        return None
    found = {src.get("depth_source") if isinstance(src, dict) else None for src in sources}
    source = found.pop() if len(found) == 1 else None
    return source if isinstance(source, str) and source else None


def recorded_pose_suspect(manifest: Any) -> Optional[str]:
    """What else places the camera on a map's poses, as its manifest records it: the build's
    ``consistency.pose_suspect`` (an EuRoC map's "T_BS in .../cam0/sensor.yaml"), or for a
    merged map (``merged_from``, as merge-maps writes it) its sources' when every source records
    one (one calibration file named once; distinct ones joined with " or "). None when a source
    has none: its poses came from elsewhere (a TUM ground truth, --trajectory), where a T_BS
    explains no failure between its keyframes."""
    named = recorded_pose_suspects(manifest)
    return " or ".join(named) if named else None


def recorded_pose_suspects(manifest: Any) -> List[str]:
    """`recorded_pose_suspect` as the distinct strings, in order ([]: none); what merge-maps
    records per source (``merged_from[i].pose_suspects``), so that a merge of merges names
    each file once."""
    if not isinstance(manifest, dict):
        return []
    recorded = manifest.get("consistency")
    suspect = recorded.get("pose_suspect") if isinstance(recorded, dict) else None
    if isinstance(suspect, str) and suspect:
        return [suspect]
    sources = manifest.get("merged_from")
    if not isinstance(sources, list) or not sources:
        return []
    named = [src.get("pose_suspects") if isinstance(src, dict) else None for src in sources]
    if not all(isinstance(n, list) and n and all(isinstance(x, str) and x for x in n)
               for n in named):
        return []
    return list(dict.fromkeys(x for n in named for x in n))


def recorded_depth_units(manifest: Any) -> Optional[float]:
    """The raw depth unit (units per metre, float > 0) a map's build read its depth in, as its
    manifest records it: the build's ``consistency.depth_units_per_m``, or for a merged map
    (``merged_from``, as merge-maps writes it) its sources' ``depth_units_per_m`` when every
    source records one and they are equal. None when unknown (not recorded, or the sources
    differ: `source_depth_units` lists theirs)."""
    if not isinstance(manifest, dict):
        return None
    recorded = manifest.get("consistency")
    units = recorded.get("depth_units_per_m") if isinstance(recorded, dict) else None
    if _valid_units(units):
        return float(units)
    sources = manifest.get("merged_from")
    if not isinstance(sources, list) or not sources:
        return None
    found = source_depth_units(manifest)
    return found[0] if len(found) == len(sources) and len(set(found)) == 1 else None


def source_depth_units(manifest: Any) -> List[float]:
    """The valid ``depth_units_per_m`` of a merged manifest's sources, in order (floats)."""
    sources = manifest.get("merged_from") if isinstance(manifest, dict) else None
    if not isinstance(sources, list):
        return []
    units = [src.get("depth_units_per_m") if isinstance(src, dict) else None for src in sources]
    return [float(u) for u in units if _valid_units(u)]


def _valid_units(units: Any) -> bool:
    return type(units) in (int, float) and math.isfinite(units) and units > 0
