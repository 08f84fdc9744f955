"""Chunked, memory-mapped encoding store: round trip, lazy checksums, LRU bounds."""

import json
import os

import numpy as np
import pytest

from mast3r_ros.core.encoding_store import (_LRU, EncodingStore, EncodingStoreWriter, StoreTable,
                                            chunk_file_name, merge_tables, write_chunk)
from mast3r_ros.core.errors import InputError, MapFormatError


def _record(i: int, n_tokens: int = 12, c: int = 8) -> dict:
    """The arrays a map caches per keyframe: Encoding.to_numpy() + to_orig + global."""
    rng = np.random.default_rng(i)
    g = rng.standard_normal(c).astype(np.float32)
    return {"feats": rng.standard_normal((n_tokens, c)).astype(np.float32),
            "true_shape": np.array([48, 64] if n_tokens == 12 else [64, 48], np.int64),
            "to_orig": np.eye(3) * (i + 1), "global": g / np.linalg.norm(g)}


def _write(folder, records, chunk_size=4, cast=None):
    w = EncodingStoreWriter(str(folder), chunk_size=chunk_size, cast=cast)
    for r in records:
        w.append(r)
    return w.close()


def test_round_trip_fp16_and_table_json(tmp_path):
    recs = [_record(i) for i in range(10)]
    table = _write(tmp_path, recs, cast={"feats": np.float16})
    assert [(c.first, c.count) for c in table.chunks] == [(0, 4), (4, 4), (8, 2)]
    assert set(table.files) == set(os.listdir(tmp_path))
    table2 = StoreTable.from_json(table.to_json(), table.files, "test")
    store = EncodingStore(str(tmp_path), table2)
    for i in (7, 0, 9):
        got = store.get(i)
        assert got["feats"].dtype == np.float16
        np.testing.assert_array_equal(got["feats"], recs[i]["feats"].astype(np.float16))
        np.testing.assert_array_equal(got["to_orig"], recs[i]["to_orig"])
        assert got["to_orig"].dtype == np.float64 and got["global"].dtype == np.float32
        np.testing.assert_array_equal(got["true_shape"], recs[i]["true_shape"])
    with pytest.raises(IndexError):
        store.get(10)


def test_shape_change_starts_a_new_chunk(tmp_path):
    recs = [_record(0), _record(1), _record(2, n_tokens=20), _record(3)]
    table = _write(tmp_path, recs, chunk_size=8)
    assert [(c.first, c.count) for c in table.chunks] == [(0, 2), (2, 1), (3, 1)]
    store = EncodingStore(str(tmp_path), table)
    assert store.get(2)["feats"].shape == (20, 8)
    assert store.get(3)["feats"].shape == (12, 8)


def test_nothing_is_read_until_asked_and_corruption_names_the_file(tmp_path):
    table = _write(tmp_path, [_record(i) for i in range(8)])
    bad = os.path.join(tmp_path, table.chunks[1].file)
    with open(bad, "r+b") as fh:  # flip a byte of keyframe 5's data
        fh.seek(-5, os.SEEK_END)
        b = fh.read(1)
        fh.seek(-5, os.SEEK_END)
        fh.write(bytes([b[0] ^ 0xFF]))
    store = EncodingStore(str(tmp_path), table)  # opening reads nothing: no error yet
    assert store.get(1)["feats"].shape == (12, 8)  # the intact chunk still serves
    with pytest.raises(MapFormatError, match=table.chunks[1].file):
        store.get(5)
    os.unlink(bad)
    with pytest.raises(MapFormatError, match="missing"):
        EncodingStore(str(tmp_path), table).get(4)


def test_lru_cache_is_bounded_and_counts_hits(tmp_path):
    recs = [_record(i, n_tokens=12, c=64) for i in range(20)]
    table = _write(tmp_path, recs)
    per_kf = sum(v.nbytes for v in recs[0].values())
    store = EncodingStore(str(tmp_path), table, cache_mb=3.5 * per_kf / 2 ** 20)
    for i in range(20):
        store.get(i)
    info = store.cache_info()
    assert info["host_entries"] == 3 and info["host_bytes"] <= 3.5 * per_kf
    assert info["reads"] == 20
    store.get(19)
    assert store.cache_info()["reads"] == 20  # hit
    store.get(0)
    assert store.cache_info()["reads"] == 21  # evicted long ago
    with pytest.raises(ValueError):  # cached arrays are read-only
        store.get(0)["feats"][0, 0] = 1.0


def test_device_cache_returns_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    table = _write(tmp_path, [_record(i) for i in range(3)], cast={"feats": np.float16})
    store = EncodingStore(str(tmp_path), table, device_cache_mb=1.0)
    t = store.get_tensors(1, torch.device("cpu"))
    assert t["feats"].dtype == torch.float16 and tuple(t["feats"].shape) == (12, 8)
    assert store.get_tensors(1, torch.device("cpu")) is t
    assert store.cache_info()["device_entries"] == 1


def test_shards_merge_and_gaps_are_rejected(tmp_path):
    recs = [_record(i) for i in range(6)]
    parts = []
    for first in (3, 0):  # shards finish in any order
        w = EncodingStoreWriter(str(tmp_path), chunk_size=2, first_index=first)
        for r in recs[first:first + 3]:
            w.append(r)
        parts.append(w.close())
    merged = merge_tables(parts)
    store = EncodingStore(str(tmp_path), merged)
    for i in range(6):
        np.testing.assert_array_equal(store.get(i)["feats"], recs[i]["feats"])
    with pytest.raises(MapFormatError, match="expected to start"):
        merge_tables(parts[:1])
    with pytest.raises(InputError):
        _write(tmp_path / "x", [{"feats": np.array(["a"])}])


# ----------------------------------------------------------- mutation-audit additions ---

def _table_json(chunks, n=None, fmt="mast3r_ros.encoding_store", version=1):
    n = sum(c for _, _, c in chunks) if n is None else n
    return {"format": fmt, "version": version, "num_keyframes": n,
            "chunks": [list(c) for c in chunks]}


def _sha_files(*names):
    return {f: {"sha256": "0" * 64, "bytes": 1} for f in names}


def test_table_accepts_a_tiling_and_rejects_everything_else():
    files = _sha_files("a.npy", "b.npy")
    ok = StoreTable.from_json(_table_json([("a.npy", 0, 4), ("b.npy", 4, 2)]), files, "t")
    assert ok.num_keyframes == 6 and [(c.first, c.count) for c in ok.chunks] == [(0, 4), (4, 2)]
    bad = {
        "not a mapping": ["a.npy", 0, 4],
        "wrong format": _table_json([("a.npy", 0, 4)], fmt="other"),
        "wrong version": _table_json([("a.npy", 0, 4)], version=2),
        "empty chunk": _table_json([("a.npy", 0, 0), ("b.npy", 0, 4)]),
        "overlap": _table_json([("a.npy", 0, 4), ("b.npy", 2, 2)], n=6),
        "gap": _table_json([("a.npy", 0, 2), ("b.npy", 3, 1)], n=4),
        "count above chunks": _table_json([("a.npy", 0, 4)], n=5),
        "count below chunks": _table_json([("a.npy", 0, 4)], n=3),
        "short chunk row": {**_table_json([]), "chunks": [["a.npy", 0]]},
        "non-integer count": {**_table_json([]), "num_keyframes": "six"},
        "no chunks key": {k: v for k, v in _table_json([]).items() if k != "chunks"},
        "chunks not a list": {**_table_json([]), "chunks": None},
    }
    for what, obj in bad.items():
        with pytest.raises(MapFormatError):
            StoreTable.from_json(obj, files, what)
            pytest.fail(what)
    for version in (2, True, 1.0):  # JSON true and 1.0 compare equal to 1 in Python
        with pytest.raises(MapFormatError, match=f"encoding store version {json.dumps(version)};"):
            StoreTable.from_json(_table_json([("a.npy", 0, 4)], version=version), files, "t")
    for name in ("../a.npy", "/tmp/a.npy", "sub/a.npy", "sub\\a.npy", "..", ".", ""):
        with pytest.raises(MapFormatError, match="leaves the store"):
            StoreTable.from_json(_table_json([(name, 0, 4)]), _sha_files(name), name)
    for meta in ({"a.npy": {"bytes": 1}}, {"a.npy": {"sha256": None}}, {}):
        with pytest.raises(MapFormatError, match="sha256"):
            StoreTable.from_json(_table_json([("a.npy", 0, 4)]), meta, "t")


def test_chunk_files_are_named_by_their_global_first_index(tmp_path):
    assert chunk_file_name(0) == "chunk_000000.npy"
    assert chunk_file_name(1234567) == "chunk_1234567.npy"
    w = EncodingStoreWriter(str(tmp_path), chunk_size=2, first_index=12)
    assert [w.append(_record(i)) for i in range(3)] == [12, 13, 14]  # map indices, not local
    table = w.close()
    assert [c.file for c in table.chunks] == ["chunk_000012.npy", "chunk_000014.npy"]
    assert sorted(os.listdir(tmp_path)) == ["chunk_000012.npy", "chunk_000014.npy"]


def test_writer_rejects_bad_chunk_sizes_and_non_numeric_arrays(tmp_path):
    for size in (0, -1):
        with pytest.raises(InputError):
            EncodingStoreWriter(str(tmp_path), chunk_size=size)
    for a in (np.zeros(2, np.complex64), np.array([None, 1], dtype=object)):
        with pytest.raises(InputError):
            write_chunk(str(tmp_path), 0, [{"x": a}])
    assert os.listdir(tmp_path) == []


def test_write_chunk_rejects_records_that_disagree(tmp_path):
    a = {"x": np.zeros(3, np.float32), "y": np.zeros(2, np.int64)}
    for other in ({"x": np.zeros(3, np.float32)},                                 # a name less
                  {"x": np.zeros(3, np.float32), "z": np.zeros(2, np.int64)},     # renamed
                  {"x": np.zeros(4, np.float32), "y": np.zeros(2, np.int64)},     # shape
                  {"x": np.zeros(3, np.float64), "y": np.zeros(2, np.int64)},     # dtype
                  {"x": np.zeros(3, np.float32), "y": np.zeros(2, np.float64)}):  # dtype
        with pytest.raises(InputError):
            write_chunk(str(tmp_path), 0, [a, other])
    assert os.listdir(tmp_path) == []


def test_writer_keeps_each_keyframes_dtype(tmp_path):
    # no cast: an fp32 keyframe after fp16 ones must not be silently narrowed (or vice versa)
    x16 = np.array([1 / 3, 2 / 3], np.float16)
    x32 = np.array([1 / 3, 2 / 3], np.float32)
    table = _write(tmp_path, [{"x": x16}, {"x": x32}, {"x": x16}], chunk_size=8)
    assert [(c.first, c.count) for c in table.chunks] == [(0, 1), (1, 1), (2, 1)]
    store = EncodingStore(str(tmp_path), table)
    assert [store.get(i)["x"].dtype for i in range(3)] == [np.float16, np.float32, np.float16]
    np.testing.assert_array_equal(store.get(1)["x"], x32)


def test_writer_copies_at_append(tmp_path):
    # a caller reusing one buffer per keyframe must get each keyframe's values, not the last
    buf = np.zeros(3, np.float64)
    w = EncodingStoreWriter(str(tmp_path), chunk_size=4)
    for i in range(3):
        buf[:] = i
        w.append({"x": buf})
    store = EncodingStore(str(tmp_path), w.close())
    for i in range(3):
        np.testing.assert_array_equal(store.get(i)["x"], [i, i, i])


def test_big_endian_input_is_stored_little_endian(tmp_path):
    table = _write(tmp_path, [{"x": np.arange(3, dtype=">f4")}])
    got = EncodingStore(str(tmp_path), table).get(0)["x"]
    assert got.dtype == np.dtype("<f4")  # torch.from_numpy refuses non-native byte order
    np.testing.assert_array_equal(got, [0.0, 1.0, 2.0])


def _kb_records(n):
    """Records of exactly 2048 bytes each (256 float64)."""
    return [{"x": np.full(256, float(i))} for i in range(n)]


def test_lru_capacity_is_exact_mib_and_evicts_least_recently_used(tmp_path):
    table = _write(tmp_path, _kb_records(6))
    store = EncodingStore(str(tmp_path), table, cache_mb=3 * 2048 / 2 ** 20)  # exactly 3 records
    store.get(0)
    assert store.cache_info()["host_entries"] == 1
    assert store.cache_info()["host_bytes"] == 2048
    for i in (1, 2):
        store.get(i)
    assert store.cache_info()["host_entries"] == 3
    assert store.cache_info()["host_bytes"] == 3 * 2048
    store.get(0)                                  # hit: 0 becomes the most recently used
    assert store.cache_info()["reads"] == 3
    store.get(3)                                  # evicts 1, the least recently used
    assert store.cache_info()["reads"] == 4
    store.get(0)
    store.get(2)
    assert store.cache_info()["reads"] == 4       # 0 and 2 still cached
    store.get(1)
    assert store.cache_info()["reads"] == 5       # 1 was evicted
    one = EncodingStore(str(tmp_path), table, cache_mb=2048 / 2 ** 20)  # exactly one record
    one.get(5)
    one.get(5)
    assert one.cache_info()["reads"] == 1 and one.cache_info()["host_bytes"] == 2048
    none = EncodingStore(str(tmp_path), table, cache_mb=0)
    none.get(5)
    none.get(5)
    assert none.cache_info() == {"host_entries": 0, "host_bytes": 0, "device_entries": 0,
                                 "device_bytes": 0, "reads": 2}


def test_lru_replacing_a_key_counts_its_bytes_once():
    lru = _LRU(100, len)
    lru.put("a", "xxxx")
    lru.put("a", "yyyyyy")
    assert len(lru) == 1 and lru.nbytes == 6 and lru.get("a") == "yyyyyy"
    lru.put("b", "z" * 95)  # 101 bytes > 100: evicts "a"
    assert lru.get("a") is None and lru.nbytes == 95


def test_device_cache_bytes_keys_and_copies(tmp_path):
    pytest.importorskip("torch")
    x = np.arange(6, dtype=np.float32)
    table = _write(tmp_path, [{"x": x, "i": np.arange(2, dtype=np.int64)}])
    store = EncodingStore(str(tmp_path), table, cache_mb=0, device_cache_mb=1.0)
    t = store.get_tensors(0, "cpu")
    info = store.cache_info()
    assert info["device_entries"] == 1 and info["device_bytes"] == 6 * 4 + 2 * 8
    assert info["host_entries"] == 0  # the device budget is its own
    m = store.get_tensors(0, "meta")  # the cache key includes the device
    assert m["x"].device.type == "meta" and store.cache_info()["device_entries"] == 2
    both = EncodingStore(str(tmp_path), table, cache_mb=1.0, device_cache_mb=1.0)
    t = both.get_tensors(0, "cpu")
    t["x"][0] = 100.0  # a caller writing into its tensor must not change the host cache
    np.testing.assert_array_equal(both.get(0)["x"], x)
    assert both.cache_info()["reads"] == 1  # served from the host cache


def test_index_outside_the_store_raises_even_with_one_chunk(tmp_path):
    store = EncodingStore(str(tmp_path), _write(tmp_path, _kb_records(3)))
    for bad in (-1, -3, 3):
        with pytest.raises(IndexError, match="outside"):
            store.get(bad)


def test_checksums_are_computed_once_per_chunk_and_verify_all(tmp_path, monkeypatch):
    from mast3r_ros.core import encoding_store as es

    table = _write(tmp_path, _kb_records(6), chunk_size=2)  # 3 chunks
    calls = []
    real = es._file_sha256
    monkeypatch.setattr(es, "_file_sha256", lambda p: calls.append(os.path.basename(p)) or real(p))
    store = EncodingStore(str(tmp_path), table, cache_mb=0)
    store.get(0)
    store.get(1)
    store.get(0)
    assert calls == ["chunk_000000.npy"]
    store.verify_all()
    assert sorted(calls) == ["chunk_000000.npy", "chunk_000002.npy", "chunk_000004.npy"]
    store.verify_all()
    assert len(calls) == 3
    calls.clear()
    EncodingStore(str(tmp_path), table, verify=False).get(3)
    assert calls == []  # verify=False reads without hashing
    with open(os.path.join(tmp_path, "chunk_000004.npy"), "r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        b = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(MapFormatError, match="chunk_000004.npy"):
        EncodingStore(str(tmp_path), table).verify_all()


def test_unreadable_or_mislaid_chunks_raise_map_format_errors(tmp_path):
    table = _write(tmp_path, _kb_records(2))
    path = os.path.join(tmp_path, table.chunks[0].file)
    os.unlink(path)
    os.mkdir(path)  # open() fails with an OSError other than FileNotFoundError
    with pytest.raises(MapFormatError, match="unreadable"):
        EncodingStore(str(tmp_path), table).get(0)
    os.rmdir(path)
    structured = np.zeros(2, dtype=[("x", "<f8", (256,))])
    for content in (b"not a npy file at all",      # header does not parse
                    np.zeros((2, 256)),            # 2-D, not records
                    np.zeros(2),                   # 1-D but no fields
                    structured[:1]):               # records, but fewer than the table says
        if isinstance(content, bytes):
            with open(path, "wb") as fh:
                fh.write(content)
        else:
            np.save(path, content)
        with pytest.raises(MapFormatError, match=table.chunks[0].file):
            EncodingStore(str(tmp_path), table, verify=False).get(0)


def test_records_are_copied_out_of_the_memory_map(tmp_path):
    import mmap

    table = _write(tmp_path, _kb_records(2))
    got = EncodingStore(str(tmp_path), table).get(1)["x"]
    base = got
    while base is not None:  # nothing in the chain keeps the file mapped
        assert not isinstance(base, (np.memmap, mmap.mmap))
        base = getattr(base, "base", None)
    np.testing.assert_array_equal(got, np.full(256, 1.0))


def test_missing_or_truncated_names_each_bad_file(tmp_path):
    table = _write(tmp_path, _kb_records(6), chunk_size=2)
    store = EncodingStore(str(tmp_path), table)
    assert store.missing_or_truncated() == []
    os.unlink(os.path.join(tmp_path, "chunk_000000.npy"))
    with open(os.path.join(tmp_path, "chunk_000002.npy"), "ab") as fh:
        fh.write(b"\0")  # grown
    with open(os.path.join(tmp_path, "chunk_000004.npy"), "r+b") as fh:
        fh.truncate(100)  # shrunk
    bad = store.missing_or_truncated()
    assert len(bad) == 3
    assert "chunk_000000.npy" in bad[0] and "missing" in bad[0]
    assert "chunk_000002.npy" in bad[1] and "chunk_000004.npy" in bad[2]


def test_append_does_not_rescan_the_chunks_written(tmp_path):
    # merge-maps and a localizer caching a map's encodings append every keyframe to one
    # writer: summing the chunk list at each append made the writer quadratic (8.8 s of
    # bookkeeping at 2*10^4 keyframes). Count the passes over the chunk list.
    class Counted(list):
        passes = 0

        def __iter__(self):
            Counted.passes += 1
            return super().__iter__()

    w = EncodingStoreWriter(str(tmp_path), chunk_size=1)
    w._chunks = Counted()
    for i in range(30):
        assert w.append(_record(i)) == i
    assert Counted.passes == 0
    table = w.close()
    assert table.num_keyframes == 30 and [c.first for c in table.chunks] == list(range(30))
    assert Counted.passes <= 1  # the table made once at close
