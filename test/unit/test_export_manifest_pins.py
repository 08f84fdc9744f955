"""Pins from a mutation audit of the ONNX export's manifest and target checks, run without an
export (the graphs are written by a stand-in for torch's exporter: each test takes about a
second): what the manifest records for a non-square network and a keyframe batch K, and which
folders an export may replace."""

from __future__ import annotations


import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.model import export as ex


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
