"""The second /tf pass of depth registration through /tf (`tf_extrinsic.bag_tf`: depth in
another frame than the images, joined only by /tf, without --pose-frames) reads every /tf
message of the bag before the first frame, --max-frames or not (every sample must give one
extrinsic): ~24 s an hour of 100 Hz /tf, more where /tf is interleaved with images. It showed
nothing meanwhile; it now shows its progress as the indexing pass does."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_bag_max_frames_index import FRAMES, _bag  # noqa: E402

from mast3r_ros.replay.rosbag import opening, tf_extrinsic  # noqa: E402


def test_the_whole_bag_tf_pass_shows_its_progress(tmp_path, monkeypatch):
    bars = []

    class Bar:
        def __init__(self, total, desc, unit, **_):
            self.total, self.desc, self.unit, self.done = total, desc, unit, 0
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            pass

    monkeypatch.setattr(opening, "progress_bar", Bar)
    bag = _bag(tmp_path / "bag")
    buffer = tf_extrinsic.bag_tf(Path(bag), ["/tf", "/tf_static"])
    assert {"map", "base_link", "camera_optical"} <= buffer.frames
    assert len(bars) == 1
    bar = bars[0]
    assert bar.total == bar.done == FRAMES + 1 and bar.unit == "message"
    assert "reading the tf of bag" in bar.desc and "extrinsic" in bar.desc
