"""A build-map whose final commit fails (a writeback error at the flush, ENOSPC, the index build),
is stopped (Ctrl-C) or killed (SIGKILL) after its keyframes were encoded keeps its encodings in
``OUT.partial``: the shard markers stay there until the map is published (`commit_build`), the
one error line names ``OUT.partial`` and --resume, and ``--resume`` finishes the commit without
encoding a keyframe again, publishing the map an uninterrupted build publishes.

(Before, the markers were cleared before the commit: a failed commit deleted the build folder,
hours of encoding on a large map; later they were put back from memory, which a kill skips.)"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re

import numpy as np
import pytest

from mast3r_ros.core import durable
from mast3r_ros.replay import parallel_build
from mast3r_ros.replay.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(tmp_path) -> str:
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n"
                      "    device: cpu\n    map_build: {min_translation_m: 1.0}\n")
    return str(params)


def _build(tum, ckpt, params, out, *more) -> int:
    return main(["build-map", tum[0], "--out", out, "--checkpoint", ckpt, "--params", params,
                 "--workers", "1", "--log-level", "warning", *more])


def _markers(partial: str):
    root = os.path.join(partial, "encodings")
    return sorted(n for s in os.listdir(root) for n in os.listdir(os.path.join(root, s))
                  if n.startswith("shard_") or n == "build.json")


def _manifest(folder: str):
    """The map's manifest, the map check's timing (its seconds) taken out."""
    with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as fh:
        m = json.load(fh)
    c = m["consistency"]
    c.pop("elapsed_s")
    c["message"] = re.sub(r" in [0-9.]+ s$", "", c["message"])
    return m


def _arrays(folder: str):
    """Every .npy/.npz array of a map, by its path in the map."""
    got = {}
    for d, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, folder)
            if n.endswith(".npy"):
                got[rel] = np.load(p, allow_pickle=False)
            elif n.endswith(".npz"):
                with np.load(p, allow_pickle=False) as z:
                    got.update({f"{rel}:{k}": z[k] for k in z.files})
    return got


def test_a_failed_commit_keeps_the_encodings_and_resume_publishes_the_same_map(
        tum, tiny_ckpt, tmp_path, monkeypatch, capsys):
    params = _params(tmp_path)
    ref = str(tmp_path / "ref")
    assert _build(tum, tiny_ckpt, params, ref) == 0  # uninterrupted

    out = str(tmp_path / "M")

    def syncfs(fd):
        ctypes.set_errno(errno.EIO)
        return -1

    with monkeypatch.context() as m:
        m.setattr(durable, "_libc_syncfs", lambda: syncfs)
        capsys.readouterr()
        assert _build(tum, tiny_ckpt, params, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and out in err[0] and "Input/output error" in err[0], err
    assert f"the build is kept in {out}.partial (rerun with --resume to finish it)" in err[0], err
    assert "deleted" not in err[0], err
    assert not os.path.exists(out) and os.path.isdir(out + ".partial")
    assert "build.json" in _markers(out + ".partial")  # what --resume compares and continues
    assert any(n.startswith("shard_") for n in _markers(out + ".partial"))

    encoded = []  # --resume encodes no keyframe again: it only finishes the commit
    real = parallel_build._write_shard
    monkeypatch.setattr(parallel_build, "_write_shard",
                        lambda *a, **k: encoded.append(a[1]) or real(*a, **k))
    assert _build(tum, tiny_ckpt, params, out, "--resume") == 0
    assert encoded == []
    assert not os.path.exists(out + ".partial")
    got, want = _manifest(out), _manifest(ref)
    assert got == want and got["encodings"]  # every file's checksum too
    a, b = _arrays(out), _arrays(ref)
    assert sorted(a) == sorted(b) and any("encodings" in k for k in a)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # the published map holds no resume bookkeeping
    assert not [n for d, _, ns in os.walk(out) for n in ns
                if n.startswith("shard_") or n == "build.json"]


def test_a_ctrl_c_during_the_commit_says_the_encodings_are_kept(
        tum, tiny_ckpt, tmp_path, monkeypatch, capsys):
    params = _params(tmp_path)
    out = str(tmp_path / "M")

    def syncfs(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(durable, "_libc_syncfs", lambda: syncfs)
    capsys.readouterr()
    assert _build(tum, tiny_ckpt, params, out) == 130
    said = capsys.readouterr().err
    assert "before any keyframe was encoded" not in said, said
    assert f"finished shards are kept in {out}.partial; rerun with --resume" in said, said
    assert any(n.startswith("shard_") for n in _markers(out + ".partial"))


def test_commit_build_deletes_the_markers_only_from_the_published_map(tmp_path, monkeypatch,
                                                                       caplog):
    """The bookkeeping stays in the build folder for the whole commit (a kill at any moment
    leaves it for --resume) and goes from the map once it is published; a failed commit
    leaves it as it was, and a map it cannot be deleted from is still published (a warning)."""
    import logging
    from types import SimpleNamespace

    from mast3r_ros.replay import map_build

    files = {"chunk_000000.npy": "c", "shard_000000.json": "{\"first\": 0}",
             "shard_000016.json": "{\"first\": 16}", "build.json": "{\"identity\": \"ab\"}"}
    tmp, path = tmp_path / "M.partial", tmp_path / "M"
    store = tmp / "encodings" / "ab_224"
    store.mkdir(parents=True)
    for name, text in files.items():
        (store / name).write_text(text)

    def failing(on_published):
        assert sorted(os.listdir(store)) == sorted(files)  # kept through the commit
        raise OSError(errno.EIO, "flush")

    def publishing(on_published):
        if tmp.exists():
            os.rename(tmp, path)  # the commit's rename
        on_published(str(path))
        return str(path)

    w = SimpleNamespace(tmp=str(tmp), encodings=[{"store": "encodings/ab_224"}], commit=failing)
    with pytest.raises(OSError, match="flush"):
        map_build.commit_build(w)
    assert {n: (store / n).read_text() for n in os.listdir(store)} == files
    w.commit = publishing
    with monkeypatch.context() as m, caplog.at_level(logging.WARNING):
        m.setattr(os, "unlink", lambda p, *a, **k: (_ for _ in ()).throw(
            PermissionError(errno.EACCES, "Permission denied", p)))
        assert map_build.commit_build(w) == str(path)  # published: no error
    assert "is published, but its build's resume bookkeeping" in caplog.text
    assert "could not be deleted from it (Permission denied)" in caplog.text
    assert map_build.commit_build(w) == str(path)
    assert os.listdir(path / "encodings" / "ab_224") == ["chunk_000000.npy"]


def _state(folder: str, shards: int) -> str:
    """What a restart finds in ``folder`` (holding M and M.partial): 'partial' (every shard
    marker and build.json there: --resume encodes nothing again), 'map' (published), or what
    is wrong."""
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.keyframes.target import finished_shards

    out, partial = os.path.join(folder, "M"), os.path.join(folder, "M.partial")
    if os.path.isdir(partial) and not os.path.exists(out):
        names = _markers(partial)
        done = finished_shards(partial)
        return "partial" if done == shards and "build.json" in names else f"partial {names}"
    if os.path.isfile(os.path.join(out, "manifest.json")) and not os.path.exists(partial):
        KeyframeMap.load(out)  # loads, the bookkeeping files beside its stores or not
        return "map"
    return f"neither: {sorted(os.listdir(folder))}"


def test_a_kill_at_any_step_of_the_commit_leaves_a_resumable_build_or_the_map(
        tum, tiny_ckpt, tmp_path, monkeypatch, capsys):
    """SIGKILL runs no handler: what it leaves is the disk as it was between two steps. The
    commit's disk is copied before each of its renames and deletions (a kill right there),
    and each copy must be 'OUT.partial that --resume finishes' or 'the published map'. (The
    markers were deleted before the rename and put back only by the process: a kill in that
    window left a build --resume encoded again from the first keyframe.)"""
    import shutil

    from mast3r_ros.replay import pipeline

    params = _params(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    out = str(run / "M")
    kills, armed = [], []
    real_ops = {n: getattr(os, n) for n in ("replace", "rename", "unlink", "rmdir")}

    def killed_before(name):
        def op(*a, **k):
            if armed and not armed[-1]:
                armed.append(True)  # no copy of a copy's own steps
                dst = str(tmp_path / f"kill{len(kills):02d}")
                shutil.copytree(str(run), dst, symlinks=True)
                kills.append((f"{name} {os.path.relpath(str(a[0]), str(run))}", dst))
                armed.pop()
            return real_ops[name](*a, **k)
        return op

    real_commit = pipeline.commit_build

    def commit(w):
        armed.append(False)
        return real_commit(w)

    with monkeypatch.context() as m:
        for name in real_ops:
            m.setattr(os, name, killed_before(name))
        m.setattr(pipeline, "commit_build", commit)
        assert _build(tum, tiny_ckpt, params, out) == 0
    shards = sum(n.startswith("shard_") for n in _markers(kills[0][1] + "/M.partial"))
    states = [(step, _state(dst, shards)) for step, dst in kills]
    assert shards and len(states) > 3, states
    assert all(s in ("partial", "map") for _, s in states), states
    assert [s for _, s in states] == sorted(s for _, s in states)[::-1], states  # then the map
    steps = [step for step, _ in kills]  # the markers go from the map while OUT is locked
    gone = [i for i, step in enumerate(steps) if step.startswith("unlink M/encodings/")]
    unlocked = [i for i, step in enumerate(steps) if step == "unlink M.lock"]
    assert gone and unlocked and max(gone) < min(unlocked), steps

    # the last moment before the rename: --resume publishes the map, encoding nothing again
    last = [dst for (_, dst), (_, s) in zip(kills, states) if s == "partial"][-1]
    encoded = []
    real = parallel_build._write_shard
    monkeypatch.setattr(parallel_build, "_write_shard",
                        lambda *a, **k: encoded.append(a[1]) or real(*a, **k))
    capsys.readouterr()
    assert _build(tum, tiny_ckpt, params, last + "/M", "--resume") == 0, capsys.readouterr()
    assert encoded == []
    got, want = _manifest(last + "/M"), _manifest(out)
    assert got == want and got["encodings"]
    first = [dst for (_, dst), (_, s) in zip(kills, states) if s == "map"][0]
    assert _build(tum, tiny_ckpt, params, first + "/M", "--resume") == 2  # finished: nothing
    assert "is a finished map" in capsys.readouterr().err  # to resume


@pytest.mark.parametrize("index", ["thumbnail", "pooled"])
def test_a_full_disk_at_the_commit_says_the_build_is_kept_and_resume_finishes_it(
        tum, tiny_ckpt, tmp_path, monkeypatch, capsys, index):
    """The thumbnail index (written by the commit) or the pooled-descriptor index (stored
    once every keyframe is encoded, before the map lists its first encodings: the one line
    said only 'no space left', the INFO line alone that the shards were kept)."""
    from mast3r_ros.core.keyframes.layout import THUMBNAIL_INDEX
    from mast3r_ros.core.keyframes.writer import MapWriter

    params = _params(tmp_path)
    out = str(tmp_path / "M")

    real = MapWriter._save_index

    def full(self, name, *a, **k):
        if not (name == THUMBNAIL_INDEX if index == "thumbnail" else name.endswith("/pooled")):
            return real(self, name, *a, **k)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.path.join(self.tmp, name))

    with monkeypatch.context() as m:
        m.setattr(MapWriter, "_save_index", full)
        capsys.readouterr()
        assert _build(tum, tiny_ckpt, params, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"mast3r-ros build-map: error: no space left on the device holding {out}"), err
    assert f"the build is kept in {out}.partial (rerun with --resume to finish it)" in err[0], err
    assert any(n.startswith("shard_") for n in _markers(out + ".partial"))
    assert _build(tum, tiny_ckpt, params, out, "--resume") == 0
    assert os.path.isfile(os.path.join(out, "manifest.json"))
    assert not os.path.exists(out + ".partial")


def test_a_file_system_gone_read_only_at_the_commit_is_named_so_with_the_build_kept():
    """EROFS (the kernel remounts a file system read-only after a disk error) while the build
    is kept read 'cannot use path: ...: Read-only file system; the build is kept in ...
    (check the paths given)': no path given was wrong."""
    import argparse

    from mast3r_ros.replay.map_build import kept_build_error
    from mast3r_ros.replay.os_error_words import os_error_text

    e = OSError(errno.EROFS, os.strerror(errno.EROFS), "maps/M.partial/keyframes.png")
    told = kept_build_error(e, "maps/M", 3, "maps/M.partial", "rerun with --resume")
    line = os_error_text(told, argparse.Namespace(out="maps/M"))
    assert line.startswith("the file system holding maps/M (--out) is read-only (Read-only file "
                           "system; the build is kept in maps/M.partial (rerun with --resume "
                           "to finish it)): "), line
    assert line.endswith("remount it read-write, or write elsewhere"), line
