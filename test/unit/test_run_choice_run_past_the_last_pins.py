"""Pin from mutation audit 06k on replay/rosbag/run_choice.py: `--run N` past the last run of a
bag whose header time jumps back is refused saying it jumps back, with the runs to choose from
(the refusal's `n > 1` -> `> 2`, #128, survived: no test refused a run on a bag of two runs,
and with it `--run 3` on such a bag said its header time 'never jumps back')."""

from __future__ import annotations

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_rosbag import MS, S, camera_info  # noqa: E402
from test_rosbag_values import bag_of, colour  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


def test_a_run_past_the_last_of_two_is_refused_as_jumping_back(tmp_path):
    """Images stamped 1.0, 1.1, 1.2 s, then again 1.05, 1.15, 1.25 s: two runs; --run 3."""
    msgs = [("/cam/camera_info", 0, camera_info(S))]
    msgs += [("/cam/image", (k + 1) * S, colour(t * MS))
             for k, t in enumerate([1000, 1100, 1200, 1050, 1150, 1250])]
    bag = bag_of(tmp_path, msgs)
    assert len(BagSequence(bag, run=2).stamps_ns) == 3
    with pytest.raises(InputError) as refused:
        BagSequence(bag, run=3)
    line = str(refused.value)
    assert "never" not in line, line
    assert line.endswith("has 2 runs (its images' header time jumps back): choose --run 1..2"), \
        line
