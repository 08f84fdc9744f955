"""A checkpoint that is no model, or whose weights fit no architecture, is refused before
build-map or localize reads its recording (was: after every frame was read, its keyframes
picked and checked: ~11 s for 50 frames, minutes for a bag), and the network loaded for that
check is the one the command's engine runs (the file read once)."""

from __future__ import annotations

import argparse
import re
import sys

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


@pytest.mark.parametrize("what", ["missing", "empty folder"])
def test_build_map_says_a_wrong_source_before_it_loads_the_network(tmp_path, capsys,
                                                                    monkeypatch, what,
                                                                    tiny_ckpt):
    """The up-front load ran before the source was opened: a mistyped SOURCE (or a folder that
    is no recording) was said only after the network was read (the real one: 2.7 GB, seconds
    to tens of seconds). It is loaded once the recording is found, before it is read."""
    reads = []

    def load(p, device="cpu"):
        reads.append(p)
        raise AssertionError("the network was loaded before the source was found")

    monkeypatch.setattr(checkpoint_module, "load_checkpoint", load)
    src = tmp_path / "rec"
    if what == "empty folder":
        src.mkdir()
    rc = main(["build-map", str(src), "--out", str(tmp_path / "map"), "--checkpoint",
               tiny_ckpt, "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and reads == [], err
    assert len(err.strip().splitlines()) == 1, err
    assert ("source not found" if what == "missing" else "none of the recordings") in err, err


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


def _tensorrt_params(tmp_path, cache) -> str:
    """config/localize.yaml with backend 'tensorrt' and its engine cache at ``cache``."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "config" / "localize.yaml").read_text()
    text = text.replace('backend: "torch"', 'backend: "tensorrt"', 1)
    text = text.replace('engine_cache: ""', f'engine_cache: "{cache}"', 1)
    path = tmp_path / "trt.yaml"
    path.write_text(text)
    return str(path)


@pytest.fixture
def tensorrt_here(monkeypatch):
    """TensorRT 10.3 and a CUDA device, as far as the up-front checks ask (imports only), and
    its ONNX exporter's package: the checks after them are reached on this CPU machine."""
    import types

    from mast3r_ros.core.model import tensorrt_backend as tb
    from mast3r_ros.core.model import tensorrt_runtime

    trt = types.SimpleNamespace(__version__="10.3.0")
    monkeypatch.setattr(tensorrt_runtime, "require_tensorrt_runtime",
                        lambda device, resolve=None: (trt, torch.device("cuda", 0)))
    monkeypatch.setattr(tb, "require_onnx", lambda exporter: None)


@pytest.mark.parametrize("command", ["build-map", "localize"])
@pytest.mark.parametrize("make, said", [
    (_wrong_architecture, r"missing key 'enc_blocks\.0\.norm1\.weight'.*another architecture"),
    (_no_model, "not a MASt3R/DUSt3R model"),
    (None, r"engine cache .*cannot be used .*'engine_cache'")])
def test_backend_tensorrt_refuses_before_reading_the_recording(
        tmp_path, capsys, recording_unread, tensorrt_here, command, make, said, tiny_ckpt):
    """Backend 'tensorrt' got no up-front check: a wrong checkpoint or an engine cache under a
    file was found when the engines were made, after the recording was read. They now come
    before it (TensorRT and CUDA stood in: `tensorrt_here`)."""
    (tmp_path / "file").write_text("")
    cache = tmp_path / ("file/x" if make is None else "cache")
    ckpt = tiny_ckpt if make is None else make(tmp_path / "bad.pth")
    where = (["--out", str(tmp_path / "map")] if command == "build-map" else
             ["--map", _map(str(tmp_path / "map"), [0, 1]), "--out", str(tmp_path / "run")])
    rc = main([command, str(tmp_path / "rec"), *where, "--matcher", "mast3r", "--checkpoint",
               ckpt, "--device", "cpu", "--params", _tensorrt_params(tmp_path, cache)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(said, err), err


def test_backend_tensorrt_hands_its_up_front_network_to_the_engine_build(
        tmp_path, monkeypatch, tiny_ckpt):
    """The network checked up front is the one the engines are exported from (read once), and
    a cache that has seen the file reads nothing up front (its engines need no checkpoint)."""
    from mast3r_ros.core.config import ModelConfig
    from mast3r_ros.core.model import tensorrt_backend as tb

    reads = []
    real = checkpoint_module.load_checkpoint

    def counting(path, **kw):
        reads.append(path)
        return real(path, **kw)

    monkeypatch.setattr(checkpoint_module, "load_checkpoint", counting)
    monkeypatch.setattr(tb, "load_checkpoint", counting)
    monkeypatch.setattr(tb, "require_onnx", lambda exporter: None)
    taken = []
    monkeypatch.setattr(tb, "ensure_engines",
                        lambda model, info, cache, fields, trt: taken.append(model) or cache)
    cache = str(tmp_path / "cache")
    cfg = ModelConfig(checkpoint=tiny_ckpt, backend="tensorrt", engine_cache=cache)
    with up_front.networks_up_front():
        info = loaded_networks.configured_up_front(cfg, device_here=False)
        assert reads == [tiny_ckpt]
        tb.engines_for_checkpoint(tiny_ckpt, cache, lambda cid: {}, object())
    assert reads == [tiny_ckpt] and len(taken) == 1  # the engine build read nothing more
    import dataclasses  # a recorded content id (hashing 42 M weights is not the point here)

    tb.remember_checkpoint(cache, tiny_ckpt, dataclasses.replace(info, content_id="c" * 16))
    with up_front.networks_up_front():
        assert loaded_networks.configured_up_front(cfg, device_here=False).identity == \
            info.identity
    assert reads == [tiny_ckpt]  # the cache knew the file: not read again up front


def test_a_ray_build_for_a_device_this_head_lacks_makes_its_id_engine_on_the_host(
        monkeypatch):
    """build-map --ray-address --device cuda on a head without CUDA (which the up-front checks
    let through, loading the network on the host: the workers resolve the device) read its
    recording, chose and checked its keyframes, then refused at the encoding: the engine made
    here for the checkpoint's identity asked for CUDA ("use device 'cpu'"). It runs on the
    host now; the workers' encoder keeps the build's device."""
    import dataclasses

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.model.engine import Mast3rEngine
    from mast3r_ros.replay import map_build

    class Made(Exception):
        pass

    made = []

    def from_config(model_cfg, *args, **kwargs):
        made.append((model_cfg.device, model_cfg.backend, model_cfg.precision))
        raise Made

    monkeypatch.setattr(Mast3rEngine, "from_config", staticmethod(from_config))
    cfg = Config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, checkpoint="m.pth", device="cuda:99", backend="tensorrt"))  # no machine's
    with pytest.raises(Made):
        map_build.encode_map_keyframes(None, cfg, map_build.BuildOptions(ray_address="auto"))
    assert made == [("cpu", "torch", "fp32")]
    with pytest.raises(Made):  # without Ray the engine is the build's own, as given
        map_build.encode_map_keyframes(None, cfg, map_build.BuildOptions())
    assert made[-1] == ("cuda:99", "tensorrt", cfg.model.precision)


@pytest.mark.parametrize("command", ["build-map", "localize"])
def test_backend_tensorrt_without_tensorrt_is_refused_before_anything_is_read(
        tmp_path, capsys, monkeypatch, recording_unread, command, tiny_ckpt):
    """Without TensorRT (this machine) the checkpoint was loaded up front, then the recording
    read (redkitchen_a_map: 50 frames, its map checked, 5.5 s; a bag: minutes), and only then
    'needs NVIDIA TensorRT' came. Now it comes first, in the engine build's words, with
    nothing read (the checkpoint neither)."""
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    monkeypatch.setattr(checkpoint_module, "load_checkpoint",
                        lambda *a, **k: pytest.fail("the checkpoint was read"))
    where = (["--out", str(tmp_path / "map")] if command == "build-map" else
             ["--map", _map(str(tmp_path / "map"), [0, 1]), "--out", str(tmp_path / "run")])
    rc = main([command, str(tmp_path / "rec"), *where, "--matcher", "mast3r", "--checkpoint",
               tiny_ckpt, "--device", "cpu", "--params",
               _tensorrt_params(tmp_path, tmp_path / "cache")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(r"needs NVIDIA TensorRT's Python package .*tensorrt<11.*'backend' "
                     r"parameter to 'torch'", err), err
    assert not (tmp_path / "cache").exists()


def test_backend_tensorrt_on_a_torch_without_cuda_is_refused_up_front(monkeypatch, tiny_ckpt):
    """TensorRT installed, but a CPU torch wheel (device 'auto'): said up front as the engine
    build says it, before the checkpoint is read."""
    import types

    from mast3r_ros.core.config import ModelConfig
    from mast3r_ros.core.errors import ConfigError

    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(checkpoint_module, "load_checkpoint",
                        lambda *a, **k: pytest.fail("the checkpoint was read"))
    cfg = ModelConfig(checkpoint=tiny_ckpt, backend="tensorrt", device="auto")
    with pytest.raises(ConfigError, match=r"needs CUDA, but this torch .*backend 'torch'"):
        loaded_networks.configured_up_front(cfg)
    with pytest.raises(ConfigError, match="needs a CUDA device, got 'cpu'"):
        loaded_networks.configured_up_front(ModelConfig(checkpoint=tiny_ckpt,
                                                        backend="tensorrt", device="cpu"))
