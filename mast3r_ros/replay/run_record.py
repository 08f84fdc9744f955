"""One ``results.jsonl`` line of a localize run from its `LocalizationResult`
(`result_record`); `run_resume.result_from_record` reads it back. Re-exported by
`localize_run`."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional

import numpy as np

from ..core.focal_evidence import FocalFit
from ..core.types import LocalizationResult


def result_record(r: LocalizationResult) -> Dict[str, Any]:
    """One line of ``results.jsonl``; ``unreadable`` (true for a frame the source could not
    read, `LocalizationResult.unreadable`) is written since it replaced the reason prefix as
    the mark: a reader of older files takes it as false where absent; ``covariance`` (6x6
    rows, null without one) since metrics.json's calibration is computed from it;
    ``map_from_cam`` (4x4 rows, null for a failed frame) since a resumed run
    (`run_resume.result_from_record`) takes a stopped run's frames from these lines;
    ``focal_fit`` (`_focal_record`) since metrics.json's camera_focal combines it. The
    writer adds ``"cold_start": true`` to each process's first frame without a warm-up
    (`_localize_to_file`; absent: false), the frame's ``camera`` (`run_resume.camera_record`,
    which a resumed run compares with the frame read again: `check_same_camera`) and its
    ``frame_index`` after ``stamp_ns`` (`run_resume.FRAME_INDEX`: its 0-based place in SOURCE's
    frame order, which a resumed run matches its frames by, as frames may share a stamp)."""
    return {"stamp_ns": r.stamp_ns, "success": bool(r.success), "reason": r.reason,
            "unreadable": bool(r.unreadable),
            "map_from_cam": None if not r.success or r.map_from_cam is None else
            np.asarray(r.map_from_cam, dtype=np.float64).tolist(),
            "inliers": r.num_inliers, "matches": r.num_matches,
            "inlier_ratio": round(float(r.inlier_ratio), 4),
            "reproj_rms_px": None if not np.isfinite(r.reproj_rms_px) else
            round(float(r.reproj_rms_px), 4),
            "keyframe_ids": list(r.keyframe_ids),
            # the 6x6 pose covariance (metrics.covariance_calibration's frame: camera centre in
            # metres, rotation vector in radians, map axes), or null (also a non-finite one:
            # NaN is no JSON): metrics.json scores it
            "covariance": None if r.covariance is None or not np.isfinite(r.covariance).all()
            else np.asarray(r.covariance, dtype=np.float64).tolist(),
            "timings_s": {k: round(v, 6) for k, v in r.timings_s.items()},
            # the focal scale the inliers fit (null: not judged): metrics.json's camera_focal
            # combines them, also over a resumed run's recorded frames
            "focal_fit": _focal_record(r.focal_fit),
            # the inliers' median depth (m; null: no PnP pose): metrics.json's far_claims
            "scene_depth_m": round(float(r.scene_depth_m), 4)
            if np.isfinite(r.scene_depth_m) else None}


def _focal_record(fit: Optional[FocalFit]) -> Optional[Dict[str, Any]]:
    """results.jsonl's ``focal_fit``: scale, sigma_log (null: not observable, inf is no
    JSON), fx_px, principal_point (`PrincipalPointFit`'s fields; absent: not fitted),
    distortion (`DistortionFit`'s fields, a NaN as null; absent: not fitted); null for
    a frame the focal gate did not judge."""
    if fit is None:
        return None
    rec = {"scale": fit.scale, "fx_px": fit.fx_px,
           "sigma_log": fit.sigma_log if np.isfinite(fit.sigma_log) else None}
    if fit.principal_point is not None:  # metrics.json's camera_principal_point combines it
        rec["principal_point"] = dataclasses.asdict(fit.principal_point)
    if fit.distortion is not None:  # metrics.json's camera_distortion combines it
        rec["distortion"] = {k: (v if not isinstance(v, float) or np.isfinite(v) else None)
                             for k, v in dataclasses.asdict(fit.distortion).items()}
    return rec
