"""Two writers of one output, and a forgotten --resume (a fresh user's findings): a second
build-map into the same --out deleted the first's live MAP.partial and published a map holding
the other recording's encodings (B1); build-map without --resume deleted an interrupted build's
finished shards with an INFO line (B2); two localize runs into one --out both exited 0 and one
run was lost (B3); two localizers caching one map's encodings left an orphaned store (B7).

One mechanism: the output lock (`fileio.acquire_output_lock`, ``fcntl.flock`` on ``OUT.lock``
beside the output) held by every writer of OUT from its check to its publish. The lock path is
spelled out here (``OUT + ".lock"``) as the contract a user sees."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.fileio import atomic_folder
from mast3r_ros.core.keyframes import KeyframeMap, MapWriter, write_map
from mast3r_ros.core.keyframes.layout import EncodingSet
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.synthetic import default_intrinsics
from test_overwrite_rules import _one_error, _tree

# another process holding OUT's lock as a writer does (no mast3r_ros import: starts in ~30 ms)
HOLDER = ("import fcntl, os, sys, time\n"
          "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
          "fcntl.flock(fd, fcntl.LOCK_EX)\n"
          "os.write(fd, b'pid %d, mast3r-ros build-map' % os.getpid())\n"
          "print('held', flush=True)\n"
          "time.sleep(60)\n")


@contextlib.contextmanager
def held_elsewhere(out):
    """OUT's lock held by another live process; yields its pid."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out) + ".lock"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


FAKE_STORE = "d695f1400de6d672_224"  # the encoding store folder of `_fake_partial`


def _fake_partial(out, shards=1):
    """An unfinished build of OUT: keyframe images and ``shards`` finished shard markers."""
    part = f"{out}.partial"
    os.makedirs(os.path.join(part, "keyframes"))
    open(os.path.join(part, "keyframes", "000000.png"), "wb").close()
    store = os.path.join(part, "encodings", FAKE_STORE)
    os.makedirs(store)
    for i in range(shards):
        with open(os.path.join(store, f"shard_{16 * i:06d}.json"), "w") as fh:
            json.dump({"first": 16 * i}, fh)
    return part


# ------------------------------------------------------------------------- the lock ---

def test_the_lock_refuses_a_second_writer_and_never_outlives_its_process(tmp_path):
    from mast3r_ros.core.fileio import OutputBusyError, acquire_output_lock

    out = str(tmp_path / "run")
    with held_elsewhere(out) as pid:
        with pytest.raises(OutputBusyError, match=rf"--out {out}: another writer \(pid {pid}, "
                           r"mast3r-ros build-map\) is writing it .*choose another --out"):
            acquire_output_lock(out)
    # the holder was killed (SIGKILL): its lock file stays, its lock does not
    assert os.path.exists(out + ".lock")
    lock = acquire_output_lock(out)
    with pytest.raises(OutputBusyError, match=f"pid {os.getpid()}"):
        acquire_output_lock(out + "/")  # the same output, in this process too: one writer
    lock.release()
    assert os.listdir(tmp_path) == []  # a released lock leaves nothing beside the output
    acquire_output_lock(out).release()


def test_temporaries_a_killed_writer_left_are_removed_by_the_next_holder(tmp_path, caplog):
    """kill -9 of localize left RUN.tmp-XXXXXXXX for good (a fresh user's find): the next
    writer of RUN, once it holds RUN's lock, removes the RUN.tmp-m3r- folders the writers make
    (no live writer can own one), named in a WARNING, and keeps everything else: a user's own
    RUN.tmp-20261202 or RUN.tmp-backup_1 (the first form removed them: data loss), a resumable
    RUN.partial, a RUN.old- folder not of replace_folder's form, a file of that name, other
    outputs' folders. A RUN.old-XXXXXXXX of replace_folder's form cannot be a swap under way
    (swaps hold the lock): it is an old output whose deletion was cut short, and goes too."""
    import logging

    from mast3r_ros.core.fileio import (
        OutputBusyError,
        acquire_output_lock,
        make_temporary_sibling,
        output_path,
    )

    out = str(tmp_path / "run")
    made = make_temporary_sibling(output_path(out))  # as atomic_folder and MapWriter make it
    assert os.path.basename(made).startswith("run.tmp-m3r-")
    stale = [os.path.basename(made), "run.tmp-m3r-abc_1234"]
    kept_dirs = ["run.tmp-20261202", "run.tmp-backup_1", "run.tmp-abc_1234", "run.partial",
                 "run.old-backup_12", "run.old-2026", "run.tmp-m3r-ABCD1234", "run.tmp-m3r-abc",
                 "run.kept-abcd1234", "run2.tmp-m3r-abcd1234", "other.tmp-m3r-abcd1234",
                 "run2.old-abcd1234"]
    os.makedirs(tmp_path / "run.old-abcd1234" / "gone")  # replace_folder's deletion, cut short
    os.makedirs(tmp_path / "run")  # the output that replaced it
    for name in stale + kept_dirs:
        os.makedirs(tmp_path / name / "sub", exist_ok=True)
        (tmp_path / name / "sub" / "notes.txt").write_text("{}\n")
    (tmp_path / "run.tmp-m3r-file0000").write_text("a file, not a writer's folder")
    with held_elsewhere(out):  # a live writer: nothing of its is touched by a refused one
        with pytest.raises(OutputBusyError):
            acquire_output_lock(out)
        assert all((tmp_path / n).is_dir() for n in stale + ["run.old-abcd1234"])
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        lock = acquire_output_lock(out)
    lock.release()
    assert sorted(os.listdir(tmp_path)) == sorted(kept_dirs + ["run", "run.tmp-m3r-file0000"])
    assert all((tmp_path / n / "sub" / "notes.txt").is_file() for n in kept_dirs)
    (rec,) = [r for r in caplog.records if "killed writer" in r.getMessage()]
    assert rec.levelname == "WARNING"
    assert rec.getMessage() == (f"removed 2 temporary folder(s) that a killed writer of {out} "
                                f"left: {', '.join(str(tmp_path / n) for n in sorted(stale))}")


def test_an_overwrite_killed_between_its_two_renames_loses_no_map(tmp_path, caplog):
    """replace_folder moves MAP aside (MAP.old-XXXXXXXX/folder), then renames the new map into
    place: a kill -9 between the two left no MAP, and the next holder of MAP's lock deleted both
    the old map (an interrupted deletion, it took it for) and the new one (a killed writer's
    temporary): both maps lost (a map-keeping review's find). The old map is put back."""
    import logging

    from mast3r_ros.core.fileio import acquire_output_lock, make_temporary_sibling, output_path

    kfs = [(np.full((48, 64, 3), 9 * i, np.uint8), default_intrinsics(64, 48), np.eye(4), i,
            None) for i in range(2)]
    out = str(tmp_path / "map")
    write_map(out, kfs)
    moved = tmp_path / "map.old-abcd1234"
    os.makedirs(moved)
    os.replace(out, moved / "folder")  # the first rename done, then the kill
    new = make_temporary_sibling(output_path(out))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        acquire_output_lock(out).release()
    assert len(KeyframeMap.load(out)) == 2 and not moved.exists() and not os.path.exists(new)
    assert any(r.getMessage().startswith(f"restored {out}: an --overwrite killed between its "
                                         "two renames") for r in caplog.records)


def test_localize_after_a_killed_run_leaves_only_its_run(tum, sift_map, tmp_path, capsys):
    """End to end: the temporary folder of a localize killed before its first frame is gone
    after the next, said even at --log-level warning; the user's own run.tmp- folders beside it
    are untouched. (One killed after finishing frames: test_killed_run_salvage.)"""
    from mast3r_ros.core.fileio import make_temporary_sibling

    out = tmp_path / "run"
    killed = make_temporary_sibling(str(out))
    with open(os.path.join(killed, "config.yaml"), "w") as fh:
        fh.write("x: 1\n")
    open(os.path.join(killed, "results.jsonl"), "w").close()
    for name in ("run.tmp-20261202", "run.tmp-backup_1"):
        os.makedirs(tmp_path / name)
        (tmp_path / name / "notes.txt").write_text("mine\n")
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher", "sift",
                 "--max-frames", "1", "--log-level", "warning"]) == 0
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("run")) == [
        "run", "run.tmp-20261202", "run.tmp-backup_1"]
    assert (tmp_path / "run.tmp-20261202" / "notes.txt").read_text() == "mine\n"
    assert f"removed 1 temporary folder(s) that a killed writer of {out} left: {killed}" in (
        capsys.readouterr().err)


# ---------------------------------------------------------------------------- B1 ---

def test_build_map_into_an_out_another_build_is_writing_is_refused(tum, tmp_path, capsys):
    """B1: the second build-map deleted the first's live OUT.partial and exited 0."""
    out = str(tmp_path / "dmap")
    part = _fake_partial(out)
    before = _tree(part)
    with held_elsewhere(out) as pid:
        assert main(["build-map", tum[0], "--out", out, "--matcher", "sift",
                     "--log-level", "warning"]) == 2
    err = _one_error(capsys)
    assert f"--out {out}: another writer (pid {pid}, mast3r-ros build-map) is writing it" in err
    assert err.endswith("choose another --out") and not os.path.exists(out)
    assert _tree(part) == before


def test_a_map_writer_holds_its_map_until_commit(tmp_path):
    path = str(tmp_path / "map")
    cam = default_intrinsics(32, 24)
    w = MapWriter(path)
    with pytest.raises(InputError, match="another writer"):
        MapWriter(path, overwrite=True)
    w.add_keyframe(np.zeros((24, 32, 3), np.uint8), cam, np.eye(4), 1)
    w.commit()
    with MapWriter(path, overwrite=True):  # released by the commit
        pass
    assert sorted(os.listdir(tmp_path)) == ["map"]


# ---------------------------------------------------------------------------- B2 ---

def test_build_map_without_resume_keeps_finished_shards(tum, tmp_path, capsys):
    """B2: a forgotten --resume deleted the unfinished build's encoded shards (hours of work)
    with an INFO line; now refused naming --resume and --restart (which starts over). Over an
    existing map, rerunning an interrupted `--overwrite` build as typed deleted them with a
    warning (a fresh user's find: up-arrow + Enter after Ctrl-C): --overwrite now only replaces
    the map, and the shards need --resume or --restart there too."""
    out = str(tmp_path / "fmap")
    part = _fake_partial(out, shards=2)
    before = _tree(part)
    argv = ["build-map", tum[0], "--out", out, "--matcher", "sift", "--log-level", "warning"]
    assert main(argv) == 2
    err = _one_error(capsys)
    assert (f"{out}.partial holds an unfinished build of {out} with 2 encoded shard(s): rerun "
            "with --resume to continue it, or with --restart to delete it and start over"
            ) in err, err
    assert _tree(part) == before and not os.path.exists(out)
    os.makedirs(out)  # an existing (empty) map folder: --overwrite replaces it
    assert main(argv + ["--overwrite"]) == 2
    err = _one_error(capsys)
    assert ("rerun with --resume --overwrite to continue it, or with --restart --overwrite to "
            "delete it and start over") in err, err
    assert _tree(part) == before
    assert main(argv + ["--resume", "--restart"]) == 2
    assert "give one of them" in _one_error(capsys)
    assert main(argv + ["--overwrite", "--restart"]) == 0  # discarded, started over, published
    assert not os.path.exists(part) and os.path.isfile(os.path.join(out, "manifest.json"))


def test_resuming_another_builds_encodings_without_encoding_is_refused_and_keeps_them(
        tum, tmp_path, capsys):
    """A sift (or checkpoint-less) build resumed in a MAP.partial holding a mast3r build's
    encodings published them in its map, listed nowhere (the manifest said ``encodings: []``);
    and a refused --resume deleted the build folder it refused to resume."""
    out = str(tmp_path / "map")
    part = _fake_partial(out, shards=2)
    assert main(["build-map", tum[0], "--out", out, "--matcher", "sift", "--resume",
                 "--log-level", "warning"]) == 2
    assert "this run encodes nothing (--matcher sift" in _one_error(capsys)
    assert not os.path.exists(out)
    assert [n for n in _tree(part) if "shard_" in n] == [
        "encodings/d695f1400de6d672_224/shard_000000.json",
        "encodings/d695f1400de6d672_224/shard_000016.json"]


def test_map_writer_deletes_a_build_folder_only_without_finished_shards(tmp_path):
    out = str(tmp_path / "map")
    part = _fake_partial(out, shards=0)  # keyframe images only: cheap to redo
    with MapWriter(out, resumable=True) as w:
        assert os.listdir(os.path.join(part, "keyframes")) == []
        w.abort()
    part = _fake_partial(out, shards=1)
    with pytest.raises(InputError, match=r"map\.partial holds an unfinished build of .* with 1 "
                       r"encoded shard\(s\); pass resume=True to continue it, or restart=True"):
        MapWriter(out, resumable=True)
    assert len(_tree(part)) == 2
    with pytest.raises(InputError, match="restart=True"):  # overwrite only replaces the map
        MapWriter(out, resumable=True, overwrite=True, restart=False)
    assert len(_tree(part)) == 2
    MapWriter(out, resumable=True, overwrite=True).abort()  # overwrite alone: starts over
    _fake_partial(out, shards=1)
    MapWriter(out, resumable=True, restart=True).abort()  # restart: starts over
    assert sorted(os.listdir(tmp_path)) == []


# ---------------------------------------------------------------------------- B3 ---

def test_localize_into_an_out_another_run_is_writing_is_refused(tum, sift_map, tmp_path, capsys):
    """B3: both runs exited 0 and printed '-> crun'; crun held only one of them."""
    out = str(tmp_path / "crun")
    with held_elsewhere(out) as pid:
        assert main(["localize", tum[1], "--map", sift_map, "--out", out, "--matcher", "sift",
                     "--max-frames", "1", "--log-level", "warning"]) == 2
    assert f"another writer (pid {pid}, " in _one_error(capsys)
    assert sorted(os.listdir(tmp_path)) == ["crun.lock"]  # left by the killed holder only


@pytest.mark.parametrize("resume", [False, True], ids=["plain", "resume"])
def test_localize_into_an_out_a_resuming_run_is_writing_says_so_before_the_source(
        tum, sift_map, tmp_path, capsys, monkeypatch, resume):
    """A live run resuming RUN (it holds RUN's lock; RUN.partial holds the results it goes on
    from) and a second localize into RUN: it was told RUN.partial held a stopped run to
    --resume or --restart (without --resume), or read the whole source before the lock said no
    (with it); build-map says a live build is writing its --out, before reading its source."""
    from mast3r_ros.replay import cli

    def no_source(*a, **k):
        raise AssertionError("the source was opened before the live run was named")
    monkeypatch.setattr(cli, "_open", no_source)
    out = str(tmp_path / "run")
    os.makedirs(out + ".partial")
    with open(os.path.join(out + ".partial", "results.jsonl"), "w") as fh:
        fh.write('{"stamp_ns": 1, "success": false}\n' * 3)
    before = _tree(out + ".partial")
    with held_elsewhere(out) as pid:
        assert main(["localize", tum[1], "--map", sift_map, "--out", out, "--matcher", "sift",
                     "--log-level", "warning"] + (["--resume"] if resume else [])) == 2
    err = _one_error(capsys)
    assert f"--out {out}: another writer (pid {pid}, " in err and "stopped run" not in err, err
    assert err.endswith("choose another --out")
    assert _tree(out + ".partial") == before and not os.path.exists(out)


def test_pair_retrieve_demo_and_export_refuse_an_out_being_written_first(tmp_path, capsys):
    from mast3r_ros.core.config import ModelConfig
    from mast3r_ros.replay.pair import run_pair
    from mast3r_ros.replay.retrieve import run_retrieve

    out = str(tmp_path / "out")
    with held_elsewhere(out):
        with pytest.raises(InputError, match="another writer"):  # before the images are read
            run_pair("no1.png", "no2.png", out, ModelConfig())
        with pytest.raises(InputError, match="another writer"):  # before the checkpoints
            run_retrieve(["a.png", "b.png"], "no.pth", "no_retrieval.pth", out)
        for argv in (["demo", "--matcher", "sift"], ["export", "--checkpoint", "no.pth"]):
            assert main(argv + ["--out", out, "--log-level", "warning"]) == 2
            assert "another writer" in _one_error(capsys)
    assert sorted(os.listdir(tmp_path)) == ["out.lock"]  # left by the killed holder only


def test_an_out_that_appears_meanwhile_is_not_replaced_and_the_output_is_kept(tmp_path):
    """A program that takes no lock created OUT while the output was being written: without
    --overwrite nothing is replaced, and the output is kept (the message says where)."""
    out = tmp_path / "run"
    with pytest.raises(InputError, match=r"appeared while this output was being written.*kept "
                       r"in .*run\.kept-") as e:
        with atomic_folder(str(out)) as tmp:
            (out / "theirs").mkdir(parents=True)
            open(os.path.join(tmp, "results.jsonl"), "w").close()
    assert os.listdir(out) == ["theirs"]
    kept = str(e.value).rsplit("kept in ", 1)[1]
    assert os.listdir(kept) == ["results.jsonl"]
    # renamed out of the temporaries' form: the next writer of run does not delete the output
    assert os.path.basename(kept).startswith("run.kept-")
    shutil.rmtree(out)
    with atomic_folder(str(out)):
        pass
    assert os.listdir(kept) == ["results.jsonl"]


# ---------------------------------------------------------------------------- B7 ---

def _enc(n, seed=0):
    rng = np.random.default_rng(seed)
    per = [{"feats": rng.normal(size=(196, 8)).astype(np.float16),
            "true_shape": np.array([224, 224])} for _ in range(n)]
    return EncodingSet("ckptA", 224, per, np.tile(np.eye(3), (n, 1, 1)),
                           rng.normal(size=(n, 8)).astype(np.float32))


def test_two_localizers_caching_one_maps_encodings_leave_one_store(tmp_path):
    """B7: both computed and wrote a store; the manifest listed one, the other (1.5 MB per
    keyframe at full size) stayed in the map for ever."""
    cam = default_intrinsics(32, 24)
    path = write_map(str(tmp_path / "map"), [
        (np.full((24, 32, 3), i, np.uint8), cam, np.eye(4), 1 + i, None) for i in range(2)])
    first, second = KeyframeMap.load(path), KeyframeMap.load(path)  # both loaded, no encodings
    with held_elsewhere(path):  # a rebuild or a third localizer holds the map: nothing written
        assert first.save_encodings(_enc(2)) is False
    assert not os.path.exists(os.path.join(path, "encodings"))
    assert first.save_encodings(_enc(2)) is True
    assert second.save_encodings(_enc(2, seed=1)) is False  # the map changed since its load
    stores = os.listdir(os.path.join(path, "encodings"))
    assert [e["store"] for e in KeyframeMap.load(path).manifest["encodings"]] == \
        [f"encodings/{s}" for s in stores] and len(stores) == 1


def test_a_map_whose_parent_folder_is_read_only_still_caches_its_encodings(tmp_path,
                                                                           monkeypatch):
    """A container mounting the map folder alone (its parent root's, read-only): no MAP.lock
    can be made beside it, and the encodings were kept in memory at every start (minutes of
    encoding at full size). The lock is then taken inside the map folder and removed after."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.keyframes import encodings as enc_mod

    cam = default_intrinsics(32, 24)
    path = write_map(str(tmp_path / "map"), [
        (np.full((24, 32, 3), i, np.uint8), cam, np.eye(4), 1 + i, None) for i in range(2)])
    real = enc_mod.acquire_output_lock
    beside = []

    def no_lock_beside(p, what="--out"):
        if os.path.realpath(p) == os.path.realpath(path):
            beside.append(p)
            raise InputError(f"cannot create the lock file {p}.lock: permission denied")
        return real(p, what)

    monkeypatch.setattr(enc_mod, "acquire_output_lock", no_lock_beside)
    assert KeyframeMap.load(path).save_encodings(_enc(2)) is True and beside
    assert len(KeyframeMap.load(path).manifest["encodings"]) == 1
    assert not [f for f in os.listdir(path) if f.endswith(".lock")]  # released and removed
    # the inner lock still excludes a second writer
    with held_elsewhere(os.path.join(path, ".encodings")):
        assert KeyframeMap.load(path).save_encodings(_enc(2, seed=1)) is False


def test_only_the_outputs_own_mkdtemp_siblings_are_stale(tmp_path):
    """Hand audit. A writer's temporary is ``PREFIX`` + ``.tmp-m3r-`` + mkdtemp's 8 of
    [a-z0-9_]; for output ``run.v2`` only ``run.v2.tmp-m3r-`` + exactly 8 such characters is
    one: not another output's (``run_v2``: the '.' is literal), nor a longer name, nor one with
    a suffix. Returned sorted. Through a link the writers name their temporaries after the
    folder it points to (`atomic_folder`, `MapWriter`: ``output_path``), so those are the ones
    removed."""
    from mast3r_ros.core.fileio import remove_stale_temporaries

    stale = [f"run.v2.tmp-m3r-{c * 8}" for c in "zyx_9a"]
    kept = ["run_v2.tmp-m3r-abcd1234", "run.v2.tmp-m3r-abcd12345",
            "run.v2.tmp-m3r-abcd1234.bak", "run.v2.tmp-abcd1234"]
    for name in stale + kept:
        os.makedirs(tmp_path / name)
    assert remove_stale_temporaries(str(tmp_path / "run.v2")) == sorted(
        str(tmp_path / n) for n in stale)
    assert sorted(os.listdir(tmp_path)) == sorted(kept)
    os.makedirs(tmp_path / "data" / "real")
    os.makedirs(tmp_path / "data" / "real.tmp-m3r-abcd1234")
    os.symlink(tmp_path / "data" / "real", tmp_path / "link")
    assert remove_stale_temporaries(str(tmp_path / "link") + "/") == [
        str(tmp_path / "data" / "real.tmp-m3r-abcd1234")]
    assert os.listdir(tmp_path / "data") == ["real"]


@pytest.mark.parametrize("command", ["localize", "build-map"])
def test_an_existing_out_a_live_writer_holds_is_named_busy_before_overwrite_is_asked_for(
        tum, sift_map, tmp_path, capsys, command):
    """A second run into an OUT that exists (an earlier run's) while a live run replaces it
    with --overwrite: it was told 'pass --overwrite', and only once it did, 'another writer'."""
    out = str(tmp_path / "run")
    os.makedirs(out)
    argv = ([command, tum[1], "--map", sift_map] if command == "localize" else [command, tum[0]])
    with held_elsewhere(out) as pid:
        assert main(argv + ["--out", out, "--matcher", "sift", "--log-level", "warning"]) == 2
    err = _one_error(capsys)
    assert f"--out {out}: another writer (pid {pid}, " in err and "--overwrite" not in err, err
    assert os.listdir(out) == []


def test_a_lock_in_a_folder_that_takes_no_new_files_says_so_not_no_such_file(tmp_path,
                                                                             monkeypatch):
    """A fresh user's map on a share they may read but not write: localize warned `cannot open
    the lock file MAP/.encodings.lock (No such file or directory)` (the read-only retry of a
    lock file that was never there), hiding the real cause, Permission denied. Root cannot be
    denied, so the OS's answer for a non-writable folder is simulated."""
    import errno

    from mast3r_ros.core import fileio

    real_open = os.open

    def denied(file, flags, *a):
        if flags & os.O_CREAT and not os.path.exists(file):
            raise PermissionError(errno.EACCES, "Permission denied", file)
        return real_open(file, flags, *a)

    monkeypatch.setattr(fileio.os, "open", denied)
    with pytest.raises(InputError) as e:
        fileio.acquire_output_lock(str(tmp_path / "map"), "map")
    assert "cannot create the lock file" in str(e.value)
    assert "Permission denied" in str(e.value) and "No such file" not in str(e.value)


def test_a_map_that_cannot_be_written_warns_that_every_run_encodes_again(tmp_path, monkeypatch,
                                                                          caplog):
    """The warning named the lock file only; a user whose localize took minutes at each start
    did not learn that the encodings are computed again at every run, nor how to avoid it."""
    import logging

    from mast3r_ros.core.keyframes import encodings as enc_mod

    cam = default_intrinsics(32, 24)
    path = write_map(str(tmp_path / "map"), [
        (np.full((24, 32, 3), i, np.uint8), cam, np.eye(4), 1 + i, None) for i in range(2)])

    def read_only(p, what="--out"):
        raise InputError(f"{what} {p}: cannot create the lock file {p}.lock (Permission denied)")

    monkeypatch.setattr(enc_mod, "acquire_output_lock", read_only)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert KeyframeMap.load(path).save_encodings(_enc(2)) is False
    said = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "every run encodes its keyframes again" in said and "--checkpoint" in said
    # the ROS node logs it too, and has no flags: its parameter is named beside the CLI's flag
    assert "--checkpoint / the 'checkpoint' parameter" in said, said
