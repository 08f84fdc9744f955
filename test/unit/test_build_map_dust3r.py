"""build-map with a DUSt3R checkpoint and the mast3r matcher: refused in one line, exit 2, with
nothing written. Before, it wrote a map of DUSt3R encodings (exit 0, no warning), which
``localize`` then refused ("the checkpoint has no descriptor head"). An official file or a
Hugging Face folder names its class in its constructor string, so it is refused before the
recording is read; a bare state dict once its weights are loaded (up front, before the
recording is read too, with backend torch)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from mast3r_test_utils import OFFICIAL_MASt3R

from mast3r_ros.core.model.checkpoint_arch import declared_arch
from mast3r_ros.replay.cli import main

DUST3R = OFFICIAL_MASt3R.replace("AsymmetricMASt3R", "AsymmetricCroCo3DStereo").replace(
    "head_type='catmlp+dpt', output_mode='pts3d+desc24'", "head_type='dpt', output_mode='pts3d'"
).replace(", two_confs=True, desc_conf_mode=('exp', 0, inf)", "")


def _small_archive(path: Path, text: str) -> str:
    """An official-layout archive whose args.model is ``text`` (weights not needed to tell it)."""
    torch.save({"model": {"patch_embed.proj.weight": torch.zeros(2, 3, 16, 16)},
                "args": argparse.Namespace(model=text)}, path)
    return str(path)


def test_declared_arch_reads_the_constructor_string_only(tmp_path):
    assert declared_arch(_small_archive(tmp_path / "m.pth", OFFICIAL_MASt3R)) == "mast3r"
    assert declared_arch(_small_archive(tmp_path / "d.pth", DUST3R)) == "dust3r"
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "model.safetensors").write_bytes(b"not read")
    (hf / "config.json").write_text(json.dumps({"output_mode": "pts3d", "head_type": "dpt"}))
    assert declared_arch(str(hf)) == "dust3r"
    (hf / "config.json").write_text(json.dumps({"output_mode": "pts3d+desc24"}))
    assert declared_arch(str(hf)) == "mast3r"
    bare = tmp_path / "bare.pth"
    torch.save({"patch_embed.proj.weight": torch.zeros(2, 3, 16, 16)}, bare)
    assert declared_arch(str(bare)) is None  # the load decides
    (tmp_path / "junk.pth").write_bytes(b"PK\x03\x04 cut")
    assert declared_arch(str(tmp_path / "junk.pth")) is None


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from mast3r_ros.replay.synthetic import write_demo_sequences

    return Path(write_demo_sequences(str(tmp_path_factory.mktemp("d3")), num_frames=8,
                                     width=128, height=96, seed=1)[0])


def _one_line_refusal(capsys, argv):
    capsys.readouterr()
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    return err[0]


def test_an_official_dust3r_checkpoint_is_refused_before_the_recording_is_read(
        folder, tmp_path, capsys, monkeypatch):
    ckpt = _small_archive(tmp_path / "dust3r.pth", DUST3R)
    from mast3r_ros.replay import pipeline

    def not_read(*a, **k):
        raise AssertionError("the recording's frames were read")
    monkeypatch.setattr(pipeline, "_add_keyframes", not_read)
    out = tmp_path / "map"
    line = _one_line_refusal(capsys, ["build-map", str(folder), "--out", str(out),
                                      "--checkpoint", ckpt, "--matcher", "mast3r",
                                      "--log-level", "error"])
    assert "dust3r.pth is a DUSt3R checkpoint (no descriptor head)" in line
    assert "--matcher sift" in line and "MASt3R checkpoint" in line
    assert not out.exists() and not Path(str(out) + ".partial").exists()


def test_a_bare_dust3r_state_dict_is_refused_once_loaded(folder, tmp_path, capsys,
                                                         monkeypatch):
    """Its class is named nowhere: the loaded engine tells (a stand-in engine here)."""
    from mast3r_ros.core.model import engine as engine_mod

    closed = []

    class NoDescriptors:
        has_descriptors = False

        def close(self):
            closed.append(True)

    monkeypatch.setattr(engine_mod.Mast3rEngine, "from_config",
                        classmethod(lambda cls, *a, **k: NoDescriptors()))
    from mast3r_ros.core.model import loaded_networks

    # no network loaded up front (a TensorRT cache that knows the file): the engine refuses it
    monkeypatch.setattr(loaded_networks, "load_up_front", lambda path, device: None)
    ckpt = tmp_path / "bare.pth"
    torch.save({"patch_embed.proj.weight": torch.zeros(2, 3, 16, 16)}, ckpt)
    out = tmp_path / "map"
    line = _one_line_refusal(capsys, ["build-map", str(folder), "--out", str(out),
                                      "--checkpoint", str(ckpt), "--matcher", "mast3r",
                                      "--log-level", "error"])
    assert "is a DUSt3R checkpoint (no descriptor head)" in line and closed == [True]
    assert not out.exists() and not Path(str(out) + ".partial").exists()
    # loaded up front (backend torch): refused by its spec, before the recording is read
    import types

    from mast3r_ros.replay import pipeline

    def not_read(*a, **k):
        raise AssertionError("the recording's frames were read")
    monkeypatch.setattr(pipeline, "_add_keyframes", not_read)
    info = types.SimpleNamespace(spec=types.SimpleNamespace(has_descriptors=False))
    monkeypatch.setattr(loaded_networks, "load_up_front", lambda path, device: info)
    line = _one_line_refusal(capsys, ["build-map", str(folder), "--out", str(out),
                                      "--checkpoint", str(ckpt), "--matcher", "mast3r",
                                      "--log-level", "error"])
    assert "is a DUSt3R checkpoint (no descriptor head)" in line, line
