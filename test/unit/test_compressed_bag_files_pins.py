"""Pins on the compressed-bag hints of `sources` (test_compressed_bag_files.py) that no test
held: the ', ...' after the first three names, and a folder holding plain storage beside the
compressed files. Empty files stand in: the hints go by the names only."""

from __future__ import annotations

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.sources import open_source


def _refusal(path) -> str:
    with pytest.raises(InputError) as err:
        open_source(str(path))
    return str(err.value)


@pytest.mark.parametrize("count, listed", [
    (3, "bag_0.mcap.zstd, bag_1.mcap.zstd, bag_2.mcap.zstd)"),
    (4, "bag_0.mcap.zstd, bag_1.mcap.zstd, bag_2.mcap.zstd, ...)"),
])
def test_three_compressed_files_are_all_named_without_an_ellipsis(tmp_path, count, listed):
    """', ...' says there are more than the three named: three files were followed by it."""
    for i in range(count):
        (tmp_path / f"bag_{i}.mcap.zstd").write_bytes(b"")
    said = _refusal(tmp_path)
    assert said.startswith(f"{tmp_path} holds compressed rosbag2 storage ({listed} but no "
                           "metadata.yaml"), said


def test_plain_storage_beside_compressed_files_gets_the_reindex_hint(tmp_path):
    """'ros2 bag reindex' reads the plain storage file: the folder's hint is the one of plain
    storage, not 'decompress the files'."""
    (tmp_path / "bag_0.mcap").write_bytes(b"")
    (tmp_path / "bag_1.mcap.zstd").write_bytes(b"")
    said = _refusal(tmp_path)
    assert said.startswith(f"{tmp_path} holds rosbag2 storage (bag_0.mcap) but no "
                           "metadata.yaml"), said
    assert "decompress" not in said


def test_an_unclosed_ros1_recording_is_told_whatever_the_case_of_its_suffix(tmp_path):
    """Suffixes are compared case-blind, as the storage ones are (a copy off a FAT stick:
    'OFFICE.BAG.ACTIVE')."""
    active = tmp_path / "OFFICE.BAG.ACTIVE"
    active.write_bytes(b"#ROSBAG V2.0\n")
    assert _refusal(active).startswith(f"{active} is a ROS 1 recording that was never closed")
