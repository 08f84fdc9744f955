"""``pair`` given a folder: it was told to use a shell glob (rgb/*.jpg), which expands to every
frame and ``pair`` takes two images -- the rerun got 'unrecognized arguments' with 48 file
names. ``pair`` now names two of the folder's own image files; ``retrieve`` (any number of
images) keeps the glob."""

from __future__ import annotations

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import read_image_file
from mast3r_ros.replay.cli import main


def _tum(tmp_path):
    rgb = tmp_path / "seq" / "rgb"
    rgb.mkdir(parents=True)
    for name in ("0.000000.jpg", "0.333333.jpg", "0.666667.jpg", "notes.txt"):
        (rgb / name).write_bytes(b"x")
    return rgb


def test_pair_given_a_folder_names_two_of_its_image_files(tmp_path, capsys):
    rgb = _tum(tmp_path)
    for given in (rgb, rgb.parent):  # the frames' folder, or the TUM folder itself
        assert main(["pair", str(given), str(rgb / "0.000000.jpg"),
                     "--out", str(tmp_path / "out")]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert f"{given} is a folder, not an image file: pair takes two image files, e.g. " \
               f"{rgb / '0.000000.jpg'} {rgb / '0.333333.jpg'}" in line, line
        assert "glob" not in line, line


def test_one_file_reads_keep_the_glob_only_where_the_folder_has_no_image(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"pair takes two image files: name them$"):
        read_image_file(empty, one_file=True)
    with pytest.raises(InputError, match=r"a shell glob such as .*rgb/\*\.jpg expands"):
        read_image_file(_tum(tmp_path).parent)  # retrieve's and a folder's reads
