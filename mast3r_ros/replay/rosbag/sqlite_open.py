"""Opening a rosbag2 folder's ``.db3`` files without counting their messages (`skip_counts`).

rosbags 0.11's sqlite3 storage reader, at each open, counts every topic's messages with a
``LEFT JOIN`` of ``topics`` over ``messages`` (no index by topic: a scan of the whole
``messages`` table, ~10 % of a bag of images read) and the bag's first and last stamps and
message count. A bag folder's reader (rosbags' ``DirectoryReader``) takes all of those from
its metadata.yaml and reads of each storage file only its topics' ids, names, types,
serialization formats, QoS, hashes and message definitions. `UncountedSqlite3Reader` reads
just those (its connections' ``msgcount`` is 0, its ``metadata`` rosbags' empty one), and
`skip_counts` makes an unopened ``AnyReader`` of a bag folder use it.

Where this is applied: rosbags 0.11.x whose ``Sqlite3Reader`` opens through ``_open`` (read
from rosbags 0.11.9's source: ``open()`` connects ``dbconn``, then ``_open()`` fills
``schema``, ``msgtypes``, ``connections`` and ``metadata``) and whose ``DirectoryReader`` picks
its storage reader from ``STORAGE_PLUGINS``. Elsewhere (rosbags 0.9 and 0.10 count nothing;
another layout) nothing changes. A .db3 opened alone (no metadata.yaml) keeps rosbags' own
reader: its counts are the bag's. Any file this reader does not read as expected (a table
missing, a schema version or encoding it does not know, a damaged page, an error) is opened
by rosbags' own ``_open``, which gives its own result or error.

`warn_if_unindexed`: a .db3 without an index of its messages by time (rosbag2's recorder
and rosbags' writer create ``timestamp_idx``; a file written or filtered by another tool may
lack it) has each read in time order scan the whole table before its first message; its
messages' ids and times are sorted, not their bytes (`_sorted_first`)."""

from __future__ import annotations

import functools
import logging
import os
from importlib import metadata as _metadata
from collections.abc import Iterator
from typing import Any, List, Optional, Set, Tuple

try:
    from rosbags.interfaces import (Connection, ConnectionExtRosbag2, MessageDefinition,
                                    MessageDefinitionFormat)
    from rosbags.rosbag2.metadata import parse_qos
    from rosbags.rosbag2.reader import DirectoryReader
    from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader
except ImportError:  # another rosbags' layout: nothing to skip
    Sqlite3Reader = None  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)

_FIELDS = ("id", "topic", "msgtype", "msgdef", "digest", "msgcount", "ext", "owner")
_FORMATS = {"ros2msg": "MSG", "ros2idl": "IDL"}  # message_definitions.encoding


@functools.lru_cache(maxsize=1)
def rosbags_version() -> Optional[Tuple[int, ...]]:
    """The installed rosbags' (major, minor, patch); None where it cannot be told (read once:
    its distribution's METADATA file, ~40 KB)."""
    try:
        return tuple(int(p) for p in _metadata.version("rosbags").split(".")[:3])
    except (ValueError, _metadata.PackageNotFoundError):
        return None


def supported() -> bool:
    """True where `UncountedSqlite3Reader` fits the installed rosbags (module docstring)."""
    version = rosbags_version()
    return (Sqlite3Reader is not None and version is not None and (0, 11) <= version < (0, 12)
            and callable(getattr(Sqlite3Reader, "_open", None))
            and isinstance(getattr(DirectoryReader, "STORAGE_PLUGINS", None), dict)
            and DirectoryReader.STORAGE_PLUGINS.get("sqlite3") is Sqlite3Reader
            and tuple(getattr(Connection, "_fields", ())) == _FIELDS)


def skip_counts(reader: Any) -> bool:
    """Make the unopened rosbags ``AnyReader`` ``reader`` open the .db3 files of its bag
    folders with `UncountedSqlite3Reader` (on this instance's folder readers only); True when
    it will. Nothing is changed where `supported` is False."""
    if not supported():
        return False
    changed = False
    for sub in getattr(reader, "readers", None) or []:
        storage = getattr(sub, "storage", None)
        if (type(storage) is DirectoryReader
                and storage.STORAGE_PLUGINS.get("sqlite3") is Sqlite3Reader):
            storage.STORAGE_PLUGINS = {**storage.STORAGE_PLUGINS,
                                       "sqlite3": UncountedSqlite3Reader}
            changed = True
    return changed


if Sqlite3Reader is not None:
    class UncountedSqlite3Reader(Sqlite3Reader):  # type: ignore[misc,valid-type]
        """rosbags' ``Sqlite3Reader`` that reads a storage file's topics and message
        definitions but counts no messages (module docstring); rosbags' ``_open`` where it
        cannot."""

        def _open(self) -> None:
            try:
                state = _read_state(self)
            except Exception:  # noqa: BLE001 - rosbags' own open gives its result or error
                state = None
            if state is None:
                super()._open()
                return
            self.schema, self.msgtypes, self.connections = state

        def messages(self, connections: Any, start: Optional[int] = None,
                     stop: Optional[int] = None) -> Iterator[Tuple[Any, int, bytes]]:
            """rosbags' ``messages``; of a file without an index by time, `_sorted_first`."""
            indexed = getattr(self, "_time_indexed", None)
            if indexed is None:
                try:
                    indexed = _time_indexed(self.dbconn)
                except Exception:  # noqa: BLE001 - rosbags' own read gives its error
                    indexed = True
                self._time_indexed = indexed
            if indexed:
                return super().messages(connections, start, stop)
            return _sorted_first(self, connections, start, stop)
else:  # pragma: no cover - rosbags without this layout
    UncountedSqlite3Reader = None  # type: ignore[assignment,misc]


FETCH_ROWS = 32  # messages whose bytes one query of `_sorted_first` reads, at most


def _time_indexed(db: Any) -> bool:
    """Whether the messages table of ``db`` has an index led by ``timestamp``."""
    return any(_leads_by_timestamp(db, name)
               for _, name, *_ in _rows(db, "PRAGMA index_list(messages)"))


def _sorted_first(storage: Any, connections: Any, start: Optional[int], stop: Optional[int]
                  ) -> Iterator[Tuple[Any, int, bytes]]:
    """rosbags' ``messages`` of a .db3 without an index by time: what rosbags asks (its
    ``WHERE``, ``ORDER BY timestamp``) without the data, so that SQLite sorts the messages'
    ids and times alone (the rows' first bytes; not every message's bytes, which it wrote to
    temporary files and read back: 2.2 GB read for a 0.6 GB bag, 2.4 s before the first
    message), then the data of `FETCH_ROWS` messages at a time by rowid (the ``id`` of rosbag2's
    schema; a lookup in any table). The query is rosbags' but for the data it selects, so
    that SQLite plans it alike: messages at one time come in its order (by topic, then as
    written, as SQLite 3.54 plans it)."""
    connmap = {c.id: c for c in storage.connections}
    ids = tuple({c.id for c in connections})
    query = ["SELECT messages.rowid, topics.id, messages.timestamp FROM messages JOIN topics "
             f"ON messages.topic_id=topics.id WHERE topics.id IN ({','.join('?' * len(ids))})"]
    args: list = list(ids)
    if start is not None:
        query.append("AND messages.timestamp >= ?")
        args.append(start)
    if stop is not None:
        query.append("AND messages.timestamp < ?")
        args.append(stop)
    query.append("ORDER BY timestamp")  # rosbags' query but the data: SQLite's same plan
    db = storage.dbconn
    batch: list = []
    for row in db.execute(" ".join(query), args):
        batch.append(row)
        if len(batch) == FETCH_ROWS:
            yield from _with_data(db, connmap, batch)
            batch = []
    yield from _with_data(db, connmap, batch)


def _with_data(db: Any, connmap: dict, rows: list) -> Iterator[Tuple[Any, int, bytes]]:
    """(connection, time, data) of ``rows`` (message rowid, topic id, time), their data read in
    one query."""
    if not rows:
        return
    data = dict(db.execute(f"SELECT rowid, data FROM messages WHERE rowid IN "
                           f"({','.join('?' * len(rows))})", [r[0] for r in rows]))
    for mid, cid, timestamp in rows:
        yield connmap[cid], timestamp, data[mid]


def _rows(db: Any, sql: str) -> List[tuple]:
    return [tuple(row) for row in db.execute(sql)]


def _read_state(storage: Any) -> Optional[Tuple[int, list, list]]:
    """(schema version, message types, connections) of the open ``storage``'s file as rosbags'
    ``_open`` reads them, without counts; None for a file it would read otherwise."""
    db = storage.dbconn
    tables = {name for (name,) in _rows(db, "SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"messages", "topics"} <= tables:
        return None
    topic_columns = {row[1] for row in _rows(db, "PRAGMA table_info(topics)")}
    if "schema" in tables:
        found = _rows(db, "SELECT schema_version FROM schema")
        schema = found[0][0] if found else -1
        if not isinstance(schema, int):
            return None
    else:
        schema = 2 if "offered_qos_profiles" in topic_columns else 1
    msgtypes: list = []
    if schema >= 4:
        msgtypes = [{"name": n, "encoding": e, "msgdef": d, "digest": h} for n, e, d, h in _rows(
            db, "SELECT topic_type, encoding, encoded_message_definition, type_description_hash "
                "FROM message_definitions ORDER BY id")]
        if any(t["encoding"] not in _FORMATS for t in msgtypes):
            return None
    columns = ["id", "name", "type", "serialization_format"]
    if schema >= 2:
        columns.append("offered_qos_profiles")
    if schema >= 4:
        columns.append("type_description_hash")
    topics = _rows(db, f"SELECT {', '.join(columns)} FROM topics ORDER BY id")
    if len({row[0] for row in topics}) != len(topics):  # rosbags groups rows by id
        return None
    connections = []
    for row in topics:
        cid, topic, msgtype, fmt = row[:4]
        qos = parse_qos(row[4]) if schema >= 2 else []
        digest = row[5] if schema >= 4 else ""
        known = next((t for t in msgtypes if t["name"] == msgtype), None)
        msgdef = (MessageDefinition(getattr(MessageDefinitionFormat, _FORMATS[known["encoding"]]),
                                    known["msgdef"]) if known is not None
                  else MessageDefinition(MessageDefinitionFormat.NONE, ""))
        connections.append(Connection(cid, topic, msgtype, msgdef, digest, 0,
                                      ConnectionExtRosbag2(fmt, qos), storage))
    return schema, msgtypes, connections


UNINDEXED_WARN_BYTES = 64 * 2**20  # a .db3 whose sort before its first message is worth a word
_warned: Set[str] = set()  # files warned of in this process (each pass opens the bag anew)


def warn_if_unindexed(reader: Any) -> None:
    """Warn (once a file) of each .db3 file of the open ``reader`` (rosbags' ``AnyReader``) of
    at least `UNINDEXED_WARN_BYTES` whose messages table has no index led by ``timestamp``:
    rosbags reads messages ``ORDER BY timestamp``, which SQLite then answers by scanning every
    row of the file before the first (their times and ids sorted: `_sorted_first`), at every
    pass, ``--max-frames`` or not; the fix is an index on a copy (the bag is read
    read-only)."""
    for sub in getattr(reader, "readers", None) or []:
        storage = getattr(sub, "storage", None)
        for one in getattr(storage, "storages", None) or [storage]:
            db = getattr(one, "dbconn", None)
            path = str(getattr(one, "path", ""))
            if (db is None or not path.endswith(".db3") or path in _warned
                    or _size(path) < UNINDEXED_WARN_BYTES):
                continue
            try:
                indexed = _time_indexed(db)
            except Exception:  # noqa: BLE001 - a damaged schema is refused where it is read
                continue
            if not indexed:
                _warned.add(path)
                log.warning(
                    "rosbag2 file %s (%.1f GB) has no index of its messages by time (the "
                    "timestamp_idx that ros2 bag record writes; a tool that rewrote or filtered "
                    "the file dropped it): each pass over it scans all its messages' times "
                    "before the first one, however few frames are taken; to add the "
                    "index, on a writable copy of the bag: sqlite3 COPY.db3 'CREATE "
                    "INDEX timestamp_idx ON messages (timestamp ASC)'", path, _size(path) / 1e9)


def time_indexed(reader: Any) -> bool:
    """Whether every .db3 file of the open ``reader`` (rosbags' ``AnyReader``) has an index
    of its messages led by time (False where it cannot be told): one message read by its
    time is then an index look-up, not a scan of every message's time
    (`drawn._frames_listed`)."""
    for sub in getattr(reader, "readers", None) or []:
        storage = getattr(sub, "storage", None)
        for one in getattr(storage, "storages", None) or [storage]:
            db = getattr(one, "dbconn", None)
            try:
                if db is None or not _time_indexed(db):
                    return False
            except Exception:  # noqa: BLE001 - a damaged schema is refused where it is read
                return False
    return True


def _leads_by_timestamp(db: Any, index: str) -> bool:
    """Whether the index ``index``'s first column is ``timestamp``."""
    quoted = index.replace("'", "''")
    columns = _rows(db, f"PRAGMA index_info('{quoted}')")
    return bool(columns) and columns[0][2] == "timestamp"


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
