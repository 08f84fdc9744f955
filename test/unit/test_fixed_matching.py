"""The fixed-shape Triton matching of a frame (`matchers.fixed_matching`) against the
variable-shape path it replaces (`matchers.mast3r._match_and_fuse_walks`): same rows, same order,
same random stream; no host round trip in the device part; the CUDA-graph fallback.

Without a GPU the Triton kernels run through Triton's CPU interpreter (test/conftest.py sets
TRITON_INTERPRET=1); the CUDA-graph capture itself is tested in test/gpu/. Descriptors are small
multiples of 1/8, so the torch search gives the same walks and serves as a second reference.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mast3r_test_utils import TRITON_TEST_MIN, count_cpu_calls, warped_descriptor_pair

pytest.importorskip("triton", minversion=TRITON_TEST_MIN)


from mast3r_ros.core import nn_triton  # noqa: E402
from mast3r_ros.core.config import MatchingConfig  # noqa: E402
from mast3r_ros.core.matchers import fixed_matching  # noqa: E402
from mast3r_ros.core.matchers.mast3r import _match_and_fuse_walks, match_and_fuse  # noqa: E402

DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if DEV.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("triton was imported before TRITON_INTERPRET=1 was set", allow_module_level=True)

# 8 x 12 maps (24 walkers at subsample 2, one query block and one target tile of the search):
# the fixed path equals the walks path whatever the size (12 x 16 before: four times the
# interpreted kernel work); the searches' block edges and several blocks are test_nn_triton's
H, W = 8, 12


def _preds(k, seed=0, h=H, w=W):
    out = []
    for s in range(seed, seed + k):
        p = warped_descriptor_pair(h, w, seed=s, quantize=8,
                                   angle_deg=(-4.0, 3.0, 6.0, -2.0)[s % 4])
        g = torch.Generator().manual_seed(100 + s)
        conf = lambda g=g: 1.0 + 2.0 * torch.rand((h, w), generator=g)  # noqa: E731
        out.append(SimpleNamespace(
            desc_1=p.desc1.clone().to(DEV), desc_2=p.desc2.clone().to(DEV),
            desc_conf_1=conf().to(DEV), desc_conf_2=conf().half().to(DEV), conf_1=conf().to(DEV),
            pts3d_1=torch.randn((h, w, 3), generator=g).to(DEV)))
    return out


def _poses(k):
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(k)
    T = np.stack([np.eye(4)] * k)
    T[:, :3, :3] = Rotation.from_rotvec(rng.normal(size=(k, 3))).as_matrix()
    T[:, :3, 3] = rng.normal(size=(k, 3))
    return T


def _assert_same(preds, cfg, *, references=("triton", "torch"), rng_seed=3):
    """match_and_fuse (fixed path) == the variable-shape path with each search, rng included."""
    assert fixed_matching.eligible(preds, cfg)
    poses = _poses(len(preds))
    rng = np.random.default_rng(rng_seed)
    got = match_and_fuse(preds, poses, cfg, rng)
    for be in references:
        ref_rng = np.random.default_rng(rng_seed)
        want = _match_and_fuse_walks(preds, poses, MatchingConfig(
            **{**cfg.__dict__, "nn_backend": be}), ref_rng)
        for name, g, w in zip(got._fields, got, want):
            assert g.dtype == w.dtype and g.shape == w.shape, (be, name)
            np.testing.assert_array_equal(g, w, err_msg=f"{be} {name}")
        assert rng.bit_generator.state == ref_rng.bit_generator.state, be
    return got


CFG = MatchingConfig(subsample=2, border_px=1, min_desc_conf=1.2, min_pointmap_conf=1.1,
                     max_matches=4, nn_backend="triton")  # pair 0 keeps 6 (8 x 12): a subset


@pytest.mark.parametrize("k", [1, 4])
def test_fixed_equals_the_variable_shape_path(k):
    got = _assert_same(_preds(k), CFG)
    counts = np.bincount(got.slot, minlength=k)
    assert counts[0] == 4 and counts.max() == 4, counts  # subsets drawn


def test_no_filter_no_subset_many_rows():
    cfg = MatchingConfig(subsample=2, border_px=0, min_desc_conf=0.0, max_matches=10**6,
                         nn_backend="triton")
    got = _assert_same(_preds(3, seed=1), cfg, references=("triton",))
    # more than 40 % of the 3 x 24 walkers matched (as 60 of 144 at 12 x 16): no subset drawn
    assert len(got.slot) > 30 and set(got.slot) == {0, 1, 2}


def test_non_finite_rows_and_empty_pairs():
    """NaN block in a view-2 map, an inf row in a view-1 map, a pair whose view 2 is all NaN
    and one whose view 1 is all inf: the device masks give the host path's matches."""
    preds = _preds(4, seed=2)
    preds[0].desc_2[3:6, 4:9] = float("nan")
    preds[1].desc_1[0, :] = float("inf")
    preds[1].desc_1[5, 3] = float("-inf")
    preds[2].desc_2[:] = float("nan")
    preds[3].desc_1[:] = float("inf")
    cfg = MatchingConfig(subsample=2, border_px=0, min_desc_conf=0.0, max_matches=10**6,
                         nn_backend="triton")
    got = _assert_same(preds, cfg)
    counts = np.bincount(got.slot, minlength=4)
    assert counts[0] > 0 and counts[1] > 0 and counts[2] == 0 and counts[3] == 0


@pytest.mark.parametrize("max_iter", [1, 2])
def test_max_iter_reached(max_iter):
    """Walkers still walking after max_iter rounds are dropped, as before."""
    _assert_same(_preds(2, seed=3), MatchingConfig(subsample=2, max_iter=max_iter, border_px=0,
                                                   min_desc_conf=0.0, max_matches=10**6,
                                                   nn_backend="triton"), references=("triton",))


def test_no_matches_and_no_start_points():
    got = _assert_same(_preds(2), MatchingConfig(subsample=2, min_desc_conf=1e6,
                                                 nn_backend="triton"), references=("triton",))
    assert got.xy1.shape == (0, 2) and got.pts3d_map.shape == (0, 3)
    small = _preds(1, h=3, w=3)
    got = _assert_same(small, MatchingConfig(subsample=8, nn_backend="triton"))  # 8//2 >= 3
    assert len(got.slot) == 0


def _sync_ops(fn):
    """aten ops that wait for the device (or size outputs by their data) run by ``fn``, outside
    the Triton search itself (the interpreter runs kernels with host copies)."""
    real = nn_triton.nn_search

    def marked(*a, **kw):
        with torch.profiler.record_function("nn_search"):
            return real(*a, **kw)

    bad_names = ("nonzero", "_local_scalar_dense", "unique", "masked_select", "item",
                 "is_nonzero", "to_dense", "_assert_async")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nn_triton, "nn_search", marked)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            out = fn()
    found, n_ops = [], 0
    for ev in prof.events():
        anc, inside = ev.cpu_parent, ev.name == "nn_search"
        while anc is not None and not inside:
            inside = anc.name == "nn_search"
            anc = anc.cpu_parent
        if inside:
            continue
        n_ops += ev.name.startswith("aten::") and ev.cpu_parent is None
        if any(b in ev.name for b in bad_names):
            found.append(ev.name)
    return out, found, n_ops


def test_device_part_has_no_host_round_trip():
    preds = _preds(1)
    prm = fixed_matching._params(CFG)
    bufs = fixed_matching._new_buffers(preds, DEV)
    fixed_matching._stack_into(bufs, preds, _poses(1))
    out, found, n_ops = _sync_ops(lambda: fixed_matching.device_pack(**bufs, prm=prm))
    assert found == []
    # one row per walker, then the status row
    assert out.shape == ((H // 2) * (W // 2) + 1, 13) and out.dtype == torch.float64
    # the variable-shape Triton path does wait: unique sizes, the per-round test, the bool()
    # checks (the counts are reported by bench/bench_matching.py --smoke)
    _, found_walks, _ = _sync_ops(lambda: _match_and_fuse_walks(preds, _poses(1), CFG,
                                                                np.random.default_rng(0)))
    assert found_walks


def test_fixed_path_moves_to_the_host_once(monkeypatch):
    calls = count_cpu_calls(monkeypatch)
    m = match_and_fuse(_preds(3), _poses(3), CFG, np.random.default_rng(0))
    assert calls == [(3 * (H // 2) * (W // 2) + 1, 13)] and len(m.slot) > 0


def test_graph_failure_falls_back_to_eager_with_one_warning(monkeypatch, caplog):
    """On the CPU the capture fails (no CUDA streams): one warning, eager results, graphs off."""
    monkeypatch.setattr(fixed_matching, "_RUNNER", fixed_matching._GraphRunner())
    preds, poses = _preds(1), _poses(1)
    want = fixed_matching.fixed_rows(preds, poses, CFG, graphs=False)
    with caplog.at_level("WARNING", logger=fixed_matching.__name__):
        first = fixed_matching.fixed_rows(preds, poses, CFG, graphs=True)
        second = fixed_matching.fixed_rows(preds, poses, CFG, graphs=True)
    np.testing.assert_array_equal(first, want)
    np.testing.assert_array_equal(second, want)
    assert len([r for r in caplog.records if "runs eagerly" in r.message]) == 1
    assert fixed_matching._RUNNER.broken is not None
    assert not fixed_matching.uses_cuda_graphs(CFG, torch.device("cuda"))


def test_released_graphs_give_their_memory_back_and_a_failed_capture_is_tried_again(
        monkeypatch):
    """The graphs are process-wide: a node's cleanup (Localizer.close) left them, with their
    static buffers and memory pool, on the device after the model was released, and a capture
    that failed once (out of memory) kept matching eager for the life of the process."""
    runner = fixed_matching._GraphRunner()
    monkeypatch.setattr(fixed_matching, "_RUNNER", runner)
    for k in range(3):                                   # stand-ins for captured graphs
        runner.graphs[("cuda:0", k + 1)] = fixed_matching._Captured(
            None, {"desc_1": torch.zeros(4)}, torch.zeros(2), torch.zeros(2))
    runner.pools["cuda:0"] = object()
    runner.broken = "RuntimeError: CUDA out of memory"
    assert fixed_matching.release_graphs() == 3
    assert not runner.graphs and not runner.pools and runner.broken is None
    assert fixed_matching.release_graphs() == 0


def test_graph_switch_and_eligibility():
    assert MatchingConfig().cuda_graph == "auto"
    cpu = torch.device("cpu")
    assert not fixed_matching.uses_cuda_graphs(MatchingConfig(), cpu)
    assert not fixed_matching.uses_cuda_graphs(MatchingConfig(cuda_graph="off"),
                                               torch.device("cuda"))
    preds = _preds(2)
    assert not fixed_matching.eligible(preds, MatchingConfig(nn_backend="torch"))
    assert not fixed_matching.eligible([], CFG)
    other = _preds(1, h=H, w=W + 2)
    assert not fixed_matching.eligible(preds + other, CFG)  # shapes differ: the walks path


def test_localizer_warms_every_keyframe_count_when_graphs_replay(monkeypatch):
    """With graphs on, the warm-up also matches the counts the engine's padding groups away."""
    from mast3r_ros.core.localizer import Localizer

    loc = Localizer.__new__(Localizer)
    loc.matcher = SimpleNamespace(cfg=MatchingConfig())
    loc.engine = SimpleNamespace(device=torch.device("cuda"))
    loc.config = SimpleNamespace(max_keyframes=4)
    loc._map = [0] * 3
    monkeypatch.setattr(fixed_matching, "uses_cuda_graphs", lambda cfg, dev: True)
    assert loc._matching_only_batches([1, 3]) == [2]
    monkeypatch.setattr(fixed_matching, "uses_cuda_graphs", lambda cfg, dev: False)
    assert loc._matching_only_batches([1, 3]) == []
    loc.matcher = SimpleNamespace()  # the SIFT matcher: nothing to capture
    assert loc._matching_only_batches([1]) == []


def test_float64_maps_are_never_eligible():
    """float64 maps always take the torch search (`resolve_nn_backend`), so a frame with one
    float64 descriptor map in any pair, either view, is not for the fixed-shape Triton path."""
    assert fixed_matching.eligible(_preds(2), CFG)
    for view in ("desc_1", "desc_2"):
        preds = _preds(2)
        setattr(preds[1], view, getattr(preds[1], view).double())
        assert not fixed_matching.eligible(preds, CFG), view


def test_the_tf32_screen_runs_only_where_tf32_tensor_cores_are(monkeypatch):
    """Before compute capability 8.0 (Jetson Xavier sm_72, T4 sm_75) the screen's TF32 pass is
    plain FMA work before the IEEE pass, no faster: it is skipped there."""
    caps = {0: (7, 2), 1: (8, 7), 2: (9, 0)}
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: caps[i])
    nn_triton._major_capability.cache_clear()
    try:
        assert [nn_triton.tf32_cores(torch.device("cuda", i)) for i in range(3)] == [
            False, True, True]
        assert nn_triton.tf32_cores(torch.device("cpu"))  # Triton's interpreter: as written
    finally:
        nn_triton._major_capability.cache_clear()


def test_eligibility_compares_every_field_and_graphs_need_cuda(monkeypatch):
    """Equal keyframe maps but a view-2 map of another shape in one pair: not for the
    fixed-shape path (every field is stacked). The Triton search on the CPU (the interpreter)
    replays no CUDA graph, even before any capture failed."""
    preds = _preds(2)
    preds[1].desc_2 = preds[1].desc_2[:-1]
    preds[1].desc_conf_2 = preds[1].desc_conf_2[:-1]
    assert not fixed_matching.eligible(preds, CFG)
    monkeypatch.setattr(fixed_matching, "_RUNNER", fixed_matching._GraphRunner())
    assert not fixed_matching.uses_cuda_graphs(CFG, torch.device("cpu"))
    assert fixed_matching.uses_cuda_graphs(CFG, torch.device("cuda"))  # the same config


def test_an_image_2_without_pixels_gives_no_rows():
    preds = _preds(2)
    for p in preds:
        p.desc_2, p.desc_conf_2 = p.desc_2[:0], p.desc_conf_2[:0]
    rows = fixed_matching.fixed_rows(preds, _poses(2), CFG, graphs=False)
    assert rows.shape == (0, 13) and rows.dtype == np.float64
