"""A user's own ``OUT.old-<8 characters>`` folder (``mv map map.old-20261206``, a dated backup)
matched the pattern of the leftovers `replace_folder` / `check_can_replace` leave (mkdtemp's 8
characters) and was deleted by the next writer of OUT, with "the output OUT replaced, left when
its deletion was interrupted" (a fresh user's finding: the backup and a notes file in it gone).
A leftover of ours holds nothing but the moved ``folder`` (or nothing: the probe's empty
rename, a deletion cut short): anything else is the user's, and is left alone."""

from __future__ import annotations

import logging
import os

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


@pytest.mark.parametrize("inner", ["gone", None])
def test_our_cut_deletion_is_still_removed(tmp_path, caplog, inner):
    """The layouts a Ctrl-C during `replace_folder`'s deletion leaves (OUT present): the old
    output renamed to ``gone`` (its deletion begun), or nothing left in it: removed."""
    out = tmp_path / "map"
    out.mkdir()
    left = tmp_path / "map.old-abcd1234"
    left.mkdir()
    if inner:
        (left / inner / "keyframes").mkdir(parents=True)
    with caplog.at_level(logging.WARNING):
        publish.remove_stale_temporaries(str(out))
    assert not left.exists() and out.is_dir()
    assert "removed" in caplog.text


def test_a_complete_out_moved_aside_is_kept_when_out_was_made_again(tmp_path, caplog):
    """A kill between the two renames of the --out probe or an --overwrite left OUT whole in
    ``OUT.old-X/folder``; OUT was then made again (by the user, another tool), and the next
    writer deleted the hidden copy as "the output OUT replaced, left when its deletion was
    interrupted". A deletion renames ``folder`` to ``gone`` first, so ``folder`` is always a
    complete folder moved aside: kept, said once in one line with how to restore or delete it."""
    left = tmp_path / "run.old-abcd1234"
    (left / "folder").mkdir(parents=True)
    (left / "folder" / "f").write_text("hi\n")
    out = tmp_path / "run"
    out.mkdir()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert publish.remove_stale_temporaries(str(out)) == []
        publish.remove_stale_temporaries(str(out))  # a command's second check: not said again
    assert (left / "folder" / "f").read_text() == "hi\n"
    assert sorted(os.listdir(tmp_path)) == ["run", "run.old-abcd1234"]
    assert os.listdir(out) == []
    (line,) = [r.getMessage() for r in caplog.records]
    inner = left / "folder"
    assert line.startswith(f"kept {inner}: a complete earlier {out}"), line
    assert f"`mv {inner} {out} && rmdir {left}`" in line and f"`rm -r {left}`" in line, line


def test_of_two_moved_aside_outs_one_is_put_back_and_the_other_kept(tmp_path, caplog):
    out = tmp_path / "run"
    for name, text in (("run.old-aaaa1111", "first\n"), ("run.old-bbbb2222", "second\n")):
        (tmp_path / name / "folder").mkdir(parents=True)
        (tmp_path / name / "folder" / "f").write_text(text)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        publish.remove_stale_temporaries(str(out))
    assert sorted(os.listdir(tmp_path)) == ["run", "run.old-bbbb2222"]
    assert (out / "f").read_text() == "first\n"
    assert (tmp_path / "run.old-bbbb2222" / "folder" / "f").read_text() == "second\n"
    said = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[0] for m in said] == [
        f"restored {out}", f"kept {tmp_path / 'run.old-bbbb2222' / 'folder'}"], said


def test_an_empty_out_moved_aside_goes_once_out_was_made_again(tmp_path, caplog):
    """The probe renamed an empty --out to ``OUT.old-X-empty``, a kill, then OUT made again:
    the empty folder was left beside it forever. Removed (only while empty)."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run.old-abcd1234-empty").mkdir()
    (tmp_path / "run.old-abcd5678-empty" / "mine").mkdir(parents=True)  # not empty: not ours
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        publish.remove_stale_temporaries(str(tmp_path / "run"))
    assert sorted(os.listdir(tmp_path)) == ["run", "run.old-abcd5678-empty"]
    assert "run.old-abcd1234-empty" in caplog.text and "abcd5678" not in caplog.text


def test_a_kept_folder_under_another_name_with_the_same_inode_is_said_again(tmp_path, caplog):
    """Once per process was keyed by the folder's inode alone: an inode number is reused once
    its folder is deleted, so a later leftover given it was never said (a CI run missed the
    'kept' line of the test above after another test's folder had that inode). Renaming the
    folder keeps its inode and changes its path, the same situation made on purpose."""
    for name in ("run.old-aaaa1111", "run.old-cccc3333"):
        (tmp_path / name / "folder").mkdir(parents=True)
    (tmp_path / "run").mkdir()  # OUT exists: both are kept, none put back
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        publish.remove_stale_temporaries(str(tmp_path / "run"))
    os.rename(tmp_path / "run.old-aaaa1111", tmp_path / "run.old-bbbb2222")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        publish.remove_stale_temporaries(str(tmp_path / "run"))
    said = [r.getMessage().split(":")[0] for r in caplog.records]
    assert f"kept {tmp_path / 'run.old-bbbb2222' / 'folder'}" in said, said
    assert f"kept {tmp_path / 'run.old-cccc3333' / 'folder'}" not in said, said  # said before
