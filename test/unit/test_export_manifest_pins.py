"""Pins from a mutation audit of the ONNX export's manifest and target checks, run without an
export (the graphs are written by a stand-in for torch's exporter: each test takes about a
second): what the manifest records for a non-square network and a keyframe batch K, and which
folders an export may replace."""

from __future__ import annotations


import os

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.model import export as ex
from mast3r_test_utils import TINY_SPEC, random_model


def test_a_manifest_json_that_is_not_an_object_is_not_an_export(tmp_path, capsys,
                                                                 monkeypatch):
    """Another tool's manifest.json holding a JSON list made `read_manifest` crash with
    AttributeError ('list' object has no attribute 'get'): `export --overwrite` ended in a
    traceback (exit 1) instead of the one-line refusal."""
    from mast3r_ros.core.model import checkpoint
    from mast3r_ros.replay.cli import main

    read = []
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda *a, **k: read.append(a))
    out = tmp_path / "other"
    out.mkdir()
    for name in ("encoder.onnx", "decoder.onnx"):
        (out / name).write_bytes(b"")
    for text in ("[1, 2]", '"mast3r_ros-onnx"', "null"):
        (out / "manifest.json").write_text(text)
        with pytest.raises(InputError, match="not a mast3r_ros ONNX manifest"):
            ex.read_manifest(str(out))
        with pytest.raises(InputError, match="is not an ONNX export"):
            ex.check_export_target(str(out))
        rc = main(["export", str(tmp_path / "none.pth"), "--out", str(out), "--overwrite"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and "is not an ONNX export" in err[0], (text, err)
    assert not read and sorted(p.name for p in out.iterdir()) == [
        "decoder.onnx", "encoder.onnx", "manifest.json"]


@pytest.fixture(scope="module")
def tiny(one_torch_thread):
    return random_model(TINY_SPEC)


def _fake_exporter(monkeypatch, calls, fail_on=None, also=None):
    """torch's exporter replaced by one writing ``graph <file>`` (no ONNX: the manifest's output
    entries then come from a forward of the tiny network); ``fail_on``: the file whose export
    raises; ``also(path)``: run after each file is written."""
    def fake(module, args, path, in_names, out_names, opset, exporter="dynamo"):
        name = os.path.basename(path)
        calls.append(name)
        if name == fail_on:
            raise RuntimeError("exporter failed")
        with open(path, "w") as fh:
            fh.write(f"graph {name}")
        if also:
            also(path)
    monkeypatch.setattr(ex, "_onnx_export", fake)
    monkeypatch.setattr(ex, "resolve_exporter", lambda e="auto": ("torchscript", 17))


def test_the_manifest_of_a_non_square_network_and_k_keyframes(tmp_path, monkeypatch, tiny):
    """(H, W) = (32, 48), K = 3: the shapes are (H, W) everywhere, the decoder's inputs carry
    K and the N = (H/16)*(W/16) tokens, and each file's own sha256 is recorded."""
    from mast3r_ros.core.fileio import file_sha256

    calls = []
    _fake_exporter(monkeypatch, calls)
    res = ex.export_onnx(tiny, str(tmp_path / "out"), size=512,
                         net_shape=(32, 48), keyframe_batch=3)
    m = ex.read_manifest(str(tmp_path / "out"))
    assert m == res.manifest and calls == ["encoder.onnx", "decoder.onnx"]
    assert m["net_shape_hw"] == [32, 48] and m["keyframe_batch"] == 3 and m["size"] == 512
    enc, dec = m["files"]["encoder"], m["files"]["decoder"]
    assert enc["inputs"] == [{"name": "image", "shape": [1, 3, 32, 48], "dtype": "float32"}]
    assert enc["outputs"][0]["shape"] == [1, 6, 32]
    assert [i["shape"] for i in dec["inputs"]] == [[3, 6, 32], [1, 6, 32]]
    shapes = {o["name"]: o["shape"] for o in dec["outputs"]}
    assert shapes["pts3d_1"] == [3, 32, 48, 3] and shapes["desc_2"] == [3, 32, 48, 24]
    for entry in (enc, dec):
        assert entry["sha256"] == file_sha256(str(tmp_path / "out" / entry["file"]))
    assert enc["sha256"] != dec["sha256"]


@pytest.mark.parametrize("hw", [(32, 40), (40, 32), (32, 0), (0, 32), (-16, 32), (32, -16)])
def test_a_network_shape_that_is_not_positive_multiples_of_16_is_refused(tmp_path, hw):
    with pytest.raises(InputError, match="must be positive multiples of 16"):
        ex.export_onnx(object(), str(tmp_path / "x"), size=512, net_shape=hw)  # before the model
    assert not (tmp_path / "x").exists()


def test_a_failed_export_leaves_neither_its_staging_folder_nor_the_target(tmp_path,
                                                                        monkeypatch, tiny):
    calls = []
    _fake_exporter(monkeypatch, calls, fail_on="decoder.onnx")
    with pytest.raises(RuntimeError, match="exporter failed"):
        ex.export_onnx(tiny, str(tmp_path / "out"), size=224, net_shape=(32, 32))
    assert calls == ["encoder.onnx", "decoder.onnx"] and os.listdir(tmp_path) == []


def test_a_file_put_in_the_target_during_the_export_is_kept(tmp_path, monkeypatch, tiny):
    """The target is checked again just before it is replaced: a file the user put in the
    (empty) folder while the model was exported is not deleted."""
    out = tmp_path / "out"
    out.mkdir()
    calls = []
    _fake_exporter(monkeypatch, calls, also=lambda p: (out / "notes.txt").write_text("mine"))
    with pytest.raises(InputError, match="not an ONNX export"):
        ex.export_onnx(tiny, str(out), size=224, net_shape=(32, 32))
    assert os.listdir(out) == ["notes.txt"] and sorted(os.listdir(tmp_path)) == ["out"]
