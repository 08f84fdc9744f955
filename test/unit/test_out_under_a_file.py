"""An --out under a file (`--out notes.txt/run`) or under a link to a folder that is gone
(`--out latest/run`): the line said only "/abs/notes.txt is not a folder", which says what is
wrong but not why nor what to do (for the link, the user sees a folder name). It says which
it is now, and the way out."""

from __future__ import annotations

import os

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.fileio import check_can_create


def test_an_out_under_a_file_says_it_is_a_file_and_what_to_do(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError) as err:
        check_can_create(str(tmp_path / "notes.txt" / "run"), "--out")
    text = str(err.value)
    assert "is not a folder" in text and "a file" in text and "choose another" in text, text


def test_an_out_under_a_link_to_nothing_names_the_missing_target(tmp_path):
    os.symlink(tmp_path / "gone", tmp_path / "latest")
    with pytest.raises(InputError) as err:
        check_can_create(str(tmp_path / "latest" / "run"), "--out")
    text = str(err.value)
    assert "is not a folder" in text and str(tmp_path / "gone") in text, text
    assert "does not exist" in text, text


def test_an_out_that_is_a_link_to_a_file_says_it_is_a_file(tmp_path, monkeypatch):
    """`--out latest` where latest links to a file: the refusal of a link to nothing said
    "which is not a folder that exists (a drive not mounted ...?): make that folder first",
    which cannot be done where a file is. It says the link's target is a file now."""
    from mast3r_ros.replay.cli_options import settled_out

    (tmp_path / "notes.txt").write_text("x")
    os.symlink("notes.txt", tmp_path / "latest")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as err:
        settled_out("latest")
    text = str(err.value)
    assert "link to notes.txt, which is a file, not a folder" in text, text
    assert "make that folder" not in text and "rm latest" in text, text
    os.symlink("gone", tmp_path / "dangling")
    with pytest.raises(InputError, match="does not exist.*make that folder first"):
        settled_out("dangling/")
