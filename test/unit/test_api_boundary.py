"""The Python API's boundary (a fresh API user's findings): objects used after close(), device
names the machine has no device for, and wrong argument types get the package's own errors with
what to fix, not a traceback from deep inside torch."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

from mast3r_ros.core.errors import ClosedError, ConfigError, InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_closed_engine_releases_its_weights_and_says_it_is_closed(tiny_ckpt):
    from mast3r_ros.core.model.engine import Mast3rEngine

    engine = Mast3rEngine.from_checkpoint(tiny_ckpt, device="cpu")
    prep = engine.prepare(np.zeros((48, 64, 3), np.uint8), 224)
    enc = engine.encode(prep)
    model = weakref.ref(engine.model)
    engine.close()
    gc.collect()
    # the bound method kept in the engine held the whole network alive after close()
    assert model() is None
    for call in (lambda: engine.encode(prep), lambda: engine.decode([enc], enc),
                 lambda: engine.prepare(np.zeros((48, 64, 3), np.uint8), 224),
                 lambda: engine.warmup([(224, 224)]), lambda: engine.pair(prep, prep),
                 lambda: engine.has_descriptors):  # was AttributeError: 'NoneType' ... 'spec'
        with pytest.raises(ClosedError, match="Mast3rEngine is closed.*from_checkpoint"):
            call()
    engine.close()  # a second close does nothing


def test_engine_calls_with_the_wrong_argument_types(tiny_engine):
    prep = tiny_engine.prepare(np.zeros((48, 64, 3), np.uint8), 224)
    enc = tiny_engine.encode(prep)
    with pytest.raises(InputError, match="encode takes a PreparedImage .*got ndarray"):
        tiny_engine.encode(np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(InputError, match=r"view1 must be a list of Encoding .*\[enc\]"):
        tiny_engine.decode(enc, enc)  # one keyframe passed bare
    with pytest.raises(InputError, match="view1 must be a list of Encoding.*got str"):
        tiny_engine.decode("enc", enc)
    with pytest.raises(InputError, match="view2 must be an Encoding"):
        tiny_engine.decode([enc], prep)
    assert len(tiny_engine.decode((enc, enc), enc)) == 2  # a tuple is a sequence too


@pytest.mark.parametrize("name, words", [
    ("mps", "not supported: mast3r_ros runs on cpu or cuda"),
    ("gpu", "not a torch device"),
    ("cuda:7", None),  # CUDA not available here, or fewer devices
])
def test_device_names_are_refused_with_the_names_that_work(name, words):
    from mast3r_ros.core.devices import resolve_device
    from mast3r_ros.core.model.engine import resolve_device as engine_resolve

    assert engine_resolve is resolve_device
    if name == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    with pytest.raises(ConfigError, match=words or "cuda") as err:
        resolve_device(name)
    assert "auto, cpu, cuda" in str(err.value) or "CUDA" in str(err.value)


def test_engine_from_checkpoint_refuses_mps_as_a_config_error(tiny_ckpt):
    from mast3r_ros.core.model.engine import Mast3rEngine

    with pytest.raises(ConfigError, match="'mps' is not supported"):
        Mast3rEngine.from_checkpoint(tiny_ckpt, device="mps")


def _retriever(tmp_path, device="cpu"):
    from mast3r_ros.core.retrieval_model import AsmkRetriever
    from retrieval_test_utils import write_codebook, write_retrieval_checkpoint

    ck = write_retrieval_checkpoint(str(tmp_path / "m_retrieval_trainingfree.pth"), 32,
                                    nclusters=16)
    write_codebook(str(tmp_path / "m_retrieval_codebook.pkl"),
                   np.random.default_rng(0).standard_normal((16, 32)).astype(np.float32), 16)
    return AsmkRetriever.from_files(ck, enc_dim=32, device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_retrieval_on_a_device_this_machine_lacks_is_a_config_error(tmp_path):
    want = r"CUDA is not available.*use device 'cpu' \(--device cpu, or device: cpu in the"
    with pytest.raises(ConfigError, match=want):
        _retriever(tmp_path, device="cuda")  # was torch's AssertionError from inside .to()
    r = _retriever(tmp_path)
    index = r.build_index([np.ones((12, 32), np.float32)])
    with pytest.raises(ConfigError, match="CUDA is not available"):
        index.to("cuda")  # was accepted, and failed later inside top_k
    with pytest.raises(ConfigError, match="not a torch device"):
        index.to("gpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        r.codebook.to("cuda")


def test_retrieval_takes_an_engine_encoding_as_well_as_its_tokens(tmp_path):
    from mast3r_ros.core.model.engine import Encoding

    r = _retriever(tmp_path)
    rng = np.random.default_rng(1)
    encs = [rng.standard_normal((12, 32)).astype(np.float32) for _ in range(3)]
    index = r.build_index(encs)
    as_encoding = Encoding(torch.from_numpy(encs[1]), (48, 64))
    np.testing.assert_array_equal(r.scores(index, as_encoding), r.scores(index, encs[1]))
    with pytest.raises(InputError, match="encoder output, .*got dict"):
        r.scores(index, {"feats": 1})


def test_a_closed_localizer_says_so_and_wrong_calls_are_named(sift_map, tum):
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.replay.tum import TumSequence

    cfg = config_from_params({"matcher": "sift", "warmup": False})
    kf_map = KeyframeMap.load(sift_map)
    with pytest.raises(ConfigError, match=r"image_size must be one of \(512, 384, 224\).*300"):
        Localizer(kf_map, cfg.localizer, image_size=300)
    loc = Localizer(kf_map, cfg.localizer)
    frame = TumSequence(tum[1])[3]
    assert loc.localize(frame).stamp_ns == frame.stamp_ns
    with pytest.raises(InputError, match=r"localize takes a Frame\(rgb, intrinsics, stamp_ns\)"):
        loc.localize(frame.rgb)
    loc.close()
    with pytest.raises(ClosedError, match="Localizer is closed.*from_config"):
        loc.localize(frame)  # was IndexError deep in the matcher (mast3r) or a silent answer
    with pytest.raises(ClosedError):
        loc.warmup()
    loc.close()


def test_localizer_arguments_of_the_wrong_kind_are_named(sift_map):
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.localizer import Localizer, position_sigma_m

    cfg = config_from_params({"matcher": "sift", "warmup": False})
    kf_map = KeyframeMap.load(sift_map)
    # each was an AttributeError from deep inside the matcher or from_config
    with pytest.raises(InputError, match=r"KeyframeMap \(KeyframeMap.load\(path\)\), got str"):
        Localizer(sift_map, cfg.localizer)
    with pytest.raises(ConfigError, match=r"takes the LocalizerConfig \(cfg.localizer.*got Config"):
        Localizer(kf_map, cfg)
    with pytest.raises(ConfigError, match="from_config takes the whole Config.*LocalizerConfig"):
        Localizer.from_config(cfg.localizer, sift_map)
    with pytest.raises(ConfigError, match="image_size must be one of"):
        Localizer(kf_map, cfg.localizer, image_size=512.0)  # Mast3rEngine.prepare refuses it
    with pytest.raises(InputError, match=r"6x6 pose covariance, got shape \(3, 3\)"):
        position_sigma_m(np.eye(3))  # silently the sigma of a 3x3 block


def test_from_config_takes_the_map_path_of_the_config(sift_map):
    """Localizer.from_config(cfg) with the config's map_path set was a TypeError (missing
    argument), and from_config(cfg, None) a TypeError from os.fspath."""
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.localizer import Localizer

    cfg = config_from_params({"matcher": "sift", "warmup": False, "map_path": sift_map})
    with Localizer.from_config(cfg) as loc:
        assert len(loc.keyframe_map) > 0
    with pytest.raises(ConfigError, match="no map: pass map_path, or set the 'map_path'"):
        Localizer.from_config(config_from_params({"matcher": "sift"}), None)


@pytest.mark.parametrize("model, K22", [("fisheye", 1.0), ("plumb_bob", 2.0)])
def test_a_stored_keyframe_with_invalid_intrinsics_is_a_map_error(model, K22):
    # CameraIntrinsics now refuses unknown distortion models and a K with a wrong bottom row;
    # a map table holding one (another tool's writer, a damaged file) says which keyframe
    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.keyframes.table import KEYFRAME_DTYPE, KeyframeTable

    rows = np.zeros(2, KEYFRAME_DTYPE)
    rows["id"] = [5, 6]
    rows["map_from_cam"] = np.eye(4)
    rows["width"], rows["height"] = 64, 48
    rows["K"] = np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]])
    rows["depth_bytes"] = -1
    rows["K"][1, 2, 2] = K22
    table = KeyframeTable(rows, ["plumb_bob", model])
    rows["distortion_model"][1] = 1
    assert table[0].intrinsics.width == 64
    with pytest.raises(MapFormatError, match=r"keyframe 1 \(id 6\) has invalid intrinsics.*"
                                             "rebuild the map"):
        table[1]


def test_export_replaces_only_an_earlier_export(tmp_path, sift_map, capsys, monkeypatch):
    # `export --overwrite` took any folder with a manifest.json (a keyframe map has one) for
    # an earlier export, and the Python export_onnx replaced whatever folder it was given
    import shutil

    from mast3r_ros.core.model import checkpoint
    from mast3r_ros.core.model.export import check_export_target, export_onnx
    from mast3r_ros.replay.cli import main

    read = []
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda *a, **k: read.append(a))
    kf_map = tmp_path / "map"
    shutil.copytree(sift_map, kf_map)
    before = sorted(p.name for p in kf_map.iterdir())
    assert main(["export", str(tmp_path / "none.pth"), "--out", str(kf_map), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ("is not an output of this command (it is a keyframe map: it "
                              "holds manifest.json, not encoder.onnx") in err[0], err
    # a folder with all three names but another manifest: the export's own check
    (kf_map / "encoder.onnx").write_bytes(b"")
    (kf_map / "decoder.onnx").write_bytes(b"")
    before = sorted(p.name for p in kf_map.iterdir())
    assert main(["export", str(tmp_path / "none.pth"), "--out", str(kf_map), "--overwrite"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not an ONNX export" in err[0] and "manifest.json" in err[0]
    assert sorted(p.name for p in kf_map.iterdir()) == before and not read
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match=r"mine is not an ONNX export .*holds thesis.tex"):
        export_onnx(object(), str(mine), size=224, net_shape=(224, 224))  # refused first
    assert (mine / "thesis.tex").read_text() == "precious"
    with pytest.raises(InputError, match="exists and is not a folder"):
        check_export_target(str(mine / "thesis.tex"))
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "manifest.json").write_text('{"format": "mast3r_ros-onnx"}')
    check_export_target(str(earlier))  # an export, an empty or a missing folder may be written
    (tmp_path / "empty").mkdir()
    check_export_target(str(tmp_path / "empty"))
    check_export_target(str(tmp_path / "missing"))


def test_a_pose_kilometres_uncertain_is_a_failure_not_a_pose(sift_map):
    # a fresh user's 8x8 query passed every gate (71/78 inliers, RMS 2.9 px) with a covariance
    # of kilometres: the position-sigma gate turns it into success=False
    import dataclasses

    from mast3r_ros.core.config import GateConfig, config_from_params
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.localizer import Localizer, position_sigma_m
    from mast3r_ros.core.pnp import PnPResult

    cov = np.diag([4.0, 1.0, 0.25, 1e-4, 1e-4, 1e-4])
    assert position_sigma_m(cov) == pytest.approx(2.0)
    rot = np.eye(6)
    rot[:2, :2] = [[0.6, -0.8], [0.8, 0.6]]  # the worst axis need not be a map axis
    assert position_sigma_m(rot @ cov @ rot.T) == pytest.approx(2.0)
    assert np.isnan(position_sigma_m(np.full((6, 6), np.nan)))

    cfg = config_from_params({"matcher": "sift"})
    loc = Localizer(KeyframeMap.load(sift_map), cfg.localizer)

    def gate(covariance, **gates):
        if gates:
            loc.config = dataclasses.replace(
                cfg.localizer, gates=dataclasses.replace(GateConfig(), **gates))
        # a pose upright as the map's keyframes (the upright gate judges the identity, a camera
        # whose image-down is the map's y, as turned 90 deg on this map)
        res = PnPResult(True, loc.keyframe_poses()[0], np.ones(80, bool), 1.0, covariance)
        return loc._gate(res, 80, None)

    assert gate(np.diag([1e-4] * 6)) == ""
    assert gate(cov * 1e6) == ("position too uncertain (1 sigma 2e+03 m > 2 m, "
                               "gates.max_position_sigma_m)")
    assert gate(np.full((6, 6), np.nan)).startswith("position too uncertain (1 sigma nan m")
    assert gate(cov) == ""  # 2 m: at the default
    assert gate(cov * 1.1).startswith("position too uncertain (1 sigma 2.1 m > 2 m")
    assert gate(cov * 1e6, max_position_sigma_m=0.0) == ""  # 0 disables
    loc.close()


def test_an_engine_made_from_a_model_takes_device_names_and_refuses_bad_ones(tiny_engine):
    from mast3r_ros.core.model.engine import Mast3rEngine

    assert Mast3rEngine(tiny_engine.model, "cpu").device == torch.device("cpu")
    with pytest.raises(ConfigError, match="not a torch device"):
        Mast3rEngine(tiny_engine.model, "gpu")  # was torch's RuntimeError


def test_core_model_re_exports_its_main_names_lazily():
    """``from mast3r_ros.core.model import Mast3rEngine`` works (a fresh user tried it), and
    importing the package loads no submodule until a name is used."""
    import subprocess
    import sys

    code = (
        "import sys, mast3r_ros.core.model as m\n"
        "assert not [k for k in sys.modules if k.startswith('mast3r_ros.core.model.')], "
        "sorted(sys.modules)\n"
        "from mast3r_ros.core.model import Mast3rEngine, load_checkpoint\n"
        "from mast3r_ros.core.model.engine import Mast3rEngine as E\n"
        "from mast3r_ros.core.model.checkpoint import load_checkpoint as L\n"
        "assert Mast3rEngine is E and load_checkpoint is L\n"
        "assert 'mast3r_ros.core.model.export' not in sys.modules\n"
        "for n in m.__all__:\n"
        "    assert getattr(m, n).__name__ == n, n\n"
        "try:\n"
        "    m.NoSuchName\n"
        "except AttributeError as e:\n"
        "    assert 'NoSuchName' in str(e)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_an_engine_is_a_context_manager_that_closes_on_exit(tiny_ckpt):
    """close() was the only way to release the weights: no ``with`` block."""
    from mast3r_ros.core.model.engine import Mast3rEngine

    with Mast3rEngine.from_checkpoint(tiny_ckpt, device="cpu") as engine:
        assert isinstance(engine, Mast3rEngine)
        engine.encode(engine.prepare(np.zeros((48, 64, 3), np.uint8), 224))
    with pytest.raises(ClosedError, match="Mast3rEngine is closed"):
        engine.prepare(np.zeros((48, 64, 3), np.uint8), 224)
    with pytest.raises(KeyError):                  # an error inside the block is not swallowed
        with Mast3rEngine.from_checkpoint(tiny_ckpt, device="cpu") as engine:
            raise KeyError("x")
    assert engine.model is None                    # and the engine is closed all the same


def test_a_localizer_is_a_context_manager_that_closes_on_exit(sift_map):
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.localizer import Localizer

    cfg = config_from_params({"matcher": "sift", "warmup": False})
    kf_map = KeyframeMap.load(sift_map)
    with Localizer(kf_map, cfg.localizer) as loc:
        assert isinstance(loc, Localizer)
        loc.warmup()
    with pytest.raises(ClosedError, match="Localizer is closed"):
        loc.warmup()
    with pytest.raises(KeyError):
        with Localizer(kf_map, cfg.localizer) as loc:
            raise KeyError("x")
    with pytest.raises(ClosedError):
        loc.warmup()
