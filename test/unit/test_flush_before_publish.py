"""Every folder published by a rename has its data on the disk first (`durable.flush_filesystem`,
as `MapWriter` does for maps): a rename can reach the disk before the data of the files it
publishes (ext4's delayed allocation), so a power cut just after it left a complete-looking run
or export folder with files of zero length. A writeback error (syncfs fails: EIO, ENOSPC)
publishes nothing and names the output."""

from __future__ import annotations

import ctypes
import errno
import json
import os

import pytest

from mast3r_ros.core import durable
from mast3r_ros.core import fileio
from mast3r_ros.replay.cli import main

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"),
                                reason="names the flushed folder through /proc")


def _record_syncfs(monkeypatch, calls):
    """syncfs replaced by a recorder of the folder it is given and the files in it."""
    def syncfs(fd):
        folder = os.readlink(f"/proc/self/fd/{fd}")
        calls.append(("syncfs", folder, sorted(os.listdir(folder))))
        return 0

    monkeypatch.setattr(durable, "_libc_syncfs", lambda: syncfs)


def _failing_syncfs(monkeypatch):
    def syncfs(fd):
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durable, "_libc_syncfs", lambda: syncfs)


def _localize(query, sift_map, run, *extra):
    return main(["localize", str(query), "--map", sift_map, "--out", str(run), "--matcher",
                 "sift", "--max-frames", "2", "--log-level", "warning", *extra])


def _contents(folder):
    return {n: (folder / n).read_bytes() for n in sorted(os.listdir(folder))}


def test_a_run_folder_is_flushed_before_it_is_published(tum, sift_map, tmp_path, monkeypatch):
    calls = []
    _record_syncfs(monkeypatch, calls)
    real = fileio.publish_folder
    monkeypatch.setattr(fileio, "publish_folder", lambda src, dst, overwrite: (
        calls.append(("publish", src)), real(src, dst, overwrite))[1])
    run = tmp_path / "run"
    assert _localize(tum[1], sift_map, run) == 0
    publish = [c for c in calls if c[0] == "publish"]
    assert len(publish) == 1
    tmp = publish[0][1]
    i = calls.index(publish[0])
    flushed = [c for c in calls[:i] if c[0] == "syncfs" and c[1] == os.path.realpath(tmp)]
    assert flushed and flushed[-1][2] == sorted(os.listdir(run))  # with every file in it
    assert "results.jsonl" in flushed[-1][2] and "metrics.json" in flushed[-1][2]


def test_a_writeback_error_publishes_no_run_and_names_the_folder(tum, sift_map, tmp_path,
                                                                 monkeypatch, capsys):
    run = tmp_path / "run"
    assert _localize(tum[1], sift_map, run) == 0
    before = _contents(run)
    _failing_syncfs(monkeypatch)
    capsys.readouterr()
    assert _localize(tum[1], sift_map, run, "--overwrite", "--max-frames", "1") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(run) in err[0] and "Input/output error" in err[0], err
    # a failing drive, not a path: the line says so and does not send the user to the paths
    assert "could not write the data" in err[0] and "check the drive" in err[0], err
    assert "check the paths" not in err[0], err
    assert _contents(run) == before  # the earlier run, as it was
    assert sorted(os.listdir(tmp_path)) == ["run"]  # no temporary, no lock left beside it


def test_atomic_folder_flushes_the_temporary_then_syncs_the_parent(tmp_path, monkeypatch):
    calls = []
    _record_syncfs(monkeypatch, calls)
    real_publish, real_fsync_dir = fileio.publish_folder, fileio.fsync_dir
    monkeypatch.setattr(fileio, "publish_folder", lambda src, dst, overwrite: (
        calls.append(("publish", src)), real_publish(src, dst, overwrite))[1])
    monkeypatch.setattr(fileio, "fsync_dir",
                        lambda p: (calls.append(("fsync_dir", p)), real_fsync_dir(p)))
    out = str(tmp_path / "out")
    with fileio.atomic_folder(out) as tmp:
        with open(os.path.join(tmp, "a.txt"), "w") as fh:
            fh.write("a")
    assert calls == [("syncfs", os.path.realpath(tmp), ["a.txt"]), ("publish", tmp),
                     ("fsync_dir", str(tmp_path))]


def test_atomic_folder_publishes_nothing_on_a_writeback_error(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old")
    _failing_syncfs(monkeypatch)
    with pytest.raises(OSError, match="Input/output error") as info:
        with fileio.atomic_folder(str(out), overwrite=True, markers=("a.txt",)) as tmp:
            with open(os.path.join(tmp, "a.txt"), "w") as fh:
                fh.write("new")
    assert info.value.errno == errno.EIO and info.value.filename == str(out)
    assert str(out) in str(info.value)
    assert (out / "a.txt").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def _stub_export(monkeypatch):
    """The ONNX writer replaced by a stub (this is about the folder, not the graphs)."""
    from mast3r_ros.core.model import export as export_mod

    monkeypatch.setattr(export_mod, "_onnx_export",
                        lambda module, args, path, *a, **k: open(path, "wb").close())
    monkeypatch.setattr(export_mod, "resolve_exporter", lambda name: ("torchscript", 17))
    return export_mod


def _export(out):
    from mast3r_test_utils import TINY_SPEC, random_model

    from mast3r_ros.core.model.export import export_onnx

    return export_onnx(random_model(TINY_SPEC, seed=0), str(out), size=224, net_shape=(32, 48))


def test_an_export_folder_is_flushed_before_it_is_published(tmp_path, monkeypatch):
    export_mod = _stub_export(monkeypatch)
    calls = []
    _record_syncfs(monkeypatch, calls)
    real = export_mod.replace_folder
    monkeypatch.setattr(export_mod, "replace_folder",
                        lambda src, dst: (calls.append(("publish", src)), real(src, dst)))
    _export(tmp_path / "e")
    stage = calls[-1][1]
    assert calls == [("syncfs", os.path.realpath(stage),
                      ["decoder.onnx", "encoder.onnx", "manifest.json"]), ("publish", stage)]


def test_a_writeback_error_publishes_no_export_and_names_the_folder(tmp_path, monkeypatch):
    _stub_export(monkeypatch)
    out = tmp_path / "e"
    out.mkdir()
    old = {"manifest.json": b'{"format": "mast3r_ros-onnx"}', "encoder.onnx": b"old",
           "decoder.onnx": b"old"}
    for name, data in old.items():
        (out / name).write_bytes(data)
    _failing_syncfs(monkeypatch)
    with pytest.raises(OSError, match="Input/output error") as info:
        _export(out)
    assert info.value.errno == errno.EIO and str(out) in str(info.value)
    assert _contents(out) == old
    assert sorted(os.listdir(tmp_path)) == ["e"]  # no staging folder left


def test_a_stopped_runs_results_are_flushed_before_run_partial_names_them(tmp_path,
                                                                          monkeypatch):
    """A run stopped early (an error, Ctrl-C) keeps its results as RUN.partial, published by a
    rename too: results.jsonl (appended, never fsynced) on disk first."""
    from mast3r_ros.replay import localize_run

    calls = []
    _record_syncfs(monkeypatch, calls)
    real = os.replace
    monkeypatch.setattr(localize_run.os, "replace",
                        lambda src, dst: (calls.append(("publish", src, dst)), real(src, dst)))
    tmp = tmp_path / ".run-tmp"
    tmp.mkdir()
    (tmp / "results.jsonl").write_text('{"frame": 0}\n')
    localize_run._keep_partial(str(tmp), str(tmp_path / "run"))
    partial = str(tmp_path / "run.partial")
    assert calls == [("syncfs", os.path.realpath(tmp), ["results.jsonl"]),
                     ("publish", str(tmp), partial)]


def test_a_writeback_error_keeps_the_older_run_partial_and_says_so(tmp_path, monkeypatch,
                                                                   caplog):
    from mast3r_ros.replay import localize_run

    older = tmp_path / "run.partial"
    older.mkdir()
    (older / "results.jsonl").write_text('{"frame": "older"}\n')
    tmp = tmp_path / ".run-tmp"
    tmp.mkdir()
    # a resumed run's temporary: the partial's line, then one more
    (tmp / "results.jsonl").write_text('{"frame": "older"}\n{"frame": 0}\n')
    _failing_syncfs(monkeypatch)
    with caplog.at_level("ERROR"):
        localize_run._keep_partial(str(tmp), str(tmp_path / "run"))
    assert (older / "results.jsonl").read_text() == '{"frame": "older"}\n'
    (msg,) = [r.getMessage() for r in caplog.records]
    assert str(older) in msg and "Input/output error" in msg, msg


def _killed_run(tmp_path):
    """The temporary a localize run killed outright left beside ``tmp_path/run``."""
    d = tmp_path / "run.tmp-m3r-aaaaaaaa"
    d.mkdir()
    (d / "results.jsonl").write_text('{"i": 0}\n{"i": 1, "cut')
    return d


def test_a_killed_runs_lines_are_flushed_before_run_partial_names_them(tmp_path, monkeypatch):
    """The next writer of RUN keeps a killed run's finished lines as RUN.partial (its cut line
    dropped, which changes the file): flushed before that rename too."""
    calls = []
    _record_syncfs(monkeypatch, calls)
    real = os.rename
    monkeypatch.setattr(fileio.os, "rename",
                        lambda src, dst: (calls.append(("publish", src, dst)), real(src, dst)))
    stale = _killed_run(tmp_path)
    fileio.remove_stale_temporaries(str(tmp_path / "run"), "results.jsonl")
    assert calls == [("syncfs", os.path.realpath(stale), ["results.jsonl"]),
                     ("publish", str(stale), str(tmp_path / "run.partial"))]
    assert (tmp_path / "run.partial" / "results.jsonl").read_text() == '{"i": 0}\n'


def test_a_writeback_error_keeps_a_killed_runs_lines_out_of_run_partial(tmp_path, monkeypatch):
    _killed_run(tmp_path)
    _failing_syncfs(monkeypatch)
    fileio.remove_stale_temporaries(str(tmp_path / "run"), "results.jsonl")
    assert sorted(os.listdir(tmp_path)) == ["run.kept-aaaaaaaa"]  # kept, not published


@pytest.mark.parametrize("step", ["flush", "rename"])
def test_ctrl_c_while_a_complete_output_is_published_keeps_it(step, tmp_path, monkeypatch,
                                                               caplog):
    """Ctrl-C (or SIGTERM's exception) after the block ended, during the flush or the rename,
    deleted the complete output with the temporary: a whole run lost to a keypress in its last
    milliseconds (or seconds, a flush of much unwritten data). It is kept, named in the log."""
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(fileio, "flush_before_publish" if step == "flush" else "publish_folder",
                        interrupted)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        with fileio.atomic_folder(str(out)) as tmp:
            with open(os.path.join(tmp, "results.jsonl"), "w") as fh:
                fh.write("{}\n")
    assert not out.exists()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.kept-")]
    assert len(kept) == 1 and (kept[0] / "results.jsonl").read_text() == "{}\n"
    assert f"the complete output is kept in {kept[0]}" in caplog.text
    # an error of the block itself, or of the publish, still removes the temporary
    monkeypatch.setattr(fileio, "flush_before_publish", lambda *a: None)
    with pytest.raises(KeyboardInterrupt):
        with fileio.atomic_folder(str(tmp_path / "run2")):
            raise KeyboardInterrupt
    monkeypatch.setattr(fileio, "publish_folder",
                        lambda *a: (_ for _ in ()).throw(OSError(errno.EIO, "eio")))
    with pytest.raises(OSError):
        with fileio.atomic_folder(str(tmp_path / "run3")):
            pass
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        kept[0].name]


def test_a_writeback_error_of_build_map_names_its_out_and_what_became_of_the_build(
        tum, tmp_path, monkeypatch, capsys):
    """The flush before a map is published failed: the line named the build folder
    (``M.partial``, deleted by then), not the --out given, nor whether the build was kept."""
    _failing_syncfs(monkeypatch)
    out = tmp_path / "M"
    assert main(["build-map", tum[0], "--out", str(out), "--matcher", "sift",
                 "--log-level", "warning"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "Input/output error" in err[0], err
    assert ".partial" not in err[0] and "build folder was deleted" in err[0], err
    assert err[0].count("nothing was published") == 1, err
    assert sorted(os.listdir(tmp_path)) == []  # nothing published, no build folder kept


def test_a_cached_encoding_store_is_synced_into_its_folders_before_the_manifest_lists_it(
        tmp_path, monkeypatch):
    """MapEncodings._save_store made a store folder in MAP/encodings/ and renamed its chunks in,
    then wrote the manifest listing them, without syncing those folders' entries (every other
    writer syncs the folder after its rename): a power cut could leave a durable manifest naming
    a store whose folder entry never reached the disk."""
    from test_keyframes import _encodings, _keyframes

    from mast3r_ros.core import keyframes as kfm

    path = kfm.write_map(str(tmp_path / "map"), _keyframes())
    m = kfm.KeyframeMap.load(path)
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda src, dst: (
        events.append(("replace", os.fspath(dst))), real_replace(src, dst)))
    m.save_encodings(_encodings("ckptA"))
    monkeypatch.undo()
    with open(os.path.join(path, "manifest.json"), encoding="utf-8") as fh:
        (entry,) = json.load(fh)["encodings"]
    store = os.path.realpath(os.path.join(path, entry["store"]))
    listed = events.index(("replace", os.path.join(path, "manifest.json")))
    synced = [p for kind, p in events[:listed] if kind == "fsync"]
    chunk = max(i for i, (kind, p) in enumerate(events[:listed])
                if kind == "replace" and os.path.dirname(p) == store)
    assert store in [p for kind, p in events[chunk:listed] if kind == "fsync"], events
    assert os.path.dirname(store) in synced, events  # the store's own entry in encodings/



def test_encoding_chunks_are_flushed_together_not_fsynced_one_by_one(tmp_path, monkeypatch):
    """Each encoding chunk (4 keyframes) was fsynced as it was written: a device cache flush
    apiece (3.5 ms on a loaded machine here, 9 s at 10^4 keyframes) when merge-maps, a map
    build and a localizer caching encodings flush the folder's files together anyway. Now no
    chunk is fsynced; the folder holding them is flushed (syncfs) before it is listed."""
    from test_keyframes import _encodings, _keyframes

    from mast3r_ros.core import keyframes as kfm

    events = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd)))
    _record_syncfs(monkeypatch, events)
    w = kfm.MapWriter(str(tmp_path / "built"))
    for kf in _keyframes(6):
        w.add_keyframe(*kf)
    w.add_encodings(_encodings("ckptA", n=6), chunk_size=1)
    w.commit()
    path = kfm.write_map(str(tmp_path / "map"), _keyframes(6))
    kfm.KeyframeMap.load(path).save_encodings(_encodings("ckptA", n=6))
    monkeypatch.undo()
    fsynced = [p for kind, p, *_ in events if kind == "fsync" and p.endswith(".npy")]
    assert fsynced == [], fsynced
    synced = [folder for kind, folder, *_ in events if kind == "syncfs"]
    assert any(os.path.basename(f).startswith("built.tmp") for f in synced), synced
    (entry,) = kfm.KeyframeMap.load(path).manifest["encodings"]  # its chunks flushed together
    assert os.path.realpath(os.path.join(path, entry["store"])) in synced, synced


def _demo_data(tmp_path):
    from mast3r_ros.replay.demo import demo_data

    return demo_data(str(tmp_path / "D" / "data"), 4, 64, 48, 0)


def test_the_demo_scene_is_synced_into_its_folder_after_its_rename(tmp_path, monkeypatch):
    """The demo renamed its finished scene (DIR/data.rendering -> DIR/data) without syncing
    DIR, as every other publishing rename does (a power cut could lose the rename)."""
    from mast3r_ros.replay import demo

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd)))
    monkeypatch.setattr(demo.os, "replace", lambda src, dst: (
        events.append(("replace", os.fspath(dst))), real_replace(src, dst)))
    _demo_data(tmp_path)
    data = str(tmp_path / "D" / "data")
    published = events.index(("replace", data))
    assert ("fsync", str(tmp_path / "D")) in events[published:], events


def test_the_demo_scene_is_flushed_before_it_is_published(tmp_path, monkeypatch):
    """The rendered scene's PNGs were never flushed before the rename that publishes it with its
    done.json: a power cut after it could leave a scene of zero-length images that every later
    demo (--overwrite too) reuses. A writeback error publishes no scene and names DIR/data."""
    from mast3r_ros.replay import demo

    calls = []
    _record_syncfs(monkeypatch, calls)
    real = os.replace
    monkeypatch.setattr(demo.os, "replace", lambda src, dst: (
        calls.append(("publish", os.fspath(src))), real(src, dst)))
    _demo_data(tmp_path)
    rendering = str(tmp_path / "D" / "data.rendering")
    i = calls.index(("publish", rendering))
    assert ("syncfs", os.path.realpath(rendering), ["done.json", "map", "query"]) in calls[:i]
    monkeypatch.undo()
    _failing_syncfs(monkeypatch)
    data = tmp_path / "E" / "data"
    with pytest.raises(OSError, match="Input/output error") as info:
        demo.demo_data(str(data), 4, 64, 48, 0)
    assert info.value.errno == errno.EIO and info.value.filename == str(data)
    assert not data.exists()


def _record_fsync_and_renames(monkeypatch, module):
    """(kind, path) events: each os.fsync's file or folder, each rename's destination."""
    events = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename
    monkeypatch.setattr(os, "fsync", lambda fd: (
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd)))
    monkeypatch.setattr(module.os, "replace", lambda src, dst: (
        events.append(("rename", os.fspath(dst))), real_replace(src, dst)))
    monkeypatch.setattr(module.os, "rename", lambda src, dst: (
        events.append(("rename", os.fspath(dst))), real_rename(src, dst)))
    return events


def test_a_stopped_runs_partial_is_synced_into_its_folder_after_its_rename(tmp_path,
                                                                            monkeypatch):
    """_keep_partial flushed the results, then renamed the temporary to RUN.partial without
    syncing the folder holding it, as the other publishing renames do: a power cut could lose
    the frames a Ctrl-C'd run kept."""
    from mast3r_ros.replay import localize_run

    tmp = tmp_path / ".run-tmp"
    tmp.mkdir()
    (tmp / "results.jsonl").write_text('{"frame": 0}\n')
    events = _record_fsync_and_renames(monkeypatch, localize_run)
    localize_run._keep_partial(str(tmp), str(tmp_path / "run"))
    i = events.index(("rename", str(tmp_path / "run.partial")))
    assert ("fsync", str(tmp_path)) in events[i:], events


def test_a_killed_runs_salvaged_lines_are_synced_into_their_folder_after_the_rename(
        tmp_path, monkeypatch):
    """The next writer renamed a killed run's temporary to RUN.partial (flushed first) without
    syncing the folder holding it: a power cut could lose the rename, the kept lines with it."""
    _killed_run(tmp_path)
    events = _record_fsync_and_renames(monkeypatch, fileio)
    fileio.remove_stale_temporaries(str(tmp_path / "run"), "results.jsonl")
    i = events.index(("rename", str(tmp_path / "run.partial")))
    assert ("fsync", str(tmp_path)) in events[i:], events
