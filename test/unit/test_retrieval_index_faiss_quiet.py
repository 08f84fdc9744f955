"""An IVF index of fewer than 39 keyframes (a map just above a low ``scale.approx_threshold``)
printed FAISS's own k-means line on stderr, from C++: 'WARNING clustering 20 points to 1
centroids: please provide at least 39 training points'. Its one cell's centroid is the mean
whatever the count, so the build now asks no more points of it than there are, and FAISS is
silent; the search is as before (every row is a candidate, re-ranked exactly)."""

from __future__ import annotations

import pytest

from test_retrieval_index import _descs

from mast3r_ros.core.retrieval import rank_by_similarity
from mast3r_ros.core.retrieval_index import IndexParams, RetrievalIndex


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
@pytest.mark.parametrize("threshold, count", [(10, 10), (10, 20), (30, 38), (39, 39),
                                              (60, 80), (1000, 1000), (1000, 1100)])
def test_a_build_just_above_the_threshold_prints_nothing_from_faiss(capfd, kind, threshold,
                                                                    count):
    pytest.importorskip("faiss")
    db = _descs(count)
    capfd.readouterr()
    idx = RetrievalIndex.build(db, IndexParams(index_type=kind, approx_threshold=threshold))
    out, err = capfd.readouterr()  # at the file descriptors: FAISS prints from C++
    assert idx.kind == kind
    assert "WARNING" not in err and "clustering" not in err, err
    assert out == "", out
    for q in db[:: max(1, count // 10)]:
        assert set(idx.search(q, 5)) == set(rank_by_similarity(q, db, 5)), q
