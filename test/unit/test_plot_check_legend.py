"""check-map --plot of an inconsistent map (the d405 case: failing and hatched keyframes, so
eight legend entries in two columns): the legend was wider than its panel and ran over the
right-hand axis and its tick labels ('80' under 'match reprojection limit')."""

import numpy as np

from mast3r_ros.replay import plots


def test_a_full_map_check_legend_stays_inside_its_panel(monkeypatch):
    from mast3r_ros.core.map_check.report import (ConsistencyReport, KeyframeFigures,
                                                  PairFigures)

    figs = []

    def keep(fig, path):
        fig.draw_without_rendering()  # the layout, no pixels
        figs.append(fig)

    monkeypatch.setattr(plots, "_save", keep)
    n = 18
    kf = [KeyframeFigures(i, str(i), 0.08, 0.05, 50.0, [], i % 3 == 0) for i in range(n)]
    report = ConsistencyReport(
        "inconsistent", kf, [PairFigures(i, i + 1, ok=i % 3 == 0) for i in range(n - 1)], "",
        cause="depth_scale", thresholds={"max_depth_residual": 0.05, "min_depth_agree": 0.5,
                                         "max_reproj_px": 26.0})
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, 0, 3] = np.cos(np.arange(n))
    poses[:, 1, 3] = np.sin(np.arange(n))
    plots.plot_keyframes("unused.png", poses, consistency=report,
                         skipped_at=np.array([2.5]))
    ax = figs[-1].axes[1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "past a limit, passes: a neighbour agrees" in labels, labels
    box, panel = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert panel.x0 <= box.x0 and box.x1 <= panel.x1, (box, panel)
    assert box.y1 <= panel.y1, (box, panel)
