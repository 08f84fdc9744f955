"""check-params and the node's configure refuse the same parameter values, by the same rules,
in a parameter file's words.

Before: a retrieval.checkpoint without its ASMK codebook beside it, the codebook given as
retrieval.checkpoint, a torch.save file that is no retrieval head, a map without the depth
that `matcher: sift` or `points_source: depth` needs were each called valid (exit 0) while the
node refused them at configure; check-params told a network checkpoint given as
retrieval.checkpoint to go in "--checkpoint", a flag a parameter file does not have; and the
node did not expand '~' in retrieval.checkpoint (check-params did, and called it valid)."""

from __future__ import annotations

import argparse
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from retrieval_test_utils import write_codebook, write_retrieval_checkpoint

from mast3r_ros.core.config import RetrievalConfig
from mast3r_ros.core.errors import CheckpointError
from mast3r_ros.core.localizer.global_retrieval import GlobalRetrieval
from mast3r_ros.core.retrieval_model import check_retrieval_files
from mast3r_ros.replay.cli import main

ENC = 16  # the tiny head's encoder width: its files are a few kB
FLAG = re.compile(r"--(checkpoint|retrieval-checkpoint|codebook|camera-info\b(?! in)|params)")


def _run(capsys, path):
    rc = main(["check-params", str(path), "--log-level", "error"])
    out, err = capsys.readouterr()
    return rc, out, err


def _params(tmp_path, **values):
    """A node parameter file setting ``values`` (dotted names nested as ROS writes them)."""
    lines, nested = [], {}
    for name, value in values.items():
        head, _, leaf = name.partition(".")
        if leaf:
            nested.setdefault(head, []).append(f"      {leaf}: '{value}'")
        else:
            lines.append(f"    {name}: '{value}'")
    for head, leaves in nested.items():
        lines += [f"    {head}:", *leaves]
    f = tmp_path / "robot.yaml"
    f.write_text("/**/mast3r_localizer:\n  ros__parameters:\n" + "\n".join(lines) + "\n")
    return f


@pytest.fixture
def files(tmp_path):
    """A network checkpoint (torch.save of a dict: passes the cheap checks), a tiny retrieval
    head under the reference name and the codebook it needs, not yet beside it."""
    net = tmp_path / "MASt3R.pth"
    torch.save({"w": torch.zeros(2)}, net)
    head = write_retrieval_checkpoint(str(tmp_path / "R_retrieval_trainingfree.pth"), ENC)
    cb = write_codebook(str(tmp_path / "elsewhere.pkl"),
                        np.random.default_rng(0).normal(size=(64, ENC)))
    return SimpleNamespace(net=net, head=head, cb=cb, beside=tmp_path / "R_retrieval_codebook.pkl")


def _node_refusal(cfg: RetrievalConfig) -> str:
    """What the node's configure says of ``cfg`` (`GlobalRetrieval._setup_asmk`, reached from
    `Localizer.from_config` with the mast3r matcher and method asmk or auto), up to the map."""
    gr = GlobalRetrieval.__new__(GlobalRetrieval)
    gr.retriever = None
    engine = SimpleNamespace(model=SimpleNamespace(spec=SimpleNamespace(enc_embed_dim=ENC)),
                             device="cpu", identity="tiny")

    class Reached(Exception):
        pass

    class Map:  # past the retrieval files: the map's ASMK index is looked up
        path = "map"

        def asmk_content_id(self, *a):
            raise Reached

    try:
        gr._setup_asmk(Map(), cfg, engine, 512)
    except CheckpointError as e:
        return str(e)
    except Reached:
        return ""
    raise AssertionError("neither refused nor reached the map")


def test_a_retrieval_checkpoint_without_its_codebook_is_refused_as_the_node_refuses_it(
        tmp_path, capsys, files):
    f = _params(tmp_path, checkpoint=files.net, **{"retrieval.checkpoint": files.head})
    rc, out, err = _run(capsys, f)
    node = _node_refusal(RetrievalConfig(checkpoint=files.head))
    assert rc == 2 and out == "" and err.count("\n") == 1, (out, err)
    assert node and err == (f"mast3r-ros check-params: error: {f}: {node} (the node would "
                            "refuse it at configure)\n"), (node, err)
    assert err.split("error: ", 1)[1].startswith(f"{f}: parameter 'retrieval.codebook' (empty: "
                                                 "the codebook beside retrieval.checkpoint): "
                                                 f"codebook not found: {files.beside}"), err
    assert "pass it (the parameter 'retrieval.codebook')" in err and not FLAG.search(err), err
    # a codebook named but missing: that parameter is named
    f = _params(tmp_path, checkpoint=files.net, **{"retrieval.checkpoint": files.head,
                                                   "retrieval.codebook": tmp_path / "no.pkl"})
    rc, _, err = _run(capsys, f)
    assert rc == 2 and f"parameter 'retrieval.codebook': codebook not found: {tmp_path}" in err
    # given, or found beside: valid, and the node goes on to the map
    f = _params(tmp_path, checkpoint=files.net, **{"retrieval.checkpoint": files.head,
                                                   "retrieval.codebook": files.cb})
    rc, out, err = _run(capsys, f)
    assert (rc, err) == (0, "") and "retrieval.checkpoint and its codebook are in" in out, err
    files.beside.write_bytes(open(files.cb, "rb").read())
    assert _run(capsys, _params(tmp_path, checkpoint=files.net,
                                **{"retrieval.checkpoint": files.head}))[0] == 0
    assert _node_refusal(RetrievalConfig(checkpoint=files.head)) == ""


def test_the_node_expands_home_in_retrieval_paths_as_check_params_does(
        tmp_path, capsys, files, monkeypatch):
    """``retrieval.checkpoint: ~/models/R...pth`` was called valid by check-params (it expanded
    '~') and refused by the node ('retrieval checkpoint not found: ~/models/...')."""
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = RetrievalConfig(checkpoint="~/R_retrieval_trainingfree.pth", codebook="~/elsewhere.pkl")
    assert _node_refusal(cfg) == ""
    f = _params(tmp_path, checkpoint=files.net, **{"retrieval.checkpoint": cfg.checkpoint,
                                                   "retrieval.codebook": cfg.codebook})
    assert _run(capsys, f)[0] == 0


@pytest.mark.parametrize("make, said", [
    (lambda fs, d: fs.net, "is a MASt3R network checkpoint, not a retrieval head: pass it as the "
                           "parameter 'checkpoint', and the *_retrieval_trainingfree.pth as the "
                           "parameter 'retrieval.checkpoint'"),
    (lambda fs, d: fs.cb, "this is an ASMK codebook (a plain pickle), not a PyTorch retrieval "
                          "checkpoint: pass it as the parameter 'retrieval.codebook'"),
    (lambda fs, d: d, "is a folder, not a retrieval checkpoint: pass the "
                      "*_retrieval_trainingfree.pth file itself (the parameter "
                      "'retrieval.checkpoint')"),
])
def test_a_wrong_retrieval_checkpoint_is_told_in_parameters(tmp_path, capsys, files, make,
                                                            said):
    """The network checkpoint's refusal said "pass it as --checkpoint, and ... as
    --retrieval-checkpoint"; the codebook given as retrieval.checkpoint was called valid (its
    own name passed as the codebook beside it)."""
    files.net = _network_file(tmp_path)  # told from its args.model
    bad = make(files, tmp_path)
    f = _params(tmp_path, checkpoint=files.net, **{"retrieval.checkpoint": bad})
    rc, out, err = _run(capsys, f)
    assert rc == 2 and err.count("\n") == 1, (out, err)
    assert f"parameter 'retrieval.checkpoint': {bad}" in err and said in err, err
    assert not FLAG.search(err), err
    assert _node_refusal(RetrievalConfig(checkpoint=str(bad))) in err


def test_a_torch_file_that_is_no_retrieval_head_is_refused_as_its_loader_refuses_it(
        tmp_path, capsys, files):
    other = tmp_path / "x_retrieval_trainingfree.pth"
    torch.save({"w": torch.zeros(2)}, other)
    rc, _, err = _run(capsys, _params(tmp_path, checkpoint=files.net,
                                      **{"retrieval.checkpoint": other}))
    assert rc == 2 and (f"{other}: expected a dict with 'model' (state dict) and 'args' "
                        "(argparse.Namespace): not a MASt3R retrieval checkpoint") in err, err


def test_the_commands_keep_naming_their_flags(files):
    """The same checks, from build-map or retrieve (`check_retrieval_files`' default), name the
    flags those commands take."""
    with pytest.raises(CheckpointError, match="pass it as --checkpoint, and the "
                                              r"\*_retrieval_trainingfree.pth as "
                                              "--retrieval-checkpoint"):
        check_retrieval_files(_network_file(files.net.parent))
    with pytest.raises(CheckpointError, match=r"or pass it \(--codebook, or codebook= in"):
        check_retrieval_files(files.head)


def _network_file(folder) -> str:
    """A network checkpoint as the official files hold it, ``args.model`` its constructor."""
    path = str(folder / "network_args.pth")
    torch.save({"model": {"w": torch.zeros(1)},
                "args": argparse.Namespace(model="AsymmetricMASt3R(enc_embed_dim=16)")}, path)
    return path


@pytest.mark.parametrize("checkpoint_file, said", [
    ("codebook", "not a PyTorch checkpoint: pass it as the parameter 'retrieval.codebook', with "
                 "the *_retrieval_trainingfree.pth as the parameter 'retrieval.checkpoint' and "
                 "the MASt3R network .pth as the parameter 'checkpoint'"),
    ("head", "is a MASt3R retrieval checkpoint, not the network: pass it as the parameter "
             "'retrieval.checkpoint', and the MASt3R network .pth as the parameter 'checkpoint'"),
    ("onnx", "not a PyTorch checkpoint; the parameter 'checkpoint' takes the PyTorch checkpoint"),
])
def test_a_wrong_checkpoint_is_told_in_parameters(tmp_path, capsys, files, checkpoint_file,
                                                  said):
    """The refusals of the network checkpoint said where it goes as "--codebook (retrieve,
    build-map)", "--retrieval-checkpoint (build-map, retrieve) or as the parameter ...",
    "--checkpoint (the 'checkpoint' parameter) takes ..."."""
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07" + b"x" * 100)
    bad = {"codebook": files.cb, "head": files.head, "onnx": onnx}[checkpoint_file]
    rc, out, err = _run(capsys, _params(tmp_path, checkpoint=bad))
    assert rc == 2 and f"parameter 'checkpoint': {bad}" in err and said in err, (out, err)
    assert not FLAG.search(err), err


def test_other_files_are_told_in_check_params_words(tmp_path, capsys, files):
    """A checkpoint given as map_path said "a checkpoint goes in --checkpoint"; a camera_info
    YAML given as FILE said "pass it with --camera-info" (check-params has neither)."""
    rc, _, err = _run(capsys, _params(tmp_path, map_path=files.net))
    assert rc == 2 and "a checkpoint goes in the parameter 'checkpoint'" in err, err
    assert not FLAG.search(err), err
    cam = tmp_path / "camera.yaml"
    cam.write_text("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3}\n")
    rc, _, err = _run(capsys, cam)
    assert rc == 2 and "pass it with --camera-info" not in err, err
    assert "the node reads the camera from its camera_info topic" in err, err


@pytest.mark.parametrize("values, said", [
    ({"matcher": "sift"}, "the sift matcher takes its 3-D points from keyframe depth, but the "
                          "map has keyframes without depth"),
    ({"points_source": "depth"}, "points_source is 'depth' but map"),
])
def test_a_map_without_the_depth_the_matcher_needs_is_refused(tmp_path, capsys, values, said):
    """Called valid (exit 0, "map_path opens as a keyframe map"); the node refused it at
    configure (`require_map_depth`, the matchers' own rule)."""
    from mast3r_ros.core import keyframes as kfm
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.matchers.map_depth import require_map_depth
    from test_keyframes import _keyframes

    m = kfm.write_map(str(tmp_path / "site"), _keyframes())  # keyframe 2 has no depth
    rc, out, err = _run(capsys, _params(tmp_path, map_path=m, **values))
    assert rc == 2 and out == "" and said in err and "refuse it at configure" in err, (out, err)
    with pytest.raises(Exception) as node:
        require_map_depth(KeyframeMap.load(m, lazy=True), values.get("matcher", "mast3r"),
                          values.get("points_source", "pointmap"))
    assert str(node.value) in err
    full = kfm.write_map(str(tmp_path / "full"), _keyframes()[:2])  # both with depth
    assert _run(capsys, _params(tmp_path, map_path=full, **values))[0] == 0


def test_a_dust3r_checkpoint_is_refused_as_the_mast3r_matcher_refuses_it(tmp_path, capsys):
    """Called valid ("checkpoint is in a format the node reads"); the node loaded it and its
    mast3r matcher refused it at configure (no descriptor head). Told from the constructor
    string (`declared_arch`), the weights unread."""
    from mast3r_ros.core.matchers.mast3r import Mast3rMatcher
    from mast3r_ros.core.model.checkpoint_arch import no_descriptors_for_localizer

    dust3r = tmp_path / "DUSt3R.pth"
    torch.save({"model": {"w": torch.zeros(1)},
                "args": argparse.Namespace(model="AsymmetricCroCo3DStereo(enc_embed_dim=16)")},
               dust3r)
    rc, out, err = _run(capsys, _params(tmp_path, checkpoint=dust3r))
    assert rc == 2 and out == "" and err.count("\n") == 1, (out, err)
    assert (f"parameter 'checkpoint': {dust3r}: the checkpoint has no descriptor head (DUSt3R?): "
            "the localizer needs a MASt3R checkpoint (the parameter 'checkpoint') (the node "
            "would refuse it at configure)") in err, err
    with pytest.raises(CheckpointError) as node:  # the matcher's words, with its flag
        Mast3rMatcher(SimpleNamespace(has_depth=lambda: True, path="m"),
                      SimpleNamespace(has_descriptors=False), None, 512)
    assert str(node.value).startswith(no_descriptors_for_localizer()), node.value
    assert _run(capsys, _params(tmp_path, checkpoint=dust3r, matcher="sift"))[0] == 0


def test_the_node_tells_its_localizer_refusals_in_parameters(tmp_path, monkeypatch):
    """The node's configure said "the localizer needs a MASt3R checkpoint (--checkpoint)" of a
    DUSt3R checkpoint and "a checkpoint goes in --checkpoint" of a checkpoint given as map_path
    (`Mast3rMatcher`'s and `KeyframeMap.load`'s words, shared with localize): a node has no
    flags. It says the parameter now; localize (the same `Localizer.from_config`) its flag."""
    from test_keyframes import _keyframes

    from mast3r_ros.core import keyframes as kfm
    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.model.engine import Mast3rEngine
    from mast3r_ros.ros.params import load_localizer, params_to_config

    # a DUSt3R network as loaded (a real one: test_build_map_dust3r), without seconds of weights
    monkeypatch.setattr(Mast3rEngine, "from_config", lambda *a, **k: SimpleNamespace(
        has_descriptors=False, image_size=224, close=lambda: None))
    net = _network_file(tmp_path)
    site = kfm.write_map(str(tmp_path / "site"), _keyframes()[:2])
    for map_path, error, node_said, command_said in (
            (site, CheckpointError, "needs a MASt3R checkpoint (the parameter 'checkpoint')",
             "needs a MASt3R checkpoint (--checkpoint)"),
            (net, MapFormatError, "a checkpoint goes in the parameter 'checkpoint'",
             "a checkpoint goes in --checkpoint")):
        cfg = params_to_config({"map_path": map_path, "checkpoint": net, "device": "cpu",
                                "image_size": 224})
        with pytest.raises(error) as node:
            load_localizer(cfg)
        assert node_said in str(node.value) and not FLAG.search(str(node.value)), node.value
        with pytest.raises(error) as command:
            Localizer.from_config(cfg)
        assert command_said in str(command.value), command.value


@pytest.mark.parametrize("given", ["head", "cb", "missing"])
def test_the_node_tells_a_wrong_checkpoint_in_parameters(tmp_path, files, given):
    """The node's configure said the network loader's words of a retrieval head, a codebook or
    a missing file as its checkpoint ("pass it as --retrieval-checkpoint (build-map, retrieve)
    ...", "pass their path with --checkpoint / the 'checkpoint' parameter"), where check-params
    says the parameters."""
    from test_keyframes import _keyframes

    from mast3r_ros.core import keyframes as kfm
    from mast3r_ros.ros.params import load_localizer, params_to_config

    bad = {"head": files.head, "cb": files.cb, "missing": tmp_path / "none.pth"}[given]
    site = kfm.write_map(str(tmp_path / "site"), _keyframes()[:2])
    with pytest.raises(CheckpointError) as node:
        load_localizer(params_to_config({"map_path": site, "checkpoint": str(bad)}))
    assert "the parameter 'checkpoint'" in str(node.value), node.value
    assert not FLAG.search(str(node.value)), node.value
