"""merge-maps writes keyframes.png beside the merged map, as build-map does beside its map; it
wrote none, so a merged map had no picture of where its keyframes lie. Then it drew both source
maps in one colour, so the picture could not tell which keyframes came from which map: each
source is drawn in its own colour, named in the legend (`replay.plots_merged`)."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from test_merge_adds_nothing import _frames

from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.replay import map_merge, plots_merged


def test_merge_maps_draws_each_source_map_in_its_colour_named_in_the_legend(tmp_path,
                                                                            monkeypatch):
    a = write_map(str(tmp_path / "a"), _frames([0.0, 1.0, 2.0]))
    b = write_map(str(tmp_path / "b"), _frames([0.5, 1.5], first=10))
    drawn = []
    real = plots_merged._finish_top_down
    monkeypatch.setattr(plots_merged, "_finish_top_down",
                        lambda fig, ax, *r: (drawn.append(ax), real(fig, ax, *r)))
    out = str(tmp_path / "ab")
    assert map_merge.merge_maps(a, b, out, force=True) == 5
    png = cv2.imread(os.path.join(out, "keyframes.png"))
    assert png is not None and png.shape[2] == 3 and min(png.shape[:2]) > 100
    (ax,) = drawn
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [t.split(":")[0] + ":" + t.split(":")[1] for t in legend] == [
        "A: a (3 keyframes)", "B: b (2 keyframes)"], legend  # (then: they look down, here)
    dots = {to_rgba(line.get_color()): line.get_xydata() for line in ax.get_lines()}
    assert len(dots) == 2, dots  # one colour per source, not one for all
    merged = KeyframeMap.load(out)
    xs = sorted(merged.poses()[:, 0, 3])
    got = sorted(x for pts in dots.values() for x in pts[:, 0])
    np.testing.assert_allclose(got, xs)
    a_xs = dots[to_rgba(plots_merged.SOURCE_COLOURS[0])][:, 0]
    np.testing.assert_allclose(sorted(a_xs), sorted(KeyframeMap.load(a).poses()[:, 0, 3]))
    # the arrows too: each source's in its colour, at its keyframes (not one colour for all)
    from matplotlib.quiver import Quiver

    arrows = {}  # colour (alpha aside: a camera looking down gets a paler arrow) -> x
    for q in (c for c in ax.collections if isinstance(c, Quiver)):
        arrows.setdefault(tuple(q.get_facecolor()[0][:3]), []).extend(q.get_offsets()[:, 0])
    rgb = [to_rgba(c)[:3] for c in plots_merged.SOURCE_COLOURS]
    assert set(arrows) == set(rgb), arrows
    np.testing.assert_allclose(sorted(arrows[rgb[0]]), [0.0, 1.0, 2.0])
    np.testing.assert_allclose(sorted(arrows[rgb[1]]), [0.5, 1.5])


def test_sources_of_one_base_name_are_named_by_their_paths():
    assert plots_merged.source_labels("AB", ["x/map", "y/map/"]) == ["A: x/map", "B: y/map/"]
    assert plots_merged.source_labels("AB", ["maps/kitchen", "maps/hall"]) == [
        "A: kitchen", "B: hall"]


def test_counts_that_do_not_add_up_are_refused(tmp_path):
    with pytest.raises(ValueError, match="do not add up"):
        plots_merged.plot_merged_keyframes(str(tmp_path / "k.png"), np.eye(4)[None], [1, 1],
                                           ["a", "b"])


def test_check_map_plot_of_a_merged_map_colours_by_source_too(tmp_path, monkeypatch):
    """check-map MERGED --plot drew every keyframe green, under one '5 keyframes' entry, though
    merge-maps' own keyframes.png of the same map tells A's from B's: the check reads the
    map's ``merged_from`` and draws them as merge-maps does (`plots_merged.draw_by_source`)."""
    from mast3r_ros.replay import plots
    from mast3r_ros.replay.cli import main

    a = write_map(str(tmp_path / "a"), _frames([0.0, 1.0, 2.0]))
    b = write_map(str(tmp_path / "b"), _frames([0.5, 1.5], first=10))
    out = str(tmp_path / "ab")
    assert map_merge.merge_maps(a, b, out, force=True) == 5
    drawn = []
    real = plots._finish_top_down
    monkeypatch.setattr(plots, "_finish_top_down",
                        lambda fig, ax, *r: (drawn.append(ax), real(fig, ax, *r)))
    png = str(tmp_path / "ab_check.png")
    assert main(["check-map", out, "--plot", png]) == 0
    assert cv2.imread(png) is not None
    (ax,) = drawn
    legend = [t.get_text().split(":")[0] + ":" + t.get_text().split(":")[1]
              for t in ax.get_legend().get_texts()]
    assert legend == ["A: a (3 keyframes)", "B: b (2 keyframes)"], legend
    dots = {to_rgba(line.get_color()): sorted(line.get_xydata()[:, 0])
            for line in ax.get_lines()}
    assert set(dots) == {to_rgba(c) for c in plots_merged.SOURCE_COLOURS}, dots
    np.testing.assert_allclose(dots[to_rgba(plots_merged.SOURCE_COLOURS[0])], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(dots[to_rgba(plots_merged.SOURCE_COLOURS[1])], [0.5, 1.5])


def test_a_record_that_does_not_say_which_keyframes_came_from_which_source_is_not_used():
    rec = {"merged_from": [{"role": "A", "map": "/m/a", "keyframes": 3},
                           {"role": "B", "map": "/m/b", "keyframes": 2}]}
    assert plots_merged.recorded_sources(rec, 5) == ([3, 2], ["A: a", "B: b"])
    assert plots_merged.recorded_sources(rec, 4) is None  # counts off: one colour, not wrong
    assert plots_merged.recorded_sources({}, 5) is None  # no merge
    assert plots_merged.recorded_sources(
        {"merged_from": [{"role": "A", "map": "/m/a"}, {"role": "B", "keyframes": 2}]}, 5) is None
