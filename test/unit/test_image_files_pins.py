"""Pins on `read_image_file`'s 'it is a model file, not an image' (`files._not_an_image`) that
the CLI tests left free: each failed on a hand mutant of image_codec/files.py."""

from __future__ import annotations

import pickle
import zipfile

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec.files import read_image_file


def test_a_legacy_pickle_given_as_an_image_is_named(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(pickle.dumps({"model": [1, 2, 3]}, protocol=2))  # starts with 0x80
    with pytest.raises(InputError, match=r"cannot read image .*model\.pth: it is a Python "
                                         r"pickle, not an image: a model file given where an "
                                         r"image goes"):
        read_image_file(path)


def test_a_zip_without_data_pkl_is_no_checkpoint(tmp_path):
    """Only a zip holding torch.save's data.pkl is a PyTorch checkpoint; another zip is not an
    image OpenCV decodes, and said so."""
    path = tmp_path / "frames.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("rgb/1.png", b"not really")
    with pytest.raises(InputError) as err:
        read_image_file(path)
    assert "truncated or corrupt, or not an image format OpenCV decodes" in str(err.value)
    assert "checkpoint" not in str(err.value)


@pytest.mark.parametrize("head,kind", [(b"#ROSBAG V2.0\n", "a ROS 1 bag"),
                                       (b"\x89MCAP0\r\n", "an MCAP file"),
                                       (b"SQLite format 3\x00", "an SQLite database")])
def test_a_recording_given_as_an_image_is_named(tmp_path, head, kind):
    """`pair a.jpg map.bag` said 'truncated or corrupt, or not an image format OpenCV
    decodes', as if the bag were a damaged picture."""
    path = tmp_path / "rec.bag"
    path.write_bytes(head + b"\x00" * 64)
    with pytest.raises(InputError, match=f"it is {kind} .*a recording.*, not an image: "
                                         "build-map and localize read recordings"):
        read_image_file(path)
