"""The matching of a frame replayed as a CUDA graph (`matchers.fixed_matching`) equals the eager
fixed-shape path and the variable-shape path it replaced (skipped without CUDA and Triton)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
pytest.importorskip("triton", minversion="3.0")

from mast3r_test_utils import warped_descriptor_pair  # noqa: E402

from mast3r_ros.core.config import MatchingConfig  # noqa: E402
from mast3r_ros.core.matchers import fixed_matching  # noqa: E402
from mast3r_ros.core.matchers.mast3r import _match_and_fuse_walks, match_and_fuse  # noqa: E402

H, W = 96, 128


def _preds(k, frame, dtype=torch.float16):
    """K predictions of one frame (descriptors/confidences in the engine's autocast dtype)."""
    out = []
    for s in range(k):
        seed = 10 * frame + s
        p = warped_descriptor_pair(H, W, seed=seed, angle_deg=(-4.0, 3.0, 6.0, -2.0)[s % 4],
                                   scale=(1.08, 0.93, 1.0, 1.15)[s % 4])
        g = torch.Generator().manual_seed(seed)
        conf = lambda g=g: 1.0 + 2.0 * torch.rand((H, W), generator=g)  # noqa: E731
        out.append(SimpleNamespace(
            desc_1=p.desc1.to("cuda", dtype), desc_2=p.desc2.to("cuda", dtype),
            desc_conf_1=conf().to("cuda", dtype), desc_conf_2=conf().to("cuda", dtype),
            conf_1=conf().to("cuda"), pts3d_1=torch.randn((H, W, 3), generator=g).to("cuda")))
    if frame % 2:  # a frame with non-finite descriptors
        out[0].desc_2[10:20, 30:40] = float("nan")
    return out


def _poses(k, frame):
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(frame)
    T = np.stack([np.eye(4)] * k)
    T[:, :3, :3] = Rotation.from_rotvec(rng.normal(size=(k, 3))).as_matrix()
    T[:, :3, 3] = rng.normal(size=(k, 3))
    return T


@pytest.mark.parametrize("k", [1, 4])
def test_graph_equals_eager_over_several_frames(k, monkeypatch):
    runner = fixed_matching._GraphRunner()
    monkeypatch.setattr(fixed_matching, "_RUNNER", runner)
    graph = MatchingConfig(nn_backend="triton", cuda_graph="auto", max_matches=500)
    eager = MatchingConfig(nn_backend="triton", cuda_graph="off", max_matches=500)
    assert fixed_matching.uses_cuda_graphs(graph, torch.device("cuda"))
    rng_g, rng_e, rng_w = (np.random.default_rng(7) for _ in range(3))
    for frame in range(4):  # new inputs every frame, one capture for all of them
        preds, poses = _preds(k, frame), _poses(k, frame)
        got = match_and_fuse(preds, poses, graph, rng_g)
        want = match_and_fuse(preds, poses, eager, rng_e)
        before = _match_and_fuse_walks(preds, poses, eager, rng_w)
        assert len(got.slot) > 50 * k
        for name, a, b, c in zip(got._fields, got, want, before):
            np.testing.assert_array_equal(a, b, err_msg=f"frame {frame} {name} graph vs eager")
            np.testing.assert_array_equal(a, c, err_msg=f"frame {frame} {name} vs variable")
    assert runner.broken is None, runner.broken
    assert runner.n_captures == 1 and runner.n_replays == 3
    assert rng_g.bit_generator.state == rng_e.bit_generator.state == rng_w.bit_generator.state


@pytest.mark.parametrize("k", [1, 4])
def test_fused_walk_rounds_give_the_same_matches_in_a_graph(k, monkeypatch):
    """`walk.FUSED_ROUNDS` (a round's bookkeeping in two Triton kernels, off by default): the
    captured graph, the eager fixed path and the variable path give the unfused matches on
    real CUDA kernels (a frame with non-finite descriptors among them)."""
    from mast3r_ros.core.matching import walk

    graph = MatchingConfig(nn_backend="triton", cuda_graph="auto", max_matches=500)
    eager = MatchingConfig(nn_backend="triton", cuda_graph="off", max_matches=500)
    for frame in range(2):
        preds, poses = _preds(k, frame), _poses(k, frame)
        want = match_and_fuse(preds, poses, eager, np.random.default_rng(7))
        monkeypatch.setattr(walk, "FUSED_ROUNDS", True)
        monkeypatch.setattr(fixed_matching, "_RUNNER", fixed_matching._GraphRunner())
        got = [match_and_fuse(preds, poses, graph, np.random.default_rng(7)) for _ in range(2)]
        got += [match_and_fuse(preds, poses, eager, np.random.default_rng(7)),
                _match_and_fuse_walks(preds, poses, eager, np.random.default_rng(7))]
        assert fixed_matching._RUNNER.broken is None, fixed_matching._RUNNER.broken
        monkeypatch.setattr(walk, "FUSED_ROUNDS", False)
        assert len(want.slot) > 50 * k
        for i, g in enumerate(got):
            for name, a, b in zip(g._fields, g, want):
                np.testing.assert_array_equal(a, b, err_msg=f"frame {frame} way {i} {name}")


def test_one_graph_per_keyframe_count_and_no_sync_in_replay(monkeypatch):
    runner = fixed_matching._GraphRunner()
    monkeypatch.setattr(fixed_matching, "_RUNNER", runner)
    cfg = MatchingConfig(nn_backend="triton", cuda_graph="auto")
    for k in (1, 2, 1, 2):
        match_and_fuse(_preds(k, 0), _poses(k, 0), cfg, np.random.default_rng(0))
    assert runner.n_captures == 2 and runner.n_replays == 2 and runner.broken is None
    # the replay itself launches no synchronising operation (the host copy after it does)
    cap = next(iter(runner.graphs.values()))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        cap.graph.replay()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


def test_walks_longer_than_the_graphs_rounds_give_the_same_matches(monkeypatch):
    """A graph of one walk round (`FIRST_ROUNDS` = 1): every frame's walks outlast it, its
    status row says so, and the frame is matched again eagerly with all rounds: the matches of
    the variable-shape path; the norms-once walk is the one replayed."""
    runner = fixed_matching._GraphRunner()
    monkeypatch.setattr(fixed_matching, "_RUNNER", runner)
    monkeypatch.setattr(fixed_matching, "FIRST_ROUNDS", 1)
    graph = MatchingConfig(nn_backend="triton", cuda_graph="auto", max_matches=500)
    eager = MatchingConfig(nn_backend="triton", cuda_graph="off", max_matches=500)
    rng_g, rng_w = np.random.default_rng(7), np.random.default_rng(7)
    for frame in range(2):
        preds, poses = _preds(2, frame), _poses(2, frame)
        got = match_and_fuse(preds, poses, graph, rng_g)
        want = _match_and_fuse_walks(preds, poses, eager, rng_w)
        assert len(got.slot) > 100
        for name, a, b in zip(got._fields, got, want):
            np.testing.assert_array_equal(a, b, err_msg=f"frame {frame} {name}")
    assert runner.broken is None, runner.broken
    assert runner.n_captures == 1 and runner.n_longer_walks == 2


def test_staging_a_frame_into_the_graphs_buffers_does_not_wait_for_the_device():
    """The keyframe poses were copied from pageable memory: a stream synchronisation, so the
    host waited for the decode queued before it, every frame. Now pinned and non-blocking:
    the staging of a frame (fp16 predictions converted, poses uploaded) queues only."""
    preds = _preds(2, 0)
    bufs = fixed_matching._new_buffers(preds, torch.device("cuda"))
    poses = _poses(2, 0)
    torch.cuda.synchronize()
    torch.cuda._sleep(10**8)  # the "decode" still running while the frame is staged
    torch.cuda.set_sync_debug_mode("error")
    try:
        fixed_matching._stack_into(bufs, preds, poses)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    np.testing.assert_array_equal(bufs["map_from_cam"].cpu().numpy(), poses)
