"""TensorRT backend on CPU: the engine cache key and its rebuild rule, and the clear errors
when TensorRT or CUDA is missing (building engines needs a GPU: test/gpu)."""

from __future__ import annotations

import json
import sys

import pytest

from mast3r_ros.core.config import ModelConfig
from mast3r_ros.core.errors import ConfigError
from mast3r_ros.core.model import tensorrt_backend as tb
from mast3r_ros.core.model.engine import Mast3rEngine


def _fields(**over):
    f = dict(identity="abc123", size=512, net_shape=(384, 512), keyframe_batch=2,
             gpu="NVIDIA H200 sm_90", trt_version="10.3.0")
    f.update(over)
    return tb.cache_fields(**f)


def test_cache_key_changes_with_every_field_and_is_stable():
    base = tb.cache_key(_fields())
    assert base == tb.cache_key(_fields())
    assert base.startswith("abc123-512-512x384-k2-")
    for over in (dict(identity="abc124"), dict(size=384), dict(net_shape=(288, 384)),
                 dict(keyframe_batch=1), dict(gpu="Orin sm_87"), dict(trt_version="10.3.1"),
                 dict(precision="fp32")):
        assert tb.cache_key(_fields(**over)) != base, over
    # a release that changes how engines are made does not reuse an older release's engines
    assert tb.cache_key(dict(_fields(), engine_format=tb.ENGINE_FORMAT + 1)) != base


def _write_cache(root, fields, stored=None, plans=True):
    d = root / tb.cache_key(fields)
    d.mkdir(parents=True)
    (d / tb.KEY_FILE).write_text(json.dumps(stored if stored is not None else fields))
    if plans:
        (d / tb.ENCODER_PLAN).write_bytes(b"x")
        (d / tb.DECODER_PLAN).write_bytes(b"x")
    return d


def test_cached_engines_reused_only_when_the_key_file_matches(tmp_path):
    f = _fields()
    assert tb.cached_engines(str(tmp_path), f) is None  # nothing built yet
    d = _write_cache(tmp_path, f)
    assert tb.cached_engines(str(tmp_path), f) == str(d)
    assert tb.cached_engines(str(tmp_path), _fields(trt_version="10.4.0")) is None
    g = _fields(gpu="Orin sm_87")
    _write_cache(tmp_path, g, stored=dict(g, gpu="other"))  # tampered / stale key file
    assert tb.cached_engines(str(tmp_path), g) is None
    h = _fields(size=224, net_shape=(224, 224))
    _write_cache(tmp_path, h, plans=False)  # interrupted build
    assert tb.cached_engines(str(tmp_path), h) is None


def test_missing_tensorrt_is_a_config_error(monkeypatch, tiny_ckpt):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    with pytest.raises(ConfigError, match="needs NVIDIA TensorRT"):
        tb.import_tensorrt()
    cfg = ModelConfig(checkpoint=tiny_ckpt, backend="tensorrt", device="cpu")
    with pytest.raises(ConfigError, match="'backend' parameter to 'torch'"):
        Mast3rEngine.from_config(cfg)


def test_tensorrt_needs_cuda(monkeypatch, tiny_ckpt):
    monkeypatch.setitem(sys.modules, "tensorrt", object())  # "installed"
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        tb.TensorRTEngine.from_checkpoint(tiny_ckpt, device="cpu", size=512,
                                          net_shape=(384, 512))


def test_tensorrt_with_device_auto_and_no_cuda_says_the_torch_build(monkeypatch, tiny_ckpt,
                                                                   caplog):
    """On a Jetson with PyPI's CPU torch wheel, device 'auto' said "device 'cuda' requested ...
    use device 'cpu'", and 'cpu' then said the backend needs CUDA: a loop. And precision /
    compile were dropped without a word with backend 'tensorrt' (its engines are fp16)."""
    import torch

    monkeypatch.setitem(sys.modules, "tensorrt", object())  # "installed"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = ModelConfig(checkpoint=tiny_ckpt, backend="tensorrt", device="auto",
                      precision="fp32", compile="reduce-overhead")
    with caplog.at_level("WARNING", logger="mast3r_ros.core.model.engine"):
        with pytest.raises(ConfigError, match=r"needs CUDA, but this torch .* sees no CUDA "
                                              r"device .*install a CUDA build of torch \(on a "
                                              r"Jetson, NVIDIA's wheel"):
            Mast3rEngine.from_config(cfg)
    (warned,) = [r.getMessage() for r in caplog.records]
    assert "precision 'fp32' (its engines are built fp16) and compile 'reduce-overhead'" in warned


def test_default_engine_cache_follows_xdg_cache_home(monkeypatch):
    """Engines take tens of minutes to build on a Jetson: a service whose HOME differs but whose
    XDG_CACHE_HOME is set finds them there."""
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/robot")
    assert tb.default_cache_dir() == "/var/cache/robot/mast3r_ros/tensorrt"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert tb.default_cache_dir() == tb.DEFAULT_CACHE


def test_closed_tensorrt_engine_refuses_encode_and_decode():
    """`close` documents that any later call raises ClosedError; encode and decode of a closed
    TensorRT engine called its released engines instead (TypeError: 'NoneType' object is not
    callable), and decode of no keyframes answered []."""
    import numpy as np
    import torch

    from mast3r_ros.core.errors import ClosedError
    from mast3r_ros.core.model.engine import Encoding, PreparedImage
    from mast3r_test_utils import TINY_SPEC

    eng = tb.TensorRTEngine.__new__(tb.TensorRTEngine)  # no TensorRT here: the loaded state
    eng.device, eng.spec, eng.identity = torch.device("cpu"), TINY_SPEC, "abc123"
    eng.net_shape, eng.keyframe_batch = (224, 224), 1
    eng._enc = eng._dec = object()
    eng.close()
    img = PreparedImage(torch.zeros((1, 3, 224, 224)), (224, 224), np.eye(3), (224, 224),
                        np.zeros((224, 224, 3), np.uint8))
    enc = Encoding(torch.zeros((14 * 14, TINY_SPEC.enc_embed_dim)), (224, 224), "abc123")
    with pytest.raises(ClosedError, match="closed"):
        eng.encode(img)
    for view1 in ([enc], []):
        with pytest.raises(ClosedError, match="closed"):
            eng.decode(view1, enc)
    with pytest.raises(ClosedError, match="closed"):  # as Mast3rEngine's (it answered True)
        assert eng.has_descriptors is None  # never reached


def test_a_hugging_face_checkpoint_folder_is_remembered_by_its_files(tmp_path):
    """The checkpoint identity memo keyed files only: a Hugging Face folder (config.json +
    model.safetensors, the layout the official weights are published in) was never recorded,
    so every start with engines cached still loaded the whole checkpoint, unlike what
    docs/gpu.md: 'Jetson' says. Both files identify the folder's version: touching either
    forgets it."""
    import os

    from mast3r_ros.core.model.checkpoint import CheckpointInfo, model_string
    from mast3r_test_utils import TINY_SPEC

    folder = tmp_path / "hf"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes(b"x")
    info = CheckpointInfo(TINY_SPEC, "huggingface", model_string(TINY_SPEC), "abc123", "c0ffee")
    cache = str(tmp_path / "cache")
    os.makedirs(cache)
    tb.remember_checkpoint(cache, str(folder), info)
    got = tb.known_checkpoint(cache, str(folder))
    assert got is not None and (got.identity, got.layout, got.spec) == ("abc123",
                                                                        "huggingface", TINY_SPEC)
    for name in ("config.json", "model.safetensors"):
        st = os.stat(folder / name)
        os.utime(folder / name, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # replaced
        assert tb.known_checkpoint(cache, str(folder)) is None
        tb.remember_checkpoint(cache, str(folder), info)
        assert tb.known_checkpoint(cache, str(folder)) is not None
    os.remove(folder / "config.json")  # no longer a checkpoint folder: not known
    assert tb.known_checkpoint(cache, str(folder)) is None


@pytest.mark.parametrize("version", ["11.4.0", "12.0.0"])
def test_tensorrt_without_the_fp16_builder_flag_is_refused_before_any_export(
        monkeypatch, tiny_ckpt, tmp_path, version):
    """TensorRT 11 removed BuilderFlag.FP16 (strongly typed networks only): the build failed
    with an AttributeError after minutes of ONNX export. Now a ConfigError names the versions
    that work, before the checkpoint is read or anything is exported."""
    import torch
    from tensorrt_standin import make_tensorrt

    trt = make_tensorrt(version)
    assert not hasattr(trt.BuilderFlag, "FP16")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(tb, "resolve_device", lambda d: torch.device("cuda", 0))
    monkeypatch.setattr(tb, "engines_for_checkpoint",
                        lambda *a, **k: pytest.fail("engines looked up before the refusal"))
    with pytest.raises(ConfigError, match=rf"TensorRT {version} no longer has .*tensorrt<11"):
        tb.TensorRTEngine.from_checkpoint(tiny_ckpt, device="cuda", size=224,
                                          net_shape=(224, 224), cache_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="FP16 builder flag"):
        tb.build_plan(trt, str(tmp_path / "never_read.onnx"))
    tb.require_fp16_builder(make_tensorrt("10.3.0"))  # 8.6 to 10.x: accepted


@pytest.mark.parametrize("trt_version,dynamo,pkgs", [
    ("8.6.1", True, "onnx"),  # TensorRT 8: the TorchScript export, onnx only
    ("10.3.0", False, "onnx"),  # torch < 2.6 (Jetson's): the TorchScript export
    ("10.3.0", True, "onnx onnxscript")])
def test_no_onnx_is_refused_before_the_checkpoint_is_read_or_a_folder_made(
        monkeypatch, tmp_path, trt_version, dynamo, pkgs):
    """Without onnx (a fresh Jetson) the whole checkpoint was read and hashed (2.7 GB for
    ViT-L) before the export refused, and an empty <cache>/<key>/ folder was left; the install
    line asked for onnxscript also where the TorchScript export needs onnx only."""
    from mast3r_ros.core.model import export
    from tensorrt_standin import make_tensorrt

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    monkeypatch.setattr(export, "dynamo_exporter_available", lambda: dynamo)
    monkeypatch.setattr(tb, "load_checkpoint",
                        lambda *a, **k: pytest.fail("checkpoint read before the refusal"))
    trt = make_tensorrt(trt_version)
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match=rf"needs the onnx package: pip install {pkgs} \("):
        tb.engines_for_checkpoint(str(tmp_path / "m.pth"), str(cache),
                                  lambda cid: _fields(identity=cid), trt)
    assert not cache.exists()


def test_an_engine_cache_that_cannot_be_made_is_named_before_the_checkpoint_is_read(
        monkeypatch, tmp_path):
    """An engine_cache under a file (or a service user's unwritable ~/.cache) failed with a
    bare NotADirectoryError from os.makedirs after the checkpoint was loaded and hashed."""
    from tensorrt_standin import make_tensorrt

    monkeypatch.setattr(tb, "require_onnx", lambda exporter: None, raising=False)
    monkeypatch.setattr(tb, "load_checkpoint",
                        lambda *a, **k: pytest.fail("checkpoint read before the refusal"))
    (tmp_path / "file").write_text("")
    bad = str(tmp_path / "file" / "x")
    with pytest.raises(ConfigError, match=rf"engine cache {bad} cannot be used .*'engine_cache'"):
        tb.engines_for_checkpoint(str(tmp_path / "m.pth"), bad,
                                  lambda cid: _fields(identity=cid), make_tensorrt("10.3.0"))
