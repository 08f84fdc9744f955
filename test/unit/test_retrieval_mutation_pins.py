"""Keyframe retrieval behaviour pinned where a one-token change of the retrieval and fusion code
(`core.retrieval_index`, `core.retrieval`, `core.localizer.pipeline`) passed every other test."""

import numpy as np
import pytest

import test_localizer_units as units
from mast3r_ros.core.config import GateConfig
from mast3r_ros.core.retrieval import rank_by_similarity
from mast3r_ros.core.retrieval_index import RetrievalIndex

tiny_map, kf_map = units.tiny_map, units.kf_map  # its 4-keyframe map fixtures

# similarities 0, 1, 2 with many ties: np.argpartition leaves the tied rows out of index order
_TIED = [1, 1, 0, 0, 0, 0, 0, 0, 2, 1, 2, 1, 1, 2, 2, 1, 1, 1, 2, 0, 2, 2, 0, 1, 2, 1, 0, 2, 2,
         2, 0, 0, 2, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 2, 1, 1, 0, 1, 2, 1]


@pytest.mark.parametrize("top_k", [1, 24, 49, 50, 51, 60])
def test_exact_search_breaks_ties_by_index_and_returns_at_most_top_k(top_k):
    """The exact index ranks as `rank_by_similarity` does -- best first, ties to the lower
    index -- and returns ``min(top_k, K)`` rows, also at ``top_k = K - 1``. Sorting the
    partition by similarity alone (ties in partition order), or taking all K rows at
    ``top_k = K - 1``, each passed every other test."""
    db = np.asarray(_TIED, np.float32)[:, None]
    index = RetrievalIndex.build(db)
    assert index.kind == "exact"
    got = index.search(np.ones(1, np.float32), top_k)
    want = rank_by_similarity(np.ones(1, np.float32), db, top_k)
    assert len(got) == min(top_k, len(db))
    np.testing.assert_array_equal(got, want)


def test_a_query_with_fewer_features_than_pnp_needs_says_so_under_a_lower_min_inliers(kf_map):
    """With ``gates.min_inliers`` 4 (below PnP's 6) a query image of 5 keypoints that gives no
    correspondence fails as 'too few features in the query image (5 < 6 ...)': the count the
    reason compares with is PnP's minimum when larger than the gate (`Localizer._attempt`);
    comparing with the gate alone passed every other test."""
    loc, f, _ = units._stub_loc(kf_map, [1, 0], fail={0, 1, 2, 3},
                          gates=GateConfig(min_inliers=4, max_position_sigma_m=0.0))
    loc.matcher.query_feature_count = lambda state: 5
    r = loc.localize(f)
    assert not r.success
    assert r.reason.startswith("too few features in the query image (5 < 6 stub keypoints"), \
        r.reason
