"""Pins of `checkpoint_arch.declared_arch` (mutation audit docs/bench/mutation_cpu_2026-12-07zt):
a config.json that is no JSON or no object, and an official archive whose constructor string
does not parse, name no architecture (None: loading the checkpoint decides), raising nothing."""

from __future__ import annotations

from test_build_map_dust3r import _small_archive

from mast3r_ros.core.model.checkpoint_arch import declared_arch


def test_a_damaged_or_odd_config_json_names_no_architecture(tmp_path):
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "model.safetensors").write_bytes(b"not read")
    (hf / "config.json").write_text("{not json")
    assert declared_arch(str(hf)) is None
    (hf / "config.json").write_text('["output_mode", "pts3d+desc24"]')  # JSON, not an object
    assert declared_arch(str(hf)) is None


def test_a_constructor_string_that_does_not_parse_names_no_architecture(tmp_path):
    assert declared_arch(_small_archive(tmp_path / "x.pth", "AsymmetricMASt3R(enc_depth=")) \
        is None
