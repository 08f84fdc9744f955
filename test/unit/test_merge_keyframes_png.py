"""merge-maps writes keyframes.png beside the merged map, as build-map does beside its map
(the same plot: `replay.plots.plot_keyframes`); it wrote none, so a merged map had no picture
of where its keyframes lie."""

from __future__ import annotations

import os

import cv2

from test_merge_adds_nothing import _frames

from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.replay import map_merge


def test_merge_maps_writes_the_keyframe_plot_of_the_merged_map(tmp_path, monkeypatch):
    a = write_map(str(tmp_path / "a"), _frames([0.0, 1.0, 2.0]))
    b = write_map(str(tmp_path / "b"), _frames([0.5, 1.5], first=10))
    plotted = []
    real = map_merge.plot_keyframes
    monkeypatch.setattr(map_merge, "plot_keyframes",
                        lambda path, poses, *a, **k: (plotted.append(poses), real(path, poses,
                                                                                  *a, **k)))
    out = str(tmp_path / "ab")
    assert map_merge.merge_maps(a, b, out, force=True) == 5
    png = cv2.imread(os.path.join(out, "keyframes.png"))
    assert png is not None and png.shape[2] == 3 and min(png.shape[:2]) > 100
    (poses,) = plotted
    merged = KeyframeMap.load(out)
    assert poses.shape == (5, 4, 4)
    assert sorted(poses[:, 0, 3]) == sorted(merged.poses()[:, 0, 3])
