"""Pins of `replay.plots_merged` (mutation audit docs/bench/mutation_cpu_2026-12-07zt): more
sources than colours are refused, not drawn with the last one silently left out."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from mast3r_ros.replay import plots_merged


def test_more_sources_than_colours_are_refused():
    n = len(plots_merged.SOURCE_COLOURS) + 1
    ax = mock.MagicMock()
    with pytest.raises(ValueError, match=f"{n} sources, colours for {n - 1}"):
        plots_merged.draw_by_source(ax, np.tile(np.eye(4), (n, 1, 1)), (0, 1), 0.1, [1] * n,
                                    [f"S{i}" for i in range(n)])
    assert not ax.method_calls  # refused before anything is drawn


def test_a_refused_plot_leaves_no_figure_open(tmp_path):
    # the figure is no pyplot figure (`plot_save.new_figure`): none is left in pyplot's list of
    # open figures, refused or written
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    with pytest.raises(ValueError, match="do not add up"):
        plots_merged.plot_merged_keyframes(str(tmp_path / "k.png"), np.tile(np.eye(4), (2, 1, 1)),
                                           [1, 2], ["a", "b"])
    plots_merged.plot_merged_keyframes(str(tmp_path / "k.png"), np.tile(np.eye(4), (3, 1, 1)),
                                       [1, 2], ["a", "b"])
    assert set(plt.get_fignums()) == before


def test_the_plot_s_title_and_plane(tmp_path, monkeypatch):
    """The title is the given one or the default; the view's plane is the two axes of the
    keyframes' widest spread, z included (here x and z: a map whose floor is its x-z plane)."""
    seen, dots = [], []
    monkeypatch.setattr(plots_merged, "_finish_top_down",
                        lambda fig, ax, axes, title, path: (
                            seen.append((axes, title)),
                            dots.append([line.get_xydata() for line in ax.get_lines()])))
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, 0, 3] = [0.0, 1.0, 2.0]
    poses[:, 1, 3] = [0.0, 0.1, 0.0]
    poses[:, 2, 3] = [0.0, 3.0, 1.0]
    for title in ("", "kitchen + hall"):
        plots_merged.plot_merged_keyframes(str(tmp_path / "k.png"), poses, [2, 1], ["a", "b"],
                                           title)
    assert seen == [((0, 2), "merged map (top-down)"), ((0, 2), "kitchen + hall")]
    # the dots at the keyframes' x and z, A's two then B's one
    np.testing.assert_allclose(np.concatenate(dots[0]), [[0.0, 0.0], [1.0, 3.0], [2.0, 1.0]])


def test_a_source_of_no_keyframes_is_a_recorded_source():
    rec = {"merged_from": [{"role": "A", "map": "m/a", "keyframes": 3},
                           {"role": "B", "map": "m/b", "keyframes": 0}]}
    assert plots_merged.recorded_sources(rec, 3) == ([3, 0], ["A: a", "B: b"])
