"""ONNX export on the tiny network: files and manifest, and onnxruntime (CPU) outputs equal to
PyTorch fp32 within the issue's tolerances."""

from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_test_utils import TINY_SPEC, random_model  # noqa: E402
from mast3r_ros.core.model.export import (  # noqa: E402
    dynamo_exporter_available, export_onnx, read_manifest, resolve_exporter)
from mast3r_ros.core.model.preprocess import normalize  # noqa: E402

HW = (224, 224)
K = 2
# This torch's own exporter for 'auto': dynamo (opset 18) from torch 2.6, TorchScript (opset 17)
# on older ones -- NVIDIA's Jetson wheels, which the tests also run on (torch 2.1).
HAS_DYNAMO = dynamo_exporter_available()
AUTO = resolve_exporter("auto")
needs_dynamo = pytest.mark.skipif(not HAS_DYNAMO, reason=f"torch {torch.__version__} has no "
                                                         "dynamo ONNX exporter")


@pytest.fixture(scope="module")
def tiny_loaded(tiny_ckpt):
    """`tiny_ckpt` read once for the module ((model, info), ~1 s of CPU a read): the PyTorch
    reference of the exports, and what `read_once` hands the CLI runs."""
    from mast3r_ros.core.model.checkpoint import load_checkpoint

    return load_checkpoint(tiny_ckpt)


@pytest.fixture
def read_once(tiny_ckpt, tiny_loaded, monkeypatch):
    """The CLI's `load_checkpoint` of `tiny_ckpt` answered with `tiny_loaded`, for the tests
    whose ONNX writer is a stub: what they test is the folder, the stages, the bar and Ctrl-C
    after the read, not the read (test_checkpoint.py; the real exports above read the file)."""
    from mast3r_ros.core.model import checkpoint

    real, calls = checkpoint.load_checkpoint, []

    def load(path, *a, **k):
        calls.append(path)
        if os.path.realpath(path) == os.path.realpath(tiny_ckpt):
            return tiny_loaded
        return real(path, *a, **k)

    monkeypatch.setattr(checkpoint, "load_checkpoint", load)
    return calls


@pytest.fixture(scope="module")
def exported(tiny_ckpt, tiny_loaded, tmp_path_factory, one_torch_thread, onnx_exports):
    """One export (tens of seconds of CPU) through the CLI, shared by the tests (and with the
    TensorRT stand-in tests, `onnx_exports`)."""
    from mast3r_ros.replay.cli import main

    if HAS_DYNAMO:
        pytest.importorskip("onnxscript")
    out = tmp_path_factory.mktemp("onnx") / "tiny"
    out.mkdir()  # an existing export folder is replaced whole with --overwrite (a file it
    (out / "encoder.onnx.data").write_text("old")  # does not write, a user's, is refused)
    (out / "manifest.json").write_text('{"format": "mast3r_ros-onnx"}')  # an earlier export
    (out / "encoder.onnx").write_bytes(b"old")
    (out / "decoder.onnx").write_bytes(b"old")
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", tiny_ckpt, "--out", str(out), "--size", "224",
                     "--keyframe-batch", str(K), "--log-level", "warning", "--overwrite"]) == 0
    # the result line on stdout whatever the log level (it was an INFO log line only)
    assert printed.getvalue().startswith(f"export {out}: network 224x224, keyframe batch {K}, ")
    model, info = tiny_loaded
    m = read_manifest(str(out))
    onnx_exports[(info.identity, 224, HW, K, m["exporter"])] = str(out)
    return model, info, out


def _torch_2_1_export(real):
    """`torch.onnx.export` with torch 2.1's parameters (no ``dynamo``, no ``optimize``): what
    NVIDIA's Jetson wheels (torch 2.1-2.4) have. Passing ``dynamo`` is a TypeError there."""
    calls = []

    def export(model, args, f, export_params=True, verbose=False, training=None,
               input_names=None, output_names=None, operator_export_type=None,
               opset_version=None, do_constant_folding=True, dynamic_axes=None,
               keep_initializers_as_inputs=None, custom_opsets=None,
               export_modules_as_functions=False):
        calls.append(opset_version)
        kw = {"dynamo": False} if "dynamo" in inspect.signature(real).parameters else {}
        return real(model, args, f, input_names=input_names, output_names=output_names,
                    opset_version=opset_version, do_constant_folding=do_constant_folding, **kw)
    export.calls = calls
    return export


@pytest.fixture(scope="module")
def exported_torchscript(tiny_ckpt, tiny_loaded, tmp_path_factory, one_torch_thread,
                         onnx_exports):
    """The same export on a torch without the dynamo exporter (torch 2.1's signature): 'auto'
    takes the TorchScript exporter at opset 17 (seconds). Run at the default log level with
    each graph's ``forward`` counted, so that `test_export_says_each_stage_and_its_time`
    reads its stages from this export instead of paying for a TorchScript export of its own,
    and the TensorRT 8.6 stand-in tests (`onnx_exports`) copy it instead of exporting again
    (torch 2.1's parameters give the same graph: the product passes no others):
    (model, info, out folder, forward calls, stderr lines)."""
    import contextlib
    import functools
    import io

    from mast3r_ros.core.model import export as export_mod
    from mast3r_ros.replay.cli import main

    calls = []

    def counted(graph):
        @functools.wraps(graph.forward)  # the exporter reads the signature
        def forward(self, *args):
            calls.append(graph.__name__)
            return real(self, *args)
        real = graph.forward
        return forward

    out = tmp_path_factory.mktemp("onnx_ts") / "tiny"
    mp = pytest.MonkeyPatch()
    old = _torch_2_1_export(torch.onnx.export)
    mp.setattr(torch.onnx, "export", old)
    for graph in (export_mod.EncoderGraph, export_mod.DecoderGraph):
        mp.setattr(graph, "forward", counted(graph))
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            assert main(["export", tiny_ckpt, "--out", str(out), "--size", "224",
                         "--keyframe-batch", str(K)]) == 0
    finally:
        mp.undo()
    assert old.calls == [17, 17]  # encoder, decoder
    model, info = tiny_loaded
    onnx_exports[(info.identity, 224, HW, K, "torchscript")] = str(out)
    return model, info, out, calls, err.getvalue().splitlines()


def test_exporter_follows_the_torch_version(monkeypatch):
    from mast3r_ros.core.errors import ConfigError
    from mast3r_ros.core.model import export as ex
    from mast3r_ros.replay import export as cli_export

    assert cli_export.EXPORTERS == ex.EXPORTERS  # the CLI spells them out (no torch import)
    # dynamo where this torch has it (2.6+), else TorchScript
    assert ex.resolve_exporter("auto") == (("dynamo", 18) if HAS_DYNAMO else ("torchscript", 17))
    assert ex.resolve_exporter("torchscript") == ("torchscript", 17)
    with pytest.raises(ConfigError, match="exporter must be one of"):
        ex.resolve_exporter("onnxruntime")
    monkeypatch.setattr(torch.onnx, "export", _torch_2_1_export(torch.onnx.export))
    assert ex.resolve_exporter("auto") == ("torchscript", 17)
    with pytest.raises(ConfigError, match=r"needs torch >= 2.6 .*--exporter torchscript"):
        ex.resolve_exporter("dynamo")

    def export_2_5(model, args=(), f=None, *, dynamo=False, opset_version=None):  # no optimize
        raise AssertionError("not called")
    monkeypatch.setattr(torch.onnx, "export", export_2_5)
    assert ex.resolve_exporter("auto") == ("torchscript", 17)


def _run(path, feeds):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess, sess.run(None, feeds)


def test_manifest_describes_the_files(exported):
    from mast3r_ros.core.model.content_id import content_identity

    model, info, out = exported
    m = read_manifest(str(out))
    assert m == json.loads((out / "manifest.json").read_text())
    assert m["checkpoint_identity"] == content_identity(model.state_dict(), info.model_string)
    assert m["checkpoint_sampled_id"] == info.identity and m["size"] == 224
    assert (m["exporter"], m["opset"]) == AUTO
    assert not (out / "encoder.onnx.data").exists()  # the earlier export replaced whole
    assert m["net_shape_hw"] == list(HW) and m["keyframe_batch"] == K
    dec = m["files"]["decoder"]
    assert [i["name"] for i in dec["inputs"]] == ["keyframe_feats", "query_feats"]
    assert dec["inputs"][0]["shape"] == [K, 196, 32]
    assert [o["name"] for o in dec["outputs"]][:4] == ["pts3d_1", "conf_1", "desc_1",
                                                       "desc_conf_1"]
    assert dec["outputs"][0]["shape"] == [K, *HW, 3]
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".tmp-")]
    # how an image becomes 'image' is stated (a fresh user found it only in a docstring), and
    # the stated formula is the one the engine applies
    assert "RGB" in m["input"]["image"] and "(v / 255 - 0.5) / 0.5" in m["input"]["image"]
    assert "plan_resize" in m["input"]["resize"]
    v = np.array([[[0, 128, 255]]], np.uint8)
    np.testing.assert_allclose(normalize(v).ravel(), (v.ravel() / 255 - 0.5) / 0.5, atol=1e-6)


def test_keyframe_batch_default_is_the_localizers():
    """The help said 'default 1' while the engine exports with max_keyframes (2 in
    config/localize.yaml): the default and its range are the parameter's."""
    from mast3r_ros.core.config import LocalizerConfig
    from mast3r_ros.replay.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["export", "c.pth", "--out", "o"])
    assert args.keyframe_batch == LocalizerConfig().max_keyframes == 2
    export = parser._subparsers._group_actions[0].choices["export"]
    text = " ".join(export.format_help().split())
    assert "max_keyframes, 1..32 (default 2, as config/localize.yaml)" in text


@needs_dynamo
def test_export_is_quiet_about_torchvision_and_leafspec(tmp_path):
    """torch's exporter logged 4 'torchvision is not installed. Skipping torchvision::...' lines
    and a LeafSpec FutureWarning per graph: silenced during the export, and only those."""
    import logging
    import warnings

    from mast3r_ros.core.model.export import _REGISTRY_LOGGER, _onnx_export

    class _Keep(logging.Handler):  # torch's own stderr handler is not pytest's to capture
        def __init__(self):
            super().__init__(logging.DEBUG)
            self.lines = []

        def emit(self, record):
            self.lines.append(record.getMessage())

    registry, keep = logging.getLogger(_REGISTRY_LOGGER), _Keep()
    registry.addHandler(keep)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _onnx_export(torch.nn.Linear(4, 3).eval(), (torch.zeros(1, 4),),
                         str(tmp_path / "lin.onnx"), ["x"], ["y"], 18)
    finally:
        registry.removeHandler(keep)
    assert not [s for s in keep.lines if "torchvision" in s], keep.lines
    assert not [str(w.message) for w in caught if "LeafSpec" in str(w.message)]
    assert (tmp_path / "lin.onnx").stat().st_size > 0
    assert not registry.filters  # removed after the export


@pytest.mark.compat  # onnxruntime 1.16 against torch 2.1: the export a Jetson runs
@pytest.mark.parametrize("export", ["exported", "exported_torchscript"])
def test_onnxruntime_equals_pytorch(export, request):
    """Both exporters' graphs reproduce PyTorch fp32 within the issue's tolerances (the
    TorchScript one writes expm1 as Exp - 1)."""
    model, _, out = request.getfixturevalue(export)[:3]
    manifest = read_manifest(str(out))
    assert (manifest["exporter"], manifest["opset"]) == (
        AUTO if export == "exported" else ("torchscript", 17))
    rng = np.random.default_rng(3)
    img = rng.uniform(-1, 1, (1, 3, *HW)).astype(np.float32)
    sess, (feats,) = _run(out / "encoder.onnx", {"image": img})
    assert [i.name for i in sess.get_inputs()] == ["image"]
    with torch.inference_mode():
        want = model.encode(torch.from_numpy(img)).numpy()
    assert np.abs(feats - want).max() < 1e-4
    kf = rng.standard_normal((K, 196, 32)).astype(np.float32)
    q = feats.astype(np.float32)
    sess, got = _run(out / "decoder.onnx", {"keyframe_feats": kf, "query_feats": q})
    names = [o.name for o in sess.get_outputs()]
    assert names == [o["name"] for o in manifest["files"]["decoder"]["outputs"]]
    with torch.inference_mode():
        hw = (HW[0] // 16, HW[1] // 16)
        t1, t2 = model.decode(torch.from_numpy(kf), torch.from_numpy(q).expand(K, -1, -1), hw)
        r1, r2 = model.heads(t1, t2, hw, dense2=False)
    ref = {f"{k}_1": v.numpy() for k, v in r1.items()}
    ref.update({f"{k}_2": v.numpy() for k, v in r2.items()})
    got = dict(zip(names, got))
    for n in ("desc_1", "desc_2"):
        assert np.abs(got[n] - ref[n]).max() < 1e-5, n
    for n in ("conf_1", "desc_conf_1", "desc_conf_2"):
        assert (np.abs(got[n] - ref[n]) / np.abs(ref[n])).max() < 5e-5, n
    rel = np.linalg.norm(got["pts3d_1"] - ref["pts3d_1"], axis=-1) / np.linalg.norm(
        ref["pts3d_1"], axis=-1)
    assert rel.max() < 1e-4


def test_bad_size_and_batch_are_input_errors(tmp_path, tiny_ckpt, capsys):
    from mast3r_ros.replay.cli import main

    assert main(["export", tiny_ckpt, "--out", str(tmp_path / "y"), "--keyframe-batch", "0"]) == 2
    # a fresh user's --keyframe-batch 1000 was killed by the OOM killer: the localizer's
    # max_keyframes range (1..32) is checked first, in one line
    capsys.readouterr()
    assert main(["export", tiny_ckpt, "--out", str(tmp_path / "y"), "--keyframe-batch",
                 "1000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--keyframe-batch must be in 1..32" in err[0], err
    assert "got 1000" in err[0] and not (tmp_path / "y").exists()
    # a camera size the network cannot take is said before the checkpoint is read (the path
    # does not exist: reading it would be the other error)
    for size in ("0x0", "8x4000"):
        assert main(["export", str(tmp_path / "none.pth"), "--out", str(tmp_path / "y"),
                     "--camera-size", size]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--camera-size {size}:" in err[0], err
    # export takes the checkpoint as its first argument, not --checkpoint: the hint says so
    assert main(["export", str(tmp_path / "none.pth"), "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint not found" in err[0], err
    assert "as CKPT: mast3r-ros export CKPT" in err[0] and "--checkpoint" not in err[0]
    model = random_model(TINY_SPEC, seed=0)
    with pytest.raises(InputError, match="size"):
        export_onnx(model, str(tmp_path / "x"), size=300, net_shape=(32, 48))
    with pytest.raises(InputError, match="multiples of 16"):
        export_onnx(model, str(tmp_path / "x"), size=512, net_shape=(30, 48))
    with pytest.raises(InputError, match="batch"):
        export_onnx(model, str(tmp_path / "x"), size=512, net_shape=(32, 48), keyframe_batch=0)
    with pytest.raises(InputError, match="not found"):
        read_manifest(str(tmp_path))



def test_python_export_through_a_link_replaces_the_linked_export(tmp_path, monkeypatch):
    """export_onnx(model, link) with link -> exports/v1 (an earlier export): the folder behind
    the link is replaced and the link kept (the rename put a real folder where the link was and
    left the old export behind it). The ONNX writer is replaced by a stub: this is about the
    folder, not the graphs."""
    from mast3r_ros.core.model import export as export_mod

    monkeypatch.setattr(export_mod, "_onnx_export",
                        lambda module, args, path, *a, **k: open(path, "wb").close())
    monkeypatch.setattr(export_mod, "resolve_exporter", lambda name: ("torchscript", 17))
    v1 = tmp_path / "exports" / "v1"
    v1.mkdir(parents=True)
    (v1 / "manifest.json").write_text('{"format": "mast3r_ros-onnx"}')
    (v1 / "decoder.onnx.data").write_text("old")  # an earlier export's external weights
    link = tmp_path / "current"
    link.symlink_to(v1, target_is_directory=True)
    res = export_onnx(random_model(TINY_SPEC, seed=0), str(link), size=224, net_shape=(32, 48))
    assert link.is_symlink() and res.out_dir == str(v1)
    assert sorted(p.name for p in v1.iterdir()) == ["decoder.onnx", "encoder.onnx",
                                                    "manifest.json"]
    assert read_manifest(str(link))["net_shape_hw"] == [32, 48]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current", "exports"]
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["v1"]


def test_missing_onnx_is_said_before_the_checkpoint_is_read(tmp_path, tiny_ckpt, capsys,
                                                            monkeypatch):
    """Without onnx/onnxscript, export fails in one line before reading the checkpoint (a
    fresh user waited for the whole checkpoint load first; ViT-L's is 2.7 GB)."""
    import sys

    from mast3r_ros.core.model import checkpoint
    from mast3r_ros.core.model import export as model_export
    from mast3r_ros.replay.cli import main

    # import raises ImportError for both (without onnxscript 'auto' takes TorchScript, which
    # needs onnx)
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    monkeypatch.setitem(sys.modules, "onnx", None)
    read = []
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda *a, **k: read.append(a))
    capsys.readouterr()
    assert main(["export", tiny_ckpt, "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # torch < 2.6 (Jetson's) has the TorchScript exporter only: onnx alone is asked for
    pkgs = "onnx onnxscript" if model_export.dynamo_exporter_available() else "onnx"
    assert len(err) == 1 and f"pip install {pkgs} (" in err[0], err
    assert f"pip install -c /tmp/keep.txt {pkgs} (" in err[0]  # a ROS machine's numpy
    assert not read and not (tmp_path / "y").exists()


def test_auto_exporter_takes_torchscript_without_onnxscript(monkeypatch):
    """'auto' picked dynamo on torch >= 2.6 and failed without onnxscript, though TorchScript
    needs only onnx (the TensorRT engine build uses 'auto' too)."""
    import sys

    from mast3r_ros.core.model import export as ex

    monkeypatch.setitem(sys.modules, "onnxscript", None)
    assert ex.resolve_exporter("auto") == ("torchscript", 17)


def test_usage_names_the_checkpoint_ckpt_as_the_hints_do(capsys):
    from mast3r_ros.replay.cli import main

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "export [-h]" in (out := capsys.readouterr().out) and " CKPT" in out


def test_one_checkpoint_spelled_two_ways_is_one(tmp_path, monkeypatch):
    """`export ../w/tiny.pth --checkpoint ../w/./tiny.pth` said "two checkpoints given"."""
    import argparse

    from mast3r_ros.replay.export import checkpoint_of

    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "tiny.pth").write_bytes(b"x")
    (tmp_path / "w" / "other.pth").write_bytes(b"x")
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")

    def of(ckpt, checkpoint):
        return checkpoint_of(argparse.Namespace(ckpt=ckpt, checkpoint=checkpoint))[0]

    assert of("../w/tiny.pth", "../w/./tiny.pth") == "../w/tiny.pth"
    assert of("../w/none.pth", str(tmp_path / "w" / "none.pth")) == "../w/none.pth"  # not there
    with pytest.raises(InputError, match="two checkpoints given"):
        of("../w/tiny.pth", "../w/other.pth")


def test_size_help_names_the_real_parameter(capsys):
    from mast3r_ros.replay.cli import main

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "model.image_size" not in out and "image_size parameter" in out


def test_an_out_that_cannot_be_written_is_said_before_the_checkpoint_is_read(
        tmp_path, tiny_ckpt, capsys, monkeypatch):
    """`export tiny.pth --out /proc/e10` said "cannot use path: /proc/.tmp-export-..." after
    the checkpoint (2.7 GB for ViT-L) was read: now one line naming the --out given, first."""
    from mast3r_ros.core.model import checkpoint
    from mast3r_ros.replay.cli import main

    read = []
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda *a, **k: read.append(a))
    (tmp_path / "a_file").write_text("x")
    outs = [str(tmp_path / "a_file" / "e10")] + (["/proc/e10"] if os.path.isdir("/proc/self")
                                                 else [])
    for out in outs:
        capsys.readouterr()
        assert main(["export", tiny_ckpt, "--out", out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--out {out}:" in err[0] and ".tmp" not in err[0], err
    assert not read


def test_export_says_each_stage_and_its_time(exported_torchscript, tiny_ckpt, tmp_path,
                                             capsys, monkeypatch, read_once):
    """A fresh user's `export CKPT --out DIR --size 512` printed nothing for 10 minutes (the
    decoder+heads export is most of it): each stage is said on stderr as it starts and with
    its time when done, in the log format of the other commands; --log-level warning hides
    them. The TorchScript exporter on the tiny network (the `exported_torchscript` export,
    its stderr and forward calls): the same stages as dynamo, in seconds.
    """
    import re

    from mast3r_ros.core.model import export as export_mod
    from mast3r_ros.replay.cli import main

    # each graph runs once, in the tracer: the manifest's output shapes are read from the ONNX
    # files (a PyTorch forward for them was a third of this export's time)
    *_, calls, err = exported_torchscript
    assert calls == ["EncoderGraph", "DecoderGraph"]
    err = [s for s in err if "mast3r_ros" in s]
    want = [r"reading the checkpoint .*tiny_mast3r\.pth\.\.\.$",
            r"exporting the encoder \(1/3\)\.\.\.$", r"encoder exported in \d+\.\d s$",
            r"exporting the decoder\+heads \(2/3\)\.\.\.$",
            r"decoder\+heads exported in \d+\.\d s$",
            r"writing the manifest \(3/3\)\.\.\.$", r"manifest written in \d+\.\d s$",
            r"exported mast3r at 224x224 .* in \d+\.\d s$"]
    got = [next((i for i, s in enumerate(err) if re.search(w, s)), None) for w in want]
    assert None not in got and got == sorted(got), err
    assert all(s.startswith("[INFO] mast3r_ros.") for s in err[got[0]:got[-1] + 1]), err
    # the graphs need not be written again to see that --log-level warning hides the stages
    monkeypatch.setattr(export_mod, "_onnx_export",
                        lambda module, args, path, *a, **k: open(path, "wb").close())
    assert main(["export", tiny_ckpt, "--out", str(tmp_path / "e"), "--size", "224",
                 "--exporter", "torchscript", "--overwrite", "--log-level", "warning"]) == 0
    assert "(1/3)" not in capsys.readouterr().err


def test_ctrl_c_during_the_export_leaves_the_earlier_export(tiny_ckpt, tmp_path, capsys,
                                                            monkeypatch, read_once):
    """Ctrl-C in the decoder+heads stage (the long one): exit 130, the earlier export at --out
    as it was, and no staging folder left beside it (the folder is written whole or not at
    all). The ONNX writer is a stub that is interrupted on the decoder."""
    from mast3r_ros.core.model import export as export_mod
    from mast3r_ros.replay.cli import main

    def export(module, args, path, *a, **k):
        open(path, "wb").close()
        if os.path.basename(path) == "decoder.onnx":
            raise KeyboardInterrupt

    monkeypatch.setattr(export_mod, "_onnx_export", export)
    out = tmp_path / "e"
    out.mkdir()
    old = {"manifest.json": '{"format": "mast3r_ros-onnx"}', "encoder.onnx": "old",
           "decoder.onnx": "old"}
    for name, text in old.items():
        (out / name).write_text(text)
    capsys.readouterr()
    assert main(["export", tiny_ckpt, "--out", str(out), "--size", "224", "--exporter",
                 "torchscript", "--overwrite"]) == 130
    assert "export: interrupted" in capsys.readouterr().err
    assert {p.name: p.read_text() for p in out.iterdir()} == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]


def _stub_writer(monkeypatch, slow_s=0.0, interrupt=False):
    """The ONNX writer as a stub writing empty graphs; the decoder+heads one takes ``slow_s``
    (torch's exporter is one opaque call of minutes on ViT-L) or is interrupted (Ctrl-C)."""
    import time

    from mast3r_ros.core.model import export as export_mod

    def export(module, args, path, *a, **k):
        open(path, "wb").close()
        if os.path.basename(path) == "decoder.onnx":
            time.sleep(slow_s)
            if interrupt:
                raise KeyboardInterrupt

    monkeypatch.setattr(export_mod, "_onnx_export", export)
    monkeypatch.setattr(export_mod, "_TICK_S", 0.05)


def test_export_shows_each_stage_ticking_on_a_terminal(tiny_ckpt, tmp_path, capsys, monkeypatch,
                                                        read_once):
    """A fresh user saw the decoder+heads stage run for 76 s on the tiny network with only its
    "(2/3)" log line: on a terminal a bar names the stage running, in order, and redraws its
    seconds while torch's exporter runs (no percentage: the stages' lengths are unknown); off a
    terminal there is no bar, as the other commands' bars."""
    import re
    import sys

    from mast3r_ros.replay.cli import main

    _stub_writer(monkeypatch, slow_s=0.4)
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["export", tiny_ckpt, "--out", str(tmp_path / "e"), "--size", "224",
                 "--exporter", "torchscript"]) == 0
    err = capsys.readouterr().err
    shown = re.findall(r"export: (\S+) \((\d)/3\), \d+ s \[[\d:]+ in all\]", err)
    assert [s for i, s in enumerate(shown) if i == 0 or s != shown[i - 1]] == [
        ("encoder", "1"), ("decoder+heads", "2"), ("manifest", "3")], err
    # redrawn by the timer while the (stub) exporter sleeps, not only when the stage starts
    assert shown.count(("decoder+heads", "2")) >= 3, err
    assert "%" not in err and "(2/3)..." in err  # the log lines stay
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert main(["export", tiny_ckpt, "--out", str(tmp_path / "e"), "--size", "224",
                 "--exporter", "torchscript", "--overwrite"]) == 0
    assert "in all]" not in capsys.readouterr().err
    assert len(read_once) == 2  # the CLI read the checkpoint through `read_once`


def test_ctrl_c_on_a_terminal_stops_the_bars_timer(tiny_ckpt, tmp_path, capsys, monkeypatch,
                                                     read_once):
    """Ctrl-C in the decoder+heads stage with the bar shown: exit 130 as without it, no staging
    folder left, and the bar's timer thread stopped (nothing redraws after the exit line)."""
    import sys
    import threading

    from mast3r_ros.replay.cli import main

    _stub_writer(monkeypatch, slow_s=0.2, interrupt=True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["export", tiny_ckpt, "--out", str(tmp_path / "e"), "--size", "224",
                 "--exporter", "torchscript"]) == 130
    err = capsys.readouterr().err
    assert "export: decoder+heads (2/3)" in err and "export: interrupted" in err
    assert not [t for t in threading.enumerate() if t.name == "export-progress"]
    assert os.listdir(tmp_path) == []
