"""Atomic file and folder writes: a reader sees the old file (folder) or the complete new one,
never a part. The renames that publish a folder, and the clean-up of what a killed writer left,
are in `publish`."""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import hashlib
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
from typing import Callable, Dict, Iterator, Optional, Sequence

from .checkpoint_note import checkpoint_file_note  # noqa: F401 (moved; its callers import it here)
from .durable import flush_before_publish, fsync_dir, mkstemp_public
from .errors import InputError, after_publishing, mark_published
from .map_nesting import refuse_inside_map_data
from .output_kinds import added_files_refusal, mount_point_refusal, not_this_output_why
from .publish import (  # the publish steps, imported from here by their callers too
    check_can_replace, keep_output, make_temporary_sibling, needs_overwrite, output_path,
    publish_failed, publish_folder, put_back_left_aside, remove_stale_temporaries,
    unreplaceable_reason)


def atomic_write_file(path: str, write: Callable[[str], None]) -> None:
    """Run ``write(tmp_path)`` (a temporary file next to ``path``), sync it, rename it over
    ``path`` and sync the folder (the rename), so readers see either the old file or the
    complete new one, and after a power cut the new one once this returned. The temporary file
    is removed when ``write`` raises. Raises `IsADirectoryError` naming ``path`` when it is a
    folder, and `OSError` (EINVAL) when it is a device, FIFO or socket, which the rename would
    replace (before anything is written)."""
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "a folder, where a file is to be written", path)
    if _is_special_file(path):
        raise OSError(errno.EINVAL, _SPECIAL_FILE, path)
    try:
        fd, tmp = mkstemp_public(os.path.dirname(os.path.abspath(path)))
    except OSError as e:
        raise _naming(e, path) from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and tmp in (e.filename, e.filename2):
            raise _naming(e, path) from None
        raise
    fsync_dir(os.path.dirname(os.path.abspath(path)))


_SPECIAL_FILE = ("not a regular file (a device, pipe or socket): the output is written to a new "
                 "file renamed over this path, which would replace it; give a file's name")


def _is_special_file(path: str) -> bool:
    """Whether ``path`` itself (not a link's target) is a device, FIFO or socket: renaming a
    new file over it would remove it (run as root, ``--json /dev/full`` replaced the device)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def device_not_file(path: str) -> bool:
    """Whether ``path`` (a link followed) is a character or block device (``/dev/zero``,
    ``/dev/full``, a disk): read whole where a file is expected, an endless one grew the
    process until the kernel's OOM killer ended it (every reader of a whole file, a trajectory,
    a calibration or a checkpoint, did). A FIFO (``<(command)``) ends and is not one."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def refuse_device(path: str, what: str) -> None:
    """`InputError` (``what`` ``path``: ...) when ``path`` is a device (`device_not_file`)."""
    if device_not_file(path):
        raise InputError(f"{what} {path} is a device, not a file: reading it would not end (or "
                         "would read a raw disk); give the file itself")


def _naming(e: OSError, path: str) -> OSError:
    """``e`` naming ``path`` (the destination the user gave) instead of our temporary file
    beside it, which the user never heard of (and its reason made right for a folder that
    takes no files, `_why_not_writable`)."""
    folder = os.path.dirname(os.path.abspath(path))
    return OSError(e.errno, _why_not_writable(folder, e), path)


def _why_not_writable(folder: str, e: OSError) -> str:
    """Why no file can be created in ``folder``, ``e`` the OS error of trying: the OS's words,
    except that "No such file or directory" for a folder that is there (the kernel's /proc
    answers so) is not left to read as a missing folder."""
    said = e.strerror or str(e)
    if e.errno == errno.ENOENT and os.path.isdir(folder):
        return (f"the folder exists but takes no new files: a kernel or special file system "
                f"such as /proc? The OS said: {said}")
    return said


def check_can_create(path: str, what: str, make_parents: bool = True) -> None:
    """Refuse, before any work, an output ``path`` that cannot be created: `InputError`
    naming ``what`` (the option, e.g. "--out") and ``path`` as given. With ``make_parents``
    (the writer creates missing parent folders) the nearest existing ancestor must be a
    folder we can write in, else ``path``'s parent must be one. Probed by creating and removing
    a temporary file there: permissions, a read-only or pseudo file system (/proc), which
    `os.access` does not tell for root."""
    parent = os.path.dirname(os.path.abspath(path))
    folder = parent
    while make_parents and not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        if os.path.islink(folder) and not os.path.exists(folder):  # a link to nothing
            raise InputError(f"{what} {path}: {folder} is not a folder: it is a link to "
                             f"{os.readlink(folder)}, which does not exist; create that "
                             f"folder, or choose another {what}")
        if os.path.lexists(folder):
            raise InputError(f"{what} {path}: {folder} is not a folder but a file, so "
                             f"nothing can be written under it: choose another {what}")
        raise InputError(f"{what} {path}: the folder {parent} does not exist (create it, or "
                         "choose another path)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=folder)
    except OSError as e:
        raise InputError(f"{what} {path}: cannot write in the folder {folder} "
                         f"({_why_not_writable(folder, e)}); choose another {what} on a "
                         "file system you can write to") from None
    os.close(fd)
    os.unlink(probe)


def make_parent_folders(path: str) -> None:
    """Create the missing folders above output ``path`` (as ``mkdir -p`` would), and say so at
    INFO, naming the outermost folder created and ``path`` as given: a mistyped ``--out
    /data/mpas/site`` otherwise made ``/data/mpas`` without a word. The folders of a symlink's
    target (`output_path`) are the ones made. Raises the ``OSError`` of ``os.makedirs``
    (`check_can_create` refuses such a path before any work)."""
    parent = os.path.dirname(os.path.abspath(output_path(path).rstrip("/") or path))
    top = None
    folder = parent
    while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        top, folder = folder, os.path.dirname(folder)
    if top is None:
        return
    os.makedirs(parent, exist_ok=True)
    below = "" if top == parent else f", and the folders below it up to {parent},"
    logging.getLogger(__name__).info("created the missing folder %s%s for the output %s", top,
                                     below, path)


def check_can_write_file(path: str, what: str) -> None:
    """`check_can_create` for an output *file* whose folder must exist (``--json``,
    ``--plot``), refusing as well a ``path`` that is a folder (`InputError` naming ``what``):
    it was found only when writing, as a bare "cannot use path" line; and one that is a device,
    FIFO or socket (``/dev/full``), which the atomic rename would replace."""
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise InputError(f"{what} {path}: a folder, where a file is to be written; give the "
                         "name of a file (in that folder or elsewhere)")
    if _is_special_file(path):
        raise InputError(f"{what} {path}: {_SPECIAL_FILE}")
    check_can_create(path, what, make_parents=False)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write a file so that readers see either the old content or the complete new one."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    atomic_write_file(path, write)


def file_sha256(path: str) -> str:
    """Hex sha256 of a file's content, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str, obj) -> None:
    import json

    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def _is_mount_point(path: str) -> bool:
    """Whether the absolute, resolved ``path`` is a mount point: `os.path.ismount`, or (a bind
    mount of a folder of the same file system, which it misses) listed in /proc/self/mountinfo
    where Linux has it."""
    if os.path.ismount(path):
        return True
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            points = {re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                             line.split()[4]) for line in fh if len(line.split()) > 4}
    except OSError:
        return False
    return path in points


def _refuse_pasted_blank(path: str) -> None:
    """A new ``--out`` that begins or ends with white space (``--out "$OUT"``, OUT pasted with
    its blank) would be a folder that the path typed without it does not find: refused,
    naming that path; one made beforehand is the user's choice, written into."""
    if path == path.strip():
        return
    edge = ("begins and ends" if path[:1].isspace() and path[-1:].isspace() else
            "begins" if path[:1].isspace() else "ends")
    raise InputError(f"--out {path!r} {edge} with white space (a pasted blank?): the folder "
                     "would be named with it, which later commands given the path without it "
                     f"do not find; give --out {path.strip()!r}, or make the folder first "
                     f"(mkdir {path!r}) to keep the name")


def check_output_folder(path: str, overwrite: bool, markers: Sequence[str] = (),
                        allowed: Optional[Sequence[str]] = None,
                        overwrite_refusal: Optional[Callable[[], Optional[str]]] = None,
                        overwrite_does: str = "replace it") -> None:
    """Refuse an output folder before any work is done.

    Raises `InputError` (naming ``path``) when ``path`` exists and is not a folder, when it
    exists and ``overwrite`` is off (the message names ``--overwrite``) unless it is an empty
    folder (published onto without ``overwrite``: `rename_onto_empty`), and, with ``overwrite``,
    when it is a non-empty folder that is not an output of the same command: it lacks one of
    ``markers`` (paths inside the folder that every complete output of the command holds), or
    ``allowed`` (fnmatch patterns) is given and it holds an entry matching none of them. So a
    mistyped ``--out`` never deletes unrelated data: a project folder with a ``config.yaml`` is
    not a run folder. An empty ``path`` (which would mean the current folder) is refused, and
    so are a mount point (a docker volume: it cannot be renamed onto) and a ``path`` that
    cannot be created there (`check_can_create`: no writable folder
    above it). An existing ``path`` whose lock a live writer holds is `OutputBusyError` (an
    `InputError`) first, without ``overwrite`` too: not "pass --overwrite" for a folder being
    written. Without ``overwrite``, --overwrite is suggested only where it would replace the
    folder: ``overwrite_refusal`` gives the caller's further reason (str, or None) why not, and
    a folder it could not replace (`check_can_create`; `unreplaceable_reason`: read, the folder
    is not moved) is refused for that reason; ``overwrite_does`` says what --overwrite does.
    """
    if not path.strip():  # worded as every other empty option (--map, --params, ...)
        raise InputError("--out is empty (an unset shell variable?): give a folder name"
                         if not path else f"--out {path!r} is blank: give a folder name")
    refuse_inside_map_data(path)
    full = os.path.abspath(path)
    if put_back_left_aside(path):  # a kill mid-swap hid it in OUT.old-X: checked as it is
        return check_output_folder(path, overwrite, markers, allowed, overwrite_refusal)
    if not os.path.lexists(full):
        _refuse_pasted_blank(path)
        check_can_create(path, "--out")
        return
    if not os.path.isdir(full):
        raise InputError(f"output path exists and is not a folder: {path} (choose another --out)")
    if _is_mount_point(os.path.realpath(full)):  # a docker volume: the rename fails with EBUSY
        raise InputError(mount_point_refusal(path, full))  # read-only: no folder inside it
    try:
        names, listed = sorted(os.listdir(full)), True
    except OSError:  # unreadable: refused below as before (exists; with --overwrite: listed)
        if overwrite:
            raise
        names, listed = [], False
    if not overwrite and listed and not names:  # made beforehand: nothing in it to lose
        refuse_busy_output(path, "--out")
        check_can_create(path, "--out")  # the new folder is built beside it, renamed onto it
        return check_can_replace(path, overwrite)
    missing = [m for m in markers if names and not os.path.lexists(os.path.join(full, m))]
    foreign = [] if allowed is None else [
        n for n in names if not any(fnmatch.fnmatchcase(n, pat) for pat in allowed)]
    why = not_this_output_why(full, missing, foreign)  # a run given to build-map named as one
    added = added_files_refusal(path, markers, missing, foreign)  # its output + the user's
    if not overwrite:
        refuse_busy_output(path, "--out")  # a live writer's folder: not one to overwrite
        if missing or foreign:  # --overwrite would be refused too: not suggested
            raise InputError(added or f"output folder already exists: {path}, and it is not "
                             f"an output of this command ({why}), which --overwrite would not "
                             "replace either: choose another --out")
        refusal = overwrite_refusal() if overwrite_refusal is not None else None
        if refusal:
            raise InputError(f"output folder already exists: {path}, and --overwrite would not "
                             f"replace it: {refusal}")
        check_can_create(path, "--out")  # what --overwrite would meet first: said now
        fixed = unreplaceable_reason(path)  # read, not probed: OUT is not moved
        if fixed:
            raise InputError(f"output folder already exists: {path}, and --overwrite would not "
                             f"replace it: {fixed}; or choose another --out")
        raise InputError(f"output folder already exists: {path} (pass --overwrite to "
                         f"{overwrite_does}, or choose another --out)")
    if missing or foreign:
        raise InputError(f"--overwrite: {added}" if added else
                         f"--overwrite: {path} is not an output of this command ({why}); "
                         "not replacing it (choose another --out, or remove it yourself)")
    refuse_busy_output(path, "--out")  # not moved aside by the probe below while published
    check_can_create(path, "--out")  # the new folder is built beside it, renamed onto it
    check_can_replace(path, overwrite)


@contextlib.contextmanager
def atomic_folder(path: str, overwrite: bool = False, markers: Sequence[str] = (),
                  allowed: Optional[Sequence[str]] = None, locked: bool = False,
                  salvage: Optional[str] = None, what: str = "the output") -> Iterator[str]:
    """Build a folder in a temporary sibling (yielded) and publish it at ``path`` by renames
    when the block ends without an exception; on an exception (Ctrl-C included) the temporary
    folder is deleted and ``path`` is left as it was. An existing ``path`` is refused as
    `check_output_folder` says (``overwrite``, ``markers``, ``allowed``), else replaced whole
    (an empty folder also without ``overwrite``, by the rename itself: `rename_onto_empty`).

    The output lock of ``path`` (`acquire_output_lock`) is held from the check to the publish:
    a second writer of the same ``path`` (another process, or this one) is refused with
    `OutputBusyError` before it does any work; ``locked``: the caller holds that lock already
    (`output_lock` around work done before the block: the refusal then comes before that work)
    and keeps it. Should ``path`` appear anyway while the block runs (a program that takes no
    lock) and ``overwrite`` is off, nothing is replaced: the output is kept in its temporary
    sibling and `InputError` names both. ``salvage``: the line file whose finished lines a
    killed writer's temporary keeps as ``PATH.partial`` (`remove_stale_temporaries`). The files'
    data is flushed to disk before the rename (`durable.flush_before_publish`: an OSError naming
    ``path`` when it cannot be written, the temporary deleted and nothing published). Ctrl-C
    (or SIGTERM's exception) after the block ended, while the output is flushed or renamed,
    keeps the complete output in ``PATH.kept-X`` (logged as an error naming it) and re-raises,
    as a rename the OS refuses keeps it (`InputError` naming it; `check_can_replace` probes
    it up front); once renamed (the replaced output's deletion cut short), re-raised noted as
    after ``what`` was published (`errors.after_publishing`: the CLI's last line says so)."""
    check_output_folder(path, overwrite, markers, allowed)
    given, path = path, output_path(path)
    if locked and lock_file(given) not in _HELD:
        raise RuntimeError(f"atomic_folder({given!r}, locked=True) without its output_lock held")
    lock = OutputLock(None, "") if locked else acquire_output_lock(given, salvage=salvage)
    try:
        check_output_folder(given, overwrite, markers, allowed)  # again, under the lock
        try:
            tmp = make_temporary_sibling(path)
        except OSError as e:
            raise _naming(e, path) from None
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:  # the output is complete from here on
            umask = os.umask(0o022)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp made it 0700
            flush_before_publish(tmp, given)  # the files' data on disk before the rename
        except BaseException as e:
            publish_failed(tmp, given, e)
            raise
        if not overwrite and needs_overwrite(path):
            tmp = keep_output(tmp)
            raise InputError(f"--out {given} appeared while this output was being written (by "
                             "a program that does not take its lock?); not replacing it "
                             f"without --overwrite: the output is kept in {tmp}")
        try:
            renamed = publish_folder(tmp, path, overwrite)  # without: never onto a filled one
        except BaseException as e:
            if os.path.lexists(tmp) and isinstance(e, OSError) and e.errno != errno.EIO:
                raise InputError(f"--out {given}: {what} is complete but could not be renamed "
                                 f"into place ({e.strerror or e}): it is kept in "
                                 f"{keep_output(tmp)}; move it there yourself") from None
            if os.path.lexists(tmp):  # Ctrl-C: kept (logged); a device's write error: deleted
                publish_failed(tmp, given, e)
            elif isinstance(e, KeyboardInterrupt):  # renamed, the old one's deletion cut short
                mark_published(e, what, path)
            raise
        if not renamed:  # appeared, or the empty folder there was written into, meanwhile
            tmp = keep_output(tmp)
            raise InputError(f"--out {given} appeared or was written into while this output was "
                             "being written; not replacing it without --overwrite: the output "
                             f"is kept in {tmp}")
        with after_publishing(what, path):
            fsync_dir(os.path.dirname(path))  # the rename itself
    finally:
        lock.release()


class OutputBusyError(InputError):
    """Another writer (``holder``: its pid and command) holds the output lock ``file`` of the
    folder ``path`` (`acquire_output_lock`); ``what`` the option or argument that named it."""

    def __init__(self, path: str, holder: str, file: str, what: str = "--out"):
        super().__init__(f"{what} {path}: another writer ({holder or 'pid unknown'}) is writing "
                         f"it (it holds {file}); wait for it to finish, or choose another "
                         f"{what}")
        self.path, self.holder, self.file = path, holder, file

    def worded(self, what: str) -> OutputBusyError:
        """The same refusal naming ``what`` (the CLI's ``--out`` for the API's words)."""
        return OutputBusyError(self.path, self.holder, self.file, what)


LOCK_SUFFIX = ".lock"
_HELD: Dict[str, OutputLock] = {}  # lock file -> the lock this process holds on it


class OutputLock:
    """A held output lock (`acquire_output_lock`); `release` it (again: no-op)."""

    def __init__(self, fd: Optional[int], file: str):
        self.fd = fd
        self.file = file

    @property
    def held(self) -> bool:
        return self.fd is not None

    def release(self) -> None:
        """Delete the lock file, then close it (which releases the lock): a writer that opened
        the file before the delete finds, once it holds the lock, that it is not the file at
        the lock's path any more and takes a new one."""
        fd, self.fd = self.fd, None  # first: a Ctrl-C in here must not leave a closed fd to
        if fd is None:               # be closed again (EBADF) by the cleanup it triggers
            return
        _HELD.pop(self.file, None)
        try:
            with contextlib.suppress(OSError):
                if os.stat(self.file).st_ino == os.fstat(fd).st_ino:
                    os.unlink(self.file)
        finally:
            os.close(fd)


def lock_file(path: str) -> str:
    """The lock file of output ``path``: ``PATH.lock`` beside the folder it publishes at
    (`output_path`: a symlink's target), so ``out``, ``./out/`` and a link share one."""
    return output_path(path).rstrip("/") + LOCK_SUFFIX


def _holder_label() -> str:
    """Who this process is, for the lock file: ``mast3r-ros build-map`` for the CLI, else the
    program's name."""
    argv = [a for a in sys.argv if a] or ["python"]
    prog = os.path.basename(argv[0])
    if prog in ("mast3r-ros", "cli.py", "__main__.py"):
        cmd = next((a for a in argv[1:] if not a.startswith("-")), "")
        return f"mast3r-ros {cmd}".strip()
    return prog


def acquire_output_lock(path: str, what: str = "--out", salvage: Optional[str] = None,
                        clean: bool = True) -> OutputLock:
    """Take the advisory lock (``fcntl.flock``, exclusive, without waiting) of output ``path``
    on its `lock_file`, which records this process's pid and command. The kernel releases it
    when the process ends, however it ends, so a crashed writer never blocks a later one (its
    lock file may stay behind, unlocked, and is reused). Not reentrant: a second acquire in this
    process is refused too (one writer per output). Linux/POSIX only (``fcntl``).

    Raises `OutputBusyError` (an `InputError`; one line naming ``path``, the holder's pid and
    command, and ``what``, the option to change) when another writer holds it, `InputError`
    when the lock file cannot be created (the folder above ``path`` must exist and be
    writable). Once held, the temporaries a killed writer left are cleared
    (`remove_stale_temporaries`, ``salvage`` passed on), unless not ``clean``."""
    import fcntl

    file = lock_file(path)
    with contextlib.suppress(OSError):  # check_output_folder allows missing parents
        make_parent_folders(path)
    while True:
        try:
            fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError as denied:  # another user's lock file: a read-only handle locks
            try:
                fd = os.open(file, os.O_RDONLY)
            except FileNotFoundError:  # no lock file: the folder itself takes no new files
                raise InputError(f"{what} {path}: cannot create the lock file {file} "
                                 f"({_why_not_writable(os.path.dirname(file), denied)})"
                                 ) from None
            except OSError as e:
                raise InputError(f"{what} {path}: cannot open the lock file {file} "
                                 f"({e.strerror or e})") from None
        except OSError as e:
            raise InputError(f"{what} {path}: cannot create the lock file {file} "
                             f"({_why_not_writable(os.path.dirname(file), e)})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = ""
            with contextlib.suppress(OSError):
                holder = os.pread(fd, 400, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(f"{what} {path}: cannot lock {file} ({e.strerror or e})"
                                 ) from None
            raise OutputBusyError(path, holder, file, what) from None
        try:  # its last holder may have deleted the file between our open and our lock
            same = os.stat(file).st_ino == os.fstat(fd).st_ino
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {_holder_label()}\n".encode(), 0)
    _HELD[file] = OutputLock(fd, file)
    if clean:
        remove_stale_temporaries(path, salvage)
    return _HELD[file]



def refuse_busy_output(path: str, what: str = "--out") -> None:
    """`OutputBusyError` when another writer holds output ``path``'s lock now (a check made
    before long work, so a live writer's build folder is not taken for an unfinished one);
    takes no lock and creates no file (a probe: the writer's own `acquire_output_lock` still
    decides). Linux/POSIX only (``fcntl``)."""
    import fcntl

    file = lock_file(path)
    if file in _HELD:  # this process's own (a check repeated under the writer's lock)
        return
    try:
        fd = os.open(file, os.O_RDONLY)
    except OSError:  # no lock file: nobody holds it (or it cannot be read: the writer says)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            holder = ""
            with contextlib.suppress(OSError):
                holder = os.pread(fd, 400, 0).decode("utf-8", "replace").strip()
            raise OutputBusyError(path, holder, file, what) from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def output_lock(path: str, what: str = "--out") -> Iterator[OutputLock]:
    """`acquire_output_lock` for the ``with`` block; released when it ends."""
    lock = acquire_output_lock(path, what)
    try:
        yield lock
    finally:
        lock.release()
