"""Pins on `link_loops.link_loop`'s chain that test_link_loops.py left free: each failed on a
hand mutant of link_loops.py."""

from __future__ import annotations

import os

from mast3r_ros.core.link_loops import link_loop


def test_a_long_loop_shows_seven_links_then_an_ellipsis(tmp_path):
    """A loop of 10 links is written as its first seven (the start and `_MAX_SHOWN` = 6 links
    followed) and '...', not followed round to the end."""
    names = [f"l{i}" for i in range(10)]
    for i, name in enumerate(names):
        os.symlink(names[(i + 1) % 10], tmp_path / name)
    start = str(tmp_path / "l0")
    assert link_loop(start) == " -> ".join([start] + names[1:7] + ["..."])


def test_a_loop_in_a_folder_on_the_way_is_named_from_that_folder(tmp_path):
    """The chain starts at the first part of the path that is a loop of links (a folder on its
    way), and ends at the first link seen again."""
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    start = str(tmp_path / "a")
    assert link_loop(os.path.join(start, "map", "manifest.json")) == f"{start} -> b -> a"
    assert link_loop(str(tmp_path)) is None


def test_a_relative_loop_is_named_from_its_first_part(tmp_path, monkeypatch):
    """A path of one part relative to the working folder ('a') is its own first part: the
    chain starts there (searching from the second part found no link and said only 'a link on
    its way')."""
    monkeypatch.chdir(tmp_path)
    os.symlink("b", "a")
    os.symlink("a", "b")
    assert link_loop("a") == "a -> b -> a"


def test_a_loop_the_normalised_path_hides_is_still_told(tmp_path):
    """'a/..' with a a loop fails with ELOOP, but normalised it is the folder itself, no link:
    the loop is still told, as 'a link on its way', not taken for 'not found'."""
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    assert link_loop(os.path.join(str(tmp_path / "a"), "..")) == "a link on its way"
