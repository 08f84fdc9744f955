"""Values of `core.fileio` worked out by hand (mutation audit): file and folder modes under a
umask, the order sync-then-rename, what a failed write leaves, the exact refusals a user reads,
and the output lock's one-writer rule in the interleavings a test can force."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import sys

import pytest

from mast3r_ros.core import fileio
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.fileio import (
    OutputBusyError,
    acquire_output_lock,
    atomic_folder,
    atomic_write_bytes,
    atomic_write_file,
    check_can_create,
    check_output_folder,
    output_lock,
    output_path,
)
from mast3r_ros.core.publish import replace_folder
from mast3r_ros.core.recordings import recording_kind


@contextlib.contextmanager
def _umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ------------------------------------------------------------------ atomic writes ---

def test_files_and_folders_get_the_mode_of_a_plain_open_under_the_umask(tmp_path):
    # umask 027: a file 0666 & ~0027 = 0640, a folder 0777 & ~0027 = 0750 (an umask read as
    # decimal 27 = 0o33 would give 0644 / 0744)
    with _umask(0o027):
        atomic_write_bytes(str(tmp_path / "f.bin"), b"x")
        with atomic_folder(str(tmp_path / "run")) as tmp:
            open(os.path.join(tmp, "a.txt"), "w").close()
    assert _mode(tmp_path / "f.bin") == 0o640
    assert _mode(tmp_path / "run") == 0o750


def test_the_new_file_is_synced_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    """And its folder after the rename: without that the rename itself could be lost to a
    power cut (the old file back after the write was reported done)."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write_bytes(str(tmp_path / "f.bin"), b"data")
    assert events == ["fsync", "replace", "fsync folder"]
    assert (tmp_path / "f.bin").read_bytes() == b"data"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    dest = tmp_path / "f.txt"
    dest.write_text("old")

    def half(tmp):
        with open(tmp, "w") as fh:
            fh.write("ne")
        raise ValueError("disk full")

    with pytest.raises(ValueError, match="disk full"):
        atomic_write_file(str(dest), half)
    assert os.listdir(tmp_path) == ["f.txt"] and dest.read_text() == "old"


def test_an_os_error_of_the_write_names_the_destination_not_the_temporary(tmp_path):
    dest = str(tmp_path / "f.bin")

    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device", tmp)

    with pytest.raises(OSError) as e:
        atomic_write_file(dest, full)
    assert (e.value.errno, e.value.strerror, e.value.filename) == (
        errno.ENOSPC, "No space left on device", dest)
    assert os.listdir(tmp_path) == []


def test_writing_a_file_over_a_folder_is_refused_naming_it(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as e:
        atomic_write_bytes(str(folder), b"x")
    assert e.value.filename == str(folder)
    assert e.value.strerror == "a folder, where a file is to be written"
    assert os.listdir(tmp_path) == ["out"] and os.listdir(folder) == []


def test_writing_a_file_over_a_device_or_pipe_is_refused_and_leaves_it(tmp_path):
    """`check-map MAP --json /dev/full`, run as root, renamed its JSON over the device node:
    /dev/full became a regular file. A FIFO stands in for the device here."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as e:
        atomic_write_bytes(str(fifo), b"x")
    assert e.value.filename == str(fifo) and "not a regular file" in e.value.strerror
    with pytest.raises(InputError, match=r"^--json .*pipe: not a regular file"):
        fileio.check_can_write_file(str(fifo), "--json")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_file_sha256_reads_every_block():
    import tempfile

    data = bytes(range(256)) * (1 << 14) + b"end"  # 4 MiB + 3 bytes: two 4 MiB blocks
    with tempfile.NamedTemporaryFile() as fh:
        fh.write(data)
        fh.flush()
        assert fileio.file_sha256(fh.name) == hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------- refusals in words ---

def test_a_permission_refusal_keeps_the_os_words_alone(tmp_path):
    # only "No such file or directory" for a folder that IS there gets the /proc wording
    assert fileio._why_not_writable(str(tmp_path), PermissionError(
        errno.EACCES, "Permission denied")) == "Permission denied"
    assert fileio._why_not_writable(str(tmp_path / "gone"), FileNotFoundError(
        errno.ENOENT, "No such file or directory")) == "No such file or directory"


def test_without_make_parents_a_missing_folder_is_named(tmp_path):
    path = str(tmp_path / "new" / "a.json")
    with pytest.raises(InputError) as e:
        check_can_create(path, "--json", make_parents=False)
    assert str(e.value) == (f"--json {path}: the folder {tmp_path / 'new'} does not exist "
                            "(create it, or choose another path)")
    check_can_create(path, "--json")  # the writer makes the parents: allowed
    assert os.listdir(tmp_path) == []  # the probe file is removed


def test_empty_or_blank_out_is_refused_as_every_empty_option_is():
    """--out "" said 'the output path is empty' where --map "", --params "" ... ask whether a
    shell variable was unset; a blank --out ' ' was called empty."""
    with pytest.raises(InputError, match=r"^--out is empty \(an unset shell variable\?\): give "):
        check_output_folder("", False)
    with pytest.raises(InputError, match=r"^--out '   ' is blank: give a folder name$"):
        check_output_folder("   ", False)


@pytest.mark.parametrize("names, listed", [
    (["a", "b", "c"], "a, b, c"), (["a", "b", "c", "d"], "a, b, c, ...")])
def test_the_foreign_names_listed_are_the_first_three(tmp_path, names, listed):
    for n in names:
        (tmp_path / n).write_text("")
    with pytest.raises(InputError) as e:
        check_output_folder(str(tmp_path), True, allowed=("*.jsonl",))
    assert f"is not an output of this command (it holds {listed}); not replacing" in \
        str(e.value)


def test_overwrite_of_a_run_folder_whose_parent_takes_no_files_is_refused(tmp_path,
                                                                          monkeypatch):
    import tempfile

    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text("")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(InputError) as e:  # the new folder is built beside it: before any work
        check_output_folder(str(run), True, ("results.jsonl",))
    # the fix said too (the new user's read-only --out had the OS's words only)
    assert str(e.value) == (f"--out {run}: cannot write in the folder {tmp_path} "
                            "(Permission denied); choose another --out on a file system you "
                            "can write to")


def test_the_busy_refusal_names_the_option_it_is_worded_for():
    e = OutputBusyError("/m", "pid 7, x", "/m.lock").worded("--json")
    assert isinstance(e, InputError)
    assert str(e) == ("--json /m: another writer (pid 7, x) is writing it (it holds /m.lock); "
                      "wait for it to finish, or choose another --json")


# ------------------------------------------------------------------ atomic_folder ---

def test_the_lock_is_held_through_the_block_and_gone_after(tmp_path):
    out = str(tmp_path / "run")
    with atomic_folder(out) as tmp:
        with pytest.raises(OutputBusyError):
            acquire_output_lock(out)
        open(os.path.join(tmp, "a.txt"), "w").close()
    assert os.listdir(tmp_path) == ["run"] and os.listdir(out) == ["a.txt"]
    acquire_output_lock(out).release()


def test_an_exception_in_the_block_leaves_nothing(tmp_path):
    with pytest.raises(KeyError):
        with atomic_folder(str(tmp_path / "run")) as tmp:
            open(os.path.join(tmp, "a.txt"), "w").close()
            raise KeyError("stop")
    assert os.listdir(tmp_path) == []


def test_locked_means_the_caller_holds_the_lock_and_keeps_it(tmp_path):
    out = str(tmp_path / "run")
    with pytest.raises(RuntimeError, match="without its output_lock held"):
        with atomic_folder(out, locked=True):
            pass
    with output_lock(out):
        with atomic_folder(out, locked=True) as tmp:
            open(os.path.join(tmp, "a.txt"), "w").close()
        with pytest.raises(OutputBusyError):  # still the caller's
            acquire_output_lock(out)
    with pytest.raises(RuntimeError, match="without its output_lock held"):  # released
        with atomic_folder(out, overwrite=True, locked=True):
            pass


def test_an_out_made_while_waiting_for_the_lock_is_refused_before_the_work(tmp_path,
                                                                            monkeypatch):
    """The check is repeated under the lock: OUT made between the first check and the lock is
    refused before the block runs (not only at the publish, after the work)."""
    out = tmp_path / "run"
    real = fileio.acquire_output_lock

    def late(path, what="--out", salvage=None):
        (out / "theirs").mkdir(parents=True)
        return real(path, what, salvage)

    monkeypatch.setattr(fileio, "acquire_output_lock", late)
    ran = []
    with pytest.raises(InputError, match="output folder already exists"):
        with atomic_folder(str(out)):
            ran.append(1)
    assert ran == [] and os.listdir(out) == ["theirs"]


# -------------------------------------------------------------------- the lock ---

def test_a_released_lock_does_not_delete_a_newer_writers_lock_file(tmp_path):
    out = str(tmp_path / "run")
    a = acquire_output_lock(out)
    os.unlink(out + ".lock")  # A's file gone (removed by hand): B takes a new one
    b = acquire_output_lock(out)
    a.release()  # must not delete B's file ...
    with pytest.raises(OutputBusyError):  # ... or a third writer gets in beside B
        acquire_output_lock(out)
    b.release()
    assert os.listdir(tmp_path) == []


def test_a_lock_file_deleted_between_open_and_lock_is_taken_anew(tmp_path, monkeypatch):
    """The last holder deletes the file after our open, before our flock: the lock we got is on
    a file no one else can find; it must be taken again on the file at the lock's path."""
    import fcntl

    out = str(tmp_path / "run")
    real = fcntl.flock
    calls = []

    def flock(fd, op):
        if not calls:
            os.unlink(out + ".lock")
        calls.append(op)
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    lock = acquire_output_lock(out)
    monkeypatch.setattr(fcntl, "flock", real)
    assert len(calls) == 2 and os.path.exists(out + ".lock")
    with pytest.raises(OutputBusyError):
        acquire_output_lock(out)
    lock.release()


def test_the_lock_file_says_only_who_holds_it_now(tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    (tmp_path / "run.lock").write_text("pid 4194304, mast3r-ros build-map and much more text\n")
    monkeypatch.setattr(sys, "argv", ["/usr/bin/mast3r-ros", "localize", "--out", out])
    lock = acquire_output_lock(out)
    assert (tmp_path / "run.lock").read_text() == f"pid {os.getpid()}, mast3r-ros localize\n"
    lock.release()


@pytest.mark.parametrize("argv, label", [
    (["/x/bin/mast3r-ros", "build-map", "src", "--out", "m"], "mast3r-ros build-map"),
    (["/x/bin/mast3r-ros", "--log-level", "build-map"], "mast3r-ros build-map"),
    (["/x/bin/mast3r-ros"], "mast3r-ros"),
    (["/x/tools/my_tool.py", "a"], "my_tool.py"),
])
def test_holder_label(monkeypatch, argv, label):
    monkeypatch.setattr(sys, "argv", argv)
    assert fileio._holder_label() == label


# ------------------------------------------------------------ paths and folders ---

def test_a_real_folder_under_a_linked_parent_is_its_own_output_path(tmp_path):
    (tmp_path / "real" / "run").mkdir(parents=True)
    (tmp_path / "via").symlink_to(tmp_path / "real", target_is_directory=True)
    assert output_path(str(tmp_path / "via" / "run")) == str(tmp_path / "via" / "run")


def test_replace_folder_leaves_only_the_new_folder(tmp_path):
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "old.txt").write_text("old")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "new.txt").write_text("new")
    replace_folder(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert os.listdir(tmp_path) == ["dst"] and os.listdir(tmp_path / "dst") == ["new.txt"]


@pytest.mark.parametrize("step, err, words", [
    ("publish", errno.EXDEV, "Invalid cross-device link"),  # src -> dst fails: old put back
    ("aside", errno.EBUSY, "Device or resource busy"),  # dst cannot move (busy, a mount point)
])
def test_replace_folder_that_fails_leaves_the_old_folder_and_nothing_beside_it(
        tmp_path, monkeypatch, step, err, words):
    """Whether publishing the new folder or moving the old one aside fails, the map or run
    folder is left as it was, and no ``dst.old-XXXX`` folder (empty or not) beside it."""
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "old.txt").write_text("old")
    (tmp_path / "src").mkdir()
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    real = os.replace

    def failing(a, b):
        if ((a, b) == (src, dst)) if step == "publish" else (a == dst):
            raise OSError(err, words)
        real(a, b)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match=words):
        replace_folder(src, dst)
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]
    assert (tmp_path / "dst" / "old.txt").read_text() == "old"


def test_recording_kind_names_the_file_that_shows_it(tmp_path):
    assert recording_kind(str(tmp_path)) == ""
    (tmp_path / "b.MCAP").write_text("")
    (tmp_path / "a.db3").write_text("")
    assert recording_kind(str(tmp_path)) == "a rosbag2: it has a.db3"
    (tmp_path / "a.db3").unlink()
    assert recording_kind(str(tmp_path)) == "a rosbag2: it has b.MCAP"
    (tmp_path / "metadata.yaml").write_text("")
    assert recording_kind(str(tmp_path)) == "a rosbag2: it has metadata.yaml"
    (tmp_path / "rgb.txt").write_text("")
    assert recording_kind(str(tmp_path)) == "a TUM RGB-D folder: it has rgb.txt"
    assert recording_kind(str(tmp_path / "nope")) == ""


def test_overwrite_replaces_an_output_of_the_command(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.jsonl").write_text("old")
    with atomic_folder(str(out), overwrite=True, markers=("results.jsonl",)) as tmp:
        with open(os.path.join(tmp, "results.jsonl"), "w") as fh:
            fh.write("new")
    assert os.listdir(tmp_path) == ["run"] and (out / "results.jsonl").read_text() == "new"


def test_only_devices_are_refused_as_inputs_and_links_to_files_are_outputs(tmp_path):
    """`device_not_file`: character and block devices (read whole, /dev/zero never ends) are
    refused, a FIFO (``<(command)``, which ends) and a file are not; `check_can_write_file`
    takes a symbolic link to a file (written through it) as an output."""
    import glob

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = tmp_path / "out.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert fileio.device_not_file(os.devnull)
    with pytest.raises(InputError, match=r"^--x /dev/zero is a device, not a file"):
        fileio.refuse_device("/dev/zero", "--x")  # refused before a read that never ends
    fileio.refuse_device(str(fifo), "--x")
    assert not fileio.device_not_file(str(fifo)) and not fileio.device_not_file(str(target))
    fileio.check_can_write_file(str(link), "--json")  # no error
    fileio.check_can_write_file(str(target), "--json")
    blocks = [p for p in sorted(glob.glob("/dev/loop*") + glob.glob("/dev/sd?"))
              if stat.S_ISBLK(os.stat(p).st_mode)]
    if blocks:  # a disk read whole
        assert fileio.device_not_file(blocks[0])
