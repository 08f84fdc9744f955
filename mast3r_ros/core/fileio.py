"""Atomic file and folder writes: a reader sees the old file (folder) or the complete new one,
never a part."""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from .durable import flush_before_publish, flush_filesystem, fsync_dir, mkstemp_public
from .errors import InputError
from .map_nesting import refuse_inside_map_data

log = logging.getLogger(__name__)


def atomic_write_file(path: str, write: Callable[[str], None]) -> None:
    """Run ``write(tmp_path)`` (a temporary file next to ``path``), sync it, rename it over
    ``path`` and sync the folder (the rename), so readers see either the old file or the
    complete new one, and after a power cut the new one once this returned. The temporary file
    is removed when ``write`` raises. Raises `IsADirectoryError` naming ``path`` when it is a
    folder (before anything is written)."""
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "a folder, where a file is to be written", path)
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
        if os.path.lexists(folder):
            raise InputError(f"{what} {path}: {folder} is not a folder")
        raise InputError(f"{what} {path}: the folder {parent} does not exist (create it, or "
                         "choose another path)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=folder)
    except OSError as e:
        raise InputError(f"{what} {path}: cannot write in the folder {folder} "
                         f"({_why_not_writable(folder, e)})") from None
    os.close(fd)
    os.unlink(probe)


def check_can_write_file(path: str, what: str) -> None:
    """`check_can_create` for an output *file* whose folder must exist (``--json``,
    ``--plot``), refusing as well a ``path`` that is a folder (`InputError` naming ``what``):
    it was found only when writing, as a bare "cannot use path" line."""
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise InputError(f"{what} {path}: a folder, where a file is to be written; give the "
                         "name of a file (in that folder or elsewhere)")
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


def check_output_folder(path: str, overwrite: bool, markers: Sequence[str] = (),
                        allowed: Optional[Sequence[str]] = None) -> None:
    """Refuse an output folder before any work is done.

    Raises `InputError` (naming ``path``) when ``path`` exists and is not a folder, when it
    exists and ``overwrite`` is off (the message names ``--overwrite``), and, with ``overwrite``,
    when it is a non-empty folder that is not an output of the same command: it lacks one of
    ``markers`` (paths inside the folder that every complete output of the command holds), or
    ``allowed`` (fnmatch patterns) is given and it holds an entry matching none of them. So a
    mistyped ``--out`` never deletes unrelated data: a project folder with a ``config.yaml`` is
    not a run folder. An empty ``path`` (which would mean the current folder) is refused, and
    so is a ``path`` that cannot be created there (`check_can_create`: no writable folder
    above it).
    """
    if not path.strip():
        raise InputError("the output path is empty (give --out a folder name)")
    refuse_inside_map_data(path)
    full = os.path.abspath(path)
    if not os.path.lexists(full):
        check_can_create(path, "--out")
        return
    if not os.path.isdir(full):
        raise InputError(f"output path exists and is not a folder: {path} (choose another --out)")
    if not overwrite:
        raise InputError(f"output folder already exists: {path} (pass --overwrite to replace "
                         "it, or choose another --out)")
    names = sorted(os.listdir(full))
    if names:
        missing = [m for m in markers if not os.path.lexists(os.path.join(full, m))]
        foreign = [] if allowed is None else [
            n for n in names if not any(fnmatch.fnmatchcase(n, pat) for pat in allowed)]
        if missing or foreign:
            why = (f"it lacks {', '.join(missing)}" if missing else
                   f"it holds {', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}")
            raise InputError(f"--overwrite: {path} is not an output of this command ({why}); "
                             "not replacing it (choose another --out, or remove it yourself)")
    check_can_create(path, "--out")  # the new folder is built beside it


@contextlib.contextmanager
def atomic_folder(path: str, overwrite: bool = False, markers: Sequence[str] = (),
                  allowed: Optional[Sequence[str]] = None, locked: bool = False,
                  salvage: Optional[str] = None) -> Iterator[str]:
    """Build a folder in a temporary sibling (yielded) and publish it at ``path`` by renames
    when the block ends without an exception; on an exception (Ctrl-C included) the temporary
    folder is deleted and ``path`` is left as it was. An existing ``path`` is refused as
    `check_output_folder` says (``overwrite``, ``markers``, ``allowed``), else replaced whole.

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
    keeps the complete output in ``PATH.kept-X`` (logged as an error naming it) and re-raises."""
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
            _publish_failed(tmp, given, e)
            raise
        if not overwrite and os.path.lexists(path):
            tmp = _keep_output(tmp)
            raise InputError(f"--out {given} appeared while this output was being written (by "
                             "a program that does not take its lock?); not replacing it "
                             f"without --overwrite: the output is kept in {tmp}")
        try:
            replace_folder(tmp, path)
        except BaseException as e:
            _publish_failed(tmp, given, e)
            raise
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


def acquire_output_lock(path: str, what: str = "--out", salvage: Optional[str] = None
                        ) -> OutputLock:
    """Take the advisory lock (``fcntl.flock``, exclusive, without waiting) of output ``path``
    on its `lock_file`, which records this process's pid and command. The kernel releases it
    when the process ends, however it ends, so a crashed writer never blocks a later one (its
    lock file may stay behind, unlocked, and is reused). Not reentrant: a second acquire in this
    process is refused too (one writer per output). Linux/POSIX only (``fcntl``).

    Raises `OutputBusyError` (an `InputError`; one line naming ``path``, the holder's pid and
    command, and ``what``, the option to change) when another writer holds it, `InputError`
    when the lock file cannot be created (the folder above ``path`` must exist and be
    writable). Once held, the temporaries a killed writer left are cleared
    (`remove_stale_temporaries`, ``salvage`` passed on)."""
    import fcntl

    file = lock_file(path)
    with contextlib.suppress(OSError):  # check_output_folder allows missing parents
        os.makedirs(os.path.dirname(file), exist_ok=True)
    while True:
        try:
            fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:  # another user's lock file: a read-only handle locks too
            try:
                fd = os.open(file, os.O_RDONLY)
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
    remove_stale_temporaries(path, salvage)
    return _HELD[file]


# The temporary sibling a writer fills before renaming it to its output OUT (`atomic_folder`,
# `MapWriter`) is OUT + TEMP_INFIX + mkdtemp's 8 characters: a form no user's own folder beside
# OUT (OUT.tmp-20261202, OUT.tmp-backup_1) has, so `remove_stale_temporaries` removes only ours.
TEMP_INFIX = ".tmp-m3r-"
# where `replace_folder` moves the output it replaces until it is deleted: OUT + OLD_INFIX +
# mkdtemp's 8 characters; under OUT's lock one that exists is a leftover of a cut deletion
OLD_INFIX = ".old-"


def make_temporary_sibling(path: str) -> str:
    """Make (mode 0700) and return the temporary sibling ``PATH.tmp-m3r-XXXXXXXX`` of the
    output folder ``path`` (as `output_path` gives it), for its writer to fill and publish."""
    return tempfile.mkdtemp(prefix=os.path.basename(path) + TEMP_INFIX,
                            dir=os.path.dirname(path))


def _publish_failed(tmp: str, given: str, error: BaseException) -> None:
    """A complete output ``tmp`` could not be published at ``given``: kept (`_keep_output`,
    logged) when the user stopped the program (Ctrl-C, SIGTERM), else deleted."""
    if isinstance(error, (KeyboardInterrupt, SystemExit)) and os.path.isdir(tmp):
        log.error("interrupted while publishing %s: the complete output is kept in %s (move it "
                  "to %s)", given, _keep_output(tmp), given)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def _keep_output(tmp: str) -> str:
    """Rename a finished temporary sibling ``PATH.tmp-m3r-X`` that cannot be published to
    ``PATH.kept-X``, out of reach of `remove_stale_temporaries`; returns where it is."""
    parent, name = os.path.split(tmp)
    head, _, tail = name.rpartition(TEMP_INFIX)
    kept = os.path.join(parent, head + ".kept-" + tail)
    try:
        if not os.path.lexists(kept):
            os.rename(tmp, kept)
            return kept
    except OSError:
        pass
    return tmp


def remove_stale_temporaries(path: str, salvage: Optional[str] = None) -> List[str]:
    """Delete the temporary siblings ``PATH.tmp-m3r-XXXXXXXX`` (`make_temporary_sibling`) that a
    writer killed without a chance to clean up (``kill -9``, the OOM killer, a power cut) left
    beside output ``path``; returns them. Only for the holder of ``path``'s output lock, which
    every writer of such a sibling holds while it lives: one that exists now is nobody's. So are
    the ``PATH.old-XXXXXXXX`` folders `replace_folder` moves a replaced output to and deletes
    (left when that deletion was interrupted): deleted too, with a WARNING; or put back,
    ``PATH`` missing (a kill between the renames). Nothing of another form is touched: a user's
    ``PATH.tmp-20261202`` or ``PATH.old-backup``, ``PATH.partial`` (a resumable build; with
    ``salvage``, a stopped run's is replaced by a newer killed run's lines, as the next stopped
    run replaces it).

    ``salvage``: the name of a line file (``results.jsonl``) that a writer appends to as its
    work finishes. A stale temporary holding at least one finished line of it is not deleted
    but renamed to ``PATH.partial``, the line the kill cut short (no newline) dropped, unless
    the ``PATH.partial`` there holds a newer such file (the newest of several stale temporaries
    wins; a ``PATH.partial`` without that file, or one that cannot be deleted, is not replaced
    and the temporary is kept as ``PATH.kept-XXXXXXXX``, or where it is if that rename fails);
    each is a WARNING naming the folder and its line count."""
    out = output_path(path).rstrip("/")
    parent, base = os.path.split(out)
    stale = re.compile(re.escape(base) + "(" + re.escape(TEMP_INFIX) + "|" + re.escape(OLD_INFIX)
                       + r")[a-z0-9_]{8}")
    try:
        names = os.listdir(parent or ".")
    except OSError:
        return []
    dirs = [os.path.join(parent, n) for n in names if stale.fullmatch(n)]
    old = [d for d in dirs if OLD_INFIX in os.path.basename(d)[len(base):]]
    dirs = [d for d in dirs if d not in old]
    for full in old:  # an output replaced by --overwrite, its deletion cut short (Ctrl-C)
        if os.path.isdir(full) and not os.path.islink(full):
            back = not os.path.lexists(out) and os.path.isdir(os.path.join(full, "folder"))
            if back:  # killed between replace_folder's two renames: the output is put back
                os.replace(os.path.join(full, "folder"), out)
            shutil.rmtree(full, ignore_errors=True)
            if back:
                log.warning("restored %s: an --overwrite killed between its two renames had "
                            "moved it aside", out)
            elif not os.path.lexists(full):
                log.warning("removed %s: the output %s replaced, left when its deletion was "
                            "interrupted", full, out)
    dirs = sorted(d for d in dirs if os.path.isdir(d) and not os.path.islink(d))
    if salvage:  # oldest first: the newest run's lines are the ones left in PATH.partial
        dirs.sort(key=lambda d: _line_file_mtime(os.path.join(d, salvage)))
    removed, gone = [], []
    for full in dirs:
        if salvage and _salvage_lines(full, salvage, out):
            removed.append(full)
            continue
        shutil.rmtree(full, ignore_errors=True)
        if not os.path.lexists(full):
            removed.append(full)
            gone.append(full)
    if gone:
        log.warning("removed %d temporary folder(s) that a killed writer of %s left: %s",
                    len(gone), out, ", ".join(sorted(gone)))
    return removed


def _line_file_mtime(file: str) -> float:
    try:
        return os.stat(file).st_mtime
    except OSError:
        return float("-inf")


def _salvage_lines(tmp: str, name: str, out: str) -> bool:
    """Keep the stale temporary ``tmp`` of output ``out`` when its line file ``name`` holds a
    finished line (the file cut to its last newline, its mtime kept): renamed to
    ``OUT.partial`` unless that holds a newer such file or more finished lines (a run resuming
    it killed while copying them; then False: ``tmp`` may go), else, if
    ``OUT.partial`` is something else or cannot be replaced, to ``OUT.kept-X``, else left where
    it is. True when ``tmp`` holds lines that must not be deleted (moved or not)."""
    file, partial = os.path.join(tmp, name), out + ".partial"
    try:
        with open(file, "rb") as fh:
            data = fh.read()
        st = os.stat(file)
    except OSError:
        return False
    end = data.rfind(b"\n") + 1
    if not end or _line_file_mtime(os.path.join(partial, name)) > st.st_mtime:
        return False
    lines = data.count(b"\n", 0, end)
    with contextlib.suppress(OSError), open(os.path.join(partial, name), "rb") as fh:
        if fh.read().count(b"\n") > lines:  # a run resuming it killed copying them: a prefix
            return False
    with contextlib.suppress(OSError):
        if end < len(data):
            with open(file, "r+b") as fh:
                fh.truncate(end)
            os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns))
    kept = tmp
    try:
        flush_filesystem(tmp)  # a writeback error: kept as OUT.kept-X, not OUT.partial
        if os.path.isfile(os.path.join(partial, name)) and not os.path.islink(partial):
            shutil.rmtree(partial)  # an older stopped run's: superseded
        if not os.path.lexists(partial):
            os.rename(tmp, partial)
            kept = partial
            fsync_dir(os.path.dirname(partial))  # the rename itself
    except OSError:
        pass
    if kept == tmp:  # OUT.partial is something else (a resumable build) or would not go
        kept = _keep_output(tmp)
    log.warning("a writer of %s killed without cleaning up left %d finished line(s) of %s in "
                "%s: kept as %s%s", out, lines, name, tmp, kept,
                " (a complete run to it replaces them)" if kept == partial else "")
    return True


@contextlib.contextmanager
def output_lock(path: str, what: str = "--out") -> Iterator[OutputLock]:
    """`acquire_output_lock` for the ``with`` block; released when it ends."""
    lock = acquire_output_lock(path, what)
    try:
        yield lock
    finally:
        lock.release()


def output_path(path: str) -> str:
    """The absolute folder an output named ``path`` is published at: ``path`` itself, or, when
    ``path`` (a trailing '/' aside) is a symbolic link to a folder, the folder it points to.

    Outputs are published by renaming a finished sibling folder into place (`atomic_folder`,
    `replace_folder`); renamed over a link, that would put a new folder where the link was and
    leave the old contents behind it. Resolving first keeps the link and replaces its folder.
    A link to nothing is returned as the link (the callers refuse it as not a folder)."""
    path = os.fspath(path)
    bare = path.rstrip("/") or "/"
    if os.path.islink(bare) and os.path.isdir(bare):
        return os.path.realpath(bare)
    return os.path.abspath(path)


def replace_folder(src: str, dst: str) -> None:
    """Rename the complete folder ``src`` to ``dst`` (same file system); an existing ``dst`` is
    first renamed aside (``DST.old-XXXXXXXX``) and deleted after, so ``dst`` is never a mix of
    the two. A deletion cut short (Ctrl-C) leaves that folder to the next holder of ``dst``'s
    output lock (`remove_stale_temporaries`)."""
    if not os.path.lexists(dst):
        os.replace(src, dst)
        return
    old = tempfile.mkdtemp(prefix=os.path.basename(dst) + OLD_INFIX, dir=os.path.dirname(dst))
    try:
        os.replace(dst, os.path.join(old, "folder"))
    except BaseException:  # dst stays as it was: no empty folder beside it
        os.rmdir(old)
        raise
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(os.path.join(old, "folder"), dst)
        os.rmdir(old)
        raise
    shutil.rmtree(old, ignore_errors=True)
