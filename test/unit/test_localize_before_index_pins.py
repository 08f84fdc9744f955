"""Pin on localize's checks before a rosbag2 is indexed (`check_before_indexing`) that
test_localize_map_first.py left free: failed on a hand mutant of localize_run.py."""

from __future__ import annotations

import pytest
from test_merge_pngs import _map

from mast3r_ros.core.errors import CheckpointError, InputError
from mast3r_ros.replay.localize_run import check_before_indexing


def test_an_empty_checkpoint_is_refused_before_indexing(tmp_path):
    """The matcher's checkpoint is checked with the map, before the bag's messages are read
    (an empty file was found only once the bag was indexed)."""
    good = _map(str(tmp_path / "map"), [0, 1])
    empty = tmp_path / "mast3r.pth"
    empty.write_bytes(b"")
    with pytest.raises((CheckpointError, InputError), match=r"mast3r\.pth"):
        check_before_indexing(good, checkpoint=str(empty))
    check_before_indexing(good)  # no checkpoint (sift): the map alone
