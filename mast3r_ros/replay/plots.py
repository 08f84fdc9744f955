"""Pictures of runs and maps (matplotlib, Agg backend: works without a display).

Top-down views use the two map axes along which the cameras spread most (for a robot on a floor
that is the floor plane, whichever axis the map calls up).
"""

from __future__ import annotations

import os
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ..core.errors import InputError
from ..core.fileio import atomic_write_bytes, check_can_write_file
from .plot_save import new_figure


def _finish_top_down(fig: Any, ax: Any, axes: tuple, title: str, path: str) -> None:
    """Axis labels in metres, equal aspect, grid, legend and title of a top-down view; save."""
    a, b = axes
    ax.set_xlabel("xyz"[a] + " [m]")
    ax.set_ylabel("xyz"[b] + " [m]")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    _save(fig, path)


def plot_formats() -> Tuple[str, ...]:
    """The file extensions matplotlib's Agg canvas writes (png, pdf, svg, jpg, ...)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return tuple(sorted(FigureCanvasAgg.get_supported_filetypes()))


def _format(path: str) -> str:
    return os.path.splitext(path)[1][1:].lower() or "png"


def check_plot_path(path: str, what: str = "--plot") -> None:
    """Refuse, before any work, a picture path matplotlib cannot write (`InputError` naming
    ``what`` and ``path``): an extension it has no writer for (none: png), a folder that does
    not exist or cannot be written, and ``-`` (a picture goes to a file, not to stdout)."""
    if path == "-":
        raise InputError(f"{what} -: a picture is written to a file, not to stdout ('-' is "
                         f"for --json only); give a file name, e.g. {what} check.png")
    fmt = _format(path)
    formats = plot_formats()
    if fmt not in formats:
        raise InputError(f"{what} {path}: cannot write a '.{fmt}' picture; use one of "
                         f"{', '.join('.' + f for f in formats)} (no extension: png)")
    check_can_write_file(path, what)


def _save(fig, path: str) -> None:
    """Write ``fig`` (`plot_save.new_figure`) to ``path`` (format from its extension) cropped
    to its artists, at 110 dpi; a PNG with one draw (`plot_save.figure_bytes`)."""
    from .plot_save import figure_bytes

    atomic_write_bytes(path, figure_bytes(fig, _format(path)))


def plane_axes(*positions: Optional[np.ndarray]) -> Tuple[int, int]:
    """Indices of the two axes with the largest spread over all given (N, 3) positions."""
    pts = [p[np.isfinite(p).all(axis=1)] for p in positions if p is not None and len(p)]
    if not pts:
        return 0, 1
    spread = np.ptp(np.concatenate(pts), axis=0)
    a, b = sorted(np.argsort(-spread)[:2])
    return int(a), int(b)


def arrow_length(*positions: Optional[np.ndarray], axes: Tuple[int, int]) -> float:
    """Length in metres of the optical-axis arrows of a top-down view: 6 % of the larger side
    of the plotted positions' extent (0.15 m when they are one point), so the arrows read the
    same on a desk-sized map and on a building."""
    a, b = axes
    pts = [p[np.isfinite(p).all(axis=1)][:, [a, b]] for p in positions
           if p is not None and len(p)]
    pts = [p for p in pts if len(p)]
    span = float(np.ptp(np.concatenate(pts), axis=0).max()) if pts else 0.0
    return 0.06 * span if span > 0 else 0.15


# An optical axis whose projection on the view is shorter than this (a camera looking within
# about 17 degrees of the view's normal, e.g. straight down in a top-down view) shows no heading:
# such cameras get an arrow along the top of their image instead.
STEEP_PROJECTION = 0.3


def _camera_arrows(ax, poses: np.ndarray, axes: Tuple[int, int], length: float, **kw) -> None:
    """Arrows along the cameras' optical axes (+z of the optical frame, REP-103), projected on
    the view's plane. A camera looking along the view's normal (a downward camera in a top-down
    view) would get a dot; it gets a paler arrow along its image's top (-y of the optical frame)
    and a legend entry of its own. quiver() leaves the axes' data limits alone, so the tips are
    added to them: an arrow of an outermost keyframe is not cut at the border."""
    a, b = axes
    c = poses[:, :3, 3]
    z = poses[:, :3, 2]  # optical axis in the map frame
    up = -poses[:, :3, 1]  # image top in the map frame
    steep = np.hypot(z[:, a], z[:, b]) < STEEP_PROJECTION
    d = np.where(steep[:, None], up, z)
    label = kw.pop("label", None)
    n = int(steep.sum())  # "19 keyframes: 1 look along ..." read as 19 keyframes doing so
    for subset, extra in ((~steep, {"label": label}),
                          (steep, {"alpha": 0.5, "label": None if label is None else
                                   f"{label}: {n} of them {'looks' if n == 1 else 'look'} "
                                   "along the view's normal (arrow: image top)"})):
        if subset.any():
            ax.quiver(c[subset, a], c[subset, b], d[subset, a] * length,
                      d[subset, b] * length, angles="xy", scale_units="xy", scale=1,
                      width=0.004, **kw, **extra)
    tips = np.stack([c[:, a] + d[:, a] * length, c[:, b] + d[:, b] * length], axis=1)
    ends = np.concatenate([tips, c[:, [a, b]]])
    ends = ends[np.isfinite(ends).all(axis=1)]
    if len(ends):
        ax.update_datalim(ends)
        ax.autoscale_view()


def plot_trajectory(path: str, estimate: np.ndarray, groundtruth: Optional[np.ndarray],
                    keyframe_poses: Optional[np.ndarray] = None, title: str = "") -> None:
    """Top-down view: ground truth (a line through the frames that have a pose), estimates
    (dots; NaN rows = failed frames), keyframes (arrows along their optical axes, or their
    image tops when they look along the view's normal)."""
    kf_c = keyframe_poses[:, :3, 3] if keyframe_poses is not None else None
    axes = plane_axes(groundtruth, estimate, kf_c)
    a, b = axes
    fig, ax = new_figure((7, 6))
    if groundtruth is not None and np.isfinite(groundtruth).any():
        # joined over the frames without a pose: broken there, a ground truth at every other
        # frame (slower than the camera) drew no segment at all, only its legend entry
        known = np.isfinite(groundtruth).all(axis=1)
        ax.plot(groundtruth[known, a], groundtruth[known, b], "-", color="0.5", lw=1.5,
                label="ground truth")
    ok = np.isfinite(estimate).all(axis=1)
    ax.plot(estimate[ok, a], estimate[ok, b], ".", color="tab:blue", ms=5,
            label=f"estimate ({ok.sum()}/{len(estimate)} localized)")
    if groundtruth is not None:
        both = ok & np.isfinite(groundtruth).all(axis=1)
        if both.any():  # one collection: one legend entry, and quick for long runs
            from matplotlib.collections import LineCollection

            segs = np.stack([groundtruth[both][:, [a, b]], estimate[both][:, [a, b]]], axis=1)
            ax.add_collection(LineCollection(segs, colors="tab:red", linewidths=0.8,
                                             label="error (estimate to ground truth)"))
            ax.update_datalim(segs.reshape(-1, 2))
            ax.autoscale_view()
    if keyframe_poses is not None and len(keyframe_poses):
        # from the map and the ground truth: a wrong estimate 1 km off must not make the
        # arrows 60 m long
        length = arrow_length(groundtruth, kf_c, axes=axes)
        _camera_arrows(ax, keyframe_poses, axes, length, color="tab:green", label="keyframes")
        ax.plot(kf_c[:, a], kf_c[:, b], "o", color="tab:green", ms=3)
    _finish_top_down(fig, ax, (a, b), title or "trajectory (top-down)", path)


def plot_errors(path: str, t_s: np.ndarray, errors: np.ndarray, success: np.ndarray,
                title: str = "") -> None:
    """Translation (cm) and rotation (deg) error over time, the line broken at frames without
    an error (failed, or no ground truth); failed frames, and localized frames without ground
    truth, marked at the bottom of each panel, just below 0 (at 0 they would read as no error);
    the error axis includes 0 so that errors compare by height; a panel
    without any error says why."""
    fig, (ax1, ax2) = new_figure((8, 5), 2, 1, sharex=True)
    t_s = np.asarray(t_s, dtype=np.float64)
    fail = ~np.asarray(success, bool)
    # localized frames without a ground-truth pose have no error to draw: marked like failures
    # (else a ground truth covering half the run drew half of it, as if the run ended there)
    unscored = ~fail & ~np.isfinite(np.asarray(errors, dtype=np.float64)).all(axis=1)
    for ax, col, scale, label in ((ax1, 0, 100.0, "translation error [cm]"),
                                  (ax2, 1, 1.0, "rotation error [deg]")):
        v = np.asarray(errors[:, col], dtype=np.float64) * scale
        # NaN kept in place: matplotlib breaks the line there instead of bridging the gap
        ax.plot(t_s, v, ".-", ms=4, lw=0.8)
        if fail.any():
            ax.plot(t_s[fail], np.zeros(fail.sum()), "x", color="tab:red", clip_on=False,
                    transform=ax.get_xaxis_transform(), label="not localized")
        if unscored.any():
            ax.plot(t_s[unscored], np.zeros(unscored.sum()), "|", color="0.5", ms=8,
                    clip_on=False, transform=ax.get_xaxis_transform(),
                    label="localized, no ground truth")
        if fail.any() or unscored.any():
            ax.legend(loc="best", fontsize=8)
        if np.isfinite(v).any():
            # zero on the axis (errors are >= 0): scaled to the data, 0.25 cm sat on the bottom
            # edge and 1.2 cm read as 20x it; the margin keeps the failure marks below zero
            top = max(float(np.nanmax(v)), 1e-9)
            ax.set_ylim(-0.05 * top, 1.05 * top)
        else:
            why = ("no frame localized" if fail.all() else
                   "no localized frame has ground truth")
            ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center",
                    color="0.3")
            ax.set_yticks([])
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    ax2.set_xlabel("time [s]")
    ax1.set_title(title or "localization error")
    _save(fig, path)


def plot_calibration(path: str, d2: np.ndarray, title: str = "") -> None:
    """The pose covariance's reliability line: for each nominal level p (0 to 1) the observed
    fraction of frames whose squared Mahalanobis distance lies within the chi^2(3) quantile of p,
    for position, position with the ground-truth allowance and rotation (the (M, 3) columns of
    `metrics.calibration_d2`; NaN left out). On the diagonal a covariance is calibrated; below
    it overconfident (errors larger than it says), above it conservative. Without a frame the
    panel says why."""
    from scipy.special import gammainc

    # 1.2 in taller than the 5 in it was, all below the axes (the same 3.85 in square): the
    # legend under them lies on the figure, which one draw then writes (`plot_save`)
    fig, ax = new_figure((5.5, 6.2))
    fig.subplots_adjust(bottom=0.282, top=0.903)
    p = np.linspace(0.0, 1.0, 201)
    ax.plot([0, 1], [0, 1], "--", color="0.5", lw=1, label="calibrated")
    d2 = np.asarray(d2, dtype=np.float64).reshape(-1, 3)
    drawn: List[Tuple[str, np.ndarray]] = []
    # each narrower and dashed or dotted on the one before, unclipped: curves that coincide (a
    # noise-free run's, all along the top edge) stay visible, and the legend says so
    for col, label, style, lw in ((0, "position", "-", 2.6),
                                  (1, "position, 1 cm ground-truth allowance", "--", 1.7),
                                  (2, "rotation", ":", 1.2)):
        name = "allowance" if col == 1 else label
        v = d2[:, col][np.isfinite(d2[:, col])]
        if not len(v):
            continue
        u = np.sort(gammainc(1.5, v / 2.0))  # chi^2(3) CDF: the level at which each frame enters
        y = np.searchsorted(u, p, side="right") / len(u)
        same = next((name for name, c in drawn if np.mean(np.abs(c - y)) < 0.01), "")
        ax.plot(p, y, style, lw=lw, clip_on=False, label=f"{label} ({len(v)} frames"
                f"{f'; on the {same} curve' if same else ''})")
        drawn.append((name, y))
    if not drawn:
        ax.text(0.5, 0.5, "no localized frame with ground truth and a covariance",
                transform=ax.transAxes, ha="center", va="center", color="0.3")
    ax.text(0.97, 0.03, "overconfident", transform=ax.transAxes, ha="right", color="0.4")
    ax.text(0.03, 0.97, "conservative", transform=ax.transAxes, va="top", color="0.4")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal level (chi-square, 3 dof)")
    ax.set_ylabel("observed fraction of frames within it")
    ax.grid(True, alpha=0.3)
    # below the axes: inside, it hid the lines wherever they ran
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), fontsize=8, frameon=False)
    ax.set_title(title or "pose covariance calibration")
    _save(fig, path)


def plot_keyframes(path: str, keyframe_poses: np.ndarray,
                   all_poses: Optional[np.ndarray] = None, title: str = "",
                   consistency: Optional[Any] = None,
                   skipped: Optional[np.ndarray] = None, skipped_unplaced: int = 0,
                   skipped_at: Optional[np.ndarray] = None,
                   sources: Optional[Tuple[Sequence[int], Sequence[str]]] = None) -> None:
    """Top-down view of a map's keyframes over the source trajectory (``sources``: a merged
    map's (counts, labels), `plots_merged.recorded_sources`: each source in its colour,
    `plots_merged.draw_by_source`, not all green); with a
    `ConsistencyReport` (core.map_check) a second panel shows its per-keyframe figures and the
    keyframes that disagree with every neighbour are drawn red. ``skipped``: (N, 3) float
    positions, map frame, metres, of frames the build could not read and skipped (on the
    trajectory at their stamps, `skipped_positions`), drawn as red crosses: where the map may
    lack keyframes; ``skipped_unplaced`` more such frames that have no position (counted in
    the legend); ``skipped_at``: (N,) float, the same frames' places on the second panel's
    keyframe axis (`skipped_indices`), drawn there as red crosses too."""
    traj = all_poses[:, :3, 3] if all_poses is not None and len(all_poses) else None
    axes = plane_axes(traj, keyframe_poses[:, :3, 3])
    a, b = axes
    if consistency is None:
        fig, ax = new_figure((7, 6))
    else:
        fig, (ax, ax2) = new_figure((13, 6), 1, 2, gridspec_kw={"width_ratios": [7, 6]})
        plot_consistency(ax2, consistency, skipped_at, skipped_unplaced)
    if traj is not None:
        ax.plot(traj[:, a], traj[:, b], "-", color="0.6", lw=1, label="source trajectory")
    length = arrow_length(traj, keyframe_poses[:, :3, 3], axes=axes)
    c = keyframe_poses[:, :3, 3]
    if sources is not None:
        from .plots_merged import draw_by_source

        draw_by_source(ax, keyframe_poses, axes, length, *sources)
    else:
        _camera_arrows(ax, keyframe_poses, axes, length, color="tab:green",
                       label=f"{len(keyframe_poses)} keyframes")
        ax.plot(c[:, a], c[:, b], "o", color="tab:green", ms=3)
    bad = [] if consistency is None else consistency.bad_keyframes()
    if bad:
        ax.plot(c[bad, a], c[bad, b], "o", color="tab:red", ms=7, mfc="none",
                label=("1 keyframe agrees with no neighbour: fails the check" if len(bad) == 1
                       else f"{len(bad)} keyframes agree with no neighbour: fail the check"))
    s = np.zeros((0, 3)) if skipped is None else np.asarray(skipped, np.float64).reshape(-1, 3)
    if len(s) or skipped_unplaced:
        ax.plot(s[:, a], s[:, b], "x", color="tab:red", ms=6, mew=1.5,
                label=_skipped_label(len(s), skipped_unplaced))
    _finish_top_down(fig, ax, (a, b), title or "keyframe map (top-down)", path)


def _skipped_label(placed: int, unplaced: int) -> str:
    """The legend entry of the red crosses: '3 unreadable frames, skipped (2 more not
    placed)', '2 unreadable frames, skipped (not placed)' when none is drawn."""
    n = placed or unplaced
    more = (f" ({unplaced} more not placed)" if unplaced else "") if placed else " (not placed)"
    return f"{n} unreadable frame{'' if n == 1 else 's'}, skipped{more}"


def skipped_indices(keyframe_ns: Sequence[int], skipped_ns: Sequence[int],
                    first: int = 0) -> np.ndarray:
    """(N,) float64: where the frames at ``skipped_ns`` (int ns) fall on a keyframe axis, the
    keyframes (indices ``first``, ``first + 1``, ... in map order) stamped ``keyframe_ns``:
    2.5 halfway in time between keyframes 2 and 3, held at the first and last keyframe (the
    consistency panel's x, as `skipped_positions` places them on the trajectory)."""
    if not len(skipped_ns) or not len(keyframe_ns):
        return np.zeros(0)
    t = np.asarray(keyframe_ns, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    t0 = t[order][0]
    q = (np.asarray(skipped_ns, dtype=np.int64) - t0).astype(np.float64)
    return np.interp(q, (t[order] - t0).astype(np.float64), (order + first).astype(np.float64))


def skipped_positions(posed_ns: Sequence[int], poses: np.ndarray,
                      skipped_ns: Sequence[int]) -> np.ndarray:
    """(N, 3) float64 positions (the frame of ``poses``, metres) of the frames at
    ``skipped_ns`` (int ns) on the trajectory of ``poses`` ((M, 4, 4) camera-to-map, stamped
    ``posed_ns``, M >= 1): each coordinate interpolated linearly in time, held at the ends.
    An unreadable frame has no pose of its own; this puts it where the camera was then."""
    if not len(skipped_ns) or not len(posed_ns):
        return np.zeros((0, 3))
    t = np.asarray(posed_ns, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    t = (t[order] - t[order][0]).astype(np.float64)
    c = np.asarray(poses, dtype=np.float64)[order, :3, 3]
    q = (np.asarray(skipped_ns, dtype=np.int64) - np.asarray(posed_ns, np.int64)[order][0]
         ).astype(np.float64)
    return np.stack([np.interp(q, t, c[:, k]) for k in range(3)], axis=1)


# map check causes (core.map_check ConsistencyReport.cause) in words, for the panel's title
CAUSE_WORDS = {
    "depth_scale": "depth scale",
    "trajectory_unit": "trajectory not in metres",
    "inverted_poses": "inverted poses",
    "quaternion_wxyz": "quaternions in w x y z order",
    "quaternion_xyzw": "quaternions in x y z w order",
    "rotations_transposed": "rotations transposed (conjugate quaternions)",
    "camera_not_optical": "poses of a body frame, not the optical frame",
    "camera_not_optical_inverse": "an extra optical-to-body rotation",
    "opengl_camera": "poses of an OpenGL camera (y up, -z forward)",
    "clock_jump": "clock jumps back",
    "pose_discontinuity": "a jump in the poses",
    "focal_length": "a focal length no camera has",
    "colour_focal": "colour not registered to the depth",
    "lens_distortion": "a lens distortion the camera's D lacks",
    "intrinsics_resolution": "K for another image resolution",
    "unknown": "cause unknown",
}

# above this many keyframes the per-keyframe figures are drawn as steps, not bars (thousands
# of bars took 35 s to draw and read as a smear)
MAX_BARS = 200
# at most this many keyframe labels on the x axis beyond 30 keyframes
MAX_TICKS = 20


def cause_words(cause: str) -> str:
    """A map check cause code ("depth_scale", "inverted_poses+depth_scale") in words."""
    return " and ".join(CAUSE_WORDS.get(c, c.replace("_", " ")) for c in cause.split("+"))


HEADROOM = 1.4  # map check panel: axes this many times the data's range, the top for the legend


def plot_consistency(ax: Any, report: Any, skipped_at: Optional[np.ndarray] = None,
                     skipped_unplaced: int = 0) -> None:
    """Per-keyframe figures of a `ConsistencyReport` on ``ax``: median depth residual (%) and
    fraction of depth agreeing (%) as bars (steps above `MAX_BARS` keyframes), match
    reprojection error (px) on a second axis, the limits dashed (named in the legend, which
    sits in headroom above the figures), keyframes that disagree with every neighbour (what
    the check fails) red, those past a limit that agree with one hatched, both named in the
    legend (`_mark_keyframes`); keyframes compared with a neighbour but without a
    reprojection say why (`_say_unmeasured_reprojection`); an unchecked map says why
    instead of empty bars. Frames the
    build skipped (``skipped_at``: their places on the keyframe axis, `skipped_indices`;
    ``skipped_unplaced`` more) are red crosses along the bottom, as on the top-down panel."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    k = report.keyframes
    x = np.arange(len(k))
    res = np.array([f.depth_residual for f in k], dtype=np.float64) * 100
    agree = np.array([f.depth_agree for f in k], dtype=np.float64) * 100
    rep = np.array([f.reproj_px for f in k], dtype=np.float64)
    if len(k) <= MAX_BARS:
        ax.bar(x - 0.2, np.nan_to_num(res), 0.4, color="tab:blue", label="depth residual [%]")
        ax.bar(x + 0.2, np.nan_to_num(agree), 0.4, color="tab:cyan", alpha=0.6,
               label="depth agreeing [%]")
    else:  # NaN (not measured) left as gaps
        ax.step(x, res, where="mid", color="tab:blue", lw=0.8, label="depth residual [%]")
        ax.step(x, agree, where="mid", color="tab:cyan", lw=0.8, label="depth agreeing [%]")
    th = report.thresholds
    if "max_depth_residual" in th:
        ax.axhline(100 * th["max_depth_residual"], color="tab:blue", ls="--", lw=1,
                   label="depth residual limit")
    if "min_depth_agree" in th:
        ax.axhline(100 * th["min_depth_agree"], color="tab:cyan", ls="--", lw=1,
                   label="depth agreeing limit")
    # headroom above 100 % for the legend, which sat on the bars (ticks stop at 100 %)
    ax.set_ylim(0, 100 * HEADROOM)
    ax.set_yticks(range(0, 101, 20))
    ax.set_xlabel("keyframe")
    ax.set_ylabel("depth [%]")
    ax2 = ax.twinx()
    ok = np.isfinite(rep)
    ax2.plot(x[ok], rep[ok], "s", color="tab:orange", ms=5 if len(k) <= MAX_BARS else 2,
             label="match reprojection [px]")
    if "max_reproj_px" in th:
        ax2.axhline(th["max_reproj_px"], color="tab:orange", ls="--", lw=1,
                    label="match reprojection limit")
    # (np.nanmax's initial= needs numpy >= 1.22; Humble's is 1.21)
    top = float(rep[ok].max()) if ok.any() else 0.0
    ax2.set_ylim(0, max(th.get("max_reproj_px", 1.0), top) * 1.05 * HEADROOM)
    ax2.set_ylabel("match reprojection [px]")
    _mark_keyframes(ax, report, x, past_limits(report))
    _say_unmeasured_reprojection(ax, report, x, rep)
    labels = [f.label for f in k]
    if len(k) <= 30:
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=7)
    else:  # a few integer ticks labelled with the keyframes' labels
        ax.xaxis.set_major_locator(MaxNLocator(nbins=MAX_TICKS, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda v, _pos: labels[int(v)] if 0 <= int(v) < len(labels) and v == int(v)
            else ""))
        ax.tick_params(axis="x", labelsize=7, labelrotation=90)
        ax.set_xlim(-0.5, len(k) - 0.5)
    if report.verdict == "unchecked":
        why = report.message.split(": ", 1)[-1] if report.message else "no keyframe has depth"
        ax.text(0.5, 0.5, f"unchecked: {why}", transform=ax.transAxes, ha="center",
                va="center", color="0.3", wrap=True)
    at = np.zeros(0) if skipped_at is None else np.asarray(skipped_at, np.float64).reshape(-1)
    if len(at) or skipped_unplaced:  # at the foot of the bars, whatever the figures' scale
        ax.plot(at, np.full(len(at), 0.03), "x", color="tab:red", ms=6, mew=1.5, clip_on=False,
                transform=ax.get_xaxis_transform(),
                label=_skipped_label(len(at), skipped_unplaced))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    _legend_within(ax, h1 + h2, l1 + l2)
    ax.set_title(f"map check: {report.verdict}"
                 + (f" (likely cause: {cause_words(report.cause)})" if report.cause else ""))


def _legend_within(ax: Any, handles: list, labels: list) -> None:
    """The map check panel's legend, two columns at the top, its font made smaller (8 pt down
    to 6) until it is no wider than the panel: an inconsistent map's eight entries ran over
    the right-hand axis and its tick labels."""
    get_renderer = getattr(ax.figure.canvas, "get_renderer", None)
    for size in (8.0, 7.5, 7.0, 6.5, 6.0):
        legend = ax.legend(handles, labels, loc="upper center", ncol=2, fontsize=size)
        if get_renderer is None or legend.get_window_extent(get_renderer()).width <= \
                ax.get_window_extent(get_renderer()).width:
            return


def past_limits(report: Any) -> np.ndarray:
    """(N,) bool: the keyframes of ``report`` whose pooled figures, as plotted, are past a
    limit of ``report.thresholds`` (median depth residual above, depth agreeing below, match
    reprojection above; NaN is past none, inf reprojection is past its limit)."""
    th, k = report.thresholds, report.keyframes
    out = np.zeros(len(k), dtype=bool)
    with np.errstate(invalid="ignore"):
        for key, name, above in (("max_depth_residual", "depth_residual", True),
                                 ("min_depth_agree", "depth_agree", False),
                                 ("max_reproj_px", "reproj_px", True)):
            if key in th:
                v = np.array([getattr(f, name) for f in k], dtype=np.float64)
                out |= v > th[key] if above else v < th[key]
    return out


def _mark_keyframes(ax: Any, report: Any, x: np.ndarray, past: np.ndarray) -> None:
    """Shade red the keyframes that agree with none of their checked neighbours (``ok``
    False: what fails the check), and hatch those whose pooled figures are ``past`` a limit
    yet pass (``ok`` True: one neighbour agrees; the bars pool every pair, so a keyframe whose
    other neighbour disagrees can be past every line and pass); one legend entry each."""
    red = np.array([f.ok is False for f in report.keyframes], dtype=bool)  # None: unchecked
    hatched = past & np.array([f.ok is True for f in report.keyframes], dtype=bool)
    styles = ((red, "fails: agrees with no neighbour",
               {"color": "tab:red", "alpha": 0.15}),
              (hatched, "past a limit, passes: a neighbour agrees",
               {"facecolor": "none", "edgecolor": "tab:red", "hatch": "//", "lw": 0,
                "alpha": 0.5}))
    for where, label, style in styles:
        if not where.any():
            continue
        if len(x) <= MAX_BARS:
            for n, i in enumerate(np.flatnonzero(where)):
                ax.axvspan(i - 0.5, i + 0.5, label=label if n == 0 else None, **style)
        else:  # one patch, not one per keyframe
            ax.fill_between(x, 0, 1, where=where, step="mid", label=label,
                            transform=ax.get_xaxis_transform(), **style)


def _say_unmeasured_reprojection(ax: Any, report: Any, x: np.ndarray, rep: np.ndarray) -> None:
    """Where a keyframe compared with a neighbour (in ``report.pairs``) has no reprojection
    marker, say why at its foot: 'no matches' (NaN: no pair of it had enough verified
    matches with depth) or 'behind a camera' (inf: the poses put its matches behind one);
    as text up to `MAX_BARS` keyframes, as marks named in the legend above."""
    compared = np.zeros(len(x), dtype=bool)
    for p in report.pairs:
        compared[[i for i in (p.a, p.b) if 0 <= i < len(x)]] = True
    for missing, words in ((np.isnan(rep), "no matches"), (np.isinf(rep), "behind a camera")):
        at = x[missing & compared]
        if not len(at):
            continue
        if len(x) <= MAX_BARS:
            for i in at:
                ax.text(i, 0.05, words, transform=ax.get_xaxis_transform(), rotation=90,
                        ha="center", va="bottom", fontsize=6, color="tab:orange",
                        bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1})
        else:
            ax.plot(at, np.full(len(at), 0.05), "|", color="tab:orange", ms=6,
                    transform=ax.get_xaxis_transform(),
                    label=f"match reprojection: {words} ({len(at)} keyframe"
                          f"{'' if len(at) == 1 else 's'})")
