"""Pins on the consistency panel's skipped-frame marks (`plots.skipped_indices`, the panel's
legend) that test_plots.py and test_build_map_unreadable.py left free: each failed on a hand
mutant of plots.py."""

from __future__ import annotations

import numpy as np
from robot_poses import camera_along_yaw
from test_plots import _report, saved  # noqa: F401  (saved: the fixture)

from mast3r_ros.replay import plots


def test_skipped_indices_interpolate_on_the_keyframes_in_time_order():
    # keyframes 0, 1, 2 stamped 20, 0, 10: a frame at 5 lies between keyframes 1 and 2
    np.testing.assert_allclose(plots.skipped_indices([20, 0, 10], [5, 15, -3, 30]),
                               [1.5, 1.0, 1.0, 0.0])  # 15: halfway 2 -> 0
    np.testing.assert_allclose(plots.skipped_indices([0, 10], [5], first=3), [3.5])
    assert plots.skipped_indices([], [5]).shape == (0,)  # no keyframes: nowhere to place
    assert plots.skipped_indices([0, 10], []).shape == (0,)


def _panel_labels(saved, skipped_at, unplaced):  # noqa: F811
    report = _report(4)
    kf = np.stack([camera_along_yaw(i, 0, 0.0) for i in range(4)])
    plots.plot_keyframes("unused.png", kf, consistency=report, skipped=np.zeros((0, 3)),
                         skipped_unplaced=unplaced, skipped_at=skipped_at)
    return [ln.get_label() for ln in saved[-1].axes[1].get_lines()]


def test_the_consistency_panel_marks_and_counts_skipped_frames(saved):  # noqa: F811
    labels = _panel_labels(saved, np.array([1.5]), 2)
    assert "1 unreadable frame, skipped (2 more not placed)" in labels, labels
    labels = _panel_labels(saved, np.zeros(0), 2)  # none placed: still in its legend
    assert "2 unreadable frames, skipped (not placed)" in labels, labels
