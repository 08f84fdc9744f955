"""`MapWriter` values worked out by hand (mutation audit): its refusals' words, the lock held
until the map is published and released on every way out, what a failed keyframe write leaves,
the durable publish order, and the resumable build folder."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from mast3r_ros.core import durable as durable_mod
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.fileio import OutputBusyError, acquire_output_lock
from mast3r_ros.core.keyframes import MapWriter
from mast3r_ros.core.keyframes import writer as writer_mod
from mast3r_ros.core.keyframes.writer import UnfinishedBuildError
from test_map_writer_safety import _frame
from test_output_lock import FAKE_STORE
from test_output_lock import _fake_partial as _partial

def test_a_blank_path_and_an_unknown_version_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a blank path taken as a name would land here
    with pytest.raises(InputError, match=r"^MapWriter: the map path is empty \(give a folder"):
        MapWriter("  ")
    with pytest.raises(InputError, match=r"^map format version must be 1, 2 or 3, got 0$"):
        MapWriter(str(tmp_path / "map"), version=0)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="Linux /proc needed")
def test_a_path_where_no_file_can_be_made_is_refused_naming_the_folder():
    with pytest.raises(InputError, match=r"^MapWriter path /proc/m: cannot write in the folder "
                                         r"/proc \(the folder exists but takes no new files"):
        MapWriter("/proc/m")


def test_reserved_manifest_fields_are_refused(tmp_path):
    with MapWriter(str(tmp_path / "map")) as w:
        with pytest.raises(InputError, match=r"^manifest field 'files' is part of the map "
                                             r"format$"):
            w.set_manifest_field("files", {})
        w.set_manifest_field("notes", "mine")


def test_a_median_depth_of_exactly_50_m_is_not_warned_about(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.core.keyframes.writer"):
        with MapWriter(str(tmp_path / "map")) as w:
            w.add_keyframe(*_frame(0, depth=50.0))
            assert not caplog.records
            w.add_keyframe(*_frame(1, depth=50.5))
    assert len(caplog.records) == 1 and "keyframe 1's depth" in caplog.records[0].getMessage()


def test_a_failed_depth_write_leaves_no_half_keyframe(tmp_path, monkeypatch):
    real = MapWriter._put

    def put(self, rel, data):
        if rel.endswith("_depth.png"):
            raise OSError(28, "No space left on device")
        real(self, rel, data)

    with MapWriter(str(tmp_path / "map")) as w:
        monkeypatch.setattr(MapWriter, "_put", put)
        with pytest.raises(OSError, match="No space left"):
            w.add_keyframe(*_frame(0))
        assert w.files == {} and w.records == []
        assert os.listdir(os.path.join(w.tmp, "keyframes")) == []


def test_the_lock_is_held_while_the_map_is_published_and_released_after(tmp_path,
                                                                         monkeypatch):
    path = str(tmp_path / "map")
    real = writer_mod.publish_folder
    events = []

    def publish(src, dst, overwrite):
        with pytest.raises(OutputBusyError):  # a second writer is still refused here
            acquire_output_lock(path)
        events.append(("publish", src, dst))
        return real(src, dst, overwrite)

    monkeypatch.setattr(writer_mod, "publish_folder", publish)
    monkeypatch.setattr(writer_mod, "flush_before_publish",
                        lambda p, out: events.append(("sync", p)))
    monkeypatch.setattr(writer_mod, "fsync_dir", lambda p: events.append(("sync", p)))
    w = MapWriter(path)
    w.add_keyframe(*_frame(0))
    tmp = w.tmp
    assert w.commit() == path and w.committed
    # the build folder (manifest renamed into it) synced before its rename, the parent after
    assert events == [("sync", tmp), ("publish", tmp, path), ("sync", str(tmp_path))]
    acquire_output_lock(path).release()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names fds through /proc")
def test_the_map_files_are_flushed_to_disk_before_the_folder_is_published(tmp_path,
                                                                         monkeypatch):
    """Only the manifest, the keyframe table and the folders were fsynced: the keyframe PNGs
    (and encoding stores) reached the disk whenever the kernel wrote them back, possibly after
    the rename that publishes the map, so a power cut in between left a map whose manifest
    lists PNGs of zero length (refused at load: the map lost). Now the build folder's
    filesystem is flushed (syncfs) with every file in place, before the rename."""
    path = str(tmp_path / "map")
    calls, real_publish = [], writer_mod.publish_folder

    def syncfs(fd):
        folder = os.readlink(f"/proc/self/fd/{fd}")
        calls.append(("syncfs", folder, sorted(os.listdir(os.path.join(folder, "keyframes")))))
        return 0

    monkeypatch.setattr(durable_mod, "_libc_syncfs", lambda: syncfs)
    monkeypatch.setattr(writer_mod, "publish_folder", lambda src, dst, overwrite: (
        calls.append(("publish", src)), real_publish(src, dst, overwrite))[1])
    with MapWriter(path) as w:
        for i in range(2):
            w.add_keyframe(*_frame(i))
        tmp = w.tmp
        w.commit()
    assert calls == [("syncfs", os.path.realpath(tmp), ["000000.png", "000000_depth.png",
                                                        "000001.png", "000001_depth.png"]),
                     ("publish", tmp)]


def test_a_failed_flush_publishes_nothing_and_names_the_map(tmp_path, monkeypatch):
    """syncfs reports a writeback error (EIO, ENOSPC) since Linux 5.8: the map is not
    published, and the error names the map path given (not its build folder, which the user
    never named); without syncfs (not Linux) os.sync."""
    import ctypes
    import errno

    def failing(fd):
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(durable_mod, "_libc_syncfs", lambda: failing)
    path = str(tmp_path / "map")
    with pytest.raises(OSError, match=r"cannot flush its files to disk \(Input/output error\); "
                       "nothing was published") as info:
        with MapWriter(path) as w:
            w.add_keyframe(*_frame(0))
            w.commit()
    assert info.value.errno == errno.EIO and info.value.filename == path
    assert not os.path.exists(path)
    synced = []
    monkeypatch.setattr(durable_mod, "_libc_syncfs", lambda: None)
    monkeypatch.setattr(durable_mod.os, "sync", lambda: synced.append(True))
    durable_mod.flush_filesystem(str(tmp_path))
    assert synced == [True]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_the_real_syncfs_is_found_and_flushes(tmp_path):
    assert durable_mod._libc_syncfs() is not None
    durable_mod.flush_filesystem(str(tmp_path))  # no error on a working disk


def test_a_resumable_block_ended_without_commit_releases_the_lock(tmp_path):
    path = str(tmp_path / "map")
    with MapWriter(path, resumable=True) as w:
        w.add_keyframe(*_frame(0))
    assert not w.committed
    assert sorted(os.listdir(tmp_path)) == ["map.partial"]  # kept; its lock file is not
    acquire_output_lock(path).release()


def test_resume_alone_continues_the_partial_build(tmp_path):
    out = str(tmp_path / "map")
    part = _partial(out, shards=1)
    w = MapWriter(out, resume=True)
    assert w.tmp == part
    assert os.listdir(os.path.join(part, "encodings", FAKE_STORE)) == ["shard_000000.json"]
    w.close()
    assert os.path.isdir(part)  # resumable: kept


def test_one_finished_shard_is_not_deleted_without_overwrite(tmp_path):
    out = str(tmp_path / "map")
    part = _partial(out, shards=1)
    with pytest.raises(UnfinishedBuildError) as e:
        MapWriter(out, resumable=True)
    assert (e.value.partial, e.value.shards) == (part, 1)
    assert os.path.exists(os.path.join(part, "encodings", FAKE_STORE, "shard_000000.json"))
    acquire_output_lock(out).release()  # the refused writer let go of the lock


def test_abort_after_commit_leaves_the_next_build_alone(tmp_path):
    path = str(tmp_path / "map")
    first = MapWriter(path, resumable=True)
    first.add_keyframe(*_frame(0))
    first.commit()
    second = MapWriter(path, overwrite=True, resumable=True)
    second.add_keyframe(*_frame(1))
    first.abort()  # a cleanup path of the first build: its map is published, nothing to do
    assert first.committed and os.path.isdir(path + ".partial")
    assert second.commit() == path and os.listdir(os.path.join(path, "keyframes"))


def test_committed_is_true_only_after_a_commit(tmp_path):
    w = MapWriter(str(tmp_path / "a"))
    w.abort()
    assert not w.committed
    with MapWriter(str(tmp_path / "b")) as w:
        w.add_keyframe(*_frame(0))
        assert not w.committed
        w.commit()
    assert w.committed


def test_a_map_made_while_waiting_for_the_lock_is_refused_before_any_work(tmp_path,
                                                                          monkeypatch):
    """The target is checked again under the lock: a folder made between the first check and
    the lock is refused by the constructor, not after the build at commit."""
    path = tmp_path / "map"
    real = writer_mod.acquire_output_lock

    def late(p, what="--out"):
        (path / "thesis").mkdir(parents=True)
        return real(p, what)

    monkeypatch.setattr(writer_mod, "acquire_output_lock", late)
    with pytest.raises(InputError, match=r"^map folder already exists: "):
        MapWriter(str(path))
    assert os.listdir(tmp_path) == ["map"] and os.listdir(path) == ["thesis"]


@pytest.mark.parametrize("resumable", [False, True])
def test_abort_inside_the_block_stays_an_abort(tmp_path, resumable):
    """After ``abort`` in a ``with`` block the writer still says it was aborted: the end of the
    block does not turn it into "closed ... the unfinished build is kept" (it was deleted)."""
    path = str(tmp_path / "map")
    with MapWriter(path, resumable=resumable) as w:
        w.add_keyframe(*_frame(0))
        w.abort()
    with pytest.raises(InputError) as e:
        w.add_keyframe(*_frame(1))
    assert str(e.value) == (f"MapWriter for {path} was aborted (its build folder is deleted); "
                            "cannot add a keyframe: create a new MapWriter to write another map")
    assert os.listdir(tmp_path) == []


def test_a_pose_of_the_wrong_shape_is_refused_naming_its_shape(tmp_path):
    """A 3x4 [R|t] was refused as 'not a finite rigid transform' plus the matrix: the shape,
    the actual fault, went unsaid."""
    import numpy as np

    rgb, cam, pose, stamp, depth = _frame(0)
    with MapWriter(str(tmp_path / "map")) as w:
        for bad, shape in ((pose[:3], "(3, 4)"), (pose.reshape(-1), "(16,)")):
            with pytest.raises(InputError) as e:
                w.add_keyframe(rgb, cam, bad, stamp, depth)
            assert str(e.value) == (f"keyframe 0: pose map_from_cam must be a finite 4x4 "
                                    f"matrix, got shape {shape}"), str(e.value)
        bent = pose.copy()
        bent[0, 0] = 2.0
        with pytest.raises(InputError, match=r"^keyframe 0: pose map_from_cam is not a rigid "
                                             r"transform: rotation block not orthonormal"):
            w.add_keyframe(rgb, cam, bent, stamp, depth)
        nan = np.array(pose, dtype=float)
        nan[1, 3] = np.nan
        with pytest.raises(InputError, match=r"^keyframe 0: pose map_from_cam must be a finite "
                                             r"4x4 matrix, but it is not finite: nan at \[1, 3\]"):
            w.add_keyframe(rgb, cam, nan, stamp, depth)
        w.add_keyframe(rgb, cam, np.asarray(pose), stamp, depth)


def test_a_stamp_outside_int64_is_refused_when_the_keyframe_is_added(tmp_path):
    """A stamp in a finer unit than nanoseconds (time.time_ns() * 1000: 1.7e21) was taken by
    add_keyframe and ended commit, after every PNG was written, in OverflowError 'Python int
    too large to convert to C long', naming no keyframe. It is refused as Frame refuses it."""
    rgb, cam, pose, stamp, depth = _frame(0)
    with MapWriter(str(tmp_path / "map")) as w:
        for bad in (2 ** 63, -2 ** 63, 1_700_000_000_000_000_000_000):
            with pytest.raises(InputError, match=rf"^keyframe 0: stamp_ns {bad} is outside int64 "
                                                 r"nanoseconds .*not a finer unit"):
                w.add_keyframe(rgb, cam, pose, bad, depth)
        w.add_keyframe(rgb, cam, pose, 2 ** 63 - 1, depth)
        w.commit()


def test_a_depth_wholly_below_the_format_resolution_is_refused_not_stored_as_none(tmp_path):
    """Depth in metres divided by its scale once more (x1e-6) rounded to 0 at 5000 units/m in
    every pixel: the keyframe was stored with no depth at all, and no warning said so (the
    'no valid pixel' check looks at the depth before it is quantised). It is refused, naming
    the largest value and the resolution; a depth with some pixels that round to 0 is kept."""
    from mast3r_ros.core.keyframes.pixels import DepthRangeError

    rgb, cam, pose, stamp, depth = _frame(0)
    with MapWriter(str(tmp_path / "map")) as w:
        with pytest.raises(DepthRangeError, match=r"^keyframe 0's depth reaches only 2e-06 m, "
                                                  r"below the map's 16-bit depth format's "
                                                  r"resolution \(0.2 mm\)"):
            w.add_keyframe(rgb, cam, pose, stamp, depth * 1e-6)
        assert w.records == [] and w.files == {}  # nothing of the keyframe stored
        mixed = depth.copy()
        mixed[:10] = 1e-5  # rounds to 0 there, the rest stays
        w.add_keyframe(rgb, cam, pose, stamp, mixed)
        w.commit()
