"""A v1 map (the older layout: no stored retrieval index) had its thumbnail index -- and the
pooled index built where it caches no encodings -- built with the DEFAULT index settings, and
merge-maps took the defaults for it, although build-map recorded the settings it was built with
in the map's build_config.yaml (``scale.index_type``, ``approx_threshold``, ...). They are now
taken from there; a v1 map that records none gets the defaults, said in one log line. A v2/v3
map whose thumbnail index is of an older descriptor kind (rebuilt on demand) takes its
index.json's settings the same way."""

from __future__ import annotations

import json
import logging

from test_keyframes import _keyframes

from mast3r_ros.core.config import config_from_params, dump_config_yaml
from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.core.retrieval_index import IndexParams

HNSW = IndexParams(index_type="hnsw", approx_threshold=2, hnsw_m=16)
LOGGER = "mast3r_ros.core.keyframes.loader"


def _map(path, version=1, params=IndexParams(), scale=None, seed=0):
    """A 3-keyframe map of ``version`` built with ``params``, with a build_config.yaml whose
    ``scale`` section is ``scale`` (none written for None); its folder."""
    with MapWriter(str(path), version=version, index_params=params) as w:
        for rgb, cam, pose, stamp, depth in _keyframes(3, seed=seed):
            w.add_keyframe(rgb, cam, pose, stamp + 10 * seed, depth)
        w.commit()
    if scale is not None:
        dump_config_yaml(config_from_params({"scale": scale}), str(path / "build_config.yaml"))
    return str(path)


def _default_lines(caplog):
    return [r.getMessage() for r in caplog.records if "records no retrieval index settings"
            in r.getMessage()]


def test_a_v1_map_s_index_takes_the_settings_its_build_config_records(tmp_path, caplog):
    path = _map(tmp_path / "m", scale={"index_type": "hnsw", "approx_threshold": 2,
                                       "hnsw_m": 16})
    m = KeyframeMap.load(path)
    assert m.index_params() == HNSW
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert m.thumbnail_index().params == HNSW
    assert not _default_lines(caplog)


def test_a_v1_map_recording_none_takes_the_defaults_said_once(tmp_path, caplog):
    path = _map(tmp_path / "m")  # a tool's v1 map: no build_config.yaml
    m = KeyframeMap.load(path)
    assert m.index_params() is None
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert m.thumbnail_index().params == IndexParams()
        assert m.index_params_or_defaults() == IndexParams()
    (line,) = _default_lines(caplog)
    assert f"map {path} (format v1)" in line and "it has no build_config.yaml" in line, line
    assert "built with the defaults (scale.index_type 'ivf', approx_threshold 20000)" in line


def test_a_v1_build_config_without_the_scale_section_or_with_a_bad_value_gives_defaults(
        tmp_path, caplog):
    old = _map(tmp_path / "old")
    (tmp_path / "old" / "build_config.yaml").write_text(
        "/**/mast3r_localizer:\n  ros__parameters:\n    matcher: sift\n")
    bad = _map(tmp_path / "bad")
    (tmp_path / "bad" / "build_config.yaml").write_text(
        "/**/mast3r_localizer:\n  ros__parameters:\n    scale: {index_type: flat}\n")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for path in (old, bad):
            assert KeyframeMap.load(path).thumbnail_index().params == IndexParams()
    said = _default_lines(caplog)
    assert len(said) == 2, said
    assert "records no scale.index_type (an older build)" in said[0], said[0]
    assert "'scale.index_type' must be one of" in said[1] and "'flat'" in said[1], said[1]


def test_a_v2_thumbnail_index_of_an_older_kind_is_rebuilt_with_the_map_s_settings(tmp_path):
    path = _map(tmp_path / "m", version=2, params=HNSW)
    manifest_path = tmp_path / "m" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["retrieval"]["kind"] = "an older descriptor"
    manifest_path.write_text(json.dumps(manifest))
    m = KeyframeMap.load(path)
    assert m.index_params() == HNSW and m.thumbnail_index().params == HNSW


def test_merge_maps_takes_a_v1_map_s_recorded_settings(tmp_path):
    from mast3r_ros.replay.map_merge import merge_maps

    a = _map(tmp_path / "a", scale={"index_type": "hnsw", "approx_threshold": 2, "hnsw_m": 16})
    b = _map(tmp_path / "b", seed=1)
    merge_maps(a, b, str(tmp_path / "ab"), force=True)
    assert KeyframeMap.load(str(tmp_path / "ab")).index_params() == HNSW


def test_merge_maps_says_why_a_v1_map_records_no_index_settings(tmp_path, caplog):
    """A v1 source whose build_config.yaml cannot be read (or holds a refused value) counted as
    recording none without a word: merge-maps now says which map and why."""
    from mast3r_ros.replay.map_merge import merge_maps

    a = _map(tmp_path / "a", scale={"index_type": "hnsw", "approx_threshold": 2, "hnsw_m": 16})
    b = _map(tmp_path / "b", seed=1)
    (tmp_path / "b" / "build_config.yaml").write_text("scale: [unclosed\n")
    with caplog.at_level(logging.INFO, logger="mast3r_ros.replay.map_merge"):
        merge_maps(a, b, str(tmp_path / "ab"), force=True)
    (line,) = [r.getMessage() for r in caplog.records if "records no retrieval index" in
               r.getMessage()]
    assert f"map {b} records no retrieval index settings" in line, line
    assert "build_config.yaml cannot be read" in line and f"takes those of {a}" in line, line
    assert KeyframeMap.load(str(tmp_path / "ab")).index_params() == HNSW
