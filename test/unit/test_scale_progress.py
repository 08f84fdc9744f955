"""The long steps of the map tools on a large map show progress: merge-maps' checksum pass
and encoding copy, check-map's checksum pass, build-map --resume's check of finished shards
(each minutes at 10^4 ViT-L keyframes, 1.5 MB of encodings each, and silent before)."""

import numpy as np

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.replay import parallel_build, pipeline
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.map_merge import merge_maps

from test_keyframes import _encodings, _keyframes


class _Bars:
    """progress_bar replaced: {desc: updates} of every bar made."""

    def __init__(self):
        self.updates = {}

    def __call__(self, total, desc, unit, initial=0, leave=False):
        self.updates[desc] = 0
        bars = self

        class Bar:
            def update(self, n=1):
                bars.updates[desc] += n

            def close(self):
                pass

        return Bar()


def _map(tmp_path, name, seed):
    path = kfm.write_map(str(tmp_path / name), _keyframes(3, seed=seed))
    kfm.KeyframeMap.load(path).save_encodings(_encodings("ckptA", seed=seed))
    return path


def test_merge_maps_shows_its_checksum_pass_and_encoding_copy(tmp_path, monkeypatch):
    a, b = _map(tmp_path, "a", 0), _map(tmp_path, "b", 1)
    bars = _Bars()
    monkeypatch.setattr(pipeline, "progress_bar", bars)
    assert merge_maps(a, b, str(tmp_path / "ab"), force=True) == 6
    chunks = len(kfm.KeyframeMap.load(a).encoding_store("ckptA", 224).table.chunks)
    assert bars.updates["merge-maps: a: checking encodings"] == chunks, bars.updates
    assert bars.updates["merge-maps: b: checking encodings"] == chunks, bars.updates
    assert bars.updates[f"merge-maps: copying encodings of {a}"] == 3, bars.updates
    assert bars.updates[f"merge-maps: copying encodings of {b}"] == 3, bars.updates


def test_check_map_shows_its_checksum_pass(tmp_path, monkeypatch):
    a = _map(tmp_path, "a", 0)
    m = kfm.KeyframeMap.load(a)
    pngs = {r for kf in m.keyframes for r in (kf.image_file, kf.depth_file) if r}
    read = [rel for rel, _ in m._listed_files() if rel not in pngs]
    bars = _Bars()
    monkeypatch.setattr(pipeline, "progress_bar", bars)
    main(["check-map", a, "--log-level", "error"])  # random pixels: its verdict is not the point
    assert bars.updates["check-map: checking files"] == len(read) > 3, bars.updates


def test_resume_shows_its_check_of_the_finished_shards(tmp_path, monkeypatch):
    def encode(i):
        return {"feats": np.full((4, 2), i, np.float16), "global": np.ones(2, np.float32)}

    staging = str(tmp_path / "staging")
    parallel_build.build_encodings(7, encode, staging, shard_size=2, progress=False)
    bars = _Bars()
    monkeypatch.setattr(parallel_build, "progress_bar", bars)
    table = parallel_build.build_encodings(7, encode, staging, shard_size=2, resume=True)
    assert table.num_keyframes == 7
    assert bars.updates["--resume: checking encoded shards"] == 4, bars.updates
