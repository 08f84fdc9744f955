"""Keyframe maps record the full-content id of the weights beside the sampled id with their
cached encodings: a checkpoint one weight value apart (a sparse fine-tune the sampled
`checkpoint.fingerprint` cannot see) does not use the encodings of the earlier weights."""

import json
import logging
import os
import shutil

import pytest
import torch

from mast3r_ros.core.config import LocalizerConfig, MatchingConfig
from mast3r_ros.core.errors import MapFormatError
from mast3r_ros.core.keyframes import KeyframeMap, write_map
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.model import content_id as cid
from mast3r_ros.core.model.engine import Mast3rEngine
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CFG = LocalizerConfig(matcher="mast3r", matching=MatchingConfig(subsample=16), max_keyframes=1)


@pytest.fixture(scope="module")
def pair(tiny_ckpt, tmp_path_factory):
    """Checkpoints A and A' (one value apart where the sampled id does not look) and a cache."""
    d = tmp_path_factory.mktemp("pair")
    a, a2 = str(d / "a.pth"), str(d / "a2.pth")
    shutil.copyfile(tiny_ckpt, a)
    obj = torch.load(a, weights_only=False)
    sd = obj["model"]
    name = max(sd, key=lambda k: sd[k].numel())  # its flat value 1 lies between the samples
    with torch.no_grad():
        sd[name].view(-1)[1] += 1e-3
    torch.save(obj, a2)
    return a, a2, str(d / "ids")


@pytest.fixture
def two_kf_map(tmp_path):
    frames = list(render_frames(4, default_intrinsics(320, 240), seed=3))
    return write_map(str(tmp_path / "map"), [
        (f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m) for f in frames[0:4:2]])


def test_a_one_value_fine_tune_does_not_use_the_maps_encodings(pair, two_kf_map):
    a, a2, ids = pair
    eng_a = Mast3rEngine.from_checkpoint(a, id_cache=ids)
    Localizer(KeyframeMap.load(two_kf_map), CFG, eng_a, image_size=224)  # cached in the map
    m = KeyframeMap.load(two_kf_map)
    assert m.encodings_content_id(eng_a.identity, 224) == eng_a.info.content_id != ""
    eng_b = Mast3rEngine.from_checkpoint(a2, id_cache=ids)
    assert eng_b.identity == eng_a.identity  # the sampled id cannot tell them apart
    with pytest.raises(MapFormatError, match="computed with other weights .*weights differ"):
        Localizer(m, CFG, eng_b, image_size=224, recompute_encodings=False)
    Localizer(m, CFG, eng_b, image_size=224)  # recomputed, replacing the stale ones
    m = KeyframeMap.load(two_kf_map)
    assert m.encoding_keys() == [(eng_a.identity, 224)]
    assert m.encodings_content_id(eng_a.identity, 224) == eng_b.info.content_id
    Localizer(m, CFG, eng_b, image_size=224, recompute_encodings=False).close()


def test_a_map_that_predates_the_full_id_loads_as_before(pair, two_kf_map, caplog):
    a, _, ids = pair
    eng = Mast3rEngine.from_checkpoint(a, id_cache=ids)
    Localizer(KeyframeMap.load(two_kf_map), CFG, eng, image_size=224)
    path = os.path.join(two_kf_map, "manifest.json")
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    for e in manifest["encodings"]:
        del e["content_id"]  # as a map built before it was recorded
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
    m = KeyframeMap.load(two_kf_map)
    assert m.encodings_content_id(eng.identity, 224) == ""
    with caplog.at_level(logging.INFO):
        Localizer(m, CFG, eng, image_size=224, recompute_encodings=False).close()
    said = [r.getMessage() for r in caplog.records if "predates" in r.getMessage()]
    assert len(said) == 1 and r"matched by the sampled id only" in said[0]


def test_a_restart_reads_the_content_id_from_the_record(pair, monkeypatch):
    a, _, ids = pair
    first = Mast3rEngine.from_checkpoint(a, id_cache=ids).content_id()

    def no_hash(*_a, **_k):
        raise AssertionError("hashed again")

    monkeypatch.setattr(cid, "content_identity", no_hash)
    assert Mast3rEngine.from_checkpoint(a, id_cache=ids).content_id() == first


class _Map:
    def __init__(self, content):
        self.content = content

    def encodings_content_id(self, identity, size):
        return self.content


def test_merge_keeps_one_content_id_and_drops_encodings_of_other_weights(caplog):
    from mast3r_ros.replay.map_merge import _content_ids

    keys = [("sampled", 224)]
    assert _content_ids(keys, [_Map("c1"), _Map("c1")], ["A", "B"]) == {keys[0]: "c1"}
    assert _content_ids(keys, [_Map("c1"), _Map("")], ["A", "B"]) == {keys[0]: ""}
    with caplog.at_level(logging.WARNING):
        assert _content_ids(keys, [_Map("c1"), _Map("c2")], ["A", "B"]) == {}
    assert "computed with other weights" in caplog.text


def _map(path, frames, content, vecs):
    """A map of ``frames`` whose encodings (checkpoint 'ckptA' at 224) and ASMK index record
    the content id ``content``."""
    from mast3r_ros.core.asmk import AsmkIndex
    from mast3r_ros.core import keyframes as kfm
    from test_keyframes import _encodings

    enc = _encodings("ckptA", n=len(frames))
    enc.content_id = content
    with kfm.MapWriter(path) as w:
        for rgb, cam, pose, stamp, depth in frames:
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        w.add_encodings(enc)
        w.add_asmk(AsmkIndex.build(vecs, 16, 32, "asmk-test"), "ckptA", 224)
        w.commit()
    return path


def test_merge_of_maps_encoded_with_other_weights_drops_their_encodings(tmp_path, caplog):
    from test_keyframes import _keyframes
    from test_map_v3 import _vectors

    from mast3r_ros.replay.map_build import merge_maps

    a = _map(str(tmp_path / "a"), _keyframes(n=2), "c1", _vectors(2, seed=1))
    m = KeyframeMap.load(a)
    assert m.encodings_content_id("ckptA", 224) == "c1"
    assert m.asmk_content_id("asmk-test", "ckptA", 224) == "c1"  # from the encodings' entry
    b = _map(str(tmp_path / "b"), _keyframes(n=2, seed=4), "c1", _vectors(2, seed=2))
    assert merge_maps(a, b, str(tmp_path / "ab")) == 4
    ab = KeyframeMap.load(str(tmp_path / "ab"))
    assert ab.encodings_content_id("ckptA", 224) == "c1" and ab.asmk_keys()
    c = _map(str(tmp_path / "c"), _keyframes(n=2, seed=4), "c2", _vectors(2, seed=2))
    with caplog.at_level(logging.WARNING):
        assert merge_maps(a, c, str(tmp_path / "ac")) == 4
    ac = KeyframeMap.load(str(tmp_path / "ac"))
    assert ac.encoding_keys() == [] and ac.asmk_keys() == []
    assert "computed with other weights" in caplog.text


def test_encodings_under_another_id_of_a_non_canonical_file_say_why(pair, two_kf_map, tmp_path,
                                                                     monkeypatch):
    """The ids now hash the canonical constructor string, not the file's args.model; a map
    built before from a file whose args.model is written otherwise keys its encodings by the
    older id. It was refused (or recomputed) as 'caches encodings for [...], not for
    checkpoint ...; rebuild the map with this checkpoint', though the weights are the same.
    The line now says why for such a file, and only for one."""
    from mast3r_ros.core.model.model_string import parse_model_string

    a, _, ids = pair
    obj = torch.load(a, weights_only=False)
    _, kw = parse_model_string(obj["args"].model)
    obj["args"].model = "AsymmetricMASt3R(" + ", ".join(
        f"{k}={v!r}" for k, v in reversed(list(kw.items()))) + ")"
    odd = str(tmp_path / "official_reordered.pth")
    torch.save(obj, odd)
    for path, note in ((odd, True), (a, False)):
        eng = Mast3rEngine.from_checkpoint(path, id_cache=ids)
        Localizer(KeyframeMap.load(two_kf_map), CFG, eng, image_size=224)  # cached
        monkeypatch.setattr(eng, "identity", "0123456789abcdef")  # the map's id is another
        with pytest.raises(MapFormatError) as e:
            Localizer(KeyframeMap.load(two_kf_map), CFG, eng, image_size=224,
                      recompute_encodings=False)
        said = "args.model is not the canonical constructor string" in str(e.value)
        assert said == note, str(e.value)
