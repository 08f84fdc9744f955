"""check-params warns when this machine cannot run the file's backend 'tensorrt'.

Before: `mast3r-ros check-params trt.yaml` with `backend: tensorrt` on a machine without
TensorRT said the file was valid, exit 0, without a word, and a node started here with it then
refused it at configure. Now it warns in the node's own words, and still exits 0: the file may
be meant for a robot that has TensorRT."""

from __future__ import annotations

import sys

import pytest

from mast3r_ros.core.errors import ConfigError
from mast3r_ros.core.model import tensorrt_runtime
from mast3r_ros.replay.cli import main


def _check(tmp_path, capsys, *lines):
    path = tmp_path / "trt.yaml"
    path.write_text("/**:\n  ros__parameters:\n" + "".join(f"    {x}\n" for x in lines))
    rc = main(["check-params", str(path)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_tensorrt_missing_here_is_a_warning_in_the_node_words(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` fails, as here
    with pytest.raises(ConfigError) as node:  # what the node's configure refuses with
        tensorrt_runtime.require_tensorrt_runtime("auto")
    rc, out, err = _check(tmp_path, capsys, "backend: tensorrt")
    assert rc == 0 and "valid for node" in out
    warning = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warning) == 1, err
    assert "this machine lacks what backend 'tensorrt' needs" in warning[0]
    assert "a node here would refuse the file at configure" in warning[0]
    assert str(node.value) in warning[0]
    assert "Not refused: on a robot with TensorRT and CUDA it runs" in warning[0]


def test_no_warning_where_tensorrt_runs_or_is_not_loaded(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tensorrt_runtime, "require_tensorrt_runtime", lambda device: (None,
                                                                                     device))
    rc, _, err = _check(tmp_path, capsys, "backend: tensorrt")
    assert rc == 0 and "tensorrt" not in err.lower(), err
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    # the sift matcher loads no network: the node never checks TensorRT then
    rc, _, err = _check(tmp_path, capsys, "backend: tensorrt", "matcher: sift")
    assert rc == 0 and "tensorrt" not in err.lower(), err
