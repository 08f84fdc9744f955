"""The metrics of a localization run (`metrics.summarize`) as the table the CLI prints
(`format_table`): the error figures, recall, the covariance's calibration with its verdict, the
ground-truth diagnoses (another frame or unit, misread quaternions), the camera's focal length
and principal point, the poses published degraded (`metrics_degraded`), and the latencies, one
row each.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

from ..core.config import GateConfig
from ..core.run_evidence import scatter_words
from .metrics import CHI2_3DOF_MEDIAN, GROSS_ERROR_M, _unit_of, calibration_verdict
from .metrics_degraded import degraded_row


def _scatter(report: Dict[str, Any], axis: str = "") -> str:
    """'; <axis>frames scatter 3.1x their sigmas, sigma widened' for a camera report (or one
    axis of it) whose ``consistent`` is false, as its ``consistent_note`` says ('' otherwise;
    an older metrics.json without ``chi2_per_dof`` too)."""
    words = scatter_words(report.get("consistent"), report.get("chi2_per_dof"))
    return f"; {axis}{words}" if words else ""


def _camera_focal_row(cf: Dict[str, Any]) -> str:
    if cf["scale"] is None:
        return (f"{cf['frames_judged']} frames judged: too few for a verdict (fx "
                f"{cf['fx_px']:.1f} px)")
    verdict = ("WRONG, see the warning" if cf["fx_off"] else
               f"not off by more than gates.max_focal_error {cf['tolerance']:g} at "
               f"{cf['significance']:g} sigma")
    n_out = cf.get("frames_outliers") or 0  # else '19 frames, 20 passed' read as a miscount
    left_out = (f", {n_out} more left out as {'an outlier' if n_out == 1 else 'outliers'}"
                if n_out else "")
    n_run = cf.get("frames_refused_by_run_gate") or 0  # absent in an older run's metrics.json
    run_gate = (f", {'all ' if n_run == cf['frames_passed'] else ''}{n_run} refused by the "
                "run-level focal gate" if n_run else "")
    before = cf.get("frames_before_fx_change") or 0  # the camera changed: its last fx only
    earlier = (f"; {before} earlier under another fx not combined" if before else "")
    return (f"{cf['scale']:.3f}x +-{100 * cf['scale_sigma']:.1f} %: fx {cf['fx_fitted_px']:.1f}"
            f" px fits, the camera's is {cf['fx_px']:.1f} ({cf['frames_used']} frames{left_out}; "
            f"{cf['frames_passed']} passed the per-frame gate{run_gate}{earlier}"
            f"{_scatter(cf)}): {verdict}")


def _camera_principal_point_row(cp: Dict[str, Any]) -> str:
    cx, cy = cp["cx"], cp["cy"]
    if cx["offset_px"] is None or cy["offset_px"] is None:
        return (f"{min(cx['frames_judged'], cy['frames_judged'])} frames judged: too few for a "
                f"verdict (cx {cp['cx_px']:.1f}, cy {cp['cy_px']:.1f} px)")
    verdict = ("WRONG, see the warning" if cp["off"] else
               f"not off by more than {cp['tolerance_px']:.1f} px ({cp['tolerance_deg']:g} deg "
               f"of view) at {cp['significance']:g} sigma")
    return (f"cx {cx['fitted_px']:.1f} px ({cx['offset_px']:+.1f} +-{cx['offset_sigma_px']:.1f}),"
            f" cy {cy['fitted_px']:.1f} px ({cy['offset_px']:+.1f} +-{cy['offset_sigma_px']:.1f}) "
            f"fit, the camera's are {cp['cx_px']:.1f}, {cp['cy_px']:.1f} "
            f"({cx['frames_used']} / {cy['frames_used']} frames{_scatter(cx, 'cx ')}"
            f"{_scatter(cy, 'cy ')}): {verdict}")


def _camera_distortion_row(cd: Dict[str, Any]) -> str:
    if cd["k1"] is None:
        return f"{cd['frames_judged']} frames judged: too few for a verdict"
    verdict = ("WRONG, see the warning" if cd["off"] else
               f"not off by more than {cd['tolerance_k1']:.3f} ({cd['tolerance_deg']:g} deg of "
               f"view at the corner) at {cd['significance']:g} sigma")
    return (f"residual k1 {cd['k1']:+.3f} +-{cd['k1_sigma']:.3f} beyond the camera's D "
            f"({cd['frames_used']} frames{_scatter(cd)}): {verdict}")


def _quaternion_order_row(qo: Dict[str, Any]) -> str:
    """The metrics table's 'ground truth quaternions' row of a `quaternion_order`."""
    raw = f"the rotations are {qo['rotation_error_deg_median']:.1f} deg off at the median as read"
    if qo.get("written") == "opengl":
        return (f"in OpenGL camera axes (y up, looking down -z)? {raw}; with each rotation "
                f"times diag(1, -1, -1) they are {qo['opengl_rotation_error_deg_median']:.2f} "
                "deg off (metrics.json: quaternion_order): turn the file's camera axes to the "
                "optical frame's (map_from_cam times diag(1, -1, -1), positions as they are); "
                "the errors above are of the file as read")
    if qo.get("written") == "conjugate":
        return (f"conjugated (JPL convention, or camera_from_world rotations)? {raw}; with the "
                f"rotations transposed they are {qo['conjugate_rotation_error_deg_median']:.2f} "
                "deg off (metrics.json: quaternion_order): negate qx qy qz (awk '/^#/ {print; "
                "next} {$5=-$5; $6=-$6; $7=-$7; print}'); the errors above are of the file as "
                "read")
    return (f"written w first? {raw} (qx qy qz qw); read w first (qw qx qy qz) they are "
            f"{qo['w_first_rotation_error_deg_median']:.2f} deg off (metrics.json: "
            "quaternion_order): if the file is 'timestamp tx ty tz qw qx qy qz', move qw to the "
            "last column (awk '{print $1,$2,$3,$4,$6,$7,$8,$5}'); the errors above are of the "
            "file as read")


def _misread_quaternions(block: str, qo: Optional[Dict[str, Any]]) -> str:
    """A covariance row's 'not judged' of ground truth whose quaternions look misread
    (`quaternion_order`), else ''. The rotation row is measured against the misread rotations.
    Written w first moves only the quaternion columns: the positions are read right and their
    rows judged. Conjugated may be a whole camera_from_world pose (the test looks at rotations
    only), its positions as wrong: no position row is judged either."""
    if not qo or (block != "rotation" and qo.get("written") in ("w_first", "opengl")):
        return ""
    how = {"conjugate": "conjugated", "opengl": "in OpenGL camera axes"}.get(
        qo.get("written"), "written w first")
    return (f"not judged: the ground truth's quaternions look {how} (the 'ground truth "
            "quaternions' row)")


def _frame_offset_row(fo: Dict[str, Any]) -> str:
    """The metrics table's 'ground truth frame' row of a `frame_offset`."""
    scale = fo.get("scale", 1.0)
    what = "frame"
    unit = ""
    if scale != 1.0:  # only ever near a unit's (`frame_offset`)
        what = "frame or unit"
        unit = (f", scale {scale:.4g}: its translations look {1.0 / scale:.4g}x the map's, "
                f"{_unit_of(scale)}?")
    return (f"another {what} than the map's? one transform ({fo['rotation_deg']:.1f} deg, "
            f"{fo['translation_m']:.2f} m{unit}; metrics.json: frame_offset) brings the median "
            f"errors to {100 * fo['aligned_translation_error_m_median']:.2f} cm / "
            f"{fo['aligned_rotation_error_deg_median']:.2f} deg: give ground truth in the map's "
            f"{what} (the errors above are measured without alignment)")


def _far_claims_row(fc: Dict[str, Any]) -> str:
    """`metrics.far_claims` in words, with the setting that refuses such poses."""
    return (f"{fc['frames']} of {fc['of']} localized frames claim a 1-sigma position over "
            f"{100 * fc['ratio']:.0f} % of the distance to what they matched (up to "
            f"{100 * fc['max_ratio']:.3g} %; results.jsonl, scene_depth_m): such poses may be "
            "wrong (of a place the map saw only from afar, often 0.4-1.3 m off); to report them "
            f"as not localized set gates.max_position_sigma_ratio {fc['ratio']:g} (default "
            f"{GateConfig.max_position_sigma_ratio:g}; it refuses right poses this uncertain "
            "too: hard views, scenes nearer than ~1 m, few low-confidence MASt3R matches)")


def _ambiguous_row(amb: Dict[str, Any]) -> str:
    from .shared_stamps import ambiguous_said

    return (f"{amb['frames']} frame{'s' if amb['frames'] != 1 else ''} at a stamp "
            f"{ambiguous_said(amb, counts=True)}: not evaluated")


def _fmt(v: Optional[float], scale: float, unit: str, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v * scale:.{digits}f} {unit}"


def format_table(m: Dict[str, Any]) -> str:
    """A human-readable metrics table (what the CLI prints)."""
    t, r = m["translation_error_m"], m["rotation_error_deg"]
    # successes left out of the error figures for want of a ground-truth pose (none at all:
    # the CLI's note says so)
    amb = m.get("ambiguous_groundtruth")  # absent in an older run's metrics.json
    # those at a stamp two images share: said by their own row, not again here
    unposed = m["localized"] - m["evaluated"] - (amb or {}).get("localized", 0) if m[
        "evaluated"] else 0
    rows = [
        ("frames", str(m["frames"])),
        ("localized", f"{m['localized']} ({100 * m['localized_fraction']:.1f} %)"),
        ("evaluated against ground truth", str(m["evaluated"]) + (
            f" ({unposed} localized frame{'s have' if unposed > 1 else ' has'} no ground-truth "
            "pose: not evaluated)" if unposed else "")),
        ("translation error median / mean / p90",
         " / ".join(_fmt(t[k], 100, "cm", 2) for k in ("median", "mean", "p90"))),
        ("rotation error median / mean / p90",
         " / ".join(_fmt(r[k], 1, "deg", 2) for k in ("median", "mean", "p90"))),
        ("max translation error", _fmt(t["max"], 100, "cm", 2)),
        (f"successes > {GROSS_ERROR_M} m off",
         "-" if m.get("gross_errors") is None else str(m["gross_errors"])),
    ]
    fo = m.get("frame_offset")
    if fo:  # every error is mostly one transform: ground truth in another frame or unit
        rows.append(("ground truth frame", _frame_offset_row(fo)))
    if m.get("quaternion_order"):  # the rotations agree with the ground truth's read w first
        rows.append(("ground truth quaternions", _quaternion_order_row(m["quaternion_order"])))
    if m.get("camera_focal"):  # the frames' focal length together (gates.max_focal_error)
        rows.append(("camera focal length (query fx against the map's points)",
                     _camera_focal_row(m["camera_focal"])))
    if m.get("camera_distortion"):  # the frames' residual lens distortion together
        rows.append(("camera distortion (query images against the map's points)",
                     _camera_distortion_row(m["camera_distortion"])))
    if m.get("camera_principal_point"):  # the frames' principal point together
        rows.append(("camera principal point (query cx, cy against the map's points)",
                     _camera_principal_point_row(m["camera_principal_point"])))
    if m.get("far_claims"):  # poses uncertain for their distance: the gate that refuses them
        rows.append(("poses uncertain for their distance", _far_claims_row(m["far_claims"])))
    if amb:  # two images at one stamp: which one the ground truth is for is unknown
        rows.insert(3, ("left out: ground truth ambiguous", _ambiguous_row(amb)))
    if m.get("unreadable_frames"):  # failed frames the source could not read
        rows.insert(2, ("unreadable (failed, skipped)", str(m["unreadable_frames"])))
    deg = m.get("degraded_poses")  # absent in an older run's metrics.json
    if deg and deg.get("frames"):  # published poses marked with a caveat, under 'localized'
        rows.insert(2, ("published, degraded", degraded_row(deg, m["localized"])))
    for k, v in (m.get("recall") or {}).items():
        if v is not None:  # None: no ground truth
            rows.append((f"recall {k}", f"{100 * v:.1f} %"))
    cv = m.get("covariance")
    qo = m.get("quaternion_order")
    if cv and cv.get("evaluated"):
        for k, v in cv.items():
            if isinstance(v, dict) and v.get("coverage_95") is not None:
                d2 = v["median_mahalanobis_sq"]
                # errors mostly one transform or unit slip are not the localizer's to judge
                verdict = ("not judged: the ground truth looks given in another frame or unit "
                           "(the 'ground truth frame' row)") if fo else _misread_quaternions(
                               k, qo) or calibration_verdict(
                                   d2, v.get("p95_mahalanobis_sq"), v.get("beyond_3sigma"),
                                   v.get("frames"))
                n = v.get("frames", cv["evaluated"])
                of = f" (of {n} frames: singular blocks left out)" if n != cv["evaluated"] else ""
                rows.append((f"covariance {k}: chi2 95 % coverage / median d^2",
                             f"{100 * v['coverage_95']:.0f} % / {d2:.3g} (calibrated: 95 % / "
                             f"{CHI2_3DOF_MEDIAN:.2f})" + (f", {verdict}" if verdict else "")
                             + of))
    if cv and cv.get("position_sigma_m_median") is not None:  # ground truth or not
        rows.append(("covariance sigma median (position / rotation)",
                     f"{100 * cv['position_sigma_m_median']:.2f} cm / "
                     f"{cv['rotation_sigma_deg_median']:.2f} deg (what the node publishes)"))
    lat = m.get("latency_s", {})
    # the frames that were timed: not unreadable ones (never localized), nor a cold first frame
    first = m.get("latency_first_frame_s") or {}
    cold = (m.get("latency_left_out") or {}).get("frames", int(bool(first)))
    timed = m["frames"] - m.get("unreadable_frames", 0) - cold
    for k in ("inference", "matching", "pnp", "total"):
        if k in lat and lat[k]["median"] is None:  # only the cold first frame ran it
            rows.append((f"latency {k} (median)", "n/a (only the first frame, kept apart)"))
        elif k in lat:
            ran = lat[k].get("frames", timed)
            rows.append((f"latency {k} (median)", f"{1000 * lat[k]['median']:.1f} ms" + (
                f" (the {ran} frames that reached it)" if ran < timed else "")))
    if "total" in first:
        rows.append(("latency total, first frame", f"{1000 * first['total']:.1f} ms (no "
                     "warm-up: one-time costs; left out of the medians)" + (
                         f"; so is the first frame of each later process of the resumed run "
                         f"({cold} frames left out)" if cold > 1 else "")))
    if m.get("failure_reasons"):
        rows.append(("failures", ", ".join(f"{k}: {v}" for k, v in
                                           m["failure_reasons"].items())))
    w = max(len(a) for a, _ in rows)
    return "\n".join(f"  {a.ljust(w)}  {b}" for a, b in rows)
