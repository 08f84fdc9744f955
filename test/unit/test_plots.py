"""Top-down plots: keyframe arrows stay inside the axes and scale with the map."""

from __future__ import annotations

import numpy as np
import pytest
from robot_poses import camera_along_yaw

from mast3r_ros.replay import plot_save, plots


@pytest.fixture
def saved(monkeypatch):
    figs = []

    def keep(fig, path):
        # equal aspect and autoscale are applied at draw time; the layout of a draw, without
        # painting its pixels (what is asserted is artists and limits, no pixel)
        fig.draw_without_rendering()
        figs.append(fig)

    monkeypatch.setattr(plots, "_save", keep)
    return figs


@pytest.mark.parametrize("extent", [1.0, 100.0])
def test_outermost_keyframe_arrows_are_inside_the_axes(saved, extent):
    # four keyframes on the corners of the trajectory's box, each looking outwards
    corners = [(0, 0, np.pi), (extent, 0, 0.0), (extent, extent / 2, np.pi / 2),
               (0, extent / 2, -np.pi / 2)]
    kf = np.stack([camera_along_yaw(*c) for c in corners])
    est = kf[:, :3, 3].copy()
    plots.plot_trajectory("unused.png", est, est.copy(), keyframe_poses=kf)
    plots.plot_keyframes("unused.png", kf, all_poses=kf)
    length = 0.06 * extent
    assert plots.arrow_length(est, axes=(0, 1)) == pytest.approx(length)
    tips = kf[:, :2, 3] + kf[:, :2, 2] * length
    for fig in saved:
        ax = fig.axes[0]
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        assert ((tips[:, 0] >= x0) & (tips[:, 0] <= x1)).all(), (tips, ax.get_xlim())
        assert ((tips[:, 1] >= y0) & (tips[:, 1] <= y1)).all(), (tips, ax.get_ylim())


def test_arrow_length_of_one_point_and_of_failed_frames():
    one = np.array([[1.0, 2.0, 3.0]])
    assert plots.arrow_length(one, None, axes=(0, 1)) == 0.15
    nan = np.full((3, 3), np.nan)
    assert plots.arrow_length(nan, axes=(0, 1)) == 0.15
    pts = np.array([[0.0, 0.0, 50.0], [2.0, 1.0, -50.0], [np.nan] * 3])
    assert plots.arrow_length(pts, axes=(0, 1)) == pytest.approx(0.12)  # z is not in view


def test_a_wrong_estimate_does_not_scale_the_arrows(saved):
    kf = np.stack([camera_along_yaw(0, 0, 0.0), camera_along_yaw(2, 1, np.pi / 2)])
    gt = kf[:, :3, 3].copy()
    est = gt.copy()
    est[1] = [1000.0, 0.0, 0.0]  # a failure the error plot shows; the map stays readable
    plots.plot_trajectory("unused.png", est, gt, keyframe_poses=kf)
    ax = saved[0].axes[0]
    (arrows,) = [c for c in ax.collections if hasattr(c, "U")]  # the quiver
    assert np.hypot(arrows.U, arrows.V).max() == pytest.approx(0.12)  # 6 % of the 2 m map


# ------------------------------------------------------------- a fresh user's plot findings ---

def _errors_figure(saved, errors, success):
    t = np.arange(len(success), dtype=np.float64)
    plots.plot_errors("unused.png", t, np.asarray(errors, dtype=np.float64),
                      np.asarray(success, bool))
    return saved[-1]


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_errors_of_a_run_where_every_frame_failed_say_so(saved):
    # it showed a +-0.04 cm axis with red x at 0, which read as zero error
    fig = _errors_figure(saved, np.full((4, 2), np.nan), [False] * 4)
    for ax in fig.axes:
        assert "no frame localized" in _texts(ax)
        (marks,) = [ln for ln in ax.lines if ln.get_marker() == "x"]
        assert marks.get_transform() is not ax.transData  # at the panel's edge, not at y=0


def test_the_error_line_breaks_at_failed_frames(saved):
    err = np.array([[0.01, 1.0], [np.nan, np.nan], [0.02, 2.0], [0.03, 3.0]])
    fig = _errors_figure(saved, err, [True, False, True, True])
    ax = fig.axes[0]
    (line,) = [ln for ln in ax.lines if ln.get_marker() == "."]
    y = np.asarray(line.get_ydata(), dtype=np.float64)
    assert len(y) == 4 and np.isnan(y[1])  # a gap, not a line from frame 0 to frame 2
    assert not _texts(ax)


def test_the_trajectory_legend_names_the_red_error_segments(saved):
    gt = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    est = gt + [0.0, 0.1, 0.0]
    plots.plot_trajectory("unused.png", est, gt)
    ax = saved[0].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("error") for lab in labels), labels


def _report(n, verdict="consistent", cause="", message="", bad=()):
    from mast3r_ros.core.map_check.report import ConsistencyReport, KeyframeFigures

    rng = np.random.default_rng(0)
    depth = verdict != "unchecked"
    kfs = [KeyframeFigures(i, str(i), rng.uniform(0, 0.05) if depth else np.nan,
                           rng.uniform(0.8, 1) if depth else np.nan,
                           rng.uniform(0, 3) if depth else np.nan, [], i not in bad if depth
                           else None) for i in range(n)]
    return ConsistencyReport(verdict, kfs, [], message, cause=cause,
                             thresholds={"max_depth_residual": 0.05, "min_depth_agree": 0.6,
                                         "max_reproj_px": 12.8})


def _check_panel(saved, report):
    kf = np.stack([camera_along_yaw(i, 0, 0.0) for i in range(len(report.keyframes))])
    plots.plot_keyframes("unused.png", kf, consistency=report)
    return saved[-1].axes[1]  # the map-check panel


def test_an_unchecked_map_says_why_instead_of_empty_bars(saved):
    ax = _check_panel(saved, _report(5, "unchecked",
                                     message="map not checked: no keyframe has depth"))
    assert "unchecked: no keyframe has depth" in _texts(ax)
    ax = _check_panel(saved, _report(5, "unchecked", message=""))
    assert "unchecked: no keyframe has depth" in _texts(ax)
    ax = _check_panel(saved, _report(5, "consistent"))
    assert not _texts(ax)


@pytest.mark.parametrize("cause, words", [
    ("depth_scale", "depth scale"), ("pose_discontinuity", "a jump in the poses"),
    ("inverted_poses+depth_scale", "inverted poses and depth scale"),
    ("some_new_cause", "some new cause")])
def test_the_map_check_title_names_the_cause_in_words(saved, cause, words):
    ax = _check_panel(saved, _report(4, "inconsistent", cause=cause, bad=(2,)))
    title = ax.get_title()
    assert words in title and "_" not in title, title


@pytest.mark.parametrize("n", [300, 2000])
def test_a_large_map_check_panel_has_few_ticks_and_no_bars(saved, n):
    from matplotlib.patches import Rectangle

    ax = _check_panel(saved, _report(n, "inconsistent", cause="unknown", bad=(5, 6, 100)))
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert 2 <= len(labels) <= plots.MAX_TICKS + 1, labels
    assert all(lab.isdigit() and int(lab) < n for lab in labels)
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) < 10  # steps, not one bar per keyframe and figure


def test_a_small_map_check_panel_keeps_its_bars_and_every_label(saved):
    from matplotlib.patches import Rectangle

    ax = _check_panel(saved, _report(12, "consistent"))
    assert len([p for p in ax.patches if isinstance(p, Rectangle)]) >= 24
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(12)]


def _looking_down(x: float, y: float, heading: float) -> np.ndarray:
    """Camera at (x, y, 0) looking straight down (optical axis -z of the map), the top of its
    image towards ``heading`` in the map's x-y plane."""
    T = np.eye(4)
    up = np.array([np.cos(heading), np.sin(heading), 0.0])
    z = np.array([0.0, 0.0, -1.0])
    T[:3, 1], T[:3, 2] = -up, z
    T[:3, 0] = np.cross(T[:3, 1], z)
    T[:3, 3] = x, y, 0.0
    return T


def test_downward_cameras_get_an_arrow_along_their_image_top(saved):
    # a floor-facing robot camera: in a top-down view its optical axis projects to a point
    kf = np.stack([_looking_down(0, 0, 0.0), _looking_down(2, 1, np.pi / 2),
                   camera_along_yaw(1, 0, np.pi)])
    assert np.allclose(np.linalg.det(kf[:, :3, :3]), 1.0)
    plots.plot_keyframes("unused.png", kf)
    ax = saved[0].axes[0]
    quivers = [c for c in ax.collections if hasattr(c, "U")]
    arrows = np.concatenate([np.stack([q.U, q.V], axis=1) for q in quivers])
    assert np.hypot(arrows[:, 0], arrows[:, 1]) == pytest.approx(np.full(3, 0.12))
    down = [q for q in quivers if len(q.U) == 2]
    assert np.allclose(np.stack([down[0].U, down[0].V], axis=1), [[0.12, 0.0], [0.0, 0.12]])
    labels = ax.get_legend_handles_labels()[1]
    assert "3 keyframes: 2 of them look along the view's normal (arrow: image top)" in labels


def test_one_downward_camera_is_counted_as_one_of_the_keyframes(saved):
    """A merged map's plot read "19 keyframes" then "19 keyframes: 1 look along the view's
    normal": the second entry was taken for 19 keyframes (a fleet maintainer's find)."""
    kf = np.stack([_looking_down(0, 0, 0.0), camera_along_yaw(1, 0, np.pi),
                   camera_along_yaw(2, 0, np.pi)])
    plots.plot_keyframes("unused.png", kf)
    labels = saved[0].axes[0].get_legend_handles_labels()[1]
    assert "3 keyframes: 1 of them looks along the view's normal (arrow: image top)" in labels


def test_ground_truth_sparser_than_the_frames_is_drawn(saved):
    # ground truth at every other frame (a slower ground truth beyond the pose-at-stamp
    # interpolation gap): breaking the line at each frame without a pose left not one segment
    # and no marker, so the plot showed a 'ground truth' legend entry and nothing else
    t = np.linspace(0.0, 2.0, 10)
    gt = np.stack([t, np.sin(t), np.zeros_like(t)], axis=1)
    gt[1::2] = np.nan
    plots.plot_trajectory("unused.png", gt + 0.01, gt)
    line, = [ln for ln in saved[0].axes[0].get_lines() if ln.get_label() == "ground truth"]
    xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
    drawn = np.isfinite(xy).all(axis=1)
    assert (drawn[1:] & drawn[:-1]).sum() == 4  # the 5 poses joined by 4 segments
    np.testing.assert_allclose(xy[drawn], gt[::2, :2])


def test_errors_plot_spans_the_run_and_marks_localized_frames_without_ground_truth(saved):
    # --groundtruth covering the first half of a 16 s run: errors.png ended at 8 s, the frames
    # localized after it (no ground truth to score them) not drawn at all, as if the run were
    # 8 s long
    err = np.full((8, 2), np.nan)
    err[:4] = [[0.01, 1.0], [0.02, 2.0], [0.01, 1.0], [0.02, 2.0]]
    fig = _errors_figure(saved, err, [True] * 7 + [False])
    for ax in fig.axes:
        x0, x1 = ax.get_xlim()
        assert x0 <= 0.0 and x1 >= 7.0, ax.get_xlim()
        (marks,) = [ln for ln in ax.lines if ln.get_label().startswith("localized, no ground")]
        np.testing.assert_array_equal(marks.get_xdata(), [4.0, 5.0, 6.0])


def test_skipped_frames_a_merge_of_merges_cannot_place_are_counted_in_the_legend(saved):
    """check-map --plot places a merged map's skipped frames on the keyframes of the source
    that skipped them; a merge of merges whose outer merge dropped duplicates cannot tell which
    inner source a keyframe came from: those frames are counted, not drawn somewhere wrong."""
    from mast3r_ros.replay.check_map import skipped_marks

    kf = np.stack([camera_along_yaw(float(k), 0.0, 0.0) for k in range(6)])
    stamps = np.array([0, 10, 20, 0, 10, 20], np.int64)  # two recordings, one clock each
    rec = {"count": 1, "stamps_ns": [5]}
    inner = {"role": "B", "keyframes": 3, "merged_from": [  # 2 + 2 given, 1 dropped after
        {"role": "A", "keyframes": 2, "unreadable_frames": {"count": 2, "stamps_ns": [1, 2]}},
        {"role": "B", "keyframes": 2}]}
    manifest = {"merged_from": [{"role": "A", "keyframes": 3, "unreadable_frames": rec},
                                inner]}
    marks, unplaced = skipped_marks(manifest, stamps, kf)
    np.testing.assert_allclose(marks, [[0.5, 0.0, 0.0]])  # on A's keyframes 0..2 only
    assert unplaced == 2
    plots.plot_keyframes("unused.png", kf, skipped=marks, skipped_unplaced=unplaced)
    plots.plot_keyframes("unused.png", kf, skipped=marks[:0], skipped_unplaced=unplaced)
    labels = [[ln.get_label() for ln in fig.axes[0].get_lines()] for fig in saved]
    assert "1 unreadable frame, skipped (2 more not placed)" in labels[0], labels[0]
    assert "2 unreadable frames, skipped (not placed)" in labels[1], labels[1]


def test_skipped_frames_of_merged_sources_are_placed_on_each_sources_own_keyframes(saved):
    """`skipped_marks`: B's skipped frame lies between B's keyframes (after A's 2), not A's;
    a source that gave no keyframe counts its frames as not placed without unplacing the
    others; a record of skipped frames without their stamps places nothing."""
    from mast3r_ros.replay.check_map import skipped_marks

    kf = np.stack([camera_along_yaw(float(k), 0.0, 0.0) for k in range(5)])
    stamps = np.array([0, 10, 0, 10, 20], np.int64)  # A: 0, 1; B: 2, 3, 4 (its own clock)
    manifest = {"merged_from": [
        {"role": "A", "keyframes": 2},
        {"role": "B", "keyframes": 3, "unreadable_frames": {"count": 1, "stamps_ns": [15]}}]}
    marks, unplaced = skipped_marks(manifest, stamps, kf)
    np.testing.assert_allclose(marks, [[3.5, 0.0, 0.0]])
    assert unplaced == 0
    manifest["merged_from"].insert(0, {"role": "A", "keyframes": 0, "unreadable_frames": {
        "count": 2, "stamps_ns": [1, 2]}})
    marks, unplaced = skipped_marks(manifest, stamps, kf)
    np.testing.assert_allclose(marks, [[3.5, 0.0, 0.0]])
    assert unplaced == 2
    marks, unplaced = skipped_marks({"unreadable_frames": {"count": 2}}, stamps, kf)
    assert marks.shape == (0, 3) and unplaced == 0


def test_the_calibration_plot_draws_the_observed_fraction_within_each_level(saved):
    """The reliability line: at nominal level p, the fraction of frames whose d^2 lies within
    the chi^2(3) quantile of p (position, with the ground-truth allowance, rotation); a
    calibrated sample lies on the diagonal, an overconfident one (sigma 3x too small) below."""
    from scipy.stats import chi2

    rng = np.random.default_rng(0)
    calibrated = rng.chisquare(3, 400)
    d2 = np.stack([calibrated, calibrated * 9.0, np.full(400, np.nan)], axis=1)
    d2[0, 0] = np.nan  # a singular block: left out of its line
    plots.plot_calibration("cal.png", d2)
    ax = saved[-1].axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"calibrated", "position (399 frames)",
                          "position, 1 cm ground-truth allowance (400 frames)"}
    p, y = lines["position (399 frames)"].get_data()
    assert np.max(np.abs(y - p)) < 0.08  # Kolmogorov-Smirnov-sized at 400 frames
    _, y9 = lines["position, 1 cm ground-truth allowance (400 frames)"].get_data()
    i = np.searchsorted(p, 0.95)
    assert y9[i] == pytest.approx(np.mean(d2[:, 1] <= chi2.ppf(p[i], 3)))
    assert y9[i] < 0.6


def test_coinciding_calibration_curves_all_stay_visible_and_are_said_so(saved):
    """The noise-free demo's three curves lay on one another along the top edge: only the last
    drawn showed, clipped in half, while the legend named three. Each is drawn narrower and
    dashed or dotted on the one before, unclipped, and the legend says which lie on another."""
    d2 = np.full((30, 3), 1e-4)
    plots.plot_calibration("cal.png", d2)
    lines = saved[-1].axes[0].get_lines()[1:]
    assert [ln.get_label() for ln in lines] == [
        "position (30 frames)",
        "position, 1 cm ground-truth allowance (30 frames; on the position curve)",
        "rotation (30 frames; on the position curve)"]
    assert len({ln.get_linestyle() for ln in lines}) == 3
    widths = [ln.get_linewidth() for ln in lines]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 3
    assert not any(ln.get_clip_on() for ln in lines)


def test_a_calibration_plot_without_frames_says_why(saved):
    plots.plot_calibration("cal.png", np.zeros((0, 3)))
    ax = saved[-1].axes[0]
    assert [t.get_text() for t in ax.texts][0] == (
        "no localized frame with ground truth and a covariance")
    assert [ln.get_label() for ln in ax.get_lines()] == ["calibrated"]


def test_the_error_axes_include_zero_so_errors_compare(saved):
    # errors.png of a run with failed frames scaled its y axis to the data: 0.25 cm drew at the
    # bottom edge, 1.2 cm at the top, and read as ~20x the smaller error instead of ~5x
    err = np.array([[0.0025, 0.1], [np.nan, np.nan], [0.011, 0.4], [0.012, 0.5]])
    fig = _errors_figure(saved, err, [True, False, True, True])
    for ax in fig.axes:
        y0, y1 = ax.get_ylim()
        assert y0 <= 0.0 < y1, ax.get_ylim()  # zero error is on the axis
        assert y0 >= -0.1 * y1, ax.get_ylim()  # not an axis half below zero
        (marks,) = [ln for ln in ax.lines if ln.get_marker() == "x"]
        assert marks.get_transform() is not ax.transData  # failures still at the edge, below 0


def test_map_check_panel_names_its_dashed_limits_and_keeps_the_legend_off_the_bars():
    # check-map --plot of the redkitchen map: the legend sat on the 85-92 % 'depth agreeing'
    # bars and the dashed limit lines were in no legend, so a user could not tell what they are
    from mast3r_ros.core.map_check.report import ConsistencyReport, KeyframeFigures

    kf = [KeyframeFigures(i, str(i), 0.008, 0.9, 15.0, [], True) for i in range(11)]
    report = ConsistencyReport("consistent", kf, [], "map consistent", thresholds={
        "max_depth_residual": 0.05, "min_depth_agree": 0.5, "max_reproj_px": 51.0})
    fig, ax = plot_save.new_figure((6.4, 4.8))
    plots.plot_consistency(ax, report)
    fig.canvas.draw()
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert sum("limit" in s for s in labels) == 3, labels
    box = legend.get_window_extent()
    bars = [p.get_window_extent() for p in ax.patches]
    assert bars and not any(box.overlaps(b) for b in bars), labels


def _neighbour_report(n, past=8, red=3, unmatched=5, behind=6):
    """``n`` keyframes within the limits, compared with their neighbours: ``past`` past every
    dashed limit yet agreeing with one neighbour (ok), ``red`` failing (agrees with none),
    ``unmatched`` with no match reprojection (NaN), ``behind`` with its matches behind a
    camera (inf)."""
    from mast3r_ros.core.map_check.report import (ConsistencyReport, KeyframeFigures,
                                                  PairFigures)

    kf = [KeyframeFigures(i, str(i), 0.01, 0.9, 10.0, [], i != red) for i in range(n)]
    kf[past].depth_residual, kf[past].depth_agree, kf[past].reproj_px = 0.2, 0.3, 80.0
    kf[unmatched].reproj_px, kf[behind].reproj_px = np.nan, np.inf
    pairs = [PairFigures(i, i + 1, ok=True) for i in range(n - 1)]
    return ConsistencyReport("inconsistent", kf, pairs, "", cause="unknown", thresholds={
        "max_depth_residual": 0.05, "min_depth_agree": 0.5, "max_reproj_px": 51.0})


def test_the_map_check_panel_tells_past_the_limits_but_agreeing_from_failing(saved):
    # check-map --plot: keyframe 8's bars were past every dashed line yet not red, and
    # nothing said red means 'agrees with no neighbour'; keyframes without a reprojection
    # marker (no matches) said nothing
    from matplotlib.colors import to_rgb

    ax = _check_panel(saved, _neighbour_report(11))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "fails: agrees with no neighbour" in labels, labels
    assert "past a limit, passes: a neighbour agrees" in labels, labels

    def keyframes(hatched):  # the keyframes under the red shading, hatched or not
        inv, out = ax.transData.inverted(), []
        for p in ax.patches:
            rgb = p.get_edgecolor() if p.get_hatch() else p.get_facecolor()
            if bool(p.get_hatch()) == hatched and np.allclose(rgb[:3], to_rgb("tab:red")):
                box = inv.transform(p.get_window_extent().get_points())
                out.append(round(float(box[:, 0].mean())))
        return sorted(out)

    # its matches behind a camera (inf) put keyframe 6 past the reprojection limit too
    assert keyframes(hatched=True) == [6, 8] and keyframes(hatched=False) == [3]
    words = {(round(t.get_position()[0]), t.get_text()) for t in ax.texts}
    assert words == {(5, "no matches"), (6, "behind a camera")}, words


def test_a_large_map_check_panel_hatches_and_names_keyframes_without_matches(saved):
    ax = _check_panel(saved, _neighbour_report(300, past=120, red=30, unmatched=200,
                                               behind=201))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for want in ("fails: agrees with no neighbour",
                 "past a limit, passes: a neighbour agrees",
                 "match reprojection: no matches (1 keyframe)",
                 "match reprojection: behind a camera (1 keyframe)"):
        assert want in labels, labels
    assert [c.get_hatch() for c in ax.collections if c.get_hatch()] == ["//"]
    assert not ax.texts  # marks named in the legend, not 300 words
