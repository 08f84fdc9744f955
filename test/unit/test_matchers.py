"""The MASt3R pair matcher's match filtering (`matchers.mast3r.filter_matches`) and helpers."""

import numpy as np
import pytest
import torch

from mast3r_ros.core.config import MatchingConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.matchers.mast3r import filter_matches, stack_encodings
from mast3r_ros.core.matching import fast_reciprocal_matches, filter_border
from mast3r_ros.core.model.engine import PairPrediction
from mast3r_test_utils import count_cpu_calls

H, W, D = 24, 32, 8


def _prediction(seed=0):
    g = torch.Generator().manual_seed(seed)

    def unit(shape):
        d = torch.randn(shape, generator=g)
        return d / d.norm(dim=-1, keepdim=True)

    conf = lambda: 1.0 + 2.0 * torch.rand((H, W), generator=g)  # noqa: E731
    return PairPrediction(torch.randn((H, W, 3), generator=g), conf(), unit((H, W, D)), conf(),
                          None, None, unit((H, W, D)), conf())


def _host_reference(pred, c, rng):
    """The filtering as it was written on the host (before it moved to the device)."""
    xy1, xy2 = fast_reciprocal_matches(pred.desc_1, pred.desc_2, subsample=c.subsample,
                                       max_iter=c.max_iter)
    xy1, xy2 = filter_border(xy1, xy2, (H, W), (H, W), c.border_px)
    conf = np.minimum(pred.desc_conf_1[xy1[:, 1], xy1[:, 0]].float().numpy(),
                      pred.desc_conf_2[xy2[:, 1], xy2[:, 0]].float().numpy())
    pts_conf = pred.conf_1[xy1[:, 1], xy1[:, 0]].float().numpy()
    xy1, xy2 = xy1.numpy(), xy2.numpy()
    keep = (conf >= c.min_desc_conf) & (pts_conf >= c.min_pointmap_conf)
    xy1, xy2 = xy1[keep], xy2[keep]
    if len(xy1) > c.max_matches:
        sel = np.sort(rng.choice(len(xy1), c.max_matches, replace=False))
        xy1, xy2 = xy1[sel], xy2[sel]
    pts = pred.pts3d_1[xy1[:, 1], xy1[:, 0]].float().numpy().astype(np.float64)
    pconf = pred.conf_1[xy1[:, 1], xy1[:, 0]].float().numpy().astype(np.float64)
    return xy1, xy2, pts, pconf


@pytest.mark.parametrize("cfg", [
    MatchingConfig(subsample=2, border_px=2),
    MatchingConfig(subsample=2, border_px=1, min_desc_conf=1.8, min_pointmap_conf=1.5,
                   max_matches=10),
    MatchingConfig(subsample=2, min_desc_conf=1e6),  # nothing left
])
def test_filter_matches_equals_the_host_reference(cfg):
    pred = _prediction()
    got = filter_matches(pred, cfg, np.random.default_rng(4))
    want = _host_reference(pred, cfg, np.random.default_rng(4))
    assert len(got) == len(want) == 4
    for g, w, dtype in zip(got, want, (np.int64, np.int64, np.float64, np.float64)):
        assert g.dtype == dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
    if cfg.max_matches == 10:
        assert len(got.xy1) == 10  # the random subset was drawn
    if cfg.min_desc_conf < 1e6:
        assert len(got.xy1) > 0


def test_filter_matches_moves_to_the_host_once(monkeypatch):
    calls = count_cpu_calls(monkeypatch)
    m = filter_matches(_prediction(1), MatchingConfig(subsample=2, max_matches=10),
                       np.random.default_rng(0))
    assert calls == [(len(m.xy1), 8)]  # xy1, xy2, pts3d_1, conf_1


def test_stack_encodings_needs_keyframes():
    with pytest.raises(InputError, match="no keyframe"):
        stack_encodings("ckpt", 224, [])


def _pose(seed):
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()
    T[:3, 3] = rng.normal(size=3) * 3
    return T


@pytest.mark.parametrize("cfg", [
    MatchingConfig(subsample=2, border_px=2),
    MatchingConfig(subsample=2, border_px=1, min_desc_conf=1.8, min_pointmap_conf=1.5,
                   max_matches=10),
    MatchingConfig(subsample=2, min_desc_conf=1e6),  # nothing left
])
def test_match_and_fuse_equals_filter_matches_per_pair(cfg):
    from mast3r_ros.core.geometry import transform_points
    from mast3r_ros.core.matchers.mast3r import match_and_fuse

    preds = [_prediction(s) for s in (0, 1, 2)]
    poses = np.stack([_pose(s) for s in range(3)])
    fused = match_and_fuse(preds, poses, cfg, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    for k, p in enumerate(preds):
        want = filter_matches(p, cfg, rng)
        got = fused.pair(k)
        np.testing.assert_array_equal(got.xy1, want.xy1)
        np.testing.assert_array_equal(got.xy2, want.xy2)
        np.testing.assert_array_equal(got.pts3d_cam, want.pts3d_1)
        np.testing.assert_allclose(got.pts3d_map, transform_points(poses[k], want.pts3d_1),
                                   rtol=0, atol=1e-12)
        assert got.xy1.dtype == np.int64 and got.pts3d_map.dtype == np.float64
    assert np.all(np.diff(fused.slot) >= 0)
    assert match_and_fuse([], np.zeros((0, 4, 4)), cfg, rng).xy1.shape == (0, 2)


def test_match_and_fuse_moves_to_the_host_once(monkeypatch):
    from mast3r_ros.core.matchers.mast3r import match_and_fuse

    calls = count_cpu_calls(monkeypatch)
    preds = [_prediction(s) for s in range(4)]
    m = match_and_fuse(preds, np.stack([np.eye(4)] * 4), MatchingConfig(subsample=2),
                       np.random.default_rng(0))
    assert len(calls) == 1 and calls[0][1] == 13 and calls[0][0] >= len(m.xy1) > 0
