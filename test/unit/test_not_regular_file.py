"""`errors.not_regular_file`: the one wording of a path that is there but no file (a FIFO, a
device), shared by the image, codebook and retrieval-checkpoint checks."""

import os
import sys

import pytest

from mast3r_ros.core.errors import not_regular_file


@pytest.mark.skipif(sys.platform == "win32", reason="os.mkfifo is POSIX")
def test_only_a_path_that_is_there_as_no_file_nor_folder_is_named(tmp_path):
    fifo, plain = tmp_path / "pipe", tmp_path / "f.pkl"
    os.mkfifo(fifo)
    plain.write_bytes(b"x")
    assert not_regular_file(str(fifo), "the X file") == (
        f"{fifo} is not a regular file (a device, pipe or socket): give the X file")
    for other in (plain, tmp_path, tmp_path / "missing"):  # the callers word these
        assert not_regular_file(str(other), "the X file") == ""
