"""The node's configure names its parameters, not the commands' flags, in the network loader's
own refusals too (past the cheap checks that `load_localizer` runs first).

Before: a retrieval head saved by a legacy torch.save (not a zip archive) or with its ``args``
as a dict passes the cheap checks and is refused only once the loader has read it, in the
loader's words: the node logged "pass it as --retrieval-checkpoint (build-map, retrieve) ...
and the MASt3R network .pth as --checkpoint" to a ROS user who set the parameter 'checkpoint'.
The commands keep their flags."""

from __future__ import annotations

import argparse
import re

import pytest
import torch

from mast3r_ros.core.errors import CheckpointError
from mast3r_ros.core.model.given_as import FLAGS, PARAMETERS, given_here, speaking

FLAG = re.compile(r"--(checkpoint|retrieval-checkpoint|codebook)")


def _retrieval_head(tmp_path, layout: str) -> str:
    """A retrieval head's file that only the full read tells from the network's."""
    path = tmp_path / f"head_{layout}.pth"
    if layout == "legacy":  # no zip archive: the cheap check reads no args from it
        torch.save({"model": {"w": torch.zeros(2)}, "args": argparse.Namespace(nclusters=4)},
                   path, _use_new_zipfile_serialization=False)
    else:  # its args as a dict (a script's vars(args)): `archive_args` reads a Namespace only
        torch.save({"model": {"w": torch.zeros(2)}, "args": {"nclusters": 4}}, path)
    return str(path)


@pytest.mark.parametrize("layout", ["legacy", "dict_args"])
def test_node_names_its_parameter_in_the_loaders_refusal(tmp_path, layout):
    from test_keyframes import _keyframes

    from mast3r_ros.core import keyframes as kfm
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.ros.params import load_localizer, params_to_config

    site = kfm.write_map(str(tmp_path / "site"), _keyframes()[:2])
    cfg = params_to_config({"map_path": site, "checkpoint": _retrieval_head(tmp_path, layout),
                            "device": "cpu"})
    with pytest.raises(CheckpointError) as node:
        load_localizer(cfg)
    said = str(node.value)
    assert "is a MASt3R retrieval checkpoint" in said, said
    assert "the MASt3R network .pth as the parameter 'checkpoint'" in said, said
    assert not FLAG.search(said), said
    with pytest.raises(CheckpointError) as command:  # localize's own call: its flags
        Localizer.from_config(cfg)
    assert "the MASt3R network .pth as --checkpoint" in str(command.value), command.value
    assert given_here() is FLAGS  # the node's words end with its block


def test_speaking_blocks_nest_and_end():
    assert given_here() is FLAGS
    with speaking(PARAMETERS):
        assert given_here() is PARAMETERS
        with speaking(FLAGS):
            assert given_here() is FLAGS
        assert given_here() is PARAMETERS
        assert given_here(FLAGS) is FLAGS  # an explicit one wins
    assert given_here() is FLAGS


def test_node_without_tensorrt_says_so_before_loading_the_map_and_keeps_running(
        tmp_path, monkeypatch, tiny_ckpt):
    """Backend 'tensorrt' without TensorRT: the node's configure loaded the map (its tables)
    and only the engine build said 'needs NVIDIA TensorRT'. Now said first, in the same words,
    with the map unread; the configure fails, ERROR on /diagnostics, and the node goes on
    (its next configure runs: on the fake host of test_ros_teardown)."""
    import sys

    from test_ros_teardown import FAILURE, SUCCESS, Host

    from mast3r_ros.core import keyframes as kfm
    from mast3r_ros.core.errors import ConfigError
    from mast3r_ros.ros.params import load_localizer, params_to_config

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    monkeypatch.setattr(kfm.KeyframeMap, "load",
                        classmethod(lambda cls, *a, **k: pytest.fail("the map was loaded")))
    cfg = params_to_config({"map_path": str(tmp_path / "site"), "checkpoint": tiny_ckpt,
                            "device": "cuda", "backend": "tensorrt"})
    with pytest.raises(ConfigError, match=r"needs NVIDIA TensorRT's Python package .*set the "
                                          r"'backend' parameter to 'torch'"):
        load_localizer(cfg)
    host = Host()
    host._active = False
    assert host._run_transition("configure", lambda: load_localizer(cfg), None, FAILURE,
                                SUCCESS) is FAILURE
    summary, values = host.diagnostics()
    assert summary.level == 2 and "needs NVIDIA TensorRT" in values["config_error"]
    assert any("needs NVIDIA TensorRT" in m for lvl, m in host.logger.lines if lvl == "error")
    assert host._run_transition("configure", lambda: SUCCESS, None, FAILURE, SUCCESS) is SUCCESS
