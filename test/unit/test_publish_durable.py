"""Every rename that moves an output folder (core/publish.py) is followed by an fsync of the
folder it was renamed in: until then the new name is only in memory, and a power cut (a robot
losing its battery) can bring back the state before the rename. Recorded here as the order of
the renames and of the fsyncs of folders (named through /proc)."""

from __future__ import annotations

import errno
import os

import pytest

from mast3r_ros.core import fileio, publish
from mast3r_ros.core.errors import InputError

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"),
                                reason="names the synced folder through /proc")


class _Recorder:
    """os.rename/os.replace and os.fsync recorded in order in ``events``: ("rename", src, dst)
    once a rename succeeded, ("fsync", path) for each fsync; a rename whose (src, dst) is in
    ``fail`` raises EIO instead."""

    def __init__(self, monkeypatch):
        self.events, self.fail = [], set()
        real_fsync = os.fsync
        monkeypatch.setattr(os, "rename", self._renaming(os.rename))
        monkeypatch.setattr(os, "replace", self._renaming(os.replace))

        def fsync(fd):
            self.events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    def _renaming(self, real):
        def rename(src, dst, *args, **kwargs):
            if (os.fspath(src), os.fspath(dst)) in self.fail:
                raise OSError(errno.EIO, "injected", os.fspath(src))
            real(src, dst, *args, **kwargs)
            self.events.append(("rename", os.fspath(src), os.fspath(dst)))
        return rename


def _synced_after(events, src, dst):
    """The folders fsynced after the rename of ``src`` to ``dst`` (which must have happened)."""
    i = events.index(("rename", str(src), str(dst)))
    return [e[1] for e in events[i + 1:] if e[0] == "fsync"]


def _output(folder, text):
    folder.mkdir()
    (folder / "a.txt").write_text(text)
    return folder


def test_a_failed_replace_puts_the_old_output_back_and_syncs_its_folder(tmp_path, monkeypatch):
    """replace_folder moves DST aside into DST.old-X, and when the new folder cannot be renamed
    to DST puts the old one back: that put-back must reach the disk, else a power cut after the
    error leaves DST missing (its folder hidden in DST.old-X until the next writer of DST)."""
    rec = _Recorder(monkeypatch)
    src, dst = _output(tmp_path / "new", "new"), _output(tmp_path / "out", "old")
    rec.fail.add((str(src), str(dst)))
    with pytest.raises(OSError, match="injected"):
        publish.replace_folder(str(src), str(dst))
    assert (dst / "a.txt").read_text() == "old" and (src / "a.txt").read_text() == "new"
    aside = [e for e in rec.events if e[0] == "rename" and e[1] == str(dst)]
    assert len(aside) == 1  # DST moved aside once, then put back:
    back = ("rename", aside[0][2], str(dst))
    assert back in rec.events
    assert os.path.realpath(tmp_path) in _synced_after(rec.events, back[1], back[2])
    assert sorted(os.listdir(tmp_path)) == ["new", "out"]  # no DST.old-X left beside it


def test_the_next_writer_putting_back_an_output_syncs_its_folder(tmp_path, monkeypatch):
    """A writer killed between replace_folder's two renames left OUT in OUT.old-X/folder; the
    next holder of OUT's lock puts it back (remove_stale_temporaries), and that rename must
    reach the disk before the writer goes on as if OUT had always been there."""
    aside = tmp_path / "run.old-abcd1234"
    aside.mkdir()
    _output(aside / "folder", "old")
    rec = _Recorder(monkeypatch)
    publish.remove_stale_temporaries(str(tmp_path / "run"))
    assert (tmp_path / "run" / "a.txt").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["run"]
    synced = _synced_after(rec.events, aside / "folder", tmp_path / "run")
    assert os.path.realpath(tmp_path) in synced


def _kept_renames(events):
    return [e for e in events if e[0] == "rename" and ".kept-" in os.path.basename(e[2])]


def test_keeping_an_output_as_out_kept_x_syncs_its_folder(tmp_path, monkeypatch):
    """OUT.kept-X holds a complete output that could not be published (the log names it for
    the user to move into place): its name must survive a power cut."""
    tmp = _output(tmp_path / "run.tmp-m3r-abcd1234", "done")
    rec = _Recorder(monkeypatch)
    kept = publish.keep_output(str(tmp))
    assert kept == str(tmp_path / "run.kept-abcd1234") and os.path.isdir(kept)
    assert os.path.realpath(tmp_path) in _synced_after(rec.events, tmp, kept)


@pytest.mark.parametrize("why", ["ctrl-c", "appeared"])
def test_an_output_atomic_folder_keeps_is_synced_in_its_folder(why, tmp_path, monkeypatch):
    """atomic_folder keeps the complete output as OUT.kept-X when Ctrl-C cuts its publishing
    short, or when OUT appeared meanwhile (without --overwrite): kept, and synced."""
    def interrupted(*args):
        raise KeyboardInterrupt

    if why == "ctrl-c":
        monkeypatch.setattr(fileio, "publish_folder", interrupted)
    out = tmp_path / "run"
    rec = _Recorder(monkeypatch)
    with pytest.raises(KeyboardInterrupt if why == "ctrl-c" else InputError):
        with fileio.atomic_folder(str(out)) as tmp:
            if why == "appeared":  # not empty: an empty one is published onto
                out.mkdir()
                (out / "notes.txt").write_text("")
            with open(os.path.join(tmp, "a.txt"), "w") as fh:
                fh.write("done")
    kept = _kept_renames(rec.events)
    assert len(kept) == 1 and (tmp_path / os.path.basename(kept[0][2]) / "a.txt").is_file()
    assert os.path.realpath(tmp_path) in _synced_after(rec.events, kept[0][1], kept[0][2])


@pytest.mark.parametrize("existing", [False, True])
def test_replace_folder_syncs_its_rename_before_it_returns(existing, tmp_path, monkeypatch):
    """The rename that publishes is synced by replace_folder itself, before the old output is
    deleted: its callers synced the folder after it returned, which a Ctrl-C during that
    deletion (seconds, for a large map) skipped, the new output published but in memory only."""
    src = _output(tmp_path / "new", "new")
    dst = _output(tmp_path / "out", "old") if existing else tmp_path / "out"
    real_rmtree = publish.shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if publish.OLD_INFIX in os.path.basename(path):
            raise KeyboardInterrupt
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(publish.shutil, "rmtree", rmtree)
    rec = _Recorder(monkeypatch)
    if existing:
        with pytest.raises(KeyboardInterrupt):
            publish.replace_folder(str(src), str(dst))
    else:
        publish.replace_folder(str(src), str(dst))
    assert (dst / "a.txt").read_text() == "new"
    assert os.path.realpath(tmp_path) in _synced_after(rec.events, src, dst)


def test_relative_paths_sync_the_current_folder(tmp_path, monkeypatch):
    """keep_output and replace_folder given relative paths sync the folder they renamed in,
    the current one: its name is '' to os.path.dirname, which fsync_dir passes over in
    silence (as it passes over a folder that cannot be opened)."""
    monkeypatch.chdir(tmp_path)
    _output(tmp_path / "run.tmp-m3r-abcd1234", "done")
    rec = _Recorder(monkeypatch)
    assert publish.keep_output("run.tmp-m3r-abcd1234") == "run.kept-abcd1234"
    here = os.path.realpath(tmp_path)
    assert here in _synced_after(rec.events, "run.tmp-m3r-abcd1234", "run.kept-abcd1234")
    for _ in range(2):  # out missing, then replaced
        _output(tmp_path / "new", "new")
        publish.replace_folder("new", "out")
        assert (tmp_path / "out" / "a.txt").read_text() == "new"
        assert here in _synced_after(rec.events, "new", "out")
        rec.events.clear()


def test_salvaged_lines_renamed_to_out_partial_are_synced(tmp_path, monkeypatch):
    """A killed writer's finished lines, renamed to OUT.partial for --resume, must still be
    there after a power cut: the folder is synced after that rename."""
    tmp = _output(tmp_path / "run.tmp-m3r-abcd1234", "x")
    (tmp / "results.jsonl").write_text('{"frame": 1}\n{"fra')
    rec = _Recorder(monkeypatch)
    assert publish.remove_stale_temporaries(str(tmp_path / "run"), salvage="results.jsonl")
    partial = tmp_path / "run.partial"
    assert (partial / "results.jsonl").read_text() == '{"frame": 1}\n'
    assert os.path.realpath(tmp_path) in _synced_after(rec.events, tmp, partial)


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), SystemExit(1)])
def test_an_output_stopped_while_published_is_kept(tmp_path, stop):
    """publish_failed keeps a complete output the user stopped (Ctrl-C, SIGTERM, sys.exit)
    as OUT.kept-X, and deletes it after any other error."""
    tmp = _output(tmp_path / "run.tmp-m3r-abcd1234", "done")
    publish.publish_failed(str(tmp), str(tmp_path / "run"), stop)
    assert (tmp_path / "run.kept-abcd1234" / "a.txt").read_text() == "done"
    tmp = _output(tmp_path / "run.tmp-m3r-efgh5678", "done")
    publish.publish_failed(str(tmp), str(tmp_path / "run"), OSError("disk full"))
    assert sorted(os.listdir(tmp_path)) == ["run.kept-abcd1234"]
