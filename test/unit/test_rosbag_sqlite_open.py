"""Opening a rosbag2 folder's .db3 files without rosbags' count of their messages
(`rosbag.sqlite_open`): what is read at open, and that what is read agrees with rosbags'."""

from __future__ import annotations

import sqlite3
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags")
apsw = pytest.importorskip("apsw")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from rosbags.rosbag2.errors import ReaderError  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.rosbag.opening import _open_bag  # noqa: E402

ROSBAGS = tuple(int(p) for p in metadata.version("rosbags").split(".")[:2])
counts_at_open = pytest.mark.skipif(  # and its sqlite3 reader holds one dbconn
    not (0, 11) <= ROSBAGS < (0, 12), reason="rosbags before 0.11 counts no messages at open")
if (0, 11) <= ROSBAGS:
    from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader


def _bag(path: Path, images: int = 40, side: int = 96) -> Path:
    """A sqlite3 bag folder (metadata.yaml) of ``images`` rgb8 images of ``side`` px."""
    from test_rosbag import S, camera_info, image, write_bag
    rng = np.random.default_rng(0)
    msgs = [("/camera/color/camera_info", S, camera_info(S, width=side, height=side))]
    msgs += [("/camera/color/image_raw", S + i * 10**8, image(
        S + i * 10**8, "rgb8", rng.integers(0, 256, (side, side, 3), np.uint8)))
        for i in range(images)]
    return write_bag(path, StoragePlugin.SQLITE3, msgs)


def _traced_sql(monkeypatch) -> list:
    """SQL run on every apsw connection opened from now on (rosbags opens its own)."""
    seen: list = []

    def hook(conn):
        conn.exec_trace = lambda cursor, sql, bindings: seen.append(sql) or True

    monkeypatch.setattr(apsw, "connection_hooks", [*apsw.connection_hooks, hook])
    return seen


@counts_at_open
def test_opening_a_db3_bag_folder_queries_no_message(tmp_path, monkeypatch):
    # rosbags 0.11's open counted each topic's messages (a LEFT JOIN scanning the messages
    # table: ~10 % of a bag of images read at each open), counts metadata.yaml already gives
    bag = _bag(tmp_path / "bag")
    seen = _traced_sql(monkeypatch)
    with _open_bag(bag) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert not [sql for sql in seen if "messages" in sql.lower()]
        got = [c.topic for c, _, _ in reader.messages(reader.connections)]
    assert counts == {"/camera/color/camera_info": 1, "/camera/color/image_raw": 40}
    assert got == ["/camera/color/camera_info"] + ["/camera/color/image_raw"] * 40


def _rchar() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar")).split()[1])


@counts_at_open
@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs /proc/self/io")
def test_opening_a_db3_bag_folder_reads_a_small_part_of_it(tmp_path):
    bag = _bag(tmp_path / "bag", images=200, side=48)  # ~7 KB a message: one page and more
    with _open_bag(bag):  # imports done
        pass
    before = _rchar()
    with _open_bag(bag):
        pass
    read = _rchar() - before
    size = next(bag.glob("*.db3")).stat().st_size
    assert read < size / 50, (read, size)  # was ~1/10 (a page of each message)


def _storage_state(cls, path: Path):
    storage = cls(path)
    storage.open()
    try:
        return (storage.schema, storage.msgtypes,
                [c._replace(msgcount=0, owner=None) for c in storage.connections])
    finally:
        storage.close()


def _db3(path: Path, schema: int) -> Path:
    """A .db3 file in the layout of rosbag2's storage schema ``schema`` (1: topics without
    QoS; 2: with QoS, no schema table; 3: a schema table; 4: message definitions, hashes)."""
    db = sqlite3.connect(path)
    qos = ("- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n"
           "    sec: 2147483647\n    nsec: 4294967295\n  lifespan:\n    sec: 2147483647\n"
           "    nsec: 4294967295\n  liveliness: 1\n  liveliness_lease_duration:\n"
           "    sec: 2147483647\n    nsec: 4294967295\n  avoid_ros_namespace_conventions: false")
    cols = "id INTEGER PRIMARY KEY, name TEXT, type TEXT, serialization_format TEXT"
    cols += ", offered_qos_profiles TEXT" if schema >= 2 else ""
    cols += ", type_description_hash TEXT" if schema >= 4 else ""
    db.execute(f"CREATE TABLE topics({cols})")
    db.execute("CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER, "
               "timestamp INTEGER, data BLOB)")
    if schema >= 3:
        db.execute("CREATE TABLE schema(schema_version INTEGER, ros_distro TEXT)")
        db.execute("INSERT INTO schema VALUES (?, 'humble')", (schema,))
    if schema >= 4:
        db.execute("CREATE TABLE message_definitions(id INTEGER PRIMARY KEY, topic_type TEXT, "
                   "encoding TEXT, encoded_message_definition TEXT, type_description_hash TEXT)")
        db.execute("INSERT INTO message_definitions VALUES (1, 'std_msgs/msg/String', "
                   "'ros2msg', 'string data', 'RIHS01_abc')")
    for tid, (name, typ) in enumerate([("/b", "std_msgs/msg/String"),
                                       ("/a", "std_msgs/msg/Empty")], 1):
        row = [tid, name, typ, "cdr"] + ([qos] if schema >= 2 else []) + (
            [f"RIHS01_{tid}"] if schema >= 4 else [])
        db.execute(f"INSERT INTO topics VALUES ({','.join('?' * len(row))})", row)
        db.executemany("INSERT INTO messages(topic_id, timestamp, data) VALUES (?, ?, ?)",
                       [(tid, 10 + i, b"\0\1\0\0" + bytes(8)) for i in range(3 * tid)])
    db.commit()
    db.close()
    return path


@counts_at_open
@pytest.mark.parametrize("schema", [1, 2, 3, 4])
def test_the_uncounted_reader_reads_the_topics_rosbags_reads(tmp_path, schema):
    from mast3r_ros.replay.rosbag.sqlite_open import UncountedSqlite3Reader
    path = _db3(tmp_path / "x.db3", schema)
    assert (_storage_state(UncountedSqlite3Reader, path)
            == _storage_state(Sqlite3Reader, path))


@counts_at_open
def test_a_file_the_uncounted_reader_does_not_know_is_opened_by_rosbags(tmp_path):
    from mast3r_ros.replay.rosbag.sqlite_open import UncountedSqlite3Reader
    path = _db3(tmp_path / "x.db3", 4)
    db = sqlite3.connect(path)
    db.execute("UPDATE message_definitions SET encoding = 'other'")  # rosbags: a KeyError
    db.commit()
    db.close()
    with pytest.raises(KeyError, match="other"):
        _storage_state(Sqlite3Reader, path)
    with pytest.raises(KeyError, match="other"):
        _storage_state(UncountedSqlite3Reader, path)
    bare = tmp_path / "bare.db3"
    sqlite3.connect(bare).execute("CREATE TABLE topics(id INTEGER)").connection.close()
    for cls in (Sqlite3Reader, UncountedSqlite3Reader):
        with pytest.raises(ReaderError, match="missing tables"):
            _storage_state(cls, bare)


@counts_at_open
def test_another_rosbags_is_left_to_open_as_it_does(tmp_path, monkeypatch):
    from mast3r_ros.replay.rosbag import sqlite_open
    bag = _bag(tmp_path / "bag", images=2)
    monkeypatch.setattr(sqlite_open, "rosbags_version", lambda: (0, 12, 0))
    with _open_bag(bag) as reader:
        assert type(reader.readers[0].storage.storages[0]) is Sqlite3Reader
    monkeypatch.undo()
    with _open_bag(bag) as reader:
        assert type(reader.readers[0].storage.storages[0]) is sqlite_open.UncountedSqlite3Reader


def test_a_damaged_page_of_the_messages_table_is_refused_when_read(tmp_path):
    # rosbags' count at open read every page of the messages table (a damaged one refused
    # there); uncounted, the damage shows when its messages are read, as an InputError
    from mast3r_ros.replay.rosbag.opening import bag_messages
    bag = _bag(tmp_path / "bag", images=60, side=24)  # ~1.7 KB rows: leaf pages of 2-3
    path = next(bag.glob("*.db3"))
    data = bytearray(path.read_bytes())
    leaves = [p for p in range(1, len(data) // 4096) if data[p * 4096] == 0x0D]  # table leaves
    page = leaves[len(leaves) // 2]
    data[page * 4096 + 1: page * 4096 + 4096] = b"\xff" * 4095
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"cannot (open|read) rosbag2 .*damaged"):
        with _open_bag(bag) as reader:
            for _ in bag_messages(reader, connections=reader.connections):
                pass


@counts_at_open
@pytest.mark.parametrize("index", [None, "timestamp_idx", "by_time_and_topic"])
def test_a_db3_without_an_index_by_time_is_warned_of_once(tmp_path, monkeypatch, caplog, index):
    # SQLite answers rosbags' ORDER BY timestamp on such a file by sorting all its messages
    # (EXPLAIN QUERY PLAN: USE TEMP B-TREE FOR ORDER BY) before the first: the whole bag read
    # at every pass, however few frames are taken; nothing said before
    from mast3r_ros.replay.rosbag import sqlite_open
    bag = _bag(tmp_path / "bag", images=3)
    path = next(bag.glob("*.db3"))
    db = sqlite3.connect(path)
    db.execute("DROP INDEX timestamp_idx")
    if index:
        db.execute(f"CREATE INDEX {index} ON messages (timestamp"
                   + (", topic_id)" if index == "by_time_and_topic" else ")"))
    db.commit()
    db.close()
    monkeypatch.setattr(sqlite_open, "UNINDEXED_WARN_BYTES", 0, raising=False)
    monkeypatch.setattr(sqlite_open, "_warned", set(), raising=False)
    for _ in range(2):  # each pass opens the bag
        with _open_bag(bag):
            pass
    said = [r.getMessage() for r in caplog.records if "no index of its messages" in
            r.getMessage()]
    assert len(said) == (0 if index else 1)
    if not index:
        assert str(path) in said[0] and "CREATE INDEX timestamp_idx ON messages" in said[0]


def test_a_small_db3_without_an_index_by_time_is_not_warned_of(tmp_path, caplog):
    bag = _bag(tmp_path / "bag", images=3)
    db = sqlite3.connect(next(bag.glob("*.db3")))
    db.execute("DROP INDEX timestamp_idx")
    db.commit()
    db.close()
    with _open_bag(bag):
        pass
    assert not [r for r in caplog.records if "no index of its messages" in r.getMessage()]


def test_rosbags_version_is_read_once_a_process(tmp_path, monkeypatch):
    # each open read rosbags' METADATA file (~40 KB) again to test the version
    from mast3r_ros.replay.rosbag import sqlite_open
    bag = _bag(tmp_path / "bag", images=1)
    calls = []
    real = sqlite_open._metadata.version
    monkeypatch.setattr(sqlite_open._metadata, "version",
                        lambda name: calls.append(name) or real(name))
    for _ in range(3):
        with _open_bag(bag):
            pass
    assert len(calls) <= 1


def _unindexed_bag(path: Path) -> Path:
    """`_bag`'s shape without timestamp_idx, its images' CameraInfo at their times and /tf
    at the same times too (messages at one time on several topics), one image twice."""
    from test_rosbag import S, camera_info, image, pose, tf_message, write_bag
    rng = np.random.default_rng(0)
    msgs = []
    for i in range(12):
        t = S + (i // 2) * 10**8  # two of each topic at each time
        msgs += [("/camera/color/image_raw", t, image(t, "rgb8", rng.integers(
                     0, 256, (48, 48, 3), np.uint8))),
                 ("/camera/color/camera_info", t, camera_info(t, width=48, height=48)),
                 ("/tf", t, tf_message([("map", "base_link", t, pose([0, 0, 0], [i, 0, 0]))]))]
    bag = write_bag(path, StoragePlugin.SQLITE3, msgs)
    db = sqlite3.connect(next(bag.glob("*.db3")))
    db.execute("DROP INDEX timestamp_idx")
    db.commit()
    db.close()
    return bag


@counts_at_open
def test_a_db3_without_an_index_by_time_sorts_its_messages_times_not_their_bytes(
        tmp_path, monkeypatch):
    # rosbags' SELECT ... data ... ORDER BY timestamp made SQLite sort every message's bytes
    # (written to temporary files and read back: 2.2 GB read for a 0.6 GB bag before its first
    # message); now only ids and times are sorted, then the data read by rowid: the same
    # messages in the same order, for every set of topics and time window
    from mast3r_ros.replay.rosbag.opening import bag_messages
    bag = _unindexed_bag(tmp_path / "bag")
    seen = _traced_sql(monkeypatch)
    S = 10**9
    with _open_bag(bag) as reader:
        storage = reader.readers[0].storage.storages[0]
        for topics in [None, {"/tf"}, {"/camera/color/image_raw", "/tf"}]:
            conns = [c for c in reader.connections if topics is None or c.topic in topics]
            for start, stop in [(None, None), (S + 10**8, S + 4 * 10**8), (S + 2 * 10**8, None),
                                (S + 3 * 10**8, S + 3 * 10**8 + 1)]:
                own = [(c.id, t, d) for c, t, d in Sqlite3Reader.messages(storage, conns,
                                                                           start, stop)]
                del seen[:]
                got = [(c.id, t, d) for c, t, d in bag_messages(
                    reader, connections=conns, start=start, stop=stop)]
                assert got == own and own, (topics, start, stop)
                sorted_sql = [sql for sql in seen if "order by" in sql.lower()]
                assert sorted_sql and not [sql for sql in sorted_sql if "data" in sql.lower()]
