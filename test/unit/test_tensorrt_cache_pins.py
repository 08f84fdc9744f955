"""Pins from a mutation audit of the TensorRT backend's engine cache (no export, no network:
each test runs in well under a second): the key's hash covers every field, a folder counts as
built only with both plans and a readable key file written last, the remembered checkpoint
identities keep the newest files, the GPU model in the key carries the compute capability, and
the builder pins exactly TensorRT's unary and reduction layers to fp32."""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch

from mast3r_ros.core.errors import ConfigError
from mast3r_ros.core.model import tensorrt_backend as tb
from mast3r_ros.core.model.checkpoint import CheckpointInfo, model_string
from mast3r_ros.core.model.network import ModelSpec
from tensorrt_standin import make_tensorrt


def _fields(**over):
    f = dict(identity="0123456789abcdef", size=512, net_shape=(384, 512), keyframe_batch=2,
             gpu="NVIDIA H200 sm_90", trt_version="10.3.0")
    f.update(over)
    return tb.cache_fields(**f)


def _digest(key: str) -> str:
    return key.rsplit("-", 1)[1]


def test_the_keys_hash_covers_every_field_not_only_its_readable_prefix():
    """The readable prefix holds only the identity's first 12 characters and the size: two
    checkpoints whose identities share those (or one size at two network shapes) must still
    get different folders, so every field has to change the hash itself."""
    base = _digest(tb.cache_key(_fields()))
    for over in (dict(identity="0123456789abffff"), dict(size=384), dict(net_shape=(288, 512)),
                 dict(keyframe_batch=3), dict(gpu="NVIDIA H200 sm_89"),
                 dict(trt_version="10.3.1"), dict(precision="fp32")):
        assert _digest(tb.cache_key(_fields(**over))) != base, over


def _write(d, fields, key=True, plans=(tb.ENCODER_PLAN, tb.DECODER_PLAN)):
    d.mkdir(parents=True, exist_ok=True)
    if key:
        (d / tb.KEY_FILE).write_text(json.dumps(fields))
    for p in plans:
        (d / p).write_bytes(b"x")


def test_a_folder_with_one_plan_or_an_unreadable_key_file_is_built_again(tmp_path):
    f = _fields()
    d = tmp_path / tb.cache_key(f)
    for plans in ((tb.ENCODER_PLAN,), (tb.DECODER_PLAN,)):  # a build cut short
        _write(d, f, plans=plans)
        assert tb.cached_engines(str(tmp_path), f) is None, plans
        for p in plans:
            (d / p).unlink()
    _write(d, f)
    assert tb.cached_engines(str(tmp_path), f) == str(d)
    for damaged in (b"{not json", b"\xff\xfe not utf-8", b"[1, 2]"):
        (d / tb.KEY_FILE).write_bytes(damaged)
        assert tb.cached_engines(str(tmp_path), f) is None, damaged


def _onnx_writer(bad_decoder=False):
    """An `export_onnx` stand-in writing two tiny ONNX graphs: Exp, ReduceSum and MatMul nodes
    (a unary, a reduction and another layer), or an unparsable decoder."""
    import onnx
    from onnx import TensorProto, helper

    def graph():
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1])
        nodes = [helper.make_node("Exp", ["x"], ["e"], name="exp"),
                 helper.make_node("MatMul", ["e", "x"], ["m"], name="matmul"),
                 helper.make_node("ReduceSum", ["m"], ["y"], name="reduce", keepdims=1,
                                  axes=[1])]
        g = helper.make_graph(nodes, "g", [x], [y])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)])

    def export(model, out_dir, *, size, net_shape, keyframe_batch, info, exporter):
        os.makedirs(out_dir)
        onnx.save(graph(), os.path.join(out_dir, "encoder.onnx"))
        if bad_decoder:
            with open(os.path.join(out_dir, "decoder.onnx"), "wb") as fh:
                fh.write(b"not an onnx file")
        else:
            onnx.save(graph(), os.path.join(out_dir, "decoder.onnx"))
    return export


def test_engines_pin_unary_and_reduce_layers_and_follow_the_precision_field(tmp_path,
                                                                            monkeypatch):
    pytest.importorskip("onnx")
    trt = make_tensorrt("10.3.0")
    monkeypatch.setattr(tb, "export_onnx", _onnx_writer())
    f16 = _fields(trt_version=trt.__version__)
    d = tb.ensure_engines(None, None, str(tmp_path), f16, trt)
    assert sorted(os.listdir(d)) == sorted([tb.KEY_FILE, tb.ENCODER_PLAN, tb.DECODER_PLAN])
    for b in trt.builds:
        assert {"fp16", "prefer_precision_constraints"} <= set(b["flags"])
        assert sorted(b["fp32_layers"]) == ["exp", "reduce"]  # not the matmul
    n = len(trt.builds)
    f32 = _fields(trt_version=trt.__version__, precision="fp32")
    tb.ensure_engines(None, None, str(tmp_path), f32, trt)
    for b in trt.builds[n:]:
        assert "fp16" not in b["flags"] and not b["fp32_layers"]


def test_a_failed_build_leaves_no_key_file_so_the_next_start_builds_again(tmp_path,
                                                                         monkeypatch):
    """key.json marks the folder complete: written after both plans, never before."""
    pytest.importorskip("onnx")
    trt = make_tensorrt("10.3.0")
    monkeypatch.setattr(tb, "export_onnx", _onnx_writer(bad_decoder=True))
    f = _fields(trt_version=trt.__version__)
    with pytest.raises(ConfigError, match="cannot parse"):
        tb.ensure_engines(None, None, str(tmp_path), f, trt)
    d = tmp_path / tb.cache_key(f)
    assert not (d / tb.KEY_FILE).exists()
    assert tb.cached_engines(str(tmp_path), f) is None


def test_the_gpu_model_names_the_compute_capability(monkeypatch):
    """One GPU name can come with two capabilities (an H100 PCIe and a MIG slice report the
    same name on some drivers; Jetson modules share names): engines are per capability."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev=None: (8, 7))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: "Orin")
    assert tb.gpu_model(torch.device("cuda", 0)) == "Orin sm_87"


def _info():
    spec = ModelSpec(enc_embed_dim=32, enc_depth=2, enc_num_heads=2, dec_embed_dim=32,
                     dec_depth=10, dec_num_heads=2)
    return CheckpointInfo(spec, "official", model_string(spec), "id", "content")


def test_remembered_identities_keep_the_newest_files(tmp_path):
    """At most `_CHECKPOINT_IDS_KEPT` files are remembered: the least recently remembered one
    is forgotten, and remembering a file again makes it the newest."""
    cache = tmp_path / "cache"
    cache.mkdir()
    files = []
    for i in range(tb._CHECKPOINT_IDS_KEPT + 1):
        p = tmp_path / f"m{i}.pth"
        p.write_bytes(b"x")
        files.append(str(p))
    info = _info()
    for p in files[:tb._CHECKPOINT_IDS_KEPT]:
        tb.remember_checkpoint(str(cache), p, info)
    tb.remember_checkpoint(str(cache), files[0], info)  # seen again: now the newest
    tb.remember_checkpoint(str(cache), files[-1], info)  # one too many: the oldest goes
    assert tb.known_checkpoint(str(cache), files[0]) is not None
    assert tb.known_checkpoint(str(cache), files[1]) is None
    assert tb.known_checkpoint(str(cache), files[-1]).identity == "id"
    table = json.loads((cache / tb.CHECKPOINT_IDS).read_text())
    assert len(table) == tb._CHECKPOINT_IDS_KEPT


def test_a_changed_checkpoint_file_is_not_taken_for_the_remembered_one(tmp_path):
    """The record is keyed by path, size, modification time and inode: a file replaced in
    place with new weights (same path) must be loaded again, whichever of them changed."""
    cache = tmp_path / "cache"
    cache.mkdir()
    p = tmp_path / "m.pth"
    p.write_bytes(b"xx")
    tb.remember_checkpoint(str(cache), str(p), _info())
    st = os.stat(p)
    assert tb.known_checkpoint(str(cache), str(p)) is not None
    p.write_bytes(b"xxx")  # another size, same modification time
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert tb.known_checkpoint(str(cache), str(p)) is None
    q = tmp_path / "new.pth"  # same size and time, another inode, renamed over it
    q.write_bytes(b"xx")
    os.utime(q, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(q, p)
    assert os.stat(p).st_ino != st.st_ino
    assert tb.known_checkpoint(str(cache), str(p)) is None


def test_a_start_keys_its_engines_by_this_gpu_tensorrt_size_shape_and_batch(monkeypatch):
    """`TensorRTEngine.from_checkpoint` (CUDA faked: nothing runs on it) asks the cache for the
    fields of this start, each from its own source: a stale engine of another GPU, TensorRT,
    image size, network shape or keyframe batch must not be loaded."""
    trt = make_tensorrt("10.3.0")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(tb, "resolve_device", lambda d: torch.device("cuda", 1))
    monkeypatch.setattr(tb, "gpu_model", lambda dev: f"GPU of {dev} sm_87")
    asked = []

    class Stop(Exception):
        pass

    def engines_for_checkpoint(path, cache_dir, fields_for, trt_):
        asked.append((path, cache_dir, fields_for("the-id"), trt_))
        raise Stop

    monkeypatch.setattr(tb, "engines_for_checkpoint", engines_for_checkpoint)
    with pytest.raises(Stop):
        tb.TensorRTEngine.from_checkpoint("m.pth", "cuda:1", size=384, net_shape=(288, 384),
                                          keyframe_batch=4, cache_dir="/c")
    assert asked == [("m.pth", "/c", tb.cache_fields("the-id", 384, (288, 384), 4,
                                                     "GPU of cuda:1 sm_87", "10.3.0"), trt)]


def test_an_architecture_the_model_string_cannot_carry_is_not_remembered(tmp_path):
    """The record keeps the model string; a spec it does not carry (an MLP ratio other than
    4) would come back as another architecture on the next start: such a checkpoint is loaded
    each time instead."""
    import dataclasses

    p = tmp_path / "m.pth"
    p.write_bytes(b"x")
    info = _info()
    odd = dataclasses.replace(info, spec=dataclasses.replace(info.spec, mlp_ratio=2.0))
    tb.remember_checkpoint(str(tmp_path), str(p), odd)
    assert tb.known_checkpoint(str(tmp_path), str(p)) is None
    tb.remember_checkpoint(str(tmp_path), str(p), info)
    assert tb.known_checkpoint(str(tmp_path), str(p)).spec == info.spec


def test_a_tensorrt_without_either_weak_typing_flag_is_refused():
    """Both flags are used (FP16 and PREFER_PRECISION_CONSTRAINTS): a TensorRT lacking only
    one failed later, in the build, with an AttributeError."""
    import types

    for names in (("FP16",), ("PREFER_PRECISION_CONSTRAINTS",)):
        trt = types.SimpleNamespace(__version__="x", BuilderFlag=types.SimpleNamespace(
            **{n: n for n in names}))
        with pytest.raises(ConfigError, match="FP16 builder flag"):
            tb.require_fp16_builder(trt)


def test_a_tensorrt_engine_refuses_keyframes_encoded_by_another_checkpoint():
    """As the torch engine: another network's features decode into garbage, for any of the
    K keyframes (the decoder is not run)."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.model.engine import Encoding
    from mast3r_test_utils import TINY_SPEC

    eng = tb.TensorRTEngine.__new__(tb.TensorRTEngine)  # no TensorRT here: the loaded state
    eng.device, eng.spec, eng.identity = torch.device("cpu"), TINY_SPEC, "abc123"
    eng.net_shape, eng.keyframe_batch = (32, 32), 2
    eng._dec = lambda **feeds: pytest.fail("decoded")

    def enc(identity):
        return Encoding(torch.zeros((4, TINY_SPEC.enc_embed_dim)), (32, 32), identity)

    for view1, view2 in (([enc("abc123"), enc("other")], enc("abc123")),
                         ([enc("abc123")], enc("other"))):
        with pytest.raises(InputError, match="encoded by another checkpoint"):
            eng.decode(view1, view2)


def test_a_tensorrt_engine_refuses_a_transposed_view_of_as_many_tokens():
    """Engines built for (H, W) = (32, 48): views of (48, 32) have as many tokens (6), so the
    engine's input shapes do not tell them apart; decoded, they would be garbage."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.model.engine import Encoding
    from mast3r_test_utils import TINY_SPEC

    eng = tb.TensorRTEngine.__new__(tb.TensorRTEngine)
    eng.device, eng.spec, eng.identity = torch.device("cpu"), TINY_SPEC, "abc123"
    eng.net_shape, eng.keyframe_batch = (32, 48), 2
    eng._dec = lambda **feeds: pytest.fail("decoded")

    def enc(hw):
        return Encoding(torch.zeros((6, TINY_SPEC.enc_embed_dim)), hw, "abc123")

    with pytest.raises(InputError, match="cannot be decoded against a query"):
        eng.decode([enc((32, 48)), enc((48, 32))], enc((32, 48)))
    with pytest.raises(InputError, match=r"engines are built for \(32, 48\)"):
        eng.decode([enc((48, 32))], enc((48, 32)))
