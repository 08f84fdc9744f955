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
