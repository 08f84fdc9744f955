"""A map built with non-default retrieval index settings (build-map's ``scale.index_type``,
``approx_threshold``, ...) lost them: merge-maps rebuilt the merged map's indexes with the
defaults, and so did the localizer when it cached a map's encodings (their pooled index). Both
now take the settings the map records (its thumbnail index's ``index.json``); merge-maps takes
A's, with a warning, where A's and B's differ. The merged manifest's ``merged_from`` also
keeps each source's ``max_frames`` and ``image_stamp`` records."""

from __future__ import annotations

import logging

from test_keyframes import _encodings, _keyframes

from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.core.retrieval_index import IndexParams
from mast3r_ros.replay.map_merge import merge_maps

HNSW = IndexParams(index_type="hnsw", approx_threshold=2, hnsw_m=16)


def _map(path, seed, params=IndexParams(), fields=(), encodings=False):
    """A 3-keyframe map built with ``params`` and the manifest ``fields``; its folder."""
    with MapWriter(str(path), index_params=params) as w:
        for rgb, cam, pose, stamp, depth in _keyframes(3, seed=seed):
            w.add_keyframe(rgb, cam, pose, stamp + 10 * seed, depth)
        for key, value in fields:
            w.set_manifest_field(key, value)
        w.commit()
    if encodings:
        KeyframeMap.load(str(path)).save_encodings(_encodings("ckptA", seed=seed))
    return str(path)


def test_cached_encodings_index_takes_the_maps_settings(tmp_path):
    path = _map(tmp_path / "a", 0, HNSW, encodings=True)
    m = KeyframeMap.load(path)
    assert m.index_params() == HNSW
    assert m.pooled_index("ckptA", 224).params == HNSW


def test_merge_keeps_the_settings_its_maps_were_built_with(tmp_path, caplog):
    a = _map(tmp_path / "a", 0, HNSW, encodings=True)
    b = _map(tmp_path / "b", 1, HNSW, encodings=True)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.map_merge"):
        merge_maps(a, b, str(tmp_path / "ab"), force=True)
    assert not [r for r in caplog.records if "retrieval indexes" in r.getMessage()]
    merged = KeyframeMap.load(str(tmp_path / "ab"))
    assert merged.index_params() == HNSW
    assert merged.pooled_index("ckptA", 224).params == HNSW


def test_merge_of_maps_with_other_settings_takes_as_and_says_so(tmp_path, caplog):
    a = _map(tmp_path / "a", 0, HNSW)
    b = _map(tmp_path / "b", 1)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.map_merge"):
        merge_maps(a, b, str(tmp_path / "ab"), force=True)
    said = [r.getMessage() for r in caplog.records if "retrieval indexes" in r.getMessage()]
    assert len(said) == 1, said
    assert f"index_type 'hnsw' in {a}, 'ivf' in {b}" in said[0]
    assert "approx_threshold 2 in" in said[0] and "nprobe" not in said[0]
    assert KeyframeMap.load(str(tmp_path / "ab")).index_params() == HNSW


def test_merged_from_keeps_max_frames_and_image_stamp(tmp_path):
    cut = {"max_frames": 3, "frames": 3, "of_frames": 40}
    a = _map(tmp_path / "a", 0, fields=(("max_frames", cut), ("image_stamp", "receive")))
    b = _map(tmp_path / "b", 1, fields=(("image_stamp", "header"),))
    merge_maps(a, b, str(tmp_path / "ab"), force=True)
    src = KeyframeMap.load(str(tmp_path / "ab")).manifest["merged_from"]
    assert src[0]["max_frames"] == cut and src[0]["image_stamp"] == "receive"
    assert "max_frames" not in src[1] and src[1]["image_stamp"] == "header"


def test_merged_from_keeps_the_frames_a_source_s_build_never_read(tmp_path):
    """``frames_not_read`` (frames build-map never decoded: not keyframe candidates) qualifies
    a map's unreadable count; a merge dropped it, so check-map on the merged map counted the
    source's unreadable frames as if every other frame had been read."""
    from mast3r_ros.replay.check_map import unreadable_notes
    from mast3r_ros.replay.map_content import content_digests

    bad = {"count": 2, "of_frames": 48, "stamps_ns": [5, 6]}
    unread = {"count": 37, "of_frames": 48, "reason": "not keyframe candidates"}
    a = _map(tmp_path / "a", 0, fields=(("unreadable_frames", bad), ("frames_not_read", unread)))
    merge_maps(a, _map(tmp_path / "b", 1), str(tmp_path / "ab"), force=True)
    manifest = KeyframeMap.load(str(tmp_path / "ab")).manifest
    src = manifest["merged_from"]
    assert src[0]["frames_not_read"] == unread and "frames_not_read" not in src[1]
    (note,) = unreadable_notes(manifest)
    assert note.startswith(f"map A ({a}) was built with 2 of 48 frames unreadable"), note
    assert note.endswith("; 37 frames not read: not keyframe candidates, not known to be "
                         "readable or not"), note
    # how a source's build read its recording is no part of the merged map's content
    other = [{**src[0], "frames_not_read": {**unread, "count": 36}}, src[1]]
    assert content_digests({**manifest, "merged_from": other}) == content_digests(manifest)
