"""Top-down plots: keyframe arrows stay inside the axes and scale with the map."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.replay import plots


def _pose(x: float, y: float, yaw: float) -> np.ndarray:
    """Camera at (x, y, 0) whose optical axis (+z of the optical frame) points along ``yaw`` in
    the map's x-y plane."""
    T = np.eye(4)
    z = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    x_axis = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    T[:3, 0], T[:3, 1], T[:3, 2] = x_axis, np.cross(z, x_axis), z
    T[:3, 3] = x, y, 0.0
    return T


@pytest.fixture
def saved(monkeypatch):
    figs = []

    def keep(fig, path):
        fig.canvas.draw()  # equal aspect and autoscale are applied at draw time
        figs.append(fig)

    monkeypatch.setattr(plots, "_save", keep)
    yield figs
    for fig in figs:
        plots._pyplot().close(fig)


@pytest.mark.parametrize("extent", [1.0, 100.0])
def test_outermost_keyframe_arrows_are_inside_the_axes(saved, extent):
    # four keyframes on the corners of the trajectory's box, each looking outwards
    corners = [(0, 0, np.pi), (extent, 0, 0.0), (extent, extent / 2, np.pi / 2),
               (0, extent / 2, -np.pi / 2)]
    kf = np.stack([_pose(*c) for c in corners])
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
    kf = np.stack([_pose(0, 0, 0.0), _pose(2, 1, np.pi / 2)])
    gt = kf[:, :3, 3].copy()
    est = gt.copy()
    est[1] = [1000.0, 0.0, 0.0]  # a failure the error plot shows; the map stays readable
    plots.plot_trajectory("unused.png", est, gt, keyframe_poses=kf)
    ax = saved[0].axes[0]
    (arrows,) = [c for c in ax.collections if hasattr(c, "U")]  # the quiver
    assert np.hypot(arrows.U, arrows.V).max() == pytest.approx(0.12)  # 6 % of the 2 m map
