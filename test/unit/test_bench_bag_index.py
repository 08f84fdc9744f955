"""bench/bench_bag_index.py times the indexing pass with the image headers read from their
bytes (now) and every image deserialized (before): the two ways it compares are what it
says (the first deserializes each image and depth message, the second the first depth alone)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_bag_index  # noqa: E402
import bench_long_bag  # noqa: E402


def test_before_deserializes_every_image_and_now_none(tmp_path):
    bag = tmp_path / "bag"
    counts = bench_long_bag.write_bag(bag, 0.01, 32, 24, cloud_points=4)
    images = counts[bench_long_bag.IMAGE] + counts[bench_long_bag.DEPTH]
    assert images > 10
    assert bench_bag_index.index_once(bag, full=True)[2] == images + 1  # +1: the depth probe
    assert bench_bag_index.index_once(bag, full=False)[2] == 2  # the probe, the first depth


def test_the_max_frames_bench_compares_a_whole_pass_with_a_cut_one(tmp_path):
    """bench/bench_max_frames_index.py's 'before' indexes the whole bag, its 'now' a part,
    and both read the same frames."""
    import bench_max_frames_index as bench

    bag = tmp_path / "bag"
    counts = bench_long_bag.write_bag(bag, 0.1, 16, 12, cloud_points=4)
    images = counts[bench_long_bag.IMAGE]
    _, _, whole, of_whole, frames_before = bench.open_cut(bag, 5, before=True)
    _, _, part, of_part, frames_now = bench.open_cut(bag, 5, before=False)
    assert whole == of_whole == of_part == images and part < images
    assert len(frames_now) == 5 and bench._same_frames(frames_before, frames_now)
