"""Publishing an output folder by renames: the temporary sibling its writer fills
(`make_temporary_sibling`), the rename into place that replaces an existing output whole
(`replace_folder`), keeping a complete output that cannot be published (``OUT.kept-X``), and the
clean-up, under the output's lock, of what a killed writer left beside it
(`remove_stale_temporaries`). `fileio.atomic_folder` and `MapWriter` publish through these
(`publish_folder`: the one step both take)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import shlex
import shutil
import tempfile
from typing import List, Optional

from .durable import flush_filesystem, fsync_dir
from .errors import InputError

# these lines were fileio's and keep its logger: the CLI prints the logger's name, and a user's
# logging configuration may select it
log = logging.getLogger(f"{__package__}.fileio")

# The temporary sibling a writer fills before renaming it to its output OUT (`atomic_folder`,
# `MapWriter`) is OUT + TEMP_INFIX + mkdtemp's 8 characters: a form no user's own folder beside
# OUT (OUT.tmp-20261202, OUT.tmp-backup_1) has, so `remove_stale_temporaries` removes only ours.
TEMP_INFIX = ".tmp-m3r-"
# where `replace_folder` moves the output it replaces until it is deleted: OUT + OLD_INFIX +
# mkdtemp's 8 characters; under OUT's lock one that exists is a leftover of a cut deletion
OLD_INFIX = ".old-"
# the name `check_can_replace` moves an empty --out to and back (``OUT.old-X-empty``, the user's
# folder itself, not a folder of ours): the one leftover put back as OUT while empty. An empty
# ``OUT.old-X`` is what a cut deletion leaves (`replace_folder`), never the user's OUT
EMPTY_SUFFIX = "-empty"
# inside ``OUT.old-X``: ``folder`` is the replaced output, whole (put back when OUT is missing);
# `replace_folder` renames it to ``gone`` before deleting it, so a deletion cut short is never
# taken for an output to put back (the user may have deleted OUT since)
MOVED, DELETING = "folder", "gone"
# the folders `check_can_replace` probed in this process: (path, overwrite, device, inode); a
# command checks its --out at several layers (the CLI, the run, atomic_folder twice), and each
# probe moves the user's folder aside: once per folder is enough
_PROBED: set = set()
# the leftovers holding a moved-aside folder this process said it keeps (device, inode):
# `remove_stale_temporaries` runs at each writer's lock, the line once is enough
_SAID: set = set()


def make_temporary_sibling(path: str) -> str:
    """Make (mode 0700) and return the temporary sibling ``PATH.tmp-m3r-XXXXXXXX`` of the
    output folder ``path`` (as `output_path` gives it), for its writer to fill and publish."""
    return tempfile.mkdtemp(prefix=os.path.basename(path) + TEMP_INFIX,
                            dir=os.path.dirname(path))


def publish_failed(tmp: str, given: str, error: BaseException) -> None:
    """A complete output ``tmp`` could not be published at ``given``: kept (`keep_output`,
    logged) when the user stopped the program (Ctrl-C, SIGTERM), else deleted."""
    if isinstance(error, (KeyboardInterrupt, SystemExit)) and os.path.isdir(tmp):
        log.error("interrupted while publishing %s: the complete output is kept in %s (move it "
                  "to %s)", given, keep_output(tmp), given)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def keep_output(tmp: str) -> str:
    """Rename a finished temporary sibling ``PATH.tmp-m3r-X`` that cannot be published to
    ``PATH.kept-X``, out of reach of `remove_stale_temporaries`, and sync its folder
    (`fsync_dir`); returns where it is (``tmp`` when the rename fails)."""
    parent, name = os.path.split(tmp)
    head, _, tail = name.rpartition(TEMP_INFIX)
    kept = os.path.join(parent, head + ".kept-" + tail)
    try:
        if not os.path.lexists(kept):
            os.rename(tmp, kept)
            fsync_dir(parent or ".")  # the name the log gives must survive a power cut
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
    (left when that deletion was interrupted, which renames ``folder`` to ``gone`` first):
    deleted too, with a WARNING; or put back, ``PATH`` missing (a kill between the renames of
    `replace_folder` or of the probe `check_can_replace`: ``PATH.old-X/folder``, or the empty
    ``PATH.old-X`` itself), and its folder synced (`_put_back_left`); only where it holds
    nothing but that ``folder`` (`_ours`). One still holding ``folder`` with ``PATH`` there
    (made again since, or another put back) is a complete folder moved aside: never deleted,
    kept and said (`_say_kept`); an empty ``PATH.old-X-empty`` with ``PATH`` there is removed
    (`os.rmdir`: only while empty).
    Nothing of another form is touched: a user's ``PATH.tmp-20261202``, ``PATH.old-backup`` or
    ``PATH.old-20261206`` holding a map's files, ``PATH.partial``
    (a resumable build; with ``salvage``, a stopped run's is replaced by a newer killed run's
    lines, as the next stopped run replaces it).

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
                       + r")[a-z0-9_]{8}(" + re.escape(EMPTY_SUFFIX) + ")?")
    try:
        names = os.listdir(parent or ".")
    except OSError:
        return []
    dirs = [os.path.join(parent, n) for n in names if stale.fullmatch(n)]
    old = [d for d in dirs if OLD_INFIX in os.path.basename(d)[len(base):]]
    dirs = [d for d in dirs if d not in old and not d.endswith(EMPTY_SUFFIX)]
    for full in sorted(old):  # sorted: the one put back is `left_aside`'s, before the others
        if os.path.isdir(full) and not os.path.islink(full) and _ours(full):
            if full == left_aside(out) and _put_back_left(full, out, parent):
                continue
            if full.endswith(EMPTY_SUFFIX):  # OUT made since: the probe's rename, not undone
                with contextlib.suppress(OSError):  # rmdir: removes it only while empty
                    os.rmdir(full)
                    log.warning("removed %s: the empty %s, moved there by a command killed while "
                                "checking that it can be replaced, %s made again since", full,
                                out, os.path.basename(out))
                continue
            if os.path.lexists(os.path.join(full, MOVED)):  # whole: a deletion renames it first
                _say_kept(full, out)
                continue
            shutil.rmtree(full, ignore_errors=True)
            if not os.path.lexists(full):
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


def _say_kept(full: str, out: str) -> None:
    """``full`` (``OUT.old-X``) holds a complete earlier ``out`` in ``folder`` (moved aside by a
    kill between two renames, `_put_back_left`) that cannot be put back: ``out`` exists (made
    again since, or another such leftover put back). Never deleted: said at WARNING, once per
    process and path, in one line with how to restore or delete it."""
    try:
        st = os.stat(full)
    except OSError:
        return
    # the path too: an inode number is reused once its folder is deleted, and another folder
    # given it (a later leftover, or this one renamed) was never said
    key = (os.path.abspath(full), st.st_dev, st.st_ino)
    if key in _SAID:
        return
    _SAID.add(key)
    inner = os.path.join(full, MOVED)
    now = f"{out} is another folder now: " if os.path.lexists(out) else ""
    log.warning("kept %s: a complete earlier %s, which a command writing it moved aside and was "
                "killed before moving back (an --overwrite, or its check that the folder can be "
                "replaced); %sto restore it, move %s away and run `mv %s %s && rmdir %s`; to "
                "delete it, `rm -r %s`", inner, out, now, out, shlex.quote(inner),
                shlex.quote(out), shlex.quote(full), shlex.quote(full))


def _ours(full: str) -> bool:
    """Whether ``PATH.old-X`` is as `replace_folder` / `check_can_replace` leave it: holding
    only the moved ``folder``, or its deletion cut short (``gone``), or nothing (the probe's
    ``PATH.old-X-empty``: nothing, the user's empty folder). A user's own
    ``map.old-20261206`` (a dated backup: mkdtemp's 8 characters match it) holds the map's
    files: not ours, never deleted nor put back."""
    try:
        names = set(os.listdir(full))
    except OSError:
        return False
    return not names if full.endswith(EMPTY_SUFFIX) else names <= {MOVED, DELETING}


def left_aside(out: str) -> Optional[str]:
    """The leftover of ours (`_ours`) beside a missing ``out`` that holds the folder a kill
    between two renames took from it (``OUT.old-X/folder``, ``OUT.old-X-empty``), or None: the
    one `remove_stale_temporaries` puts back. An empty ``OUT.old-X`` or one whose deletion
    began (``gone``) holds no OUT: never put back."""
    if os.path.lexists(out):
        return None
    parent, base = os.path.split(out)
    form = re.compile(re.escape(base + OLD_INFIX) + r"[a-z0-9_]{8}(" + re.escape(EMPTY_SUFFIX)
                      + ")?")
    try:
        names = sorted(os.listdir(parent or "."))
    except OSError:
        return None
    for name in names:
        full = os.path.join(parent, name)
        if not form.fullmatch(name) or os.path.islink(full) or not os.path.isdir(full):
            continue
        inner = os.path.join(full, MOVED)
        if _ours(full) and (name.endswith(EMPTY_SUFFIX) or (
                os.path.isdir(inner) and not os.path.islink(inner))):
            return full
    return None


def put_back_left_aside(path: str, what: str = "--out") -> bool:
    """Put back the folder a kill between two renames left in ``OUT.old-X`` (`left_aside`)
    with output ``path`` missing, under ``path``'s output lock, taken and released here
    (`OutputBusyError` while another writer holds it) and touching nothing else beside it: a
    writer's check of its --out then sees OUT as it is (build-map's refusal of an existing map
    comes before any work, in the CLI's words, not from its map writer once the source is read).
    True once put back (logged); False when there is nothing to put back, or this process holds
    that lock (its taking put back what there was)."""
    out = output_path(path).rstrip("/")
    if left_aside(out) is None:
        return False
    from .fileio import _HELD, acquire_output_lock, lock_file

    if lock_file(path) in _HELD:
        return False
    lock = acquire_output_lock(path, what, clean=False)
    try:
        full = left_aside(out)  # again, under the lock: another writer may have put it back
        return full is not None and _put_back_left(full, out, os.path.dirname(out))
    finally:
        lock.release()


def _put_back_left(full: str, out: str, parent: str) -> bool:
    """``out`` is missing and ``full`` (``OUT.old-X``) holds it as a kill (kill -9, the OOM
    killer) between two renames left it: put back (its folder synced: on disk before OUT is
    written on as if never moved) and said; True. ``OUT.old-X/folder``: moved aside by
    `replace_folder` or `check_can_replace` with ``overwrite``; ``OUT.old-X-empty``: the
    empty folder `check_can_replace` renamed there (the user's, its permissions kept)."""
    inner = os.path.join(full, MOVED)
    if not full.endswith(EMPTY_SUFFIX):
        os.replace(inner, out)
        shutil.rmtree(full, ignore_errors=True)
        how = ("an --overwrite killed between its two renames (publishing, or checking "
               "beforehand that it can be replaced)")
    else:
        try:
            if os.listdir(full):
                return False
            os.rename(full, out)
        except OSError:
            return False
        how = "a run killed between the two renames checking that it can be replaced"
    fsync_dir(parent or ".")
    log.warning("restored %s: %s had moved it aside to %s", out, how, full)
    return True


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
        kept = keep_output(tmp)
    log.warning("a writer of %s killed without cleaning up left %d finished line(s) of %s in "
                "%s: kept as %s%s", out, lines, name, tmp, kept,
                "; a rerun to it is refused without --resume (to go on from them) or --restart "
                "(to delete them and start over)" if kept == partial else "")
    return True


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


def is_empty_folder(path: str) -> bool:
    """Whether ``path`` is a folder (a link to one: its folder) with no entries: an output is
    published there without ``overwrite`` (`rename_onto_empty`), as on a path that does not
    exist -- users make the folder first, and an empty one holds nothing to lose. False for a
    folder that cannot be listed."""
    try:
        return os.path.isdir(path) and not os.listdir(path)
    except OSError:
        return False


def needs_overwrite(path: str) -> bool:
    """Whether publishing at ``path`` takes ``overwrite``: something is there (a link to
    nothing too) that is not an empty folder (`is_empty_folder`). The word a rerun hint gives
    (``--resume --overwrite``) follows it."""
    return os.path.lexists(path) and not is_empty_folder(path)


def rename_onto_empty(src: str, dst: str) -> bool:
    """Rename the complete folder ``src`` to ``dst`` where nothing is, or only an empty folder
    (`is_empty_folder`): the rename replaces an empty folder in one step and fails on one that
    is not empty, so nothing put there meanwhile is deleted. True once renamed (the folder of
    ``dst`` synced); False, ``src`` left as it was, when ``dst`` is not (now) empty or is not a
    folder. Other `OSError`s are raised."""
    try:
        os.rename(src, dst)
    except OSError as e:
        if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            return False
        raise
    fsync_dir(os.path.dirname(os.path.abspath(dst)))
    return True


def publish_folder(src: str, dst: str, overwrite: bool) -> bool:
    """Publish the complete folder ``src`` at ``dst`` by renames, the one publish step of
    `fileio.atomic_folder` and `MapWriter`: with ``overwrite``, `replace_folder` (True);
    without, `rename_onto_empty` whether or not ``dst`` exists now, so a folder with entries
    that appears at ``dst`` at any moment before the rename is never moved aside or deleted:
    False, ``src`` left as it was. `OSError`s as those two raise them."""
    if overwrite:
        replace_folder(src, dst)
        return True
    return rename_onto_empty(src, dst)


def replace_folder(src: str, dst: str) -> None:
    """Rename the complete folder ``src`` to ``dst`` (same file system); an existing ``dst`` is
    first renamed aside (``DST.old-XXXXXXXX``) and deleted after, so ``dst`` is never a mix of
    the two. A deletion cut short (Ctrl-C) leaves that folder to the next holder of ``dst``'s
    output lock (`remove_stale_temporaries`). The folder of ``dst`` is synced (`fsync_dir`)
    after the rename of ``src``, before the old ``dst`` is deleted; when ``src`` cannot be
    renamed, the old ``dst`` is put back and synced before the error is raised again."""
    parent = os.path.dirname(os.path.abspath(dst))
    if not os.path.lexists(dst):
        os.replace(src, dst)
        fsync_dir(parent)  # the rename on disk
        return
    old = tempfile.mkdtemp(prefix=os.path.basename(dst) + OLD_INFIX, dir=parent)
    try:
        os.replace(dst, os.path.join(old, "folder"))
    except BaseException:  # dst stays as it was: no empty folder beside it
        os.rmdir(old)
        raise
    try:
        os.replace(src, dst)
    except BaseException:
        os.replace(os.path.join(old, "folder"), dst)
        try:
            os.rmdir(old)
        finally:  # the put-back on disk: a power cut must not leave dst hidden in DST.old-X
            fsync_dir(parent)
        raise
    fsync_dir(parent)  # published: on disk before the deletion below, which Ctrl-C can cut short
    with contextlib.suppress(OSError):  # cut short, no longer an output to put back as OUT
        os.rename(os.path.join(old, MOVED), os.path.join(old, DELETING))
    shutil.rmtree(old, ignore_errors=True)


_FS_IOC_GETFLAGS = 0x80086601  # linux/fs.h: _IOR('f', 1, long), what `lsattr -d` reads
_FS_IMMUTABLE_FL, _FS_APPEND_FL = 0x10, 0x20


def unreplaceable_reason(path: str) -> Optional[str]:
    """Why the rename publishing an output could not replace the existing folder ``path``, told
    without touching it -> str, or None where nothing is seen (or the OS does not tell). Read,
    not probed (`check_can_replace` moves the folder aside and back): a command refused without
    --overwrite must not move a map a running node reads. Seen: the inode's immutable or
    append-only flag (Linux ``FS_IOC_GETFLAGS``, as ``lsattr -d`` reads them; other systems and
    file systems without the call: not seen), and a sticky folder above it owned by another
    user, ``path`` too (``rename(2)``: EPERM, root aside)."""
    out = output_path(path).rstrip("/") or path
    try:
        import fcntl
        import struct

        fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            raw = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8)
        finally:
            os.close(fd)
        flags = struct.unpack("i", raw[:4])[0]
    except (ImportError, OSError):
        flags = 0
    if flags & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
        kind = "immutable" if flags & _FS_IMMUTABLE_FL else "append-only"
        return (f"it is {kind} (`lsattr -d` shows {kind[0]}; "
                f"`chattr -{kind[0]} {shlex.quote(out)}` clears it)")
    try:
        above = os.stat(os.path.dirname(os.path.abspath(out)))
        own = os.stat(out)
    except OSError:
        return None
    me = os.geteuid() if hasattr(os, "geteuid") else 0
    if me and above.st_mode & 0o1000 and me not in (above.st_uid, own.st_uid):
        return (f"it is another user's folder in a sticky folder (uid {own.st_uid}), which "
                "only its owner may rename")
    return None


def check_can_replace(path: str, overwrite: bool, what: str = "--out") -> None:
    """Refuse (`InputError`, before any work) an existing output folder ``path`` that the
    rename publishing the output could not replace: an immutable folder (``chattr +i``), one in
    a sticky folder owned by another user. That rename comes after all the work: a run to such
    an empty folder localized every frame, then failed. Probed as the publish step takes it:
    with ``overwrite`` (`replace_folder`) by moving the folder into ``PATH.old-X/folder`` and
    back, else (an empty folder, renamed onto: `rename_onto_empty`) by renaming it to
    ``PATH.old-X-empty`` beside it and back (a kill in between: the next holder of its output
    lock puts it back, `remove_stale_temporaries`); Ctrl-C in between puts it back before it
    goes on.
    Nothing is probed where ``path`` is no folder or no
    new entry can be made beside it (`fileio.check_can_create` refuses that), nor again a
    folder this process probed (the same one: its device and inode), with the same
    ``overwrite``: the first of a command's checks of its --out probes it. Another writer
    taking OUT's lock between the two renames puts it back itself: `OutputBusyError` while it
    holds that lock, else nothing to say (OUT is in place)."""
    out = output_path(path).rstrip("/")
    try:
        st = os.stat(out)
    except OSError:
        return
    probed = (os.path.abspath(out), overwrite, st.st_dev, st.st_ino)
    if probed in _PROBED or not os.path.isdir(out):
        return
    parent, base = os.path.split(out)
    if not os.access(parent or ".", os.W_OK | os.X_OK):
        return
    try:
        old = tempfile.mkdtemp(prefix=base + OLD_INFIX, dir=parent) if overwrite else ""
    except OSError:
        return
    aside = os.path.join(old, MOVED) if overwrite else _unused_name(parent, base)
    try:
        os.rename(out, aside)
    except OSError as e:
        _rmdir(old)
        hint = ("; an immutable or append-only folder (`lsattr -d` shows i or a; `chattr -i` "
                "clears it), or one in a sticky folder owned by another user, refuses it"
                if e.errno in (errno.EPERM, errno.EACCES) else "")
        raise InputError(f"{what} {path}: the output is built beside this folder and renamed "
                         f"onto it, which the OS refuses ({e.strerror or e}{hint}); choose "
                         f"another {what}") from None
    except BaseException:  # Ctrl-C, SIGTERM's exception: not left aside
        _put_back(out, aside, old)
        raise
    try:
        os.rename(aside, out)
    except OSError as e:
        if not os.path.lexists(aside) and os.path.isdir(out):  # another writer put it back
            _rmdir(old)
            from .fileio import refuse_busy_output

            return refuse_busy_output(path, what)  # it writes OUT now: busy; or gone: go on
        raise InputError(f"{what} {path}: checking that it can be replaced moved it to {aside}, "
                         f"and it could not be moved back ({e.strerror or e}): move it back "
                         "yourself") from None
    except BaseException:
        _put_back(out, aside, old)
        raise
    _rmdir(old)
    fsync_dir(parent)
    _PROBED.add(probed)


def _unused_name(parent: str, base: str) -> str:
    """A path ``BASE.old-XXXXXXXX-empty`` in ``parent`` that nothing holds now, for the probe
    to rename an empty --out to: not made first (as mkdtemp would), so a kill before the rename
    leaves no empty folder that could be taken for the user's."""
    while True:
        name = os.path.join(parent, base + OLD_INFIX + secrets.token_hex(4) + EMPTY_SUFFIX)
        if not os.path.lexists(name):
            return name


def _rmdir(old: str) -> None:
    if old:
        with contextlib.suppress(OSError):
            os.rmdir(old)


def _put_back(out: str, aside: str, old: str) -> None:
    """`check_can_replace` stopped (Ctrl-C, SIGTERM's exception) around its renames: the folder
    moved to ``aside`` is renamed back to ``out`` and the probe's ``old`` folder removed."""
    if not os.path.lexists(out) and os.path.isdir(aside):
        os.rename(aside, out)
    _rmdir(old)
