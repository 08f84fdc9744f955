"""ASMK: safe codebook loading, words / codes / similarity equal to the reference fixture."""

from __future__ import annotations

import io
import os
import pickle
import re

import numpy as np
import pytest
from retrieval_test_utils import write_codebook

from mast3r_ros.core.asmk import (AsmkIndex, AsmkVector, Codebook, aggregate_database,
                                  aggregate_query, binarize, code_bytes, codes_as_uint32,
                                  load_codebook, parse_cluster_count, residual_sums,
                                  similarity_matrix)
from mast3r_ros.core.errors import CheckpointError, InputError, MapFormatError


@pytest.fixture(scope="module")
def codebook(rt):
    return load_codebook(str(rt / "codebook.pkl"), expected_size=64)


def test_fixture_codebook_loads(codebook, rt_out):
    assert codebook.size == 64 and codebook.centroids.dtype == np.float32
    np.testing.assert_array_equal(codebook.centroids, rt_out["codebook_centroids"])


def test_fixture_assignments_words_codes(codebook, rt_out):
    for i in range(6):
        f = rt_out[f"feats_{i}"]
        assign = codebook.quantize(f, 5)
        np.testing.assert_array_equal(assign[:, :1], rt_out[f"assign_db_{i}"])
        np.testing.assert_array_equal(assign, rt_out[f"assign_q_{i}"])
        words, sums = residual_sums(f, assign[:, :1], codebook.centroids)
        np.testing.assert_array_equal(words, rt_out[f"words_db_{i}"])
        np.testing.assert_array_equal(sums, rt_out[f"resid_db_{i}"])  # same float32 order
        for side, agg in (("db", aggregate_database), ("q", aggregate_query)):
            v = agg(f, codebook)
            np.testing.assert_array_equal(v.words, rt_out[f"words_{side}_{i}"])
            np.testing.assert_array_equal(codes_as_uint32(v.codes), rt_out[f"codes_{side}_{i}"])
        assert aggregate_database(f, codebook).num_words == rt_out["db_norm"][i]
        assert aggregate_query(f, codebook).num_words == rt_out["q_norm"][i]


def test_fixture_similarity(codebook, rt_out):
    feats = [rt_out[f"feats_{i}"] for i in range(6)]
    sim = similarity_matrix([aggregate_database(f, codebook) for f in feats],
                            [aggregate_query(f, codebook) for f in feats], codebook)
    assert sim.shape == (6, 6) and sim.dtype == np.float64
    np.testing.assert_allclose(sim, rt_out["sim"], rtol=0, atol=1e-6)


def test_binarize_packing_and_padding():
    r = np.zeros((1, 40), np.float32)
    r[0, [0, 31, 32, 39]] = 1.0
    r[0, 5] = -1.0
    codes = binarize(r)
    assert codes.shape == (1, code_bytes(40)) == (1, 8)
    words = codes_as_uint32(codes)[0]
    assert words[0] == (1 << 31) | 1 and words[1] == (1 << 31) | (1 << 24)


def test_similarity_kernel_by_hand():
    # one word shared; D = 32 so B = 32: Hamming 4 -> s = 0.75 -> 0.421875 / sqrt(n_j Q_i)
    q = AsmkVector(np.array([3, 7]), np.array([[0, 0, 0, 0], [255, 0, 0, 0]], np.uint8))
    db = [AsmkVector(np.array([3]), np.array([[15, 0, 0, 0]], np.uint8)),
          AsmkVector(np.array([3, 5, 9]), np.array([[255, 255, 0, 0]] * 3, np.uint8)),
          AsmkVector(np.array([1]), np.array([[0, 0, 0, 0]], np.uint8))]
    index = AsmkIndex.build(db, 16, 32)
    s = index.query(q)
    np.testing.assert_allclose(s, [0.75 ** 3 / np.sqrt(2), 0.0, 0.0])  # s=0 for image 1


def test_index_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    cb = Codebook(rng.standard_normal((32, 64)).astype(np.float32), 32)
    feats = [rng.standard_normal((50, 64)).astype(np.float32) for _ in range(5)]
    index = AsmkIndex.build([aggregate_database(f, cb) for f in feats], 32, 64, "id-1")
    index.save(str(tmp_path / "i.npz"))
    back = AsmkIndex.load(str(tmp_path / "i.npz"))
    assert back.identity == "id-1" and back.num_images == 5
    q = aggregate_query(feats[1], cb)
    np.testing.assert_array_equal(back.query(q), index.query(q))
    assert int(np.argmax(index.query(q))) == 1
    empty = AsmkIndex.build([], 32, 64)
    assert empty.query(q).shape == (0,)
    assert index.query(AsmkVector(np.zeros(0, np.int64), np.zeros((0, 8), np.uint8))).sum() == 0
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(MapFormatError):
        AsmkIndex.load(str(tmp_path / "bad.npz"))
    with pytest.raises(InputError, match="dimension"):
        cb.quantize(np.zeros((3, 10), np.float32), 1)


# ------------------------------------------------------------------------ safe unpickling
class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_codebook_crafted_to_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = {"type": "Codebook", "params": {"size": 2},
            "state": {"centroids": _RunsCode(marker)}}
    path = tmp_path / "evil_codebook.pkl"
    path.write_bytes(pickle.dumps(evil, protocol=4))
    with pytest.raises(CheckpointError, match="refused to unpickle.*forbidden"):
        load_codebook(str(path))
    assert not marker.exists()
    # the same attack hidden behind an allowed-looking numpy module name is refused too
    for module, name in (("builtins", "eval"), ("numpy", "load"),
                         ("numpy.core.multiarray", "scalar"), ("posix", "system")):
        data = b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nq\x00."
        (tmp_path / "g.pkl").write_bytes(data)
        with pytest.raises(CheckpointError, match="forbidden"):
            load_codebook(str(tmp_path / "g.pkl"))


_NUMPY2_NAME, _NUMPY1_NAME = b"\x8c\x16numpy._core.multiarray", b"\x8c\x15numpy.core.multiarray"


def _other_numpy_names(data: bytes) -> bytes:
    """Rewrite a protocol-4 pickle as the other numpy major version's writer names its globals
    (numpy 2: numpy._core.multiarray, numpy 1.x: numpy.core.multiarray)."""
    old, new = ((_NUMPY2_NAME, _NUMPY1_NAME) if _NUMPY2_NAME in data
                else (_NUMPY1_NAME, _NUMPY2_NAME))
    assert data[2:3] == b"\x95" and data.count(old) == 1
    frame = int.from_bytes(data[3:11], "little") + len(new) - len(old)
    return data[:3] + frame.to_bytes(8, "little") + data[11:].replace(old, new)


@pytest.mark.parametrize("variant", ["p4", "p4-other-numpy", "p2", "p5"])
def test_codebook_numpy_global_names(tmp_path, variant):
    """A codebook pickled under numpy 2 loads under numpy 1.x and the other way round."""
    c = np.random.default_rng(1).standard_normal((8, 32)).astype(np.float32)
    path = str(tmp_path / "cb.pkl")
    write_codebook(path, c, "8" if variant == "p2" else 8, protocol=5 if variant == "p5" else (
        2 if variant == "p2" else 4))
    if variant == "p4-other-numpy":
        with open(path, "rb") as fh:
            data = fh.read()
        wrote_numpy2 = _NUMPY2_NAME in data
        with open(path, "wb") as fh:
            fh.write(_other_numpy_names(data))
        with open(path, "rb") as fh:
            assert (_NUMPY1_NAME if wrote_numpy2 else _NUMPY2_NAME) in fh.read()
    cb = load_codebook(path)
    np.testing.assert_array_equal(cb.centroids, c)


def test_codebook_structure_errors(tmp_path):
    def write(obj):
        p = tmp_path / "c.pkl"
        buf = io.BytesIO()
        pickle.dump(obj, buf, protocol=4)
        p.write_bytes(buf.getvalue())
        return str(p)
    c = np.zeros((4, 8), np.float32)
    with pytest.raises(CheckpointError, match="not an ASMK codebook"):
        load_codebook(write({"type": "Other", "params": {"size": 4}, "state": {"centroids": c}}))
    with pytest.raises(CheckpointError, match="float32"):
        load_codebook(write({"type": "Codebook", "params": {"size": 4},
                             "state": {"centroids": c.astype(np.float64)}}))
    with pytest.raises(CheckpointError, match="centroids"):
        load_codebook(write({"type": "Codebook", "params": {"size": 5},
                             "state": {"centroids": c}}))
    with pytest.raises(CheckpointError, match="nclusters"):
        load_codebook(write({"type": "Codebook", "params": {"size": 4},
                             "state": {"centroids": c}}), expected_size="4")
    # the type counts too (the docstring's rule; plain == would take 4.0 for 4)
    with pytest.raises(CheckpointError, match="nclusters=4.0"):
        load_codebook(write({"type": "Codebook", "params": {"size": 4},
                             "state": {"centroids": c}}), expected_size=4.0)
    assert load_codebook(write({"type": "Codebook", "params": {"size": 4},
                                "state": {"centroids": c}}), expected_size=4).num_words == 4
    (tmp_path / "t.pkl").write_bytes(b"\x80\x04\x95")
    with pytest.raises(CheckpointError, match="truncated"):
        load_codebook(str(tmp_path / "t.pkl"))
    # a cut-off download of a real codebook ('pickle data was truncated', an UnpicklingError) is
    # reported as truncated, not as a file crafted to run code
    whole = open(write({"type": "Codebook", "params": {"size": 4}, "state": {"centroids": c}}),
                 "rb").read()
    (tmp_path / "cut.pkl").write_bytes(whole[: len(whole) - 40])
    with pytest.raises(CheckpointError) as err:
        load_codebook(str(tmp_path / "cut.pkl"))
    text = str(err.value)
    assert text.startswith(f"{tmp_path / 'cut.pkl'}: not a readable pickle") and "truncated" in text
    assert "crafted" not in text and "refused" not in text and "download it again" in text
    with pytest.raises(CheckpointError, match="not found"):
        load_codebook(str(tmp_path / "none.pkl"))


def test_parse_cluster_count():
    assert parse_cluster_count(65536) == parse_cluster_count("64k") == 65536
    assert parse_cluster_count("1M") == 1 << 20
    for bad in ("k", "64x", True, 1.5):
        with pytest.raises(CheckpointError):
            parse_cluster_count(bad)


def test_threaded_scoring_equals_single_thread():
    rng = np.random.default_rng(5)
    vecs = []
    for _ in range(300):
        w = np.unique(rng.integers(0, 64, 40))
        vecs.append(AsmkVector(w, rng.integers(0, 256, (len(w), 8), dtype=np.uint8)))
    index = AsmkIndex.build(vecs, 64, 64)
    q = vecs[7]
    one = index.query(q, block_rows=16, threads=1)
    np.testing.assert_array_equal(index.query(q, block_rows=16, threads=3), one)
    np.testing.assert_array_equal(index.query(q), one)
    assert int(np.argmax(one)) == 7


# ------------------------------------------------------------------------ scoring backends
def _plain_scores(db, q, dim):
    """The similarity formula evaluated directly (per image, per shared word, bits unpacked)."""
    bits = code_bytes(dim) * 8
    out = np.zeros(len(db))
    for j, v in enumerate(db):
        common, qi, dj = np.intersect1d(q.words, v.words, return_indices=True)
        h = (np.unpackbits(q.codes[qi], axis=1) != np.unpackbits(v.codes[dj], axis=1)).sum(1)
        s = 1.0 - 2.0 * h / bits
        out[j] = (np.where(s >= 0, s ** 3, 0.0)).sum() / np.sqrt(max(v.num_words, 1))
    return out / np.sqrt(q.num_words)


def _random_vectors(rng, n, num_words, nbytes, words_each):
    vecs = []
    for _ in range(n):
        w = np.unique(rng.integers(0, num_words, words_each))
        vecs.append(AsmkVector(w, rng.integers(0, 256, (len(w), nbytes), dtype=np.uint8)))
    return vecs


@pytest.mark.parametrize("dim", [24, 64, 96, 1024, 2048])
@pytest.mark.parametrize("bitwise_count", [True, False])
def test_scoring_backends_equal_the_plain_formula(monkeypatch, dim, bitwise_count):
    """faiss, numpy with np.bitwise_count (numpy 2) and numpy without it (numpy 1.x: SWAR
    byte counts / byte table) give the same Hamming integers, so the same scores as the
    formula; the codes near the kernel's threshold (Hamming B/2) included."""
    import mast3r_ros.core.asmk.codes as asmk_codes
    import mast3r_ros.core.asmk.index as asmk_index

    if bitwise_count and not hasattr(np, "bitwise_count"):
        pytest.skip("numpy 1.x has no bitwise_count")
    monkeypatch.setattr(asmk_codes, "_HAS_BITWISE_COUNT", bitwise_count)
    db, q = _threshold_case(np.random.default_rng(dim), dim)
    want = _plain_scores(db, q, dim)
    backends = ["numpy"] + (["faiss"] if asmk_codes._faiss() is not None else [])
    for backend in backends:
        index = AsmkIndex.build(db, 40, dim)
        index.backend = backend
        for block_rows, threads in ((16384, 1), (7, 1), (5, 3)):
            got = index.query(q, block_rows=block_rows, threads=threads)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=backend)
        monkeypatch.setattr(asmk_index, "_PART_ENTRIES", 37)  # several parts, summed in order
        one = index.query(q, threads=1)
        np.testing.assert_allclose(one, want, rtol=1e-12, atol=0, err_msg=backend)
        np.testing.assert_array_equal(index.query(q, threads=3), one)
        np.testing.assert_array_equal(index.query(q, block_rows=5, threads=2), one)
        monkeypatch.setattr(asmk_index, "_PART_ENTRIES", 1 << 16)


def _threshold_case(rng, dim, n=60, num_words=40):
    """Random database + query, with entries at Hamming 0, B/2 - 1, B/2, B/2 + 1 and B from
    the query's first word's code (the kernel's threshold edge cases)."""
    nb = code_bytes(dim)
    db = _random_vectors(rng, n, num_words, nb, 30)
    q = _random_vectors(rng, 1, num_words, nb, 25)[0]
    w0, c0 = q.words[0], np.unpackbits(q.codes[0])
    for j, flips in enumerate([0, nb * 4 - 1, nb * 4, nb * 4 + 1, nb * 8]):
        c = c0.copy()
        c[:flips] ^= 1
        words = np.union1d(db[j].words, [w0])
        codes = rng.integers(0, 256, (len(words), nb), dtype=np.uint8)
        codes[np.searchsorted(words, w0)] = np.packbits(c)
        db[j] = AsmkVector(words, codes)
    return db, q


@pytest.mark.parametrize("dim", [24, 64, 96, 1024, 2048])
def test_torch_backend_equals_the_formula_and_numpy(dim):
    """backend='torch' (here on the CPU; on a GPU the same ops): same scores as the formula
    (1e-12) and as numpy -- bit-for-bit when B is a power of two (exact float64 sums) --
    in any chunking; the threshold edge cases included."""
    rng = np.random.default_rng(dim + 1)
    db, q = _threshold_case(rng, dim)
    want = _plain_scores(db, q, dim)
    ref = AsmkIndex.build(db, 40, dim)
    ref.backend = "numpy"
    ref_scores = ref.query(q)
    index = AsmkIndex.build(db, 40, dim)
    index.backend = "torch"
    assert index.resolved_backend() == "torch"
    got = index.query(q)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got, ref_scores, rtol=1e-12, atol=0)
    bits = code_bytes(dim) * 8
    if bits & (bits - 1) == 0:  # 32, 64, 1024, 2048 bits: exact sums
        np.testing.assert_array_equal(got, ref_scores)
    for chunk in (1, 7, 100):
        np.testing.assert_allclose(index._scores_torch(q, chunk).numpy(), want, rtol=1e-12,
                                   atol=0)
    for k in (0, 1, 5, 60, 100):
        ids, sc = index.top_k(q, k)
        rids, rsc = ref.top_k(q, k)
        np.testing.assert_array_equal(ids, rids)
        np.testing.assert_allclose(sc, rsc, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(ids, np.argsort(-want, kind="stable")[:k])
        assert ids.dtype == np.int64 and sc.dtype == np.float64


def test_torch_backend_ties_empty_query_and_missing_words():
    """Ties (equal scores, zero scores) rank by image id like the numpy path; a query with no
    words or only words no database image has scores zero everywhere."""
    rng = np.random.default_rng(2)
    nb = 16
    code = rng.integers(0, 256, (1, nb), dtype=np.uint8)
    # images 3, 1 and 6 hold the query's word with the same code: equal scores; the rest 0
    vecs = [AsmkVector(np.array([9]), rng.integers(0, 256, (1, nb), dtype=np.uint8))
            for _ in range(8)]
    for j in (1, 3, 6):
        vecs[j] = AsmkVector(np.array([2]), code.copy())
    index = AsmkIndex.build(vecs, 12, nb * 8)
    index.backend = "torch"
    q = AsmkVector(np.array([2]), code.copy())
    ids, sc = index.top_k(q, 5)
    assert ids.tolist() == [1, 3, 6, 0, 2]
    assert sc[:3].tolist() == [1.0, 1.0, 1.0] and sc[3:].tolist() == [0.0, 0.0]
    index.backend = "numpy"
    assert index.top_k(q, 5)[0].tolist() == [1, 3, 6, 0, 2]
    index.backend = "torch"
    empty = AsmkVector(np.zeros(0, np.int64), np.zeros((0, nb), np.uint8))
    missing = AsmkVector(np.array([0, 5, 11]), np.zeros((3, nb), np.uint8))
    for v in (empty, missing):
        np.testing.assert_array_equal(index.query(v), np.zeros(8))
        ids, sc = index.top_k(v, 3)
        assert ids.tolist() == [0, 1, 2] and sc.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(InputError, match="codebook size"):
        index.query(AsmkVector(np.array([12]), np.zeros((1, nb), np.uint8)))
    empty_index = AsmkIndex.build([], 12, nb * 8)
    empty_index.backend = "torch"
    assert empty_index.query(q).shape == (0,)
    assert empty_index.top_k(q, 3)[0].shape == (0,)


def test_auto_backend_follows_the_device(monkeypatch):
    import torch

    import mast3r_ros.core.asmk.codes as asmk_codes

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # no copy is made here

    index = AsmkIndex.build(_random_vectors(np.random.default_rng(0), 3, 8, 8, 4), 8, 64)
    assert index.resolved_backend() == ("faiss" if asmk_codes._faiss() is not None else "numpy")
    assert index.to("cuda") is index and index.resolved_backend() == "torch"  # no query
    index.backend = "numpy"
    assert index.resolved_backend() == "numpy"
    index.to("cpu").backend = "torch"
    assert index.resolved_backend() == "torch"


def test_popcount_rows_torch_on_sign_bits():
    """Arithmetic shifts of negative int64 must not leak sign bits into the counts."""
    import torch

    from mast3r_ros.core.asmk import popcount_rows_torch

    rng = np.random.default_rng(4)
    for m in (1, 3, 16, 17, 40):
        x = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, (300, m),
                         dtype=np.int64, endpoint=True)
        x[0], x[1], x[2] = -1, np.iinfo(np.int64).min, 0
        want = np.unpackbits(x.view(np.uint8), axis=1).sum(1)
        np.testing.assert_array_equal(popcount_rows_torch(torch.from_numpy(x.copy())).numpy(),
                                      want)


def test_scoring_reuses_scratch_and_handles_concurrent_queries():
    rng = np.random.default_rng(3)
    db = _random_vectors(rng, 200, 64, 16, 40)
    index = AsmkIndex.build(db, 64, 128)
    q1, q2 = db[4], db[9]
    a, b = index.query(q1), index.query(q2)
    assert int(np.argmax(a)) == 4 and int(np.argmax(b)) == 9
    with index._scratch_lock:  # another query holds the scratch: this one allocates its own
        np.testing.assert_array_equal(index.query(q1), a)
    np.testing.assert_array_equal(index.query(q2), b)


def test_backend_names_are_checked(monkeypatch):
    import mast3r_ros.core.asmk.codes as asmk_codes

    with pytest.raises(InputError, match="backend"):
        AsmkIndex(np.zeros(2, np.int64), np.zeros(0, np.int32), np.zeros((0, 4), np.uint8),
                  np.zeros(0, np.int32), 32, backend="gpu")
    monkeypatch.setattr(asmk_codes, "_FAISS", False)  # as without faiss installed
    index = AsmkIndex.build(_random_vectors(np.random.default_rng(0), 3, 8, 4, 4), 8, 32)
    index.backend = "faiss"
    with pytest.raises(InputError, match="faiss"):
        index.query(AsmkVector(np.array([0, 1, 2, 3, 4, 5, 6, 7]), np.zeros((8, 4), np.uint8)))
    index.backend = "auto"
    assert index.query(AsmkVector(np.arange(8), np.zeros((8, 4), np.uint8))).shape == (3,)


@pytest.mark.parametrize("chunk,batch", [(None, None), (7, None), (100, 33), (5000, 1)])
def test_quantize_in_centroid_chunks_is_exact(chunk, batch):
    """Per-chunk shortlists merged = the exact nearest words (float64 brute force)."""
    rng = np.random.default_rng(11)
    cb = Codebook(rng.standard_normal((1000, 48)).astype(np.float32), 1000)
    x = rng.standard_normal((300, 48)).astype(np.float32)
    x[:20] = cb.centroids[rng.integers(0, 1000, 20)] + 1e-3  # a word very close
    d = ((x[:, None, :].astype(np.float64) - cb.centroids[None].astype(np.float64)) ** 2).sum(-1)
    want = np.argsort(d, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(cb.quantize(x, 5, batch=batch, chunk=chunk), want)
    np.testing.assert_array_equal(cb.quantize(x, 1, batch=batch, chunk=chunk), want[:, :1])


def test_bench_retrieval_smoke(tmp_path):
    """bench/bench_retrieval.py --smoke runs end to end; its top-10s agree across backends."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(repo / "bench" / "bench_retrieval.py"), "--smoke",
                        "--json", str(out)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    scale = json.loads(out.read_text())["scale"]
    assert {"before", "numpy", "torch"} <= set(scale["top_equal_across_backends"]["backends"])
    assert scale["top_equal_across_backends"]["queries"] == 2
    assert "after_torch_cpu" in scale["query"] and scale["keyframes"] == 1000


# ------------------------------------------------------------------ mutation-audit additions
# Expected values from first principles: float64 brute force, hand-worked cases, the docstrings.

def _near_tie_codebook():
    """Two centroids 0.1 apart at |c| ~ 1000 plus eight far ones; 200 features between the
    two: float32 |c|^2 - 2 x.c (cancellation at 1e6, ulp 0.06) misranks about half of them."""
    rng = np.random.default_rng(0)
    base = np.array([1000.0, 0, 0, 0])
    c = np.zeros((10, 4), np.float32)
    c[0], c[1] = base, base + [0, 0.1, 0, 0]
    c[2:] = base + rng.standard_normal((8, 4)) * 10
    x = (base + [0, 0.05, 0, 0] + rng.standard_normal((200, 4)) * 1e-3).astype(np.float32)
    d = ((x[:, None].astype(np.float64) - c[None].astype(np.float64)) ** 2).sum(-1)
    f32 = np.einsum("kd,kd->k", c, c)[None] - 2 * x @ c.T
    assert (np.argmin(f32, 1) != np.argmin(d, 1)).sum() > 50  # the float32 ranking is wrong
    return Codebook(c, 10), x, np.argsort(d, axis=1, kind="stable")


@pytest.mark.parametrize("chunk", [None, 2, 3])
def test_quantize_reranks_a_shortlist_wider_than_multiple(chunk):
    """The float64 re-ranking needs candidates beyond the float32 top-m (docstring: a shortlist
    of multiple + 4), in one chunk or merged from several."""
    cb, x, want = _near_tie_codebook()
    for m in (1, 5):
        np.testing.assert_array_equal(cb.quantize(x, m, chunk=chunk), want[:, :m])


def test_quantize_ties_empty_input_and_small_codebooks():
    c = np.array([[0, 0], [3, 0], [1, 0], [3, 0], [0, 5]], np.float32)  # rows 1 and 3 equal
    cb = Codebook(c, 5)
    # x = (2.5, 0): squared distances 6.25, 0.25, 2.25, 0.25, 31.25 -> 1 and 3 tie: lower id first
    np.testing.assert_array_equal(cb.quantize(np.array([[2.5, 0]], np.float32), 4),
                                  [[1, 3, 2, 0]])
    out = cb.quantize(np.zeros((0, 2), np.float32), 5)  # no features: no rows, no error
    assert out.shape == (0, 5) and out.dtype == np.int64
    # more assignments asked than words: every word, nearest first (x = (0.9, 0.1))
    small = Codebook(c[:3].copy(), 3)
    np.testing.assert_array_equal(small.quantize(np.array([[0.9, 0.1]], np.float32), 5),
                                  [[2, 0, 1]])


def test_codebook_centroids_must_be_a_2d_array_and_the_pickle_a_dict(tmp_path):
    def write(obj):
        p = tmp_path / "c.pkl"
        p.write_bytes(pickle.dumps(obj, protocol=4))
        return str(p)
    for centroids in (np.zeros(4, np.float32), np.zeros((2, 2, 2), np.float32),
                      [[0.0, 1.0]] * 4):
        with pytest.raises(CheckpointError, match="2-D float32"):
            load_codebook(write({"type": "Codebook", "params": {"size": 4},
                                 "state": {"centroids": centroids}}))
    for obj in ([1, 2], {"type": "Codebook", "params": None, "state": {}}, "Codebook"):
        with pytest.raises(CheckpointError, match="not an ASMK codebook"):
            load_codebook(write(obj))
    with pytest.raises(CheckpointError, match="not an int"):
        parse_cluster_count("")


def test_aggregate_many_equals_one_call_per_image():
    """One codebook search over all images' features, then split back per image, with the
    multiple asked for (1: database, 5: query)."""
    from mast3r_ros.core.asmk import aggregate_many

    rng = np.random.default_rng(7)
    cb = Codebook(rng.standard_normal((24, 16)).astype(np.float32), 24)
    feats = [rng.standard_normal((n, 16)).astype(np.float32) for n in (5, 9, 1, 7)]
    assert aggregate_many([], cb, 5) == []
    for multiple, single in ((1, aggregate_database), (5, aggregate_query)):
        got = aggregate_many(feats, cb, multiple)
        assert len(got) == len(feats)
        for g, f in zip(got, feats):
            want = single(f, cb)
            np.testing.assert_array_equal(g.words, want.words)
            np.testing.assert_array_equal(g.codes, want.codes)


def test_index_rejects_word_ids_outside_the_codebook():
    code = np.zeros((1, 4), np.uint8)
    for w in (-1, 16):
        with pytest.raises(InputError, match="word ids"):
            AsmkIndex.build([AsmkVector(np.array([w]), code)], 16, 32)
    index = AsmkIndex.build([AsmkVector(np.array([3]), code)], 16, 32)
    for backend in ("numpy", "torch"):
        index.backend = backend
        with pytest.raises(InputError, match="codebook size"):
            index.query(AsmkVector(np.array([-1, 3]), np.zeros((2, 4), np.uint8)))
        # codes of another code length (a 64-bit model's vector against a 32-bit index)
        with pytest.raises(InputError, match="do not match"):
            index.query(AsmkVector(np.array([3]), np.zeros((1, 8), np.uint8)))


def test_database_image_without_words_scores_zero():
    # image 0 has no word (n_0 = 0 -> no 1/sqrt(0)); image 1 shares word 3 at Hamming 0: 1/1
    index = AsmkIndex.build([AsmkVector(np.zeros(0, np.int64), np.zeros((0, 4), np.uint8)),
                             AsmkVector(np.array([3]), np.zeros((1, 4), np.uint8))], 16, 32)
    q = AsmkVector(np.array([3]), np.zeros((1, 4), np.uint8))
    for backend in ("numpy", "torch"):
        index.backend = backend
        np.testing.assert_array_equal(index.query(q), [0.0, 1.0])


def test_top_k_refuses_a_negative_k_and_query_many_of_nothing():
    """A negative k returned nothing, silently, where `AsmkRetriever.top_k` refuses it: the
    low-level index refuses it too, naming the value, on both backends."""
    index = AsmkIndex.build(_random_vectors(np.random.default_rng(1), 5, 8, 4, 4), 8, 32)
    q = AsmkVector(np.arange(8), np.zeros((8, 4), np.uint8))
    for backend in ("numpy", "torch"):
        index.backend = backend
        for bad in (-1, np.int64(-3), 2.0, True):
            with pytest.raises(ValueError, match=rf"AsmkIndex.top_k: k must be an integer >= 0 "
                               rf".*got {re.escape(repr(bad))}"):
                index.top_k(q, bad)
        ids, sc = index.top_k(q, 0)
        assert ids.shape == (0,) and sc.shape == (0,)
        assert index.top_k(q, np.int64(9))[0].shape == (5,)
    m = index.query_many([])
    assert m.shape == (0, 5) and m.dtype == np.float64


def test_index_load_refuses_other_versions_and_inconsistent_arrays(tmp_path):
    rng = np.random.default_rng(0)
    index = AsmkIndex.build(_random_vectors(rng, 4, 8, 4, 5), 8, 32, "id")
    index.save(str(tmp_path / "i.npz"))
    with np.load(tmp_path / "i.npz") as z:
        good = {k: z[k] for k in z.files}

    def load(**change):
        arrays = {k: v for k, v in {**good, **change}.items() if v is not None}
        np.savez(tmp_path / "x.npz", **arrays)
        return AsmkIndex.load(str(tmp_path / "x.npz"))
    assert load().num_images == 4
    with pytest.raises(MapFormatError, match="version 2"):
        load(version=np.int64(2))
    t = len(good["image_ids"])
    for change in ({"offsets": np.concatenate([good["offsets"][:-1], [t + 1]])},
                   {"codes": good["codes"][:-1]},
                   {"dim": np.int64(64)}):
        with pytest.raises(MapFormatError, match="inconsistent ASMK index arrays"):
            load(**change)
    with pytest.raises(MapFormatError, match="cannot read"):
        load(codes=None)  # a key missing


def test_moving_drops_the_device_copies(monkeypatch):
    """`to` another device: the copies made for the old one are dropped, so the next search
    copies to the new device (here cuda is faked: only the bookkeeping is checked)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    cb = Codebook(np.eye(4, dtype=np.float32), 4)
    cb.quantize(np.eye(4, dtype=np.float32), 1)
    assert cb._t is not None
    assert cb.to("cuda") is cb and cb._t is None and cb._t_sqnorm is None
    index = AsmkIndex.build(_random_vectors(np.random.default_rng(0), 3, 8, 4, 4), 8, 32)
    index.backend = "torch"
    index.query(AsmkVector(np.array([1]), np.zeros((1, 4), np.uint8)))
    assert index._dev is not None
    index.to("cuda")
    assert index._dev is None and index.device.type == "cuda"


def test_a_concurrent_query_does_not_share_the_scratch():
    """While another query holds the scratch (its lock), a query allocates its own arrays --
    also when none was allocated yet or it is too small."""
    db, q = _threshold_case(np.random.default_rng(9), 64)
    index = AsmkIndex.build(db, 40, 64)
    index.backend = "numpy"
    want = _plain_scores(db, q, 64)
    with index._scratch_lock:
        np.testing.assert_allclose(index.query(q), want, rtol=1e-12, atol=0)
    index.query(AsmkVector(q.words[:1], q.codes[:1]))  # a small scratch
    with index._scratch_lock:
        np.testing.assert_allclose(index.query(q), want, rtol=1e-12, atol=0)


def _codecs_pickle(arg: bytes, encoding: str) -> bytes:
    """Protocol 2: _codecs.encode(<arg opcode>, encoding) -- how such pickles spell bytes."""
    enc = encoding.encode()
    return (b"\x80\x02c_codecs\nencode\n" + arg + b"X" + len(enc).to_bytes(4, "little") + enc
            + b"\x86R.")


def test_unpickler_allows_latin1_codecs_only_and_names_numpy_globals_only(tmp_path,
                                                                          monkeypatch):
    """Only _codecs.encode(str, 'latin1') passes (protocol-2 bytes), only numpy.ndarray /
    numpy.dtype under the module name 'numpy'; an empty file is unreadable, not crafted."""
    from mast3r_ros.core.asmk import safe_unpickle

    text = "\xe9a".encode()  # the str 'éa' as BINUNICODE (UTF-8, 3 bytes)
    assert safe_unpickle(_codecs_pickle(b"X\x03\x00\x00\x00" + text, "latin1"), "x") == b"\xe9a"
    for arg, enc in ((b"X\x03\x00\x00\x00abc", "utf-16"), (b"X\x03\x00\x00\x00abc", "zlib"),
                     (b"K\x05", "latin1")):
        with pytest.raises(CheckpointError, match="refused to unpickle.*latin1"):
            safe_unpickle(_codecs_pickle(arg, enc), "x")
    for module in ("os", "builtins", "numpy.linalg"):
        with pytest.raises(CheckpointError, match="forbidden"):
            safe_unpickle(b"\x80\x02c" + module.encode() + b"\nndarray\n.", "x")
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty file \(0 bytes\)"):
        load_codebook(str(tmp_path / "empty.pkl"))
    # a numpy without the function a pickle names: refused by name, not a TypeError later
    import importlib

    data = pickle.dumps(np.zeros(2, np.float32), protocol=5)
    assert b"_frombuffer" in data
    numpy2 = hasattr(np, "_core")
    monkeypatch.delattr(importlib.import_module("numpy._core.numeric" if numpy2
                                                else "numpy.core.numeric"), "_frombuffer")
    with pytest.raises(CheckpointError,
                       match=r"numpy has no numpy\.(_)?core\.numeric\._frombuffer"):
        safe_unpickle(data, "x")
