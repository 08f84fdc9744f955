"""Retrieval index: exact below the threshold, FAISS IVF/HNSW above, same API as
rank_by_similarity; atomic save, checksummed load."""

import logging
import os
import re

import numpy as np
import pytest

from mast3r_ros.core import retrieval_index as ri
from mast3r_ros.core.config import Config
from mast3r_ros.core.errors import InputError, MapFormatError
from mast3r_ros.core.retrieval import rank_by_similarity
from mast3r_ros.core.retrieval_index import IndexParams, RetrievalIndex


def _descs(k: int, d: int = 32, seed: int = 0) -> np.ndarray:
    """Trajectory-like descriptors: places with several noisy views each, unit-norm rows."""
    rng = np.random.default_rng(seed)
    places = rng.standard_normal((k // 10 + 1, d))
    x = places[np.arange(k) // 10] + 0.3 * rng.standard_normal((k, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_matches_rank_by_similarity_including_ties():
    db = _descs(200)
    db[5] = db[3]  # a tie: the lower index first, as the stable argsort
    idx = RetrievalIndex.build(db, IndexParams(approx_threshold=10 ** 6))
    assert idx.kind == "exact"
    for q in (db[3], db[17] + 0.01, -db[0]):
        np.testing.assert_array_equal(idx.search(q, 7), rank_by_similarity(q, db, 7))
    assert idx.search(db[0], 500).shape == (200,)
    empty = RetrievalIndex.build(np.zeros((0, 32), np.float32))
    assert empty.search(db[0], 5).shape == (0,) and empty.search(db[0], 5).dtype == np.int64


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_and_round_trip(tmp_path, kind):
    pytest.importorskip("faiss")
    db = _descs(3000)
    idx = RetrievalIndex.build(db, IndexParams(index_type=kind, approx_threshold=1000))
    assert idx.kind == kind
    rng = np.random.default_rng(1)
    queries = db[rng.choice(len(db), 50, replace=False)] + 0.05 * rng.standard_normal((50, 32))
    hits = [len(set(idx.search(q, 10)) & set(rank_by_similarity(q, db, 10))) for q in queries]
    assert np.mean(hits) / 10 >= 0.99
    files = idx.save(str(tmp_path / "ri"))
    assert set(files) == {"descs.npy", "index.faiss", "index.json"}
    assert not [n for n in os.listdir(tmp_path / "ri") if n.startswith(".tmp-")]
    back = RetrievalIndex.load(str(tmp_path / "ri"))
    assert back.kind == kind and isinstance(back.descs, np.memmap)
    for q in queries[:10]:
        np.testing.assert_array_equal(back.search(q, 10), idx.search(q, 10))
    f = tmp_path / "ri" / "index.faiss"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(MapFormatError, match="index.faiss"):  # verified when opened
        RetrievalIndex.load(str(tmp_path / "ri"))


def test_corrupt_or_missing_file_is_named(tmp_path):
    db = _descs(100)
    RetrievalIndex.build(db).save(str(tmp_path))
    path = tmp_path / "descs.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    back = RetrievalIndex.load(str(tmp_path))  # the big file is verified on first use
    with pytest.raises(MapFormatError, match="descs.npy"):
        back.search(db[0], 3)
    faiss_file = tmp_path / "index.json"
    faiss_file.write_text(faiss_file.read_text().replace('"num": 100', '"num": 101'))
    with pytest.raises(MapFormatError, match="descs.npy"):  # shape no longer matches
        RetrievalIndex.load(str(tmp_path))
    os.unlink(path)
    # (the test's tmp_path holds the word 'missing': match the message's own words)
    with pytest.raises(MapFormatError, match=r"map file missing: .*descs\.npy"):
        RetrievalIndex.load(str(tmp_path))


def test_without_faiss_an_approximate_map_is_searched_exactly(tmp_path, monkeypatch, caplog):
    pytest.importorskip("faiss")
    db = _descs(1500)
    RetrievalIndex.build(db, IndexParams(approx_threshold=1000)).save(str(tmp_path))
    monkeypatch.setattr(ri, "faiss_available", lambda: False)
    with caplog.at_level(logging.INFO, logger=ri.__name__):
        back = RetrievalIndex.load(str(tmp_path))
    assert back.kind == "exact"
    assert sum("faiss is not installed" in r.message for r in caplog.records) == 1
    np.testing.assert_array_equal(back.search(db[7], 10), rank_by_similarity(db[7], db, 10))


def test_bad_input_and_params_from_config():
    with pytest.raises(InputError):
        RetrievalIndex.build(np.zeros(5, np.float32))
    with pytest.raises(InputError):
        RetrievalIndex.build(_descs(10), IndexParams(index_type="lsh"))
    with pytest.raises(InputError, match="dims"):
        RetrievalIndex.build(_descs(10)).search(np.ones(3, np.float32), 2)
    p = IndexParams.from_config(Config().scale)
    assert p.index_type == "ivf" and p.approx_threshold == Config().scale.approx_threshold


def test_rank_by_similarity_takes_top_k_literally_and_names_bad_shapes():
    db = np.eye(3, dtype=np.float32)
    # order[:top_k] with top_k = -1 gave every row but the last
    assert rank_by_similarity(np.ones(3), db, -1).tolist() == []
    assert rank_by_similarity(np.ones(3), db, 0).tolist() == []
    assert rank_by_similarity(np.ones(3), db, 2).dtype == np.int64
    with pytest.raises(InputError, match=r"database must be \(K, D\) and query \(D,\)"):
        rank_by_similarity(np.ones(4), db, 2)  # was numpy's matmul ValueError
    with pytest.raises(InputError, match="NaN or infinity"):
        RetrievalIndex.build(db).search(np.full(3, np.nan), 2)  # was an arbitrary order


def test_thumbnail_descriptor_refuses_what_is_not_rgb8():
    from mast3r_ros.core.retrieval import thumbnail_descriptor

    rgb = np.zeros((24, 32, 3), np.uint8)
    assert thumbnail_descriptor(rgb).dtype == np.float32
    for bad, got in ((rgb[..., 0], r"\(24, 32\) uint8"), (rgb.astype(np.float32), "float32"),
                     (rgb.tolist(), "list")):
        with pytest.raises(InputError, match=f"takes an .*uint8 RGB image, got .*{got}"):
            thumbnail_descriptor(bad)  # was a cv2.error (grey, list) or a silent descriptor


# ---- rank / pose helpers from first principles (hand mutation testing)

def test_rank_ties_go_to_the_lower_index_in_a_large_database():
    """Small arrays sort stably whatever the algorithm; 1000 rows of 3 interleaved values need
    the stable sort."""
    sim = np.random.default_rng(0).choice(np.float32([1.0, 0.5, 0.25]), size=1000)
    db = np.zeros((1000, 4), np.float32)
    db[:, 0] = sim
    got = rank_by_similarity(np.array([1.0, 0, 0, 0]), db, 1000)
    want = np.concatenate([np.flatnonzero(sim == v) for v in (1.0, 0.5, 0.25)])
    np.testing.assert_array_equal(got, want)


def _pose_at(x, yaw_deg=0.0):
    from scipy.spatial.transform import Rotation

    from mast3r_ros.core.geometry import make_pose

    return make_pose(Rotation.from_euler("y", yaw_deg, degrees=True).as_matrix(), [x, 0, 0])


def test_pose_distance_is_metres_plus_half_a_metre_per_radian():
    from mast3r_ros.core.retrieval import pose_distance

    poses = np.stack([_pose_at(1.0, 90.0), _pose_at(0.0, 0.0)])
    np.testing.assert_allclose(pose_distance(poses, _pose_at(0.0)), [1.0 + 0.5 * np.pi / 2, 0.0])


def test_nearest_to_prior_radius_angle_and_order():
    """Within radius_m inclusive (1.0 m exactly is in), optical axis within max_angle_deg,
    nearest (by pose_distance) first."""
    from mast3r_ros.core.retrieval import nearest_to_prior

    poses = np.stack([_pose_at(1.0), _pose_at(1.5), _pose_at(0.25, 180.0), _pose_at(0.5),
                      _pose_at(0.25, 30.0)])
    assert nearest_to_prior(poses, _pose_at(0.0), 5, 1.0) == [3, 4, 0]  # 0.5 < 0.25 + 0.26
    assert nearest_to_prior(poses, _pose_at(0.0), 2, 1.0) == [3, 4]


def test_nearest_to_prior_keeps_an_optical_axis_at_exactly_max_angle_deg():
    """'differs by more than max_angle_deg' is refused: a keyframe looking exactly 90 deg off
    (its z axis along the prior's x) is still a candidate, one a little further is not."""
    from mast3r_ros.core.geometry import make_pose
    from mast3r_ros.core.retrieval import nearest_to_prior

    side = make_pose(np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]), [0.5, 0, 0])
    assert nearest_to_prior(side[None], np.eye(4), 3, 1.0) == [0]
    assert nearest_to_prior(_pose_at(0.5, 91.0)[None], np.eye(4), 3, 1.0) == []


def test_pose_consistent_subset_keeps_the_best_and_its_nearest_companions():
    from mast3r_ros.core.retrieval import pose_consistent_subset

    poses = np.stack([_pose_at(0.0), _pose_at(5.0), _pose_at(1.0), _pose_at(0.5)])
    assert pose_consistent_subset(np.array([0, 1, 2, 3]), poses, 3) == [0, 3, 2]
    assert pose_consistent_subset(np.array([1, 0, 2, 3]), poses, 2) == [1, 2]


# ---- retrieval index from first principles (hand mutation testing)

def _fan(k: int) -> np.ndarray:
    """Unit rows at angles 0.1 * i rad: the inner product with row j falls with |i - j|."""
    a = 0.1 * np.arange(k)
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


class _StubFaiss:
    """A faiss index stand-in: returns fixed candidates (-1 = an empty slot, as faiss pads)."""

    def __init__(self, ids):
        self.ids, self.asked = np.asarray(ids, np.int64), []

    def search(self, q, k):
        self.asked.append(k)
        return np.zeros((1, len(self.ids)), np.float32), self.ids[None]


def test_approximate_search_oversamples_drops_padding_and_reranks_exactly():
    db = _fan(20)
    stub = _StubFaiss([5, -1, 12, 3, -1, -1, 7, 0])
    idx = RetrievalIndex(db, "ivf", IndexParams(rerank_factor=4), stub)
    # candidates {0, 3, 5, 7, 12}; the query is row 19, so the exact order is 12, 7, 5, 3, 0;
    # the -1 slots must not stand for the last row (which is the query itself)
    assert idx.search(db[19], 2).tolist() == [12, 7]
    assert stub.asked == [8]  # rerank_factor * top_k
    assert idx.search(db[19], 9).tolist() == [12, 7, 5, 3, 0]
    assert stub.asked[-1] == 20  # capped at the number of keyframes
    one = RetrievalIndex(db, "ivf", IndexParams(rerank_factor=1), stub)
    one.search(db[0], 3)
    assert stub.asked[-1] == 3


def test_approximate_kind_from_the_threshold_on():
    """'exact below approx_threshold rows': at the threshold the approximate kind is built."""
    pytest.importorskip("faiss")
    db = _descs(1000)
    assert RetrievalIndex.build(db, IndexParams(approx_threshold=1000)).kind == "ivf"
    assert RetrievalIndex.build(db, IndexParams(approx_threshold=1001)).kind == "exact"


def test_build_refuses_non_finite_descriptors():
    db = _descs(10)
    for bad in (np.nan, np.inf):
        db2 = db.copy()
        db2[3, 1] = bad
        with pytest.raises(InputError, match="NaN or infinity"):
            RetrievalIndex.build(db2)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_search_parameters_are_set_on_build_and_load(tmp_path, kind):
    pytest.importorskip("faiss")
    p = IndexParams(index_type=kind, approx_threshold=500, nprobe=7, ef_search=33)
    idx = RetrievalIndex.build(_descs(500), p)
    idx.save(str(tmp_path))
    for i in (idx, RetrievalIndex.load(str(tmp_path))):
        if kind == "ivf":
            assert i._faiss.nprobe == 7
        else:
            assert i._faiss.hnsw.efSearch == 33
        assert i.params == p


def test_load_refuses_other_formats_versions_kinds_and_dtypes(tmp_path):
    import json

    db = _descs(50)
    RetrievalIndex.build(db).save(str(tmp_path))
    meta_path = tmp_path / "index.json"
    good = json.loads(meta_path.read_text())
    for change, msg in (({"format": "other"}, "not a retrieval index"),
                        ({"version": 2}, "version 2"),
                        ({"version": True}, "version true,"),  # JSON true == 1 in Python
                        ({"version": 1.0}, "version 1.0,"),
                        ({"kind": "lsh"}, "malformed kind")):
        meta_path.write_text(json.dumps({**good, **change}))
        with pytest.raises(MapFormatError, match=msg):
            RetrievalIndex.load(str(tmp_path))
    meta_path.write_text(json.dumps(good))
    np.save(tmp_path / "descs.npy", db.astype(np.float64))  # right shape, wrong dtype
    with pytest.raises(MapFormatError, match="descs.npy"):
        RetrievalIndex.load(str(tmp_path), verify=False)


def test_descs_checksum_is_verified_once_on_the_first_search(tmp_path, monkeypatch):
    db = _descs(50)
    RetrievalIndex.build(db).save(str(tmp_path))
    back = RetrievalIndex.load(str(tmp_path))
    calls = []
    real = ri.file_sha256
    monkeypatch.setattr(ri, "file_sha256", lambda p: calls.append(p) or real(p))
    back.search(db[0], 3)
    back.search(db[1], 3)
    assert [os.path.basename(c) for c in calls] == ["descs.npy"]
    assert RetrievalIndex.load(str(tmp_path), verify=False).search(db[0], 1).tolist() == [0]
    assert len(calls) == 1


def test_params_from_config_follow_the_config_and_share_its_defaults():
    import dataclasses

    assert IndexParams.from_config(Config().scale) == IndexParams()
    scale = dataclasses.replace(Config().scale, index_type="hnsw", approx_threshold=7,
                                nprobe=3, hnsw_m=8, ef_search=9, rerank_factor=2)
    assert IndexParams.from_config(scale) == IndexParams("hnsw", 7, 3, 8, 9, 2)


def test_missing_faiss_file_is_named_and_zero_top_k_searches_nothing(tmp_path):
    pytest.importorskip("faiss")
    db = _descs(500)
    idx = RetrievalIndex.build(db, IndexParams(approx_threshold=500))
    assert idx.search(db[0], 0).shape == (0,) and idx.search(db[0], -3).shape == (0,)
    stub = _StubFaiss([1, 2])
    assert RetrievalIndex(db, "ivf", IndexParams(), stub).search(db[0], 0).tolist() == []
    assert stub.asked == []
    idx.save(str(tmp_path / "m"))
    os.unlink(tmp_path / "m" / "index.faiss")
    with pytest.raises(MapFormatError, match=r"map file missing: .*index\.faiss"):
        RetrievalIndex.load(str(tmp_path / "m"))


def test_load_ignores_parameters_it_does_not_know(tmp_path):
    """An index.json with a parameter this build does not have (a newer writer) still loads."""
    import json

    db = _descs(30)
    RetrievalIndex.build(db, IndexParams(nprobe=5)).save(str(tmp_path))
    meta_path = tmp_path / "index.json"
    meta = json.loads(meta_path.read_text())
    meta["params"]["future_knob"] = 1
    meta_path.write_text(json.dumps(meta))
    back = RetrievalIndex.load(str(tmp_path))
    assert back.params == IndexParams(nprobe=5) and back.search(db[4], 1).tolist() == [4]


def test_thumbnail_descriptor_tells_layouts_apart_whatever_the_brightness():
    """The grey thumbnail is contrast-normalised (mean removed): a brighter copy of a view keeps
    its descriptor, and the same view upside down is far from it. Without the mean removed the
    thumbnail's shared brightness made every pair look alike (cosine 0.95 here)."""
    import cv2

    from mast3r_ros.core.retrieval import thumbnail_descriptor

    rng = np.random.default_rng(0)
    g = cv2.resize(rng.integers(0, 255, (12, 16)).astype(np.uint8), (320, 240),
                   interpolation=cv2.INTER_CUBIC) // 2 + 40
    view = np.stack([g] * 3, -1).astype(np.uint8)
    d = thumbnail_descriptor(view)
    assert float(d @ thumbnail_descriptor(view + 60)) > 0.999
    assert float(d @ thumbnail_descriptor(np.ascontiguousarray(view[::-1]))) < 0.6


@pytest.mark.parametrize("count", [0, -1, 1.5, True, None])
def test_pose_consistent_subset_refuses_a_count_below_one(count):
    """count 0 returned three of four candidates (the slice [:count - 1] is [:-1]): a direct
    caller asking for none got most of them."""
    from mast3r_ros.core.retrieval import pose_consistent_subset

    poses = np.stack([np.eye(4)] * 4)
    with pytest.raises(InputError, match=r"count must be a whole number >= 1"):
        pose_consistent_subset(np.arange(4), poses, count)
    assert pose_consistent_subset(np.arange(4), poses, np.int64(1)) == [0]


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_an_approximate_index_build_is_said_with_its_duration(kind, caplog):
    """A FAISS build (seconds at 2*10^4 keyframes: build-map's and merge-maps' commit, a
    localizer opening a large map) says at INFO that it starts and, once built, how long it
    took; the exact kind (small maps, a matrix copy) says nothing."""
    pytest.importorskip("faiss")
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        RetrievalIndex.build(_descs(300), IndexParams(index_type=kind, approx_threshold=100))
        RetrievalIndex.build(_descs(50), IndexParams(index_type=kind, approx_threshold=100))
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith(
        "retrieval index:")]
    assert said[0] == f"retrieval index: building '{kind}' over 300 keyframes of 32 dims ..."
    assert len(said) == 2 and re.fullmatch(
        rf"retrieval index: '{kind}' over 300 keyframes built in \d+\.\d s", said[1]), said


def test_an_index_written_without_faiss_says_so_where_faiss_is(tmp_path, monkeypatch, caplog):
    """A map built (or merged) where faiss was missing records an exact index above the
    threshold; opened where faiss is installed it was searched exactly without a word."""
    pytest.importorskip("faiss")
    db = _descs(1500)
    monkeypatch.setattr(ri, "faiss_available", lambda: False)
    RetrievalIndex.build(db, IndexParams(approx_threshold=1000)).save(str(tmp_path / "a"))
    RetrievalIndex.build(db, IndexParams(approx_threshold=2000)).save(str(tmp_path / "b"))
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger=ri.__name__):
        back = RetrievalIndex.load(str(tmp_path / "a"))
        below = RetrievalIndex.load(str(tmp_path / "b"))  # exact by its threshold: no word
    assert back.kind == "exact" and below.kind == "exact"
    said = [r.message for r in caplog.records if "written without faiss" in r.message]
    assert len(said) == 1, caplog.text
    assert str(tmp_path / "a") in said[0] and "'ivf'" in said[0] and "1500" in said[0]
    assert "rebuild" in said[0]
    np.testing.assert_array_equal(back.search(db[7], 10), rank_by_similarity(db[7], db, 10))
