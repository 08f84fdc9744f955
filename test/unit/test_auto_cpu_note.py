"""Device 'auto' on a machine where torch sees no CUDA runs the network on the CPU. A user who
installed torch's CPU build as the Quick start does, on a machine with a GPU, saw frames take
tens of seconds and only `precision fp16 applies to CUDA only; running fp32 on cpu`: the
engine now says why the CPU was chosen and what it costs, once per process."""

from __future__ import annotations

import logging

import pytest
import torch

from mast3r_ros.core import devices
from mast3r_ros.core.said_once import SaidOnce
from mast3r_ros.core.model import engine as engine_mod


class _Stop(Exception):
    pass


def _stop(*a, **k):
    raise _Stop


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_noted_auto_cpu", SaidOnce(1))
    monkeypatch.setattr(engine_mod, "load_network", _stop)  # the note comes before the load


def _notes(caplog):
    return [r.getMessage() for r in caplog.records if "device auto runs" in r.getMessage()]


def test_auto_on_the_cpu_says_why_and_what_it_costs_once(no_cuda, caplog):
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        for _ in range(2):  # the demo builds two engines
            with pytest.raises(_Stop):
                engine_mod.Mast3rEngine.from_checkpoint("ckpt.pth", "auto")
    notes = _notes(caplog)
    assert len(notes) == 1
    assert "on the CPU" in notes[0] and "image_size" in notes[0] and "CUDA build" in notes[0]
    # what --device cpu does, said plainly (it read '--device cpu states the choice')
    assert notes[0].endswith("--device cpu (device: cpu) runs on the CPU without this note")


def test_a_cpu_device_the_user_chose_gets_no_note(no_cuda, caplog):
    with caplog.at_level(logging.INFO, logger="mast3r_ros"), pytest.raises(_Stop):
        engine_mod.Mast3rEngine.from_checkpoint("ckpt.pth", "cpu")
    assert _notes(caplog) == []


def test_the_note_names_a_cpu_only_torch_build(monkeypatch):
    monkeypatch.setattr(devices, "_noted_auto_cpu", SaidOnce(1))
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "CPU-only build" in devices.auto_cpu_note()
    monkeypatch.setattr(devices, "_noted_auto_cpu", SaidOnce(1))
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    assert "is_available() is False" in devices.auto_cpu_note()


@pytest.mark.parametrize("size, suggested", [(512, "(384, 224:"), (384, "(224:"), (224, None)])
def test_the_note_suggests_only_sizes_smaller_than_the_configured_one(no_cuda, caplog, size,
                                                                      suggested):
    """The CLI and the node build the engine from the configuration (`from_config`); the note
    said '384, 224' at image_size 224 too: it now knows the size in use."""
    from mast3r_ros.core.config import config_from_params

    cfg = config_from_params({"checkpoint": "ckpt.pth", "image_size": size})
    with caplog.at_level(logging.INFO, logger="mast3r_ros"), pytest.raises(_Stop):
        engine_mod.Mast3rEngine.from_config(cfg.model)
    (note,) = _notes(caplog)
    if suggested is None:
        assert "image_size (" not in note and "smaller" not in note
    else:
        assert f"image_size smaller than the {size} in use {suggested}" in note
    assert note.endswith("--device cpu (device: cpu) runs on the CPU without this note")


def test_an_engine_without_a_configured_size_suggests_the_sizes_below_the_default(monkeypatch):
    monkeypatch.setattr(devices, "_noted_auto_cpu", SaidOnce(1))
    assert "smaller image_size (384, 224: parameter image_size" in devices.auto_cpu_note()


def test_the_size_it_suggests_is_named_as_a_parameter_file_takes_it(monkeypatch, tmp_path):
    """The note said 'model.image_size (...; --params)', but a --params file (and the node)
    takes the parameter 'image_size': the file the note led to was refused as an unknown
    parameter 'model.image_size'. It names the parameter as written, and pair's --size."""
    from mast3r_ros.core.config import load_config_yaml

    monkeypatch.setattr(devices, "_noted_auto_cpu", SaidOnce(1))
    note = devices.auto_cpu_note(512)
    assert "model.image_size" not in note
    assert "parameter image_size (--params, the node's) or pair --size" in note
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_size: 384\n")
    assert load_config_yaml(str(params)).model.image_size == 384
