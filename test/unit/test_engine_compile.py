"""Captured inference on CPU: 'none' is plain eager, 'default' (torch.compile) gives eager's
outputs on the tiny network, K keyframes decode in one padded batch, bad modes are refused."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from mast3r_ros.core.config import ModelConfig
from mast3r_ros.core.errors import ConfigError
from mast3r_test_utils import TINY_SPEC, random_model
from mast3r_ros.core.model.engine import Mast3rEngine, PreparedImage, network_shape
from mast3r_ros.core.model.preprocess import normalize

HW = (32, 48)


def _prep(seed: int) -> PreparedImage:
    rgb = np.random.default_rng(seed).integers(0, 255, (*HW, 3), dtype=np.uint8)
    return PreparedImage(torch.from_numpy(normalize(rgb))[None], HW, np.eye(3), HW[::-1], rgb)


def test_network_shape_of_each_size():
    assert network_shape(512) == (384, 512)
    assert network_shape(384) == (288, 384)
    assert network_shape(224) == (224, 224)


def test_bad_compile_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="compile must be one of"):
        Mast3rEngine(random_model(TINY_SPEC, seed=0), torch.device("cpu"), compile="max")


def test_from_config_needs_a_checkpoint():
    with pytest.raises(ConfigError, match="needs a checkpoint"):
        Mast3rEngine.from_config(ModelConfig())


def test_reduce_overhead_on_cpu_falls_back_to_default():
    eng = Mast3rEngine(random_model(TINY_SPEC, seed=0), torch.device("cpu"),
                       compile="reduce-overhead")
    assert eng.compile == "default"


def test_compile_default_equals_eager(one_torch_thread):
    """Compiles two small graphs with inductor's C++ backend: passed here once, but took 5.6 min
    on 2 shared cores (2.2 min CPU), too slow for every CI run, hence opt-in. test/gpu runs the
    CUDA modes on every GPU check."""
    if os.environ.get("MAST3R_TEST_COMPILE") != "1":
        pytest.skip("torch.compile on CPU takes minutes here; set MAST3R_TEST_COMPILE=1 to run")
    model = random_model(TINY_SPEC, seed=0)
    eager = Mast3rEngine(model, torch.device("cpu"))
    comp = Mast3rEngine(model, torch.device("cpu"), compile="default", warmup=[HW],
                        warmup_batches=(2,))
    if comp.compile == "none":
        pytest.skip("torch.compile is not usable here (see the warning in the log)")
    assert comp._batches == [2]
    q, kfs = _prep(1), [_prep(2), _prep(3)]
    want = eager.decode([eager.encode(k) for k in kfs[:1]], eager.encode(q))
    # One keyframe on an engine warmed for two: padded to the compiled batch, sliced back.
    got = comp.decode([comp.encode(k) for k in kfs[:1]], comp.encode(q))
    assert len(got) == 1
    for a, b in zip(want, got):
        assert (a.desc_1 - b.desc_1).abs().max() < 1e-4
        assert (a.desc_2 - b.desc_2).abs().max() < 1e-4
        rel = torch.linalg.norm(a.pts3d_1 - b.pts3d_1, dim=-1) / torch.linalg.norm(a.pts3d_1,
                                                                                   dim=-1)
        assert rel.max() < 1e-4
        assert ((a.conf_1 - b.conf_1).abs() / a.conf_1).max() < 1e-4


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001
            out["error"] = err
    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    return out


def test_another_thread_gets_its_own_cuda_graph_trees(monkeypatch):
    """'reduce-overhead' keeps CUDA-graph trees in a threading.local set up on the importing
    thread. Before torch 2.13 (Jetson's wheels) a compiled call from the node's inference thread
    failed in cudagraph_trees.get_obj with an AssertionError (pytorch/pytorch#123177);
    `ensure_cuda_graph_thread_state`, called by the engine before each compiled call, gives the
    thread its own containers. Emulated here with torch < 2.13's get_obj and no _initialize_tls.
    """
    cgt = pytest.importorskip("torch._inductor.cudagraph_trees")
    from mast3r_ros.core.model.engine import ensure_cuda_graph_thread_state

    def old_get_obj(local, attr_name):  # torch 2.1-2.12
        if hasattr(local, attr_name):
            return getattr(local, attr_name)
        assert torch._C._is_key_in_tls(attr_name)
        return torch._C._get_obj_in_tls(attr_name)

    monkeypatch.setattr(cgt, "get_obj", old_get_obj)
    monkeypatch.delattr(cgt, "_initialize_tls", raising=False)
    mine = old_get_obj(cgt.local, "tree_manager_containers")
    bare = _in_thread(lambda: cgt.get_container(0))
    assert isinstance(bare.get("error"), AssertionError)  # what the node's thread met

    def prepared():
        ensure_cuda_graph_thread_state()
        ensure_cuda_graph_thread_state()  # twice: kept, not replaced
        return cgt.get_obj(cgt.local, "tree_manager_containers"), cgt.get_container(0)
    got = _in_thread(prepared)
    assert "error" not in got, got
    containers, container = got["value"]
    assert containers is not mine and containers == {0: container}
    assert old_get_obj(cgt.local, "tree_manager_containers") is mine  # this thread's untouched


def test_reduce_overhead_step_on_torch_2_1_without_torch_compiler_name(monkeypatch):
    """torch 2.1 (NVIDIA's oldest Jetson wheels) has no torch.compiler.cudagraph_mark_step_begin
    (added in 2.2): the engine's step before each 'reduce-overhead' call raised AttributeError
    there (warm-up then fell back to eager; an engine built without warm-up failed its first
    encode). It marks the step through torch._inductor.cudagraph_trees instead. Emulated on the
    CPU: the name removed, the engine's mode set as a CUDA engine's would be."""
    cgt = pytest.importorskip("torch._inductor.cudagraph_trees")
    monkeypatch.delattr(torch.compiler, "cudagraph_mark_step_begin", raising=False)
    eng = Mast3rEngine(random_model(TINY_SPEC, seed=0), torch.device("cpu"))
    eng.compile = "reduce-overhead"  # what a CUDA engine holds; its functions stay eager here
    before = cgt.MarkStepBox.mark_step_counter
    enc = eng.encode(_prep(1))
    assert cgt.MarkStepBox.mark_step_counter == before - 1
    eng.decode([enc], enc)
    assert cgt.MarkStepBox.mark_step_counter == before - 2


def test_a_compiled_warm_up_says_before_it_starts_that_it_may_take_minutes(caplog):
    """`model.compile`'s warm-up was silent for minutes (8+ on a CPU) after the last line:
    one line now says, before it, what is compiled and how long it may take; the line after
    gives the time taken. An eager warm-up says nothing before."""
    eng = Mast3rEngine(random_model(TINY_SPEC, seed=0), torch.device("cpu"))
    eng.encode = lambda prep: None  # what warm-up runs is not the point here: instant
    eng.decode = lambda *a, **k: []
    with caplog.at_level("INFO", logger="mast3r_ros.core.model.engine"):
        eng.warmup([HW])
        assert not any("may take minutes" in r.getMessage() for r in caplog.records)
        eng.compile = "default"  # as a compiled engine holds (no minutes of compiling here)
        caplog.clear()
        eng.warmup([HW], [1, 2])
    lines = [r.getMessage() for r in caplog.records]
    assert "may take minutes (on a GPU: tens of seconds)" in lines[0], lines
    assert "[(32, 48)]" in lines[0] and "[1, 2]" in lines[0]
    assert lines[-1].startswith("warmed up cpu (compile default)") and " in " in lines[-1]
