"""`StereoSequence`: the one constructor the EuRoC/ASL and KITTI readers share."""

import inspect

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.euroc import EurocSequence
from mast3r_ros.replay.kitti import KittiSequence


def test_both_readers_open_with_the_same_keywords_and_defaults():
    """`open_source` passes the same keywords to both: a default changed in one is a bug."""
    assert inspect.signature(EurocSequence) == inspect.signature(KittiSequence)
    assert inspect.signature(EurocSequence).parameters["sync_tolerance_s"].default == 0.02


@pytest.mark.parametrize("reader", [EurocSequence, KittiSequence])
def test_a_bad_tolerance_is_named_before_the_folder_is_read(reader, tmp_path):
    with pytest.raises(InputError, match="sync_tolerance_s"):
        reader(tmp_path / "missing", sync_tolerance_s=-1.0)
