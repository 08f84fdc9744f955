"""The lazy per-keyframe views of a v2/v3 map's encoding store (``per_keyframe``,
``to_orig``): one indexing rule for both."""

import numpy as np

from mast3r_ros.core.keyframes.encodings import _StoreField, _StoreRecords


class _Store:
    def __init__(self, n):
        self.recs = [{"feats": np.full((2, 3), k, np.float16), "true_shape": np.array([4, 6]),
                      "to_orig": np.eye(3) * (k + 1)} for k in range(n)]
        self.read = []

    def __len__(self):
        return len(self.recs)

    def get(self, i):
        self.read.append(i)
        return self.recs[i]


def test_negative_index_and_slice_read_the_same_keyframes_in_both_views():
    store = _Store(3)
    records, field = _StoreRecords(store), _StoreField(store, "to_orig")
    last = records[-1]
    assert sorted(last) == ["feats", "true_shape"] and last["feats"][0, 0] == 2
    assert field[-3][0, 0] == 1.0 and store.read == [2, 0]
    part = records[1:]
    assert isinstance(part, list) and [r["feats"][0, 0] for r in part] == [1, 2]
    stacked = field[::2]
    assert stacked.shape == (2, 3, 3) and stacked[:, 0, 0].tolist() == [1.0, 3.0]
    assert len(records) == len(field) == 3
