"""A checkpoint that is no model, or whose weights fit no architecture, is refused before
build-map or localize reads its recording (was: after every frame was read, its keyframes
picked and checked: ~11 s for 50 frames, minutes for a bag), and the network loaded for that
check is the one the command's engine runs (the file read once)."""

from __future__ import annotations

import argparse
import re

import pytest
import torch
from mast3r_test_utils import TINY_SPEC
from test_merge_pngs import _map

from mast3r_ros.core.model import checkpoint as checkpoint_module
from mast3r_ros.core.model import loaded_networks, up_front
from mast3r_ros.core.model.model_string import model_string
from mast3r_ros.core.model.network import AsymmetricMASt3R
from mast3r_ros.replay import sources
from mast3r_ros.replay.cli import main


def _wrong_architecture(path) -> str:
    """The tiny model's constructor string with its patch embedding alone (tiny to write)."""
    with torch.device("meta"):
        sd = AsymmetricMASt3R(TINY_SPEC).state_dict()
    kept = {k: torch.zeros(v.shape) for k, v in sd.items() if k.startswith("patch_embed")}
    torch.save({"model": kept, "args": argparse.Namespace(model=model_string(TINY_SPEC))}, path)
    return str(path)


def _no_model(path) -> str:
    torch.save({"weights": torch.zeros(3), "step": torch.tensor(7)}, path)
    return str(path)


@pytest.fixture
def recording_unread(monkeypatch):
    """open_source runs the checks made before a long read, then fails the test: the
    recording must not be read before the checkpoint is refused."""
    def opened(path, options, *a, **k):
        if options.before_index is not None:
            options.before_index()
        raise AssertionError(f"{path} was read before the checkpoint was refused")

    monkeypatch.setattr(sources, "open_source", opened)


@pytest.mark.parametrize("make, said", [
    (_wrong_architecture, r"missing key 'enc_blocks\.0\.norm1\.weight'.*another architecture"),
    (_no_model, "not a MASt3R/DUSt3R model")])
def test_build_map_refuses_the_checkpoint_before_reading_the_recording(
        tmp_path, capsys, recording_unread, make, said):
    bad = make(tmp_path / "bad.pth")
    rc = main(["build-map", str(tmp_path / "rec"), "--out", str(tmp_path / "map"),
               "--checkpoint", bad, "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "bad.pth" in err
    assert re.search(said, err), err


@pytest.mark.parametrize("make", [_wrong_architecture, _no_model])
def test_localize_refuses_the_checkpoint_before_reading_the_recording(
        tmp_path, capsys, recording_unread, make):
    good = _map(str(tmp_path / "map"), [0, 1])
    bad = make(tmp_path / "bad.pth")
    rc = main(["localize", str(tmp_path / "rec"), "--map", good, "--out", str(tmp_path / "run"),
               "--matcher", "mast3r", "--checkpoint", bad, "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "bad.pth" in err and ("another architecture" in err or "not a MASt3R" in err), err


def test_the_network_loaded_up_front_is_the_engines_and_read_once(tmp_path, monkeypatch):
    path = tmp_path / "m.pth"
    path.write_bytes(b"weights")
    reads = []

    def load(p, device="cpu"):
        reads.append(p)
        return object(), "info"

    monkeypatch.setattr(checkpoint_module, "load_checkpoint", load)
    cpu = torch.device("cpu")
    with up_front.networks_up_front():
        loaded_networks.load_up_front(str(path), cpu)
        first = loaded_networks.load_network(str(path), cpu)
        again = loaded_networks.load_network(str(path), cpu)  # handed once, then read
    assert len(reads) == 2 and first is not again
    loaded_networks.load_up_front(str(path), cpu)  # outside a command: not kept
    loaded_networks.load_network(str(path), cpu)
    assert len(reads) == 4


def test_build_map_called_as_a_library_keeps_its_up_front_network(tmp_path, monkeypatch, tum):
    """`pipeline.build_map` outside the CLI: its own checks' network must reach its engine too
    (else the 2.7 GB file is read twice), so it runs in a `networks_up_front` block."""
    from mast3r_ros.core.config import Config
    from mast3r_ros.replay import pipeline
    from mast3r_ros.replay.sources import SourceOptions

    seen = []

    def check(cfg, opts):
        seen.append(up_front._kept is not None)
        raise KeyboardInterrupt  # stop here: nothing more to see

    monkeypatch.setattr(pipeline, "check_build_files", check)
    source = sources.open_source(tum[0], SourceOptions())
    with pytest.raises(KeyboardInterrupt):
        pipeline.build_map(source, str(tmp_path / "map"), Config())
    assert seen == [True]
