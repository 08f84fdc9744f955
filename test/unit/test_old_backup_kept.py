"""A user's own ``OUT.old-<8 characters>`` folder (``mv map map.old-20261206``, a dated backup)
matched the pattern of the leftovers `replace_folder` / `check_can_replace` leave (mkdtemp's 8
characters) and was deleted by the next writer of OUT, with "the output OUT replaced, left when
its deletion was interrupted" (a fresh user's finding: the backup and a notes file in it gone).
A leftover of ours holds nothing but the moved ``folder`` (or nothing: the probe's empty
rename, a deletion cut short): anything else is the user's, and is left alone."""

from __future__ import annotations

import logging

import pytest

from mast3r_ros.core import publish


def _backup(tmp_path, name="map.old-20261206"):
    bk = tmp_path / name
    (bk / "keyframes").mkdir(parents=True)
    (bk / "manifest.json").write_text("{}")
    (bk / "mynotes.txt").write_text("precious")
    return bk


@pytest.mark.parametrize("out_exists", [False, True])
def test_a_users_dated_backup_beside_out_is_left_alone(tmp_path, caplog, out_exists):
    bk = _backup(tmp_path)
    out = tmp_path / "map"
    if out_exists:
        (out / "keyframes").mkdir(parents=True)
    with caplog.at_level(logging.WARNING):
        publish.remove_stale_temporaries(str(out))
    assert (bk / "mynotes.txt").read_text() == "precious"
    assert (bk / "manifest.json").exists()
    assert out.exists() == out_exists  # not put back as OUT either
    assert "map.old-20261206" not in caplog.text


def test_a_backup_holding_a_folder_named_folder_and_more_is_left_alone(tmp_path):
    bk = _backup(tmp_path, "run.old-backup01")
    (bk / "folder").mkdir()
    publish.remove_stale_temporaries(str(tmp_path / "run"))
    assert (bk / "mynotes.txt").exists() and (bk / "folder").is_dir()
    assert not (tmp_path / "run").exists()


def test_our_cut_deletion_is_still_removed(tmp_path, caplog):
    """The layout a Ctrl-C during `replace_folder`'s deletion leaves (OUT present): removed."""
    out = tmp_path / "map"
    out.mkdir()
    left = tmp_path / "map.old-abcd1234"
    (left / "folder" / "keyframes").mkdir(parents=True)
    with caplog.at_level(logging.WARNING):
        publish.remove_stale_temporaries(str(out))
    assert not left.exists() and out.is_dir()
    assert "removed" in caplog.text
