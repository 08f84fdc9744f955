"""Chunked, memory-mapped encoding store: round trip, lazy checksums, LRU bounds."""

import os

import numpy as np
import pytest

from mast3r_ros.core.encoding_store import (EncodingStore, EncodingStoreWriter, StoreTable,
                                            merge_tables, write_chunk)
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
