"""The encodings and retrieval indexes a keyframe map caches per checkpoint: format v1 (one npz per
encoding set) and v2/v3 (an `EncodingStore` of chunks), read lazily and verified on first use, and
added to an existing map file-by-file. `MapEncodings` is a part of `KeyframeMap` (loader.py)."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Sequence
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from ..encoding_store import EncodingStore, EncodingStoreWriter, StoreTable
from ..errors import InputError, MapFormatError, is_format_version
from ..durable import _umask, flush_filesystem, fsync_dir
from ..fileio import (
    OutputBusyError,
    acquire_output_lock,
    atomic_write_bytes,
    atomic_write_json,
)
from ..map_nesting import read_manifest
from ..retrieval_index import RetrievalIndex
from .layout import (
    MANIFEST,
    EncodingSet,
    content_field,
    encoding_file,
    encoding_folder,
    encodings_to_arrays,
    npz_bytes,
    sha256_hex,
)
from .manifest import _need
from .map_files import opened_identity

log = logging.getLogger(__name__)


# the lock of a map's encodings inside the map folder (``.encodings.lock``), when none can be
# made beside it; not in the file table, deleted on release
_INNER_LOCK = ".encodings"


# a store folder no manifest lists is a killed writer's once nothing was written to it for this
ORPHAN_AGE_S = 600.0


def _last_written(folder: str) -> float:
    """The newest modification time of ``folder`` and the entries in it (seconds)."""
    try:
        with os.scandir(folder) as it:
            return max([os.stat(folder).st_mtime] + [e.stat().st_mtime for e in it])
    except OSError:
        return 0.0


def content_id_of(engine: Any) -> str:
    """The full-content id of the checkpoint an engine runs (`content_id.content_identity`):
    a torch engine's `Mast3rEngine.content_id` (hashed at the first call: seconds for ViT-L),
    else ``engine.info.content_id``; "" for an engine of an unsaved model or one without it."""
    lazy = getattr(engine, "content_id", None)
    if callable(lazy):
        return str(lazy() or "")
    return str(getattr(getattr(engine, "info", None), "content_id", "") or "")


def same_weights(recorded: str, running: Union[str, Callable[[], str]]) -> bool:
    """Whether what was computed with the weights of content id ``recorded`` may be used with
    those of ``running`` (an id, or a function giving it: called only when ``recorded`` is
    known, so a map without one costs no hashing): False only when both are known and differ
    ("" is unknown: a map that predates the full id, an engine without one)."""
    if not recorded:
        return True
    running = running() if callable(running) else running
    return not running or recorded == running


def stale_encodings(kf_map: Any, enc: Optional[EncodingSet],
                    running: Union[str, Callable[[], str]]) -> str:
    """"" when the map's cached encodings ``enc`` (or None: none) may serve the weights of
    full-content id ``running`` (or a function giving it, called only when ``enc`` records an
    id to compare); else why not, one clause naming the map, the checkpoint's
    sampled id and both content ids (their weights differ although the sampled id is the same:
    a fine-tune that changed only values the sampled id does not read). Logs one INFO line per
    map when the map predates the full id (encodings matched by the sampled id alone)."""
    if enc is None:
        return ""
    if not enc.content_id:
        if running and not getattr(kf_map, "_predates_said", False):
            kf_map._predates_said = True
            log.info("map %s predates the full checkpoint identity: its cached encodings for %s "
                     "at %d are matched by the sampled id only (rebuild the map to record it)",
                     kf_map.path, enc.identity[:16], enc.image_size)
        return ""
    running = running() if callable(running) else running
    if same_weights(enc.content_id, running):
        return ""
    return (f"map {kf_map.path} caches encodings for checkpoint {enc.identity[:16]} at size "
            f"{enc.image_size} computed with other weights (content id {enc.content_id[:16]}, "
            f"this checkpoint's {running[:16]}: the weights differ although the sampled id is "
            "the same, as after a fine-tune that changed few values)")


class MapEncodings:
    """`KeyframeMap`'s cached encodings, pooled and ASMK retrieval indexes (uses its manifest,
    verified file reads and caches)."""

    # -- cached encodings -------------------------------------------------------------------
    def _encoding_entries(self) -> List[Dict[str, Any]]:
        entries = _need(self.manifest, "encodings", list, MANIFEST)
        for j, e in enumerate(entries):
            w = f"{MANIFEST}: encodings[{j}]"
            _need(e, "identity", str, w)
            _need(e, "image_size", int, w)
            if self.version == 1:
                _need(e, "file", str, w)
            else:
                _need(e, "store", str, w)
                _need(e, "table", dict, w)
                _need(e, "pooled_index", str, w)
            if "content_id" in e:  # absent in maps built before it was recorded
                _need(e, "content_id", str, w)
        return entries

    def _asmk_entries(self) -> List[Dict[str, Any]]:
        if self.version == 1:
            return []
        entries = _need(self.manifest, "asmk", list, MANIFEST)
        for j, e in enumerate(entries):
            w = f"{MANIFEST}: asmk[{j}]"
            for key, t in (("identity", str), ("encoder_identity", str), ("image_size", int),
                           ("file", str)):
                _need(e, key, t, w)
            if "encoder_content_id" in e:  # absent in maps built before it was recorded
                _need(e, "encoder_content_id", str, w)
        return entries

    def _entry(self, identity: str, image_size: int) -> Optional[Dict[str, Any]]:
        for e in self._encoding_entries():
            if e["identity"] == identity and e["image_size"] == int(image_size):
                return e
        return None

    def encoding_store(self, identity: str, image_size: int) -> Optional[EncodingStore]:
        """v2/v3: the lazy `EncodingStore` of this checkpoint and size (None: the map has none, or
        is a v1 map). One store per key, so its LRU cache is shared by every user."""
        with self._cache_lock:  # one store per key, also with threads
            return self._encoding_store(identity, image_size)

    def _encoding_store(self, identity: str, image_size: int) -> Optional[EncodingStore]:
        key = (identity, int(image_size))
        if key in self._stores:
            return self._stores[key]
        e = self._entry(identity, image_size)
        if e is None or self.version == 1:
            return None
        rel = e["store"]
        where = f"{MANIFEST}: encodings store '{rel}'"
        if self.version >= 3:
            table = self._open_chunk_table(rel, e["table"], where)
        else:
            prefix = rel + "/"
            files = {k[len(prefix):]: v for k, v in self.manifest["files"].items()
                     if k.startswith(prefix) and "/" not in k[len(prefix):]}
            table = StoreTable.from_json(e["table"], files, where)
        if table.num_keyframes != len(self):
            raise MapFormatError(f"{where}: {table.num_keyframes} keyframes, the map has "
                                 f"{len(self)}")
        store = EncodingStore(self._full(rel), table, cache_mb=self.encoding_cache_mb)
        self._stores[key] = store
        return store

    def _open_chunk_table(self, rel: str, entry: Any, where: str) -> StoreTable:
        """v3: the store's binary chunk table named by its manifest entry, validated."""
        from ..encoding_store import STORE_FORMAT
        from .table import open_chunk_table

        if not isinstance(entry, dict) or entry.get("format") != STORE_FORMAT \
                or not is_format_version(entry.get("version"), (2,)):
            raise MapFormatError(f"{where}: not a version-2 encoding store table; rebuild the "
                                 "map")
        name = _need(entry, "chunk_table", str, where)
        num = _need(entry, "num_keyframes", int, where)
        chunks = _need(entry, "num_chunks", int, where)
        meta = self.manifest["files"].get(f"{rel}/{name}")
        if meta is None or "/" in name:
            raise MapFormatError(f"{where}: chunk table '{name}' is not in the file table")
        return open_chunk_table(self._full(f"{rel}/{name}"), num, meta["sha256"], chunks)

    def pooled_index(self, identity: str, image_size: int) -> Optional[RetrievalIndex]:
        """v2/v3: `RetrievalIndex` of the pooled descriptors of this checkpoint and size."""
        e = self._entry(identity, image_size)
        if e is None or self.version == 1:
            return None
        return self._open_index(e["pooled_index"], len(self), "pooled-descriptor")

    def asmk_keys(self) -> List[Tuple[str, str, int]]:
        """(retrieval identity, encoder identity, image size) of the map's ASMK indexes."""
        return [(e["identity"], e["encoder_identity"], e["image_size"])
                for e in self._asmk_entries()]

    def asmk_content_id(self, retrieval_identity: str, encoder_identity: str,
                        image_size: int) -> str:
        """The full-content id of the encoder weights the ASMK index of this key was built on;
        "" when not recorded (a map that predates it) or when the map has no such index."""
        for e in self._asmk_entries():
            if (e["identity"], e["encoder_identity"], e["image_size"]) == (
                    retrieval_identity, encoder_identity, int(image_size)):
                return e.get("encoder_content_id", "")
        return ""

    def load_asmk(self, retrieval_identity: str, encoder_identity: str, image_size: int
                  ) -> Optional[Any]:
        """The `core.asmk.AsmkIndex` stored for this retrieval model on this encoder's output,
        or None. Raises MapFormatError naming the file when it is corrupt."""
        from ..asmk import AsmkIndex

        for e in self._asmk_entries():
            if (e["identity"], e["encoder_identity"], e["image_size"]) == (
                    retrieval_identity, encoder_identity, int(image_size)):
                data = self._read(e["file"])
                try:
                    index = AsmkIndex.load(io.BytesIO(data))
                except MapFormatError as err:
                    raise MapFormatError(f"map file {self._full(e['file'])}: {err}") from None
                if index.num_images != len(self):
                    raise MapFormatError(f"map file {self._full(e['file'])}: "
                                         f"{index.num_images} images for {len(self)} keyframes")
                return index
        return None

    def encoding_keys(self) -> List[Tuple[str, int]]:
        """(checkpoint identity, image size) pairs whose encoder outputs the map caches."""
        return [(e["identity"], e["image_size"]) for e in self._encoding_entries()]

    def encodings_content_id(self, identity: str, image_size: int) -> Optional[str]:
        """The full-content id of the weights that computed the cached encodings of this
        checkpoint identity and size (`content_id.content_identity`); "" when the map predates
        it (only the sampled ``identity`` is recorded), None when the map has no such encodings.
        """
        e = self._entry(identity, image_size)
        return None if e is None else e.get("content_id", "")

    def load_encodings(self, identity: str, image_size: int) -> Optional[EncodingSet]:
        """The cached encodings for this checkpoint and size, or None when the map has none.

        v2/v3 maps: ``per_keyframe`` and ``to_orig`` are read lazily from the encoding store
        (sequences indexed by keyframe), ``global_desc`` is the pooled index's memory map
        (checksummed here for maps opened eagerly, on the index's first search for lazy ones).
        """
        e = self._entry(identity, image_size)
        if e is None:
            return None
        if self.version == 1:
            enc = self._parse_encodings(e["file"], identity, int(image_size))
            enc.content_id = e.get("content_id", "")
            return enc
        store = self.encoding_store(identity, image_size)
        pooled = self.pooled_index(identity, image_size)
        # lazy maps: the descriptors are checksummed on the first search of `pooled_index`
        glob = pooled.descs if self.lazy else _verified_descs(pooled)
        return EncodingSet(identity, int(image_size), _StoreRecords(store),
                           _StoreField(store, "to_orig"), glob, e.get("content_id", ""))

    def _parse_encodings(self, rel: str, identity: str, size: int) -> EncodingSet:
        a = self._load_npz(rel)
        where = f"map file {self._full(rel)}"
        n = len(self)
        try:
            ok = (str(a["identity"]) == identity and int(a["image_size"]) == size
                  and int(a["num_keyframes"]) == n)
        except KeyError as e:
            raise MapFormatError(f"{where}: missing array {e}") from None
        if not ok:
            raise MapFormatError(f"{where}: written for another checkpoint, size or keyframe "
                                 "count than the manifest says")
        to_orig, glob = a.get("to_orig"), a.get("global")
        if to_orig is None or to_orig.shape != (n, 3, 3) or not np.isfinite(to_orig).all():
            raise MapFormatError(f"{where}: 'to_orig' must be finite ({n}, 3, 3)")
        if glob is None or glob.ndim != 2 or len(glob) != n or not np.isfinite(glob).all():
            raise MapFormatError(f"{where}: 'global' must be finite ({n}, C)")
        per: List[Dict[str, np.ndarray]] = [{} for _ in range(n)]
        for k, v in a.items():
            if k.startswith("k") and "__" in k:
                idx, name = k[1:].split("__", 1)
                if not idx.isdigit() or int(idx) >= n:
                    raise MapFormatError(f"{where}: unexpected array '{k}'")
                per[int(idx)][name] = v
        if any(not d for d in per) or any(set(d) != set(per[0]) for d in per):
            raise MapFormatError(f"{where}: per-keyframe arrays are missing or inconsistent")
        return EncodingSet(identity, size, per, to_orig.astype(np.float64),
                           glob.astype(np.float32))

    def save_encodings(self, enc: EncodingSet) -> bool:
        """Add (or replace) the cached encodings of one checkpoint identity and size, atomically.

        Writes under the map's output lock (`fileio.acquire_output_lock`, as `MapWriter` and
        build-map take it; inside the map folder when the folder above it is read-only), and
        only when the manifest on disk is still the one loaded: when another process holds the
        lock (a second localizer caching the same encodings, a rebuild of the map) or has
        changed the map meanwhile, nothing is written and False is returned (the caller keeps
        the encodings in memory), so two localizers starting at once leave no orphaned store
        behind. True when written.

        Raises `InputError` when ``enc`` does not hold one encoding per keyframe, OSError when
        the map folder is not writable (the caller may keep them in memory).
        """
        if len(enc.per_keyframe) != len(self):
            raise InputError(f"{len(enc.per_keyframe)} encodings for {len(self)} keyframes")
        try:
            lock = acquire_output_lock(self.path, "map")
        except OutputBusyError as e:
            log.info("not caching the encodings in %s (keeping them in memory): %s", self.path, e)
            return False
        except InputError:
            # no lock file beside the map: its parent folder is read-only (a container that
            # mounts the map folder alone). Nothing can then replace the map (that takes a
            # rename in the parent), so a lock inside it serves the writers of its encodings.
            try:
                lock = acquire_output_lock(os.path.join(self.path, _INNER_LOCK), "map")
            except InputError as e:
                if isinstance(e, OutputBusyError):
                    log.info("not caching the encodings in %s (keeping them in memory): %s",
                             self.path, e)
                else:  # a map the user cannot write: say what it costs and how to avoid it
                    log.warning("not caching the encodings in %s (keeping them in memory; every "
                                "run encodes its keyframes again until the map folder is "
                                "writable, or build it with the checkpoint given here, "
                                "--checkpoint / the 'checkpoint' parameter): %s",
                                self.path, e)
                return False
        try:
            if not self._manifest_unchanged():
                log.info("not caching the encodings in %s: the map changed since it was loaded "
                         "(another process cached encodings, or rebuilt it)", self.path)
                return False
            self._save_locked(enc)
        finally:
            lock.release()
        return True

    def _manifest_unchanged(self) -> bool:
        try:  # a BOM accepted as `load` accepts it (read as "utf-8", none was ever cached)
            return read_manifest(self.path) == self.manifest
        except (OSError, ValueError):
            return False

    def _save_locked(self, enc: EncodingSet) -> None:
        if self.version >= 2:
            self._save_store(enc)
            return
        rel = encoding_file(enc.identity, enc.image_size)
        data = npz_bytes(encodings_to_arrays(enc))
        os.makedirs(os.path.join(self.path, "encodings"), exist_ok=True)
        atomic_write_bytes(self._full(rel), data)
        manifest = json.loads(json.dumps(self.manifest))
        manifest["files"][rel] = {"sha256": sha256_hex(data), "bytes": len(data)}
        manifest["encodings"] = [e for e in manifest["encodings"]
                                 if (e["identity"], e["image_size"])
                                 != (enc.identity, int(enc.image_size))]
        manifest["encodings"].append({"identity": enc.identity,
                                      "image_size": int(enc.image_size), "file": rel,
                                      **content_field(enc.content_id)})
        atomic_write_json(os.path.join(self.path, MANIFEST), manifest)
        self.manifest = manifest
        self._opened = opened_identity(self.path)  # our own update: not a replaced map
        log.info("cached encodings for %s at %d in %s", enc.identity, enc.image_size, self.path)

    def _save_store(self, enc: EncodingSet) -> None:
        """v2/v3 `save_encodings`: a new store folder (unique name) and its pooled index, then the
        manifest; the folder it replaces is deleted afterwards."""
        import tempfile

        base = encoding_folder(enc.identity, enc.image_size)
        os.makedirs(os.path.join(self.path, "encodings"), exist_ok=True)
        self._remove_orphan_stores()
        full = tempfile.mkdtemp(prefix=os.path.basename(base) + "-",
                                dir=os.path.join(self.path, "encodings"))
        os.chmod(full, 0o777 & ~_umask())  # mkdtemp's 0700 kept other users (the node) out
        try:
            manifest, old = self._fill_store(enc, full)
            flush_filesystem(full)  # the chunks' data, in one call rather than one per chunk
            for folder in (full, os.path.dirname(full), self.path):  # the renames, the mkdirs
                fsync_dir(folder)  # on disk before the manifest lists the store
            atomic_write_json(os.path.join(self.path, MANIFEST), manifest)
        except BaseException:  # a full disk, Ctrl-C: leave no store the manifest does not list
            import shutil

            shutil.rmtree(full, ignore_errors=True)
            raise
        self.manifest = manifest
        self._opened = opened_identity(self.path)  # our own update: not a replaced map
        with self._cache_lock:
            self._stores.pop((enc.identity, int(enc.image_size)), None)
        if old is not None and old["store"] != f"encodings/{os.path.basename(full)}":
            import shutil

            shutil.rmtree(self._full(old["store"]), ignore_errors=True)
        log.info("cached encodings for %s at %d in %s", enc.identity, enc.image_size, self.path)

    def _remove_orphan_stores(self) -> None:
        """Delete the store folders a localizer killed while caching (SIGKILL, the OOM killer)
        left in ``encodings/``: named as `_save_store` names them, listed by no manifest entry
        and not written to for `ORPHAN_AGE_S` (under the map's lock no other writer fills one,
        but one caching under the lock beside the map and one under the lock inside it, a
        read-only parent seen from another mount, do not exclude each other)."""
        import re
        import shutil
        import time

        root = os.path.join(self.path, "encodings")
        listed = {e.get("store") for e in self._encoding_entries()}
        for name in sorted(os.listdir(root)):
            full = os.path.join(root, name)
            if (re.fullmatch(r"[0-9a-f]{16}_\d+-[a-z0-9_]{8}", name)
                    and f"encodings/{name}" not in listed and os.path.isdir(full)
                    and not os.path.islink(full)
                    and time.time() - _last_written(full) > ORPHAN_AGE_S):
                log.warning("removing %s: encodings a killed localizer left half-written", full)
                shutil.rmtree(full, ignore_errors=True)

    def _fill_store(self, enc: EncodingSet, full: str) -> Tuple[Dict[str, Any], Optional[Dict]]:
        """Write ``enc``'s store and pooled index into the new folder ``full``; returns the
        manifest that lists it (not written yet) and the entry it replaces (or None)."""
        rel = f"encodings/{os.path.basename(full)}"
        w = EncodingStoreWriter(full, durable=False)  # flushed together by `_save_store`
        for d, to_orig, glob in zip(enc.per_keyframe, enc.to_orig, enc.global_desc):
            w.append({**d, "to_orig": np.asarray(to_orig, np.float64),
                      "global": np.asarray(glob, np.float32)})
        table = w.close()
        # the index kind the map was built with (build-map's scale settings), not defaults
        params = self.index_params_or_defaults()  # type: ignore[attr-defined]
        pooled_files = RetrievalIndex.build(np.asarray(enc.global_desc, np.float32),
                                            params).save(os.path.join(full, "pooled"))
        manifest = json.loads(json.dumps(self.manifest))
        old = self._entry(enc.identity, enc.image_size)
        if old is not None:
            manifest["files"] = {k: v for k, v in manifest["files"].items()
                                 if not k.startswith(old["store"] + "/")}
        if self.version >= 3:
            from .table import CHUNK_TABLE, chunk_table_json, write_chunk_table

            manifest["files"][f"{rel}/{CHUNK_TABLE}"] = write_chunk_table(full, table)
            table_json = chunk_table_json(table)
        else:
            for name, meta in table.files.items():
                manifest["files"][f"{rel}/{name}"] = dict(meta)
            table_json = table.to_json()
        for name, meta in pooled_files.items():
            manifest["files"][f"{rel}/pooled/{name}"] = dict(meta)
        manifest["encodings"] = [e for e in manifest["encodings"]
                                 if (e["identity"], e["image_size"])
                                 != (enc.identity, int(enc.image_size))]
        manifest["encodings"].append({"identity": enc.identity,
                                      "image_size": int(enc.image_size), "store": rel,
                                      "table": table_json, "pooled_index": f"{rel}/pooled",
                                      **content_field(enc.content_id)})
        return manifest, old



def _verified_descs(index: RetrievalIndex) -> np.ndarray:
    """The index's (K, D) float32 descriptors (a memory map), checksum verified once."""
    if index._unverified is not None:
        from ..retrieval_index import _verify

        _verify(*index._unverified)
        index._unverified = None
    return index.descs


class _StoreSequence(Sequence):
    """Per-keyframe values of an encoding store, read (LRU-cached) when indexed: keyframe i's
    `_value` of its record; a negative index counts from the end, a slice gives `_join` of
    its keyframes' values."""

    _join = staticmethod(list)

    def __init__(self, store: EncodingStore):
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return self._join([self[j] for j in range(*i.indices(len(self)))])
        if i < 0:
            i += len(self)
        return self._value(self.store.get(i))

    def _value(self, rec: Dict[str, np.ndarray]):
        raise NotImplementedError


class _StoreRecords(_StoreSequence):
    """``EncodingSet.per_keyframe`` of a v2/v3 map: keyframe i's ``feats`` and ``true_shape``
    (a slice: a list of them)."""

    def __init__(self, store: EncodingStore, names: Tuple[str, ...] = ("feats", "true_shape")):
        super().__init__(store)
        self.names = names

    def arrays(self, rec: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """Keyframe i's entry from its store record ``rec`` (``store.get(i)``, which a caller
        that also needs its ``to_orig`` reads once): the arrays of ``names`` it holds."""
        return {k: rec[k] for k in self.names if k in rec}

    _value = arrays


class _StoreField(_StoreSequence):
    """One per-keyframe array (e.g. ``to_orig``) of the encoding store, indexed lazily (a
    slice: the arrays stacked)."""

    _join = staticmethod(np.stack)

    def __init__(self, store: EncodingStore, name: str):
        super().__init__(store)
        self.name = name

    def _value(self, rec: Dict[str, np.ndarray]) -> np.ndarray:
        return rec[self.name]
