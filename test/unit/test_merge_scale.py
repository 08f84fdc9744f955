"""merge-maps at scale: each keyframe's encodings are read once and none is held."""

import numpy as np

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.encoding_store import EncodingStore
from mast3r_ros.replay.map_merge import merge_maps

from test_keyframes import _encodings, _keyframes


def test_merge_reads_each_encoding_once_and_caches_none(tmp_path, monkeypatch):
    # the maps were opened with the localizer's 1 GB encoding cache, which kept up to 1 GB
    # per map of records merge-maps never reads again (1.4 GB peak at 2*10^4 tiny-network
    # keyframes), and each record was fetched twice (its arrays, then its to_orig)
    paths = []
    for name, seed in (("a", 0), ("b", 1)):
        path = kfm.write_map(str(tmp_path / name), _keyframes(3, seed=seed))
        kfm.KeyframeMap.load(path).save_encodings(_encodings("ckptA", seed=seed))
        paths.append(path)
    held, fetched = [], []
    real_get = EncodingStore.get

    def get(self, i):
        fetched.append(i)
        out = real_get(self, i)
        held.append(self.cache_info()["host_bytes"])
        return out

    monkeypatch.setattr(EncodingStore, "get", get)
    out = str(tmp_path / "ab")
    assert merge_maps(paths[0], paths[1], out, force=True) == 6
    monkeypatch.undo()
    assert len(fetched) == 6 and max(held) == 0, (fetched, held)
    merged = kfm.KeyframeMap.load(out).load_encodings("ckptA", 224)
    for j, (path, i) in enumerate((p, i) for p in paths for i in range(3)):
        src = kfm.KeyframeMap.load(path).load_encodings("ckptA", 224)
        np.testing.assert_array_equal(merged.per_keyframe[j]["feats"], src.per_keyframe[i]["feats"])
        np.testing.assert_array_equal(merged.to_orig[j], src.to_orig[i])
