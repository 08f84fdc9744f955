"""The TensorRT backend end to end on the CPU, through `tensorrt_standin` (TensorRT's Python API
executing the exported ONNX with onnxruntime): engines built and cached from the real export,
the named-tensor binding, batching of keyframes, and the outputs equal to the PyTorch engine
within the ONNX tolerances. TensorRT's own parser and fp16 kernels need a GPU (test/gpu)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from mast3r_ros.core.errors import ConfigError, InputError  # noqa: E402
from mast3r_ros.core.model import tensorrt_backend as tb  # noqa: E402
from mast3r_ros.core.model.engine import Mast3rEngine  # noqa: E402
from tensorrt_standin import make_tensorrt  # noqa: E402

NET = (224, 224)
KB = 2  # the engines' keyframe batch


@pytest.fixture(scope="module")
def loaded(tiny_ckpt):
    """`tiny_ckpt` read and its full-content id hashed once for both TensorRT versions."""
    from mast3r_ros.core.model.checkpoint import load_checkpoint
    from mast3r_ros.core.model.content_id import with_content_id

    model, info = load_checkpoint(tiny_ckpt)
    return model, with_content_id(model, info)


@pytest.fixture(scope="module", params=["10.3.0", "8.6.1"])
def built(request, loaded, tmp_path_factory, one_torch_thread, onnx_exports):
    """Engines built by `ensure_engines` for TensorRT 10 (dynamo export, opset 18) and 8.6
    (JetPack 6.0: TorchScript export, opset 17; no trt.int64), then loaded on the CPU. The
    ONNX export it asks for is copied from test_export's when that one has the same arguments
    (`onnx_exports`; the export itself is tested there), else made."""
    import shutil

    from mast3r_ros.core.model.export import resolve_exporter

    exporter = resolve_exporter(tb.exporter_for(request.param))[0]
    if exporter == "dynamo":
        pytest.importorskip("onnxscript")
    trt = make_tensorrt(request.param)
    mp = pytest.MonkeyPatch()
    mp.setitem(sys.modules, "tensorrt", trt)
    real_export = tb.export_onnx

    def export_once(model, out_dir, *, size, net_shape, keyframe_batch, info, exporter):
        key = (info.identity, size, tuple(net_shape), keyframe_batch,
               resolve_exporter(exporter)[0])
        if key in onnx_exports:
            shutil.copytree(onnx_exports[key], out_dir)
            return None
        res = real_export(model, out_dir, size=size, net_shape=net_shape,
                          keyframe_batch=keyframe_batch, info=info, exporter=exporter)
        keep = str(tmp_path_factory.mktemp("onnx_kept"))
        shutil.rmtree(keep)
        shutil.copytree(out_dir, keep)  # ensure_engines deletes its ONNX once built
        onnx_exports[key] = keep
        return res

    mp.setattr(tb, "export_onnx", export_once)
    model, info = loaded
    cache = str(tmp_path_factory.mktemp("trt"))
    fields = tb.cache_fields(info.content_id, 224, NET, KB, "stand-in sm_00", trt.__version__)
    d = tb.ensure_engines(model, info, cache, fields, trt)
    eng = tb.TensorRTEngine(d, model.spec, torch.device("cpu"), info.identity, info)
    yield trt, cache, fields, d, eng, model, info
    eng.close()
    mp.undo()


@pytest.fixture(scope="module")
def reference(tiny_engine):
    """The PyTorch engine of `tiny_ckpt` (the session's: one more read of the file saved)."""
    assert isinstance(tiny_engine, Mast3rEngine) and tiny_engine.device.type == "cpu"
    return tiny_engine


@pytest.fixture(scope="module")
def reference_outputs(reference, one_torch_thread):
    """The PyTorch engine's prepared images, encodings and decodes against 1, 2 and 3 keyframes
    for `test_outputs_equal_pytorch_for_any_number_of_keyframes`: the same for both TensorRT
    versions, so computed once (half of that test's time was these decodes)."""
    refs = [reference.prepare(_img(s), 224) for s in range(4)]
    encs = [reference.encode(i) for i in refs]
    return refs, encs, {k: reference.decode(encs[:k], encs[3]) for k in (1, 2, 3)}


def test_engines_are_built_into_a_complete_cache_folder(built):
    trt, cache, fields, d, eng, _, _ = built
    assert d == os.path.join(cache, tb.cache_key(fields))
    assert sorted(os.listdir(d)) == sorted([tb.KEY_FILE, tb.ENCODER_PLAN, tb.DECODER_PLAN])
    assert json.loads(open(os.path.join(d, tb.KEY_FILE)).read()) == fields
    enc, dec = trt.builds
    from mast3r_ros.core.model.export import resolve_exporter

    # TensorRT 8.x: TorchScript at opset 17; 10: this torch's 'auto' (dynamo at 18 from 2.6)
    want_opset = resolve_exporter(tb.exporter_for(trt.__version__))[1]
    assert enc["opset"] == dec["opset"] == want_opset
    for b in (enc, dec):
        assert {"fp16", "prefer_precision_constraints"} <= set(b["flags"])
    # the decoder's output activations (exp / expm1 / norms) are pinned to fp32
    assert dec["fp32_layers"] and "unary" in dec["layer_types"]
    assert eng.net_shape == NET and eng.keyframe_batch == KB


def test_second_start_loads_the_cache_and_a_changed_key_rebuilds(built):
    trt, cache, fields, d, _, model, info = built
    n = len(trt.builds)
    assert tb.ensure_engines(model, info, cache, fields, trt) == d
    assert len(trt.builds) == n  # loaded, not rebuilt
    if trt.__version__.startswith("10."):
        return  # the rebuild costs another export: once (the faster TorchScript one) is enough
    other = dict(fields, gpu="another GPU sm_87")
    d2 = tb.ensure_engines(model, info, cache, other, trt)
    assert d2 != d and len(trt.builds) == n + 2


def test_a_start_with_cached_engines_does_not_load_a_checkpoint_it_has_seen(built, tiny_ckpt,
                                                                          tmp_path, monkeypatch):
    """Every start loaded the whole checkpoint (2.7 GB for ViT-L: tens of seconds on a Jetson)
    only to learn its identity, even with the engines cached: the cache now remembers the
    identity of each checkpoint file it has seen (path, size, mtime, inode); a changed file, or
    an unreadable record, is loaded again."""
    import shutil

    trt, cache, fields, d, _, _, info = built
    ckpt = str(tmp_path / "model.pth")
    shutil.copyfile(tiny_ckpt, ckpt)
    loads = []
    real = tb.load_checkpoint

    def counting(path, **kw):
        loads.append(path)
        return real(path, **kw)

    monkeypatch.setattr(tb, "load_checkpoint", counting)

    def fields_for(identity):
        return tb.cache_fields(identity, 224, NET, KB, "stand-in sm_00", trt.__version__)

    n = len(trt.builds)
    assert tb.engines_for_checkpoint(ckpt, cache, fields_for, trt)[0] == d
    assert len(loads) == 1 and len(trt.builds) == n  # loaded once; the engines were cached
    got_d, got = tb.engines_for_checkpoint(ckpt, cache, fields_for, trt)
    assert got_d == d and len(loads) == 1  # not loaded again
    assert (got.identity, got.spec, got.layout) == (info.identity, info.spec, info.layout)
    st = os.stat(ckpt)
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # replaced / touched
    assert tb.engines_for_checkpoint(ckpt, cache, fields_for, trt)[0] == d
    assert len(loads) == 2
    with open(os.path.join(cache, tb.CHECKPOINT_IDS), "w") as fh:
        fh.write("{not json")
    assert tb.engines_for_checkpoint(ckpt, cache, fields_for, trt)[0] == d
    assert len(loads) == 3
    assert tb.known_checkpoint(cache, ckpt) is not None  # recorded again
    assert tb.known_checkpoint(cache, str(tmp_path / "missing.pth")) is None


def _img(seed, hw=NET):
    return np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)


def test_outputs_equal_pytorch_for_any_number_of_keyframes(built, reference_outputs):
    """1, 2 and 3 keyframes against engines of batch 2: padded, exact, split in two calls."""
    eng = built[4]
    eng.warmup([NET], [KB])
    imgs = [eng.prepare(_img(s), 224) for s in range(4)]
    refs, ref_encs, ref_decodes = reference_outputs
    for a, b in zip(imgs, refs):
        assert torch.equal(a.tensor, b.tensor)
    encs = [eng.encode(i) for i in imgs]
    assert encs[0].feats.shape == ref_encs[0].feats.shape
    assert (encs[0].feats - ref_encs[0].feats).abs().max() < 1e-4
    q = encs[3]
    for k in (1, 2, 3):
        got = eng.decode(encs[:k], q)
        want = ref_decodes[k]
        assert len(got) == k
        for g, w in zip(got, want):
            assert (g.desc_1 - w.desc_1).abs().max() < 1e-5
            assert (g.desc_2 - w.desc_2).abs().max() < 1e-5
            for f in ("conf_1", "desc_conf_1", "desc_conf_2"):
                a, b = getattr(g, f), getattr(w, f)
                assert ((a - b).abs() / b.abs()).max() < 5e-5, f
            rel = (g.pts3d_1 - w.pts3d_1).norm(dim=-1) / w.pts3d_1.norm(dim=-1)
            assert rel.max() < 1e-4
            assert g.pts3d_2 is None and g.conf_2 is None  # not produced for MASt3R


def test_cached_keyframe_encodings_in_float16_decode_too(built, reference):
    """A map's cached encodings stay float16 on the device (`Encoding.from_numpy`); the
    engine's fp32 input gets them converted."""
    from mast3r_ros.core.model.engine import Encoding

    eng = built[4]
    img = eng.prepare(_img(7), 224)
    e = eng.encode(img)
    cached = Encoding.from_numpy(e.to_numpy(), "cpu")
    assert cached.feats.dtype == torch.float16
    a = eng.decode([cached], e)[0]
    b = reference.decode([cached], reference.encode(reference.prepare(_img(7), 224)))[0]
    assert (a.desc_1 - b.desc_1).abs().max() < 1e-4


def test_a_query_of_another_size_is_an_input_error(built):
    eng = built[4]
    other = eng.prepare(_img(1, (240, 320)), 224)  # 224 is a square crop: still 224x224
    assert other.true_shape == NET
    wide = tb.Encoding(torch.zeros((12 * 16, 32)), (192, 256))
    with pytest.raises(InputError, match="TensorRT engines are built for"):
        eng.decode([wide], wide)
    with pytest.raises(InputError, match="cannot be decoded against"):
        eng.decode([eng.encode(other)], wide)


def test_a_damaged_cached_engine_names_the_folder_to_delete(built, tmp_path):
    _, _, _, d, _, model, info = built
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in (tb.KEY_FILE, tb.DECODER_PLAN):
        (bad / f).write_bytes(open(os.path.join(d, f), "rb").read())
    (bad / tb.ENCODER_PLAN).write_bytes(b"\0" * 64)  # a truncated / foreign plan
    with pytest.raises(ConfigError, match=r"could not load the engine .*encoder\.plan.*delete its"
                                          r" folder"):
        tb.TensorRTEngine(str(bad), model.spec, torch.device("cpu"), info.identity, info)


def test_exporter_follows_the_tensorrt_version():
    assert tb.exporter_for("8.6.2") == "torchscript"  # JetPack 6.0: parser reads opset <= 17
    assert tb.exporter_for("10.3.0") == "auto"
    assert tb.exporter_for("garbage") == "torchscript"
