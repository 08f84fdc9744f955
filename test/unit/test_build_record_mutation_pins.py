"""Pins of `core.keyframes.build_record.recorded_index_params` (a v1 map's retrieval index
settings from its build_config.yaml) that the mutation audit of 2026-12-06 found untested: a
folder without the file or with one that is not YAML, and the settings written as dotted keys
(``scale.index_type:``, as a hand-written parameter file may give them), the later block
winning."""

from __future__ import annotations

from mast3r_ros.core.keyframes.build_record import recorded_index_params
from mast3r_ros.core.retrieval_index import IndexParams


def test_a_folder_without_build_config_or_with_one_not_yaml_gets_none_and_why(tmp_path):
    assert recorded_index_params(str(tmp_path)) == (None, "it has no build_config.yaml")
    (tmp_path / "build_config.yaml").write_text("scale: [unclosed\n")
    params, why = recorded_index_params(str(tmp_path))
    assert params is None and why.startswith("its build_config.yaml cannot be read ("), why


def test_dotted_scale_keys_are_read_and_the_later_block_wins(tmp_path):
    (tmp_path / "build_config.yaml").write_text(
        "/**:\n  ros__parameters:\n    scale.index_type: hnsw\n    scale.hnsw_m: 8\n"
        "    scalex.nprobe: 3\n    nprobe: 5\n"
        "mast3r_localizer:\n  ros__parameters:\n    scale.hnsw_m: 16\n")
    params, why = recorded_index_params(str(tmp_path))
    assert why == ""
    assert params == IndexParams(index_type="hnsw", hnsw_m=16)
