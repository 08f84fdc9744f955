"""The checkpoint's full-content id (sha256 over every tensor: ~3.4 s for ViT-L) is hashed when
something compares it, not at every engine load: with a read-only id cache (the TensorRT engine
cache folder) the id could not be recorded and was hashed again at every start, by loads that
compared nothing (a map without a recorded id, ``pair``). Hashes are counted by patching
`content_id.content_identity`."""

import json
import logging
import os
import shutil

import pytest

from mast3r_ros.core.config import LocalizerConfig, MatchingConfig
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.model import content_id as cid
from mast3r_ros.core.model.engine import Mast3rEngine
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CFG = LocalizerConfig(matcher="mast3r", matching=MatchingConfig(subsample=16), max_keyframes=1)


@pytest.fixture
def hashes(monkeypatch):
    """The calls of `content_identity` made from here on."""
    calls = []
    real = cid.content_identity

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(cid, "content_identity", counted)
    return calls


@pytest.fixture(scope="module")
def weights_id(tiny_ckpt, tmp_path_factory):
    """The full-content id of `tiny_ckpt`'s weights (a copy's is the same: it hashes the
    weights, not the file), loaded and hashed once for the tests that compare with it."""
    ids = str(tmp_path_factory.mktemp("weights_id") / "ids")
    return Mast3rEngine.from_checkpoint(tiny_ckpt, id_cache=ids).content_id()


@pytest.fixture
def ckpt(tiny_ckpt, tmp_path):
    """A copy of the tiny checkpoint (its mtime its own) and an id cache that cannot be written
    (a file where the folder would be: every record fails, as in a read-only cache)."""
    path = str(tmp_path / "a.pth")
    shutil.copyfile(tiny_ckpt, path)
    cache = tmp_path / "ids"
    cache.write_text("")
    return path, str(cache)


def _map_without_ids(path, engine):
    """A two-keyframe map with cached encodings whose manifest records no content id (as a map
    built before the id was recorded)."""
    frames = list(render_frames(4, default_intrinsics(320, 240), seed=3))
    folder = write_map(path, [(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m)
                              for f in frames[0:4:2]])
    Localizer(KeyframeMap.load(folder), CFG, engine, image_size=224).close()  # encodes, hashes
    manifest_path = os.path.join(folder, "manifest.json")
    with open(manifest_path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    for e in manifest["encodings"]:
        e.pop("content_id", None)
    with open(manifest_path, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
    return folder


def test_a_load_that_compares_no_id_hashes_nothing(ckpt, hashes, tmp_path):
    path, cache = ckpt
    folder = _map_without_ids(str(tmp_path / "map"), Mast3rEngine.from_checkpoint(
        path, id_cache=str(tmp_path / "other")))
    hashes.clear()
    for _ in range(2):  # two starts, the id never recorded (the cache cannot be written)
        eng = Mast3rEngine.from_checkpoint(path, id_cache=cache)
        Localizer(KeyframeMap.load(folder), CFG, eng, image_size=224,
                  recompute_encodings=False).close()
    assert hashes == []
    assert eng.info.content_id == ""  # not computed


def test_a_map_recording_the_id_still_gets_it_compared(ckpt, hashes, tmp_path):
    path, cache = ckpt
    eng = Mast3rEngine.from_checkpoint(path, id_cache=cache)
    assert hashes == []
    frames = list(render_frames(4, default_intrinsics(320, 240), seed=3))
    folder = write_map(str(tmp_path / "map"), [
        (f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[0:4:2]])
    Localizer(KeyframeMap.load(folder), CFG, eng, image_size=224).close()  # records the id
    assert len(hashes) == 1
    content = eng.content_id()
    assert KeyframeMap.load(folder).encodings_content_id(eng.identity, 224) == content != ""
    fresh = Mast3rEngine.from_checkpoint(path, id_cache=cache)
    Localizer(KeyframeMap.load(folder), CFG, fresh, image_size=224,
              recompute_encodings=False).close()  # compared: hashed (nothing recorded)
    assert len(hashes) == 2 and fresh.info.content_id == content


def test_a_half_precision_engine_hashes_the_float32_weights_read_again(ckpt, weights_id):
    path, cache = ckpt
    want = weights_id
    eng = Mast3rEngine.from_checkpoint(path, id_cache=cache)
    eng.precision = "fp16"  # as on CUDA, where the engine's network is a cast copy
    eng.model = None  # the float32 network is not the engine's: read from the file again
    assert eng.content_id() == want
    closed = Mast3rEngine.from_checkpoint(path, id_cache=cache)
    closed.close()  # its weights released: read again too
    assert closed.content_id() == want


def test_a_file_changed_since_the_load_leaves_the_id_unknown(ckpt, hashes, caplog):
    path, cache = ckpt
    eng = Mast3rEngine.from_checkpoint(path, id_cache=cache)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with caplog.at_level(logging.WARNING):
        assert eng.content_id() == ""
    assert hashes == [] and "changed on disk since it was loaded" in caplog.text


def test_a_half_precision_engine_hashes_the_weights_it_loaded_not_the_file_again(
        tiny_ckpt, tmp_path, monkeypatch, weights_id):
    """An fp16/bf16 engine keeps only a cast copy: asked for the id, it read the checkpoint
    again on the host (torch.load) once per file version. Its float32 network, in hand at load,
    is hashed then and recorded (a writable id cache): no second read, and a later load of the
    same file takes the record (no hash, no read beyond its own load)."""
    import torch

    from mast3r_ros.core.model import checkpoint

    path = str(tmp_path / "a.pth")
    shutil.copyfile(tiny_ckpt, path)
    want = weights_id
    real_init = Mast3rEngine.__init__

    def half(self, model, *a, **k):  # as on CUDA: the engine's network is a cast copy
        real_init(self, model, *a, **k)
        self.precision, self.model = "fp16", type(model)(model.spec).half().eval()

    reads, hashes, real_load, real_hash = [], [], torch.load, cid.content_identity
    monkeypatch.setattr(Mast3rEngine, "__init__", half)
    monkeypatch.setattr(checkpoint.torch, "load", lambda *a, **k: reads.append(1) or
                        real_load(*a, **k))
    monkeypatch.setattr(cid, "content_identity", lambda *a, **k: hashes.append(1) or
                        real_hash(*a, **k))
    cache = str(tmp_path / "ids")
    for n in (1, 2):  # the second load finds the id recorded by the first
        eng = Mast3rEngine.from_checkpoint(path, id_cache=cache)
        assert eng.content_id() == want and eng.content_id() == want
        assert (len(reads), len(hashes)) == (n, 1)
    blocked = tmp_path / "blocked"
    blocked.write_text("")  # a file where the id cache folder would be: nothing recorded
    Mast3rEngine.from_checkpoint(path, id_cache=str(blocked))
    assert (len(reads), len(hashes)) == (3, 1)  # a load comparing nothing hashes nothing
