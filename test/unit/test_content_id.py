"""The full-content checkpoint identity (`core.model.content_id`) that keys the TensorRT engine
cache and names the checkpoint in an ONNX export's manifest: it must change when any one weight
changes. The sampled `checkpoint.fingerprint` (~1k strided values a tensor) did not, so an
engine built from the earlier weights was reused after a sparse fine-tune."""

from __future__ import annotations

import copy
import json
import os
import shutil

import pytest
import torch

from mast3r_ros.core.model import export as ex
from mast3r_ros.core.model import tensorrt_backend as tb
from mast3r_ros.core.model.checkpoint import fingerprint, model_string
from mast3r_ros.core.model.content_id import content_identity


def _sd():
    g = torch.Generator().manual_seed(0)
    return {"a.weight": torch.randn(64, 48, generator=g), "a.bias": torch.randn(48, generator=g),
            "n": torch.tensor(3, dtype=torch.int64)}


def test_one_unsampled_value_changes_the_content_id():
    base = content_identity(_sd(), "M")
    assert content_identity(_sd(), "M", workers=1) == base and len(base) == 32
    assert content_identity(dict(reversed(list(_sd().items()))), "M") == base  # key order
    changed = _sd()
    changed["a.weight"].view(-1)[1] += 1e-3  # between the sampled values (stride 3)
    assert fingerprint(changed, "M") == fingerprint(_sd(), "M")  # the gap it closes
    assert content_identity(changed, "M") != base
    for other in ({**_sd(), "a.bias": _sd()["a.bias"].double()},      # dtype
                  {**_sd(), "a.weight": _sd()["a.weight"].reshape(48, 64)},  # shape
                  {("b" if k == "n" else k): v for k, v in _sd().items()}):  # name
        assert content_identity(other, "M") != base
    assert content_identity(_sd(), "N") != base  # another architecture string


def _unsampled_index(sd) -> str:
    """The largest tensor's name: its flat value 1 lies between the values `fingerprint`
    samples."""
    name = max(sd, key=lambda k: sd[k].numel())
    assert sd[name].numel() // 1024 >= 2
    return name


def _unsampled_change(sd) -> None:
    """Add 1e-3 to one value of ``sd`` that `fingerprint` does not sample (in place)."""
    with torch.no_grad():
        sd[_unsampled_index(sd)].view(-1)[1] += 1e-3


class _FakeTrt:
    __version__ = "10.3.0"


@pytest.fixture
def cheap_builds(monkeypatch):
    """The engine build without its minutes: the export writes empty graphs, the "plan" is a
    few bytes; each build is recorded."""
    builds = []

    def export(model, out_dir, **kw):
        os.makedirs(out_dir)
        for f in (tb.ENCODER_FILE, tb.DECODER_FILE):
            open(os.path.join(out_dir, f), "wb").close()

    def build(trt, onnx_path, fp16=True):
        builds.append(onnx_path)
        return b"plan"

    monkeypatch.setattr(tb, "export_onnx", export)
    monkeypatch.setattr(tb, "build_plan", build)
    return builds


def _fields_for(identity):
    return tb.cache_fields(identity, 224, (224, 224), 1, "stand-in sm_00", "10.3.0")


def test_a_one_value_fine_tune_builds_new_engines(tmp_path, tiny_ckpt, cheap_builds):
    """Same file path, one weight changed where the sampled id does not look: the engines of the
    earlier weights were taken (same key); now the key differs and they are built again."""
    ckpt, cache = str(tmp_path / "m.pth"), str(tmp_path / "cache")
    shutil.copyfile(tiny_ckpt, ckpt)
    d1, info1 = tb.engines_for_checkpoint(ckpt, cache, _fields_for, _FakeTrt)
    assert len(cheap_builds) == 2 and info1.content_id
    assert tb.engines_for_checkpoint(ckpt, cache, _fields_for, _FakeTrt)[0] == d1
    assert len(cheap_builds) == 2  # cached, and the file's id remembered

    obj = torch.load(ckpt, weights_only=False)
    _unsampled_change(obj["model"])
    torch.save(obj, ckpt)
    st = os.stat(ckpt)
    os.utime(ckpt, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a new file version
    d2, info2 = tb.engines_for_checkpoint(ckpt, cache, _fields_for, _FakeTrt)
    assert info2.identity == info1.identity  # the sampled id cannot tell them apart
    assert info2.content_id != info1.content_id and d2 != d1
    assert len(cheap_builds) == 4


def test_engines_and_records_of_the_sampled_id_are_rebuilt_not_used(tmp_path, tiny_ckpt,
                                                                     tiny_engine, cheap_builds):
    """A cache written before: its engine folder keyed by the sampled id and a file record
    without a content id. The start loads and hashes the checkpoint, builds engines under the
    new key (the old folder is left alone) and records the content id; nothing raises."""
    cache = str(tmp_path / "cache")
    old_fields = _fields_for(tiny_engine.identity)
    old = os.path.join(cache, tb.cache_key(old_fields))
    os.makedirs(old)
    for f in (tb.ENCODER_PLAN, tb.DECODER_PLAN):
        open(os.path.join(old, f), "wb").close()
    with open(os.path.join(old, tb.KEY_FILE), "w") as fh:
        json.dump(old_fields, fh)
    record = {"identity": tiny_engine.identity, "layout": "official",
              "model_string": model_string(tiny_engine.model.spec)}
    with open(os.path.join(cache, tb.CHECKPOINT_IDS), "w") as fh:
        json.dump({tb._file_key(tiny_ckpt): record}, fh)
    assert tb.known_checkpoint(cache, tiny_ckpt) is None  # no content id: not trusted
    d, got = tb.engines_for_checkpoint(tiny_ckpt, cache, _fields_for, _FakeTrt)
    assert d != old and len(cheap_builds) == 2 and got.identity == tiny_engine.identity
    assert sorted(os.listdir(old)) == sorted([tb.KEY_FILE, tb.ENCODER_PLAN, tb.DECODER_PLAN])
    assert tb.known_checkpoint(cache, tiny_ckpt).content_id == got.content_id


def test_the_export_manifest_names_every_weight(tmp_path, tiny_engine, monkeypatch):
    """Two networks one value apart get two manifest identities (the sampled id, or
    'unsaved-model' without a checkpoint, was the same for both); an earlier export's folder,
    whose manifest held the sampled id, is replaced."""
    monkeypatch.setattr(ex, "_onnx_export", lambda mod, args, path, *a, **k: open(path, "wb")
                        .close())
    monkeypatch.setattr(ex, "_outputs", lambda *a, **k: [])
    monkeypatch.setattr(ex, "resolve_exporter", lambda e: ("torchscript", 17))
    model = copy.deepcopy(tiny_engine.model)
    out = tmp_path / "onnx"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps(
        {"format": "mast3r_ros-onnx", "checkpoint_identity": tiny_engine.identity}))
    ids = []
    for _ in range(2):
        res = ex.export_onnx(model, str(out), size=224, net_shape=(224, 224), keyframe_batch=1)
        ids.append(ex.read_manifest(str(out))["checkpoint_identity"])
        assert res.manifest["checkpoint_identity"] == ids[-1]
        _unsampled_change(dict(model.named_parameters()))
    assert ids[0] != ids[1] and len(ids[0]) == 32


def test_the_last_byte_and_a_reinterpreted_dtype_change_the_content_id():
    """Every byte counts (not a prefix), and the same bytes read as another dtype are another
    network."""
    base = content_identity(_sd(), "M")
    changed = _sd()
    changed["a.weight"].view(-1)[-1] += 1e-3
    assert content_identity(changed, "M") != base
    same_bytes = {**_sd(), "a.bias": _sd()["a.bias"].view(torch.int32)}
    assert content_identity(same_bytes, "M") != base


def test_a_start_with_cached_engines_loads_nothing(tmp_path, tiny_ckpt, cheap_builds,
                                                    monkeypatch):
    """The remembered content id finds the engines: the checkpoint is neither loaded nor
    hashed again (seconds for ViT-L at every start)."""
    ckpt, cache = str(tmp_path / "m.pth"), str(tmp_path / "cache")
    shutil.copyfile(tiny_ckpt, ckpt)
    d1, _ = tb.engines_for_checkpoint(ckpt, cache, _fields_for, _FakeTrt)
    monkeypatch.setattr(tb, "load_checkpoint", lambda *a, **k: pytest.fail("loaded again"))
    assert tb.engines_for_checkpoint(ckpt, cache, _fields_for, _FakeTrt)[0] == d1


def test_a_record_of_ids_hashed_with_the_file_string_is_not_used(tmp_path, tiny_ckpt,
                                                                  tiny_engine, cheap_builds):
    """The ids once hashed the file's own args.model; they now hash the canonical string, so a
    file whose args.model is written otherwise got new ids. Its record from before (no
    ``id_scheme``) still named the old ones, and a TensorRT start with engines cached under them
    used it without loading the file: that backend kept the old sampled id while torch loads
    gave the new one, so one map's encodings were computed twice. Such a record is not used:
    the file is loaded again and the ids it gives are recorded."""
    cache = str(tmp_path / "cache")
    old_content = "0" * 32
    old_fields = _fields_for(old_content)
    old = os.path.join(cache, tb.cache_key(old_fields))
    os.makedirs(old)
    for f in (tb.ENCODER_PLAN, tb.DECODER_PLAN):
        open(os.path.join(old, f), "wb").close()
    with open(os.path.join(old, tb.KEY_FILE), "w") as fh:
        json.dump(old_fields, fh)
    record = {"identity": "0123456789abcdef", "content_id": old_content, "layout": "official",
              "model_string": model_string(tiny_engine.model.spec)}  # as written before
    with open(os.path.join(cache, tb.CHECKPOINT_IDS), "w") as fh:
        json.dump({tb._file_key(tiny_ckpt): record}, fh)
    assert tb.known_checkpoint(cache, tiny_ckpt) is None
    d, got = tb.engines_for_checkpoint(tiny_ckpt, cache, _fields_for, _FakeTrt)
    assert d != old and got.identity == tiny_engine.identity
    assert got.content_id != old_content
    again = tb.known_checkpoint(cache, tiny_ckpt)  # recorded under this scheme: used
    assert (again.identity, again.content_id) == (got.identity, got.content_id)
