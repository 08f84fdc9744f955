"""A kill between the two renames of the --out probe or of `replace_folder` leaves OUT missing,
its folder in ``OUT.old-X/folder`` (or ``OUT.old-X-empty``). The next writer of OUT put it back
only once it took OUT's lock, after its checks: build-map read the whole source, then its map
writer refused the restored map in the API's words ("pass overwrite=True -- the CLI's
--overwrite"). The writers' checks put it back first, under the same lock."""

from __future__ import annotations

import os
import shutil

from mast3r_ros.replay.cli import main


def _left_aside(map_path, tmp_path):
    """``tmp_path/map`` as a kill between the renames leaves it: in ``map.old-X/folder``."""
    left = tmp_path / "map.old-abcd1234"
    left.mkdir()
    shutil.copytree(map_path, left / "folder")
    return str(tmp_path / "map")


def test_build_map_refuses_a_map_left_aside_before_any_work_in_cli_words(
        tum, sift_map, tmp_path, monkeypatch, capsys):
    out = _left_aside(sift_map, tmp_path)

    def work(*a, **k):
        raise AssertionError("the source was opened")

    monkeypatch.setattr("mast3r_ros.replay.cli._open", work)
    assert main(["build-map", tum[0], "--out", out, "--matcher", "sift", "--log-level",
                 "warning"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(
        f"error: output folder already exists: {out} (pass --overwrite to replace it, or "
        "choose another --out)"), err
    assert f"restored {out}" in err
    assert sorted(os.listdir(tmp_path)) == ["map"]


def test_a_reader_given_a_map_left_aside_says_where_it_is(sift_map, tmp_path, capsys):
    """check-map, localize --map, merge-maps: "map folder not found" for a map a kill had only
    moved aside. Now one line naming where it is and how it comes back; nothing is moved."""
    out = _left_aside(sift_map, tmp_path)
    left = tmp_path / "map.old-abcd1234"
    assert main(["check-map", out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.endswith(
        f"map folder not found: {out}; a command killed while replacing or probing it left "
        f"it in {left / 'folder'}: put it back with `mv {left / 'folder'} {out} && rmdir "
        f"{left}`, or run any command writing --out {out}, which does that"), err
    assert sorted(os.listdir(tmp_path)) == ["map.old-abcd1234"]
