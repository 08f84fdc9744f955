"""The files of a loaded keyframe map: paths kept inside the map folder, reads checked against
the map's sha256 (manifest file table, v3 keyframe and chunk tables), every listed file's presence
and size (``os.stat`` only: `missing_or_truncated`), every problem at once (`file_problems`, what
``mast3r-ros check-map`` prints) and the keyframe PNGs' headers. `MapFiles` is a part of
`KeyframeMap` (loader.py)."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import cv2
import numpy as np

from ..errors import MAP_PERMISSIONS, MAP_REPLACED, MapFormatError, map_file_unreadable
from ..map_nesting import read_manifest
from .layout import MANIFEST, Keyframe, sha256_hex
from .replaced_image import (REPLACED_FROM_MAP, RecordedImage, replaced_line,
                             whole_png_file_size, whole_png_size)
from .table import CHUNK_TABLE, KEYFRAME_TABLE, KeyframeTable, parse_image_name


class MapFiles:
    """`KeyframeMap`'s verified file access and file checks (uses its path, manifest, keyframes
    and encoding stores)."""

    def _full(self, rel: str) -> str:
        return map_file(self.path, rel)

    def _read_verified(self, rel: str, full: str, meta: Mapping[str, Any],
                       hint: bool = True) -> bytes:
        """The file's bytes, checked against the map's sha256. ``hint``: the error says how to
        fix it (off for `file_problems`, whose caller lists the problems and gives the fix)."""
        fix = (f"; `mast3r-ros check-map {self.path}` lists every problem; rebuild the map or "
               "re-copy the file") if hint else ""
        try:
            with open(full, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise MapFormatError(f"map file missing: {full}{fix}") from None
        except OSError as e:
            from ..link_loops import loop_text

            loop = loop_text("map file", full) if e.errno == errno.ELOOP else None
            if loop:
                raise MapFormatError(f"{loop}{fix}") from None
            raise map_file_unreadable(full, e, fix) from None
        if sha256_hex(data) != meta["sha256"]:
            rec = self._recorded_image(rel)
            found = whole_png_size(data) if rec is not None else None
            if found is not None:  # a whole PNG of its own (of the recorded size at the
                # open's os.stat, unless it was replaced since: the map's own count then)
                want = meta.get("bytes")
                want = int(want) if isinstance(want, (int, np.integer)) and want >= 0 else \
                    len(data)
                raise MapFormatError(replaced_line(full, rec, found, len(data), want)
                                     + (f" (`mast3r-ros check-map {self.path}` lists every "
                                        "problem)" if hint else ""))
            raise MapFormatError(f"map file corrupt (checksum mismatch): {full}{fix}")
        return data

    def _recorded_image(self, rel: str) -> Optional[RecordedImage]:
        """What the map records of the keyframe PNG ``rel`` (its keyframe's id, whether it is
        the depth image, the intrinsics' width and height), None for any other file."""
        if isinstance(self.keyframes, KeyframeTable):
            parsed = parse_image_name(rel)
            if parsed is None or not 0 <= parsed[0] < len(self.keyframes):
                return None
            row = self.keyframes.rows[parsed[0]]
            return RecordedImage(int(row["id"]), parsed[1], int(row["width"]),
                                 int(row["height"]))
        for kf in self.keyframes:  # v2: a list of records (only for a file found bad)
            if rel in (kf.image_file, kf.depth_file):
                return RecordedImage(kf.id, rel == kf.depth_file, kf.intrinsics.width,
                                     kf.intrinsics.height)
        return None

    def _file_meta(self, rel: str) -> Mapping[str, Any]:
        """{"sha256", "bytes"} of a map file: the manifest's file table, or (v3) the keyframe
        table for keyframe PNGs."""
        meta = self.manifest["files"].get(rel)
        if meta is None and isinstance(self.keyframes, KeyframeTable):
            parsed = parse_image_name(rel)
            if parsed is not None:
                meta = self.keyframes.file_meta(*parsed)
        if meta is None:
            raise MapFormatError(f"{MANIFEST}: file '{rel}' is not in the map's file table")
        return meta

    def _read(self, rel: str) -> bytes:
        return self._read_verified(rel, self._full(rel), self._file_meta(rel))

    def _listed_files(self) -> List[Tuple[str, Optional[int]]]:
        """(path relative to the map, size in bytes or None) of every file the map lists:
        manifest file table, keyframe PNGs of the keyframe table and encoding chunks (v3)."""
        out = []
        for folder, names, sizes in self._listed_groups():
            pre = f"{folder}/" if folder else ""
            out.extend((pre + n, None if w < 0 else int(w)) for n, w in zip(names, sizes))
        return out

    def _listed_groups(self) -> List[Tuple[str, List[str], np.ndarray]]:
        """`_listed_files` grouped by folder: (folder, names, sizes; -1 = unknown)."""
        return _file_table_groups(self.path, self.manifest["files"]) + self._table_groups()

    def _table_groups(self, skip: Tuple[str, ...] = ()) -> List[Tuple[str, List[str],
                                                                       np.ndarray]]:
        """v3: the files listed in the binary tables (keyframe PNGs, each store's chunks), as
        `_listed_groups`; a store whose folder is in ``skip`` (full paths: its chunk table
        missing or cut short, so not opened) is left out."""
        out: List[Tuple[str, List[str], np.ndarray]] = []
        if isinstance(self.keyframes, KeyframeTable):
            names, sizes = self.keyframes.expected_files()
            out.append(("keyframes", names, sizes))
            for identity, size in self.encoding_keys():
                entry = self._entry(identity, size)
                if entry is not None and self._full(entry["store"]) in skip:
                    continue
                store = self.encoding_store(identity, size)
                folder = os.path.relpath(store.folder, self.path).replace(os.sep, "/")
                arr = store.table.chunks.arr  # v3: array-backed chunk table
                out.append((folder, list(store.table.files), np.asarray(arr["bytes"])))
        return out

    def unlisted_files(self, folder: str = "keyframes") -> List[str]:
        """Sorted names in the map's ``folder`` that the map does not list (a copied
        ``000001 (copy).png``): nothing reads them, and a map replaced with ``--overwrite``
        takes them with it. Empty when the folder cannot be listed."""
        listed = {rel for rel, _ in self._listed_files()}
        try:
            names = os.listdir(os.path.join(self.path, folder))
        except OSError:
            return []
        return sorted(n for n in names if f"{folder}/{n}" not in listed)

    def missing_or_truncated(self) -> List[str]:
        """One line per listed file that is missing, empty or whose size differs from the
        map's record (``os.stat`` only, relative to an open folder, in a few threads; no
        checksum): the manifest's file table first (`file_table_problems`), then (v3) the
        tables' files. Empty when every file is present."""
        bad = file_table_problems(self.path, self.manifest["files"], self._recorded_image)
        skip = tuple({os.path.dirname(line.rsplit(": ", 1)[-1]) for line in bad})
        return bad + _size_problems(self.path, self._table_groups(skip), self._recorded_image)

    def file_problems(self, images: bool = True, progress: Optional[Callable[
            [Iterable, int, str], Iterable]] = None) -> List[str]:
        """Every missing, truncated or corrupt (sha256) file of the map, one line each
        (reads every file: what ``mast3r-ros check-map`` prints). ``images=False``: the
        keyframe PNGs are only checked to be there with their size, their checksums left to
        their first use (`verify_unread_images` for those never used). ``progress(iterable,
        total, desc)`` shows the loop over the files read (`replay.pipeline.progress`: the
        encoding chunks of 10^4 ViT-L keyframes are 15 GB)."""
        problems = self.missing_or_truncated()
        # 'map file missing: PATH' and the like, or 'map file PATH runs into a loop of ...'
        named = {p.split(" runs into a loop of symbolic links", 1)[0][len("map file "):]
                 if " runs into a loop of symbolic links" in p else p.rsplit(": ", 1)[-1]
                 for p in problems}
        pngs = set() if images else {r for kf in self.keyframes
                                     for r in (kf.image_file, kf.depth_file) if r}
        todo = [rel for rel, _ in self._listed_files()
                if rel not in pngs and self._full(rel) not in named]
        for rel in (progress(todo, len(todo), "checking files") if progress else todo):
            full = self._full(rel)
            try:
                self._read_verified(rel, full, self._file_meta(rel) if parse_image_name(rel)
                                    or rel in self.manifest["files"]
                                    else self._chunk_meta(rel), hint=False)
            except MapFormatError as e:
                problems.append(str(e))
        return problems

    def verify_unread_images(self) -> None:
        """Verify each keyframe PNG not read yet (checksum, header, size, pixel format), as a
        lazy map's first use of it would; raises `MapFormatError` for the first bad one."""
        for kf in self.keyframes:
            for rel in (kf.image_file, kf.depth_file):
                if rel is not None and (kf.id, rel) not in self._headers_checked:
                    self._check_image_header(kf, only=rel)

    def _chunk_meta(self, rel: str) -> Mapping[str, Any]:
        folder, name = rel.rsplit("/", 1)
        for identity, size in self.encoding_keys():
            store = self.encoding_store(identity, size)
            if os.path.relpath(store.folder, self.path).replace(os.sep, "/") == folder:
                return store.table.files[name]
        raise MapFormatError(f"{MANIFEST}: file '{rel}' is not in the map's file table")

    def replaced_since_open(self) -> bool:
        """True when the map at the map's path is no longer the one this map opened: a
        ``build-map`` or ``merge-maps --overwrite`` renamed another map into place, or a copy
        (rsync) replaced its manifest, so a file read lazily now is another map's (its checksum
        fails) or gone; not a damaged map. (This process's own encoding cache updates the
        identity it compares.)"""
        if self._opened is None:
            return False
        try:
            if opened_identity(self.path) == self._opened:
                return False
            now = read_manifest(self.path)
        except (OSError, ValueError):
            return True
        # touched, not replaced: another process cached encodings into it (a store added, this
        # one's kept), a hard-link backup; the keyframes and the stores this map read unchanged
        return not isinstance(now, dict) or _read_content(now) != _read_content(self.manifest) \
            or any(e not in (now.get("encodings") or []) for e in self.manifest.get(
                "encodings") or [])

    def replaced_error(self, err: MapFormatError) -> MapFormatError:
        """``err`` (a lazy read that failed), or, when the map was replaced since it was opened
        (`replaced_since_open`), the error that says so instead of "rebuild or re-copy"."""
        if not self.replaced_since_open():
            return err
        return MapFormatError(
            f"map {self.path} {MAP_REPLACED} (a build-map or "
            "merge-maps --overwrite, or a copy over it, while it ran), so its files are no "
            "longer the ones it opened; restart the localizer to use the new map")

    def _check_files_present(self) -> None:
        bad = self.missing_or_truncated()
        if bad:
            raise incomplete_map_error(self.path, bad)

    def _check_image_header(self, kf: Keyframe, only: Optional[str] = None) -> Dict[str, bytes]:
        """Checksum, PNG header, size and pixel format of a keyframe's image and depth (``only``:
        of that one of its files); returns the bytes read ({file: bytes}), so that a first use
        decodes them without a second read and checksum."""
        from PIL import Image

        read: Dict[str, bytes] = {}
        for rel, modes in ((kf.image_file, ("RGB",)), (kf.depth_file, ("I;16", "I"))):
            if rel is None or only not in (None, rel):
                continue
            self._headers_checked.add((kf.id, rel))
            read[rel] = data = self._read(rel)
            try:
                with Image.open(io.BytesIO(data)) as im:
                    fmt, size, mode = im.format, im.size, im.mode
            except MapFormatError:
                raise
            except Exception as e:
                raise MapFormatError(f"map file {self._full(rel)}: not a readable PNG ({e})"
                                     ) from None
            want = (kf.intrinsics.width, kf.intrinsics.height)
            if fmt != "PNG" or size != want or mode not in modes:
                raise MapFormatError(
                    f"map file {self._full(rel)}: {fmt} {size[0]}x{size[1]} {mode}, keyframe "
                    f"{kf.id} expects PNG {want[0]}x{want[1]} {' or '.join(modes)}")
        return read

    def _decode(self, rel: str, kf: Optional[Keyframe] = None) -> np.ndarray:
        read: Dict[str, bytes] = {}
        # lazy maps: on the first use of the file (its bytes decoded below: read once; checking
        # the keyframe's other file now read that one once more at its own first use)
        if kf is not None and (kf.id, rel) not in self._headers_checked:
            read = self._check_image_header(kf, only=rel)
        data = np.frombuffer(read[rel] if rel in read else self._read(rel), dtype=np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if img is None:
            raise MapFormatError(f"map file {self._full(rel)}: not a readable PNG")
        return img


def _read_content(manifest: Mapping[str, Any]) -> Tuple[Any, ...]:
    """What of a manifest a lazy read depends on, but the stores it caches (`replaced_since_open`:
    another process may add one)."""
    files = {k: v for k, v in (manifest.get("files") or {}).items()
             if not str(k).startswith("encodings/")}
    return manifest.get("keyframe_table"), manifest.get("keyframes"), files


def content_digest(path: str) -> Optional[str]:
    """The sha256 (hex) of what identifies the map at ``path`` by content (`_read_content`: its
    keyframe table entry or records -- ids, stamps, poses, intrinsics, image checksums -- and
    its file table but the encodings): another for a map rebuilt there from other keyframes,
    the same after `localize` caches encodings into it. None when its manifest cannot be read
    (no map there: the load says why)."""
    try:
        manifest = read_manifest(path)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    text = json.dumps(_read_content(manifest), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def opened_identity(path: str) -> Tuple[int, ...]:
    """What identifies the map at ``path`` as one version of it: the folder's and the
    manifest's device and inode, and the manifest's size and times (``cp -a`` over it keeps its
    inode and sets its mtime, not its ctime) (raises OSError)."""
    folder = os.stat(path)
    man = os.stat(os.path.join(path, MANIFEST))
    return (folder.st_dev, folder.st_ino, man.st_ino, man.st_size, man.st_mtime_ns,
            man.st_ctime_ns)


def map_file(path: str, rel: str) -> str:
    """``rel`` (a name the manifest gives) inside the map folder ``path``; `MapFormatError`
    for a name that leaves the folder (absolute, or with a '..')."""
    if os.path.isabs(rel) or ".." in rel.replace("\\", "/").split("/"):
        raise MapFormatError(f"{MANIFEST}: file name '{rel}' leaves the map folder")
    return os.path.join(path, rel)


def size_problem(path: str, got: int, want: Optional[int],
                 image: Optional[RecordedImage] = None) -> str:
    """The line for a map file of ``got`` bytes (-1: missing) where the map records ``want``
    (None or -1: not recorded): "map file missing: PATH", "map file empty (0 bytes): PATH"
    (no map file is empty; where no size is recorded), for a keyframe PNG (``image``: what the
    map records of it) that is a whole PNG of its own, smaller or larger, "keyframe N's image
    is a valid PNG of WxH but the map recorded W'xH' (...) -- was it replaced from another
    map? ...: PATH" (`replaced_image.replaced_line`; reads the file), for another smaller file
    that is a whole PNG or JPEG "map file is a different image than the map records (...)"
    (another image put in its place, `REPLACED`; reads its first 8 and last 12 bytes) or "map
    file truncated or corrupt (N bytes, the map says M): PATH"; "" when the size is as
    recorded (or, not recorded, above 0)."""
    if got < 0:
        from ..link_loops import loop_text

        return loop_text("map file", path) or f"map file missing: {path}"
    if got == 0 and (want is None or want < 0):
        return f"map file empty (0 bytes): {path}"
    if want is None or want < 0 or got == want:
        return ""
    found = whole_png_file_size(path) if image is not None and got > 0 else None
    if found is not None:  # another map's keyframe, a resized or edited image: not cut short
        return replaced_line(path, image, found, got, want)
    if got > want:  # not cut short: another file put in its place (another map's, copied over)
        return (f"map file {LARGER} ({got} bytes, the map says {want}): {path}")
    kind = _whole_image(path)
    if kind:  # smaller but whole: another image in its place, not a cut copy of this one
        return (f"map file {REPLACED} (a whole {kind} of {got} bytes, the map says {want}; its "
                f"size and sha256 differ from the map's record, it is not cut short): {path}")
    return f"map file truncated or corrupt ({got} bytes, the map says {want}): {path}"


def _whole_image(path: str) -> str:
    """"PNG" or "JPEG" when ``path`` starts and ends as a whole file of that format does (PNG
    signature ... IEND chunk; JPEG SOI ... EOI marker: reads 20 bytes), else "" (unreadable,
    another format, or cut short: a truncated image lacks its end)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            fh.seek(-12, os.SEEK_END)
            tail = fh.read(12)
    except OSError:
        return ""
    if head == b"\x89PNG\r\n\x1a\n" and tail == b"\x00\x00\x00\x00IEND\xaeB`\x82":
        return "PNG"
    if head[:2] == b"\xff\xd8" and tail[-2:] == b"\xff\xd9":
        return "JPEG"
    return ""


# `size_problem`'s words for a file larger than recorded: an rsync or cp of another map (a
# rebuild) over this folder, stopped before its manifest.json (which sorts after keyframes/),
# leaves the new files under the old manifest; "truncated ... copied only in part?" sent the
# user to look for a cut copy of this map.
LARGER = "larger than the map records, not cut short"
# ... and for a smaller file that is a whole image (a keyframe PNG of another map, an edited
# one): "truncated ... copied only in part?" was as wrong there
REPLACED = "is a different image than the map records"


# (words in a problem line, the kind check-map's summary counts it as), first match wins
_KINDS = ((MAP_PERMISSIONS, "this user may not read"),
          (REPLACED, "with a different image than the map records"),
          (REPLACED_FROM_MAP, "with a different image than the map records"),
          (LARGER, "larger than the map records"),
          ("runs into a loop of symbolic links", "in a loop of symbolic links"),
          ("map file missing: ", "missing"), ("map folder missing: ", "missing"),
          ("map file empty ", "empty"),
          ("checksum mismatch", "corrupt"),
          ("truncated or corrupt", "truncated or corrupt"))


def problem_kind(line: str) -> str:
    """The kind of map-file problem a `KeyframeMap.file_problems` line names, as check-map's
    summary counts it: 'missing', 'empty', 'truncated or corrupt', 'corrupt' (its checksum),
    'larger than the map records', 'with a different image than the map
    records', 'in a loop of symbolic links', 'this user may not read'; 'unreadable or
    malformed' for any other (not a readable PNG, a malformed table)."""
    for words, kind in _KINDS:
        if words in line:
            return kind
    return "unreadable or malformed"


def file_table_problems(path: str, files: Mapping[str, Any], recorded: Optional[Callable[
        [str], Optional[RecordedImage]]] = None) -> List[str]:
    """`size_problem` lines of the files in a manifest's file table ``files`` (``os.stat``
    only), in the table's order: what the map folder ``path`` lacks before any of its other
    tables is opened (`KeyframeMap.missing_or_truncated` adds the v3 tables' files).
    ``recorded(rel)``: what the map records of a keyframe PNG (v2 maps list them here)."""
    return _size_problems(path, _file_table_groups(path, files), recorded)


def incomplete_map_error(path: str, bad: List[str], pointer: bool = True) -> MapFormatError:
    """The one error of a map whose files are missing, empty or cut short (``bad``: the
    `size_problem` lines, at least one): the first named (a whole folder missing: that
    folder), how many there are, that the map is incomplete and the fix. ``pointer``: name
    ``check-map`` (off for check-map's own open)."""
    first, more = bad[0], (f" (and {len(bad) - 1} more missing or truncated "
                           f"file{'s' if len(bad) > 2 else ''})" if len(bad) > 1 else "")
    gone, top = os.path.dirname(first.rsplit(": ", 1)[-1]), os.path.normpath(path)
    if first.startswith("map file missing: ") and gone != top and not os.path.isdir(gone):
        while os.path.dirname(gone) != top and not os.path.isdir(os.path.dirname(gone)):
            gone = os.path.dirname(gone)  # encodings/, not encodings/<store>/, when both gone
        first = f"map folder missing: {gone}"
        more = f" ({len(bad)} map file{'s' if len(bad) > 1 else ''} missing or truncated in all)"
    see = f" (`mast3r-ros check-map {path}` lists every problem)" if pointer else ""
    tables = sorted({os.path.basename(line.rsplit(": ", 1)[-1]) for line in bad}
                    & {KEYFRAME_TABLE, CHUNK_TABLE})
    if tables:  # the files a table lists are known (and checked) only through it
        see += (f"; the files {' and '.join(tables)} list{'s' if len(tables) == 1 else ''} "
                "cannot be checked until it is restored")
    if all(REPLACED_FROM_MAP in line for line in bad):  # each names its keyframe and the fix
        more = (f" (and {len(bad) - 1} more keyframe image{'s' if len(bad) > 2 else ''} "
                "replaced)" if len(bad) > 1 else "")
        return MapFormatError(f"{first}{more}{see}")
    if all(_replaced(line) for line in bad):
        more = (f" (and {len(bad) - 1} more image{'s' if len(bad) > 2 else ''} not the map's)"
                if len(bad) > 1 else "")
        return MapFormatError(
            f"{first}{more}; map {path} holds images its manifest.json does not record (another "
            "map's keyframe, or an edited image, copied in its place?): copy the map again "
            f"whole, into an empty folder, or rebuild it{see}")
    if all(LARGER in line or _replaced(line) for line in bad):
        other = (" or whole other images" if any(_replaced(line) for line in bad[1:])
                 else "")  # smaller than recorded, but not cut short either
        more = (f" (and {len(bad) - 1} more file{'s' if len(bad) > 2 else ''} larger than "
                f"recorded{other})" if len(bad) > 1 else "")  # none is missing or truncated
        return MapFormatError(
            f"{first}{more}; map {path} holds files its manifest.json does not record (another "
            "map, or a rebuild, copied over it and stopped before its manifest.json, or bytes "
            "added by a bad copy?): copy the map again whole, into an empty folder, or rebuild "
            f"it{see}")
    return MapFormatError(f"{first}{more}; map {path} is incomplete (copied only in part?): "
                          f"rebuild it or copy it again{see}")


def _replaced(line: str) -> bool:
    """Whether a `size_problem` line names a whole image of its own in a map file's place."""
    return REPLACED in line or REPLACED_FROM_MAP in line


def _file_table_groups(path: str, files: Mapping[str, Any]
                       ) -> List[Tuple[str, List[str], np.ndarray]]:
    """The manifest file table's files grouped by folder: (folder, names, sizes; -1 =
    unknown); refuses a name that leaves the map folder (`map_file`)."""
    groups: Dict[str, Tuple[List[str], List[int]]] = {}
    for rel, meta in files.items():
        map_file(path, rel)
        folder, _, name = rel.rpartition("/")
        g = groups.setdefault(folder, ([], []))
        g[0].append(name)
        g[1].append(int(meta.get("bytes", -1)))
    return [(f, n, np.asarray(w, np.int64)) for f, (n, w) in groups.items()]


def _size_problems(path: str, groups: List[Tuple[str, List[str], np.ndarray]],
                   recorded: Optional[Callable[[str], Optional[RecordedImage]]] = None
                   ) -> List[str]:
    """`size_problem` lines of the files of ``groups`` (`_file_table_groups`) in the map
    folder ``path``: missing, empty or not their recorded size; ``recorded(rel)``: what the
    map records of a keyframe PNG (asked only for a file found bad), else None."""
    bad = []
    for folder, names, want in groups:
        full = os.path.join(path, folder)
        try:  # a folder of another owner: not a map copied in part (its files are -1 below)
            os.close(os.open(full, os.O_RDONLY))
        except PermissionError as e:
            if not _enterable(full, names):  # enterable, not listable (0711): read by name
                raise MapFormatError(f"map folder unreadable: {full}: {e.strerror} "
                                     f"({MAP_PERMISSIONS})") from None
        except OSError:
            pass
        got = _stat_sizes(full, names)
        for j in np.flatnonzero(((got != want) & ((want >= 0) | (got < 0)))
                                | ((got == 0) & (want < 0))):
            rel = f"{folder}/{names[j]}" if folder else names[j]
            bad.append(size_problem(os.path.join(full, names[j]), int(got[j]), int(want[j]),
                                    recorded(rel) if recorded is not None else None))
    return bad


def _enterable(folder: str, names: List[str]) -> bool:
    """Whether files of ``folder`` can be reached by name (search permission: mode 0711 lets
    this user open a file it names but not list the folder): the first of ``names`` stats, or
    is missing (reported as such), rather than denied; True without names."""
    if not names:
        return True
    try:
        os.stat(os.path.join(folder, names[0]))
    except PermissionError:
        return False
    except OSError:
        pass
    return True


def _stat_sizes(folder: str, names: List[str], threads: int = 4) -> np.ndarray:
    """Sizes in bytes of ``folder/name`` for each name, -1 where missing; ``os.stat`` with a
    directory descriptor (no path walk per file), split over a few threads (the system calls
    run without the GIL: about 2x faster for 10^5 files on 2 cores)."""
    def run(part: List[str]) -> List[int]:
        out = []
        try:
            fd: Optional[int] = os.open(folder, os.O_RDONLY)
        except OSError:  # missing, or not listable (mode 0711): each file by its path
            fd = None
        try:
            for n in part:
                try:
                    out.append((os.stat(os.path.join(folder, n)) if fd is None else
                                os.stat(n, dir_fd=fd)).st_size)
                except OSError:
                    out.append(-1)
        finally:
            if fd is not None:
                os.close(fd)
        return out

    if os.stat not in os.supports_dir_fd:  # pragma: no cover (not Linux/macOS)
        return np.array([os.path.getsize(os.path.join(folder, n))
                         if os.path.exists(os.path.join(folder, n)) else -1 for n in names],
                        np.int64)
    if len(names) < 2000:
        return np.asarray(run(names), np.int64)
    import concurrent.futures

    step = -(-len(names) // threads)
    parts = [names[i:i + step] for i in range(0, len(names), step)]
    with concurrent.futures.ThreadPoolExecutor(len(parts)) as ex:
        return np.asarray([v for part in ex.map(run, parts) for v in part], np.int64)
