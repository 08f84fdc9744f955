"""The MASt3R pair matcher's match filtering (`matchers.mast3r.filter_matches`) and helpers."""

import numpy as np
import pytest
import torch

from mast3r_ros.core.config import MatchingConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.matchers.map_encodings import stack_encodings
from mast3r_ros.core.matchers.mast3r import filter_matches
from mast3r_ros.core.matching import fast_reciprocal_matches, filter_border
from mast3r_ros.core.model.engine import PairPrediction
from mast3r_test_utils import count_cpu_calls

H, W, D = 24, 32, 8


def _prediction(seed=0, h=H, w=W):
    g = torch.Generator().manual_seed(seed)

    def unit(shape):
        d = torch.randn(shape, generator=g)
        return d / d.norm(dim=-1, keepdim=True)

    conf = lambda: 1.0 + 2.0 * torch.rand((h, w), generator=g)  # noqa: E731
    return PairPrediction(torch.randn((h, w, 3), generator=g), conf(), unit((h, w, D)), conf(),
                          None, None, unit((h, w, D)), conf())


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


# ---------------------------------------------------------------------------------------------
# mutation-audit additions: hand-built predictions with known matches


def _perm_prediction():
    """Image 1 is 5x7 (H x W), image 2 7x5; one-hot descriptors, image-2 pixel j shows image-1
    pixel perm[j], so with subsample=1 every image-1 pixel i matches image-2 pixel inv[i].
    pts3d_1 at (x, y) is (x, y, 10 + x) and conf_1 2 + x / 8: exactly on the threshold 2.0 in
    column 0; every descriptor confidence is exactly on the threshold 1.5. Below them: image-2
    pixel (2, 3) (desc conf 1.49) and image-1 pixel (3, 2) (pointmap conf 1.99)."""
    h1, w1, h2, w2 = 5, 7, 7, 5
    perm = torch.randperm(35, generator=torch.Generator().manual_seed(1))
    eye = torch.eye(36)[:35]
    ys, xs = torch.meshgrid(torch.arange(h1), torch.arange(w1), indexing="ij")
    pts = torch.stack([xs, ys, 10 + xs], -1).float()
    conf_1 = 2.0 + xs / 8.0  # exact; on the threshold in column 0
    conf_1[2, 3] = 1.99
    dc2 = torch.full((h2, w2), 1.5)
    dc2[3, 2] = 1.49
    pred = PairPrediction(pts3d_1=pts, conf_1=conf_1, desc_1=eye.reshape(h1, w1, 36),
                          desc_conf_1=torch.full((h1, w1), 1.5), pts3d_2=None, conf_2=None,
                          desc_2=eye[perm].reshape(h2, w2, 36), desc_conf_2=dc2)
    return pred, torch.argsort(perm).numpy()


def _perm_expected(inv, border, skip=()):
    """(xy1, xy2) kept by hand: inside ``border`` of 7x5 (image 1) and 5x7 (image 2), minus the
    two pixels below a confidence threshold and the image-1 flat indices ``skip``."""
    xy1, xy2 = [], []
    for i in sorted(set(range(35)) - set(skip)):
        x1, y1, x2, y2 = i % 7, i // 7, inv[i] % 5, inv[i] // 5
        inside = (border <= x1 < 7 - border and border <= y1 < 5 - border
                  and border <= x2 < 5 - border and border <= y2 < 7 - border)
        if inside and (x1, y1) != (3, 2) and (x2, y2) != (2, 3):
            xy1.append((x1, y1))
            xy2.append((x2, y2))
    return np.array(xy1, np.int64).reshape(-1, 2), np.array(xy2, np.int64).reshape(-1, 2)


@pytest.mark.parametrize("border", [0, 1])
def test_filter_matches_inclusive_thresholds_and_image_shapes(border):
    pred, inv = _perm_prediction()
    cfg = MatchingConfig(subsample=1, border_px=border, min_desc_conf=1.5, min_pointmap_conf=2.0)
    xy1, xy2 = _perm_expected(inv, border)
    assert len(xy1) == (33 if border == 0 else 5)  # 35 - the 2 below a threshold; the border
    got = filter_matches(pred, cfg, np.random.default_rng(0))
    np.testing.assert_array_equal(got.xy1, xy1)
    np.testing.assert_array_equal(got.xy2, xy2)
    np.testing.assert_array_equal(got.pts3d_1, np.c_[xy1, 10 + xy1[:, 0]])
    np.testing.assert_array_equal(got.conf_1, 2.0 + xy1[:, 0] / 8)


def _fake_fixed_walk(inv):
    """`reciprocal_walk_fixed` of the permutation pair without Triton: walker p ends at (p,
    inv[p]), converged, except walker 0 (not converged) and walker 1 (merged into walker 2)."""
    inv_t = torch.as_tensor(inv)

    def walk(flat1, flat2, start, max_iter):  # max_iter: the rounds run first, FIRST_ROUNDS
        assert max_iter == 6 and torch.equal(start, torch.arange(35))
        xy1 = start.expand(flat1.shape[0], -1).clone()
        xy2 = inv_t[start].expand(flat1.shape[0], -1).clone()
        conv = torch.ones_like(xy1, dtype=torch.bool)
        conv[:, 0] = False
        xy1[:, 1], xy2[:, 1] = xy1[:, 2], xy2[:, 2]
        return xy1, xy2, conv, torch.zeros_like(conv)  # nobody walks on
    return walk


@pytest.mark.parametrize("path", ["walks", "fixed"])
@pytest.mark.parametrize("border", [0, 1])
def test_match_and_fuse_inclusive_thresholds_image_shapes_and_poses(border, path, monkeypatch):
    """The torch path (`_match_and_fuse_walks`) and the device part of the fixed-shape path
    (`fixed_matching.fixed_rows`, its Triton walk replaced by the known result) with
    `_select_rows`."""
    from mast3r_ros.core.matchers import fixed_matching
    from mast3r_ros.core.matchers.mast3r import _select_rows, match_and_fuse

    pred, inv = _perm_prediction()
    cfg = MatchingConfig(subsample=1, border_px=border, min_desc_conf=1.5, min_pointmap_conf=2.0,
                         nn_backend="torch")
    # slot 1: 90 deg about z, then (1, 2, 3): (x, y, z) -> (1 - y, 2 + x, 3 + z)
    T1 = np.array([[0.0, -1, 0, 1], [1, 0, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]])
    poses, rng = np.stack([np.eye(4), T1]), np.random.default_rng(0)
    if path == "walks":
        xy1, xy2 = _perm_expected(inv, border)
        fused = match_and_fuse([pred, pred], poses, cfg, rng)
    else:
        xy1, xy2 = _perm_expected(inv, border, skip=(0, 1))
        monkeypatch.setattr(fixed_matching, "reciprocal_walk_fixed", _fake_fixed_walk(inv))
        fused = _select_rows(fixed_matching.fixed_rows([pred, pred], poses, cfg, graphs=False),
                             2, cfg, rng)
    n = len(xy1)
    np.testing.assert_array_equal(fused.slot, [0] * n + [1] * n)
    np.testing.assert_array_equal(fused.xy1, np.r_[xy1, xy1])
    np.testing.assert_array_equal(fused.xy2, np.r_[xy2, xy2])
    cam = np.c_[xy1, 10 + xy1[:, 0]].astype(np.float64)
    np.testing.assert_array_equal(fused.pts3d_cam, np.r_[cam, cam])
    moved = np.c_[1 - cam[:, 1], 2 + cam[:, 0], 3 + cam[:, 2]]
    np.testing.assert_array_equal(fused.pts3d_map, np.r_[cam, moved])
    np.testing.assert_array_equal(fused.conf, np.r_[2.0 + xy1[:, 0] / 8, 2.0 + xy1[:, 0] / 8])


def test_max_matches_draws_only_when_there_are_more():
    """Exactly max_matches kept rows: all kept, in order, and no draw from the rng (one
    ``choice`` per pair that has more, the stream `match_and_fuse` shares with
    `filter_matches`); one fewer: a draw, a sorted subset."""
    from mast3r_ros.core.matchers.mast3r import match_and_fuse

    pred, inv = _perm_prediction()
    xy1, _ = _perm_expected(inv, 0)
    for n, draws in ((len(xy1), False), (len(xy1) + 5, False), (len(xy1) - 1, True)):
        cfg = MatchingConfig(subsample=1, border_px=0, min_desc_conf=1.5,
                             min_pointmap_conf=2.0, max_matches=n, nn_backend="torch")
        for run in (lambda r, c=cfg: filter_matches(pred, c, r).xy1,
                    lambda r, c=cfg: match_and_fuse([pred], np.eye(4)[None], c, r).xy1):
            rng = np.random.default_rng(7)
            state = rng.bit_generator.state
            got = run(rng)
            assert (rng.bit_generator.state != state) == draws, n
            if draws:
                assert len(got) == n
                assert {tuple(r) for r in got} <= {tuple(r) for r in xy1}
                assert np.all(np.diff(got[:, 1] * 7 + got[:, 0]) > 0)
            else:
                np.testing.assert_array_equal(got, xy1)


def _double(pred):
    import dataclasses

    return PairPrediction(**{f.name: None if getattr(pred, f.name) is None
                             else getattr(pred, f.name).double()
                             for f in dataclasses.fields(pred)})


def test_match_and_fuse_of_float64_predictions_equals_filter_matches_per_pair():
    """float64 predictions (the walks path: float64 maps never take the Triton search) give the
    points `filter_matches` gives: ``pts3d_1`` read as float32, as the fixed-shape path's
    float32 buffers hold it, not the float64 value itself; dtypes as documented."""
    from mast3r_ros.core.matchers.mast3r import match_and_fuse

    preds = [_double(_prediction(s)) for s in (0, 1)]
    for p in preds:  # values no float32 holds
        p.pts3d_1 += 1e-9
        p.conf_1 += 1e-9
    cfg = MatchingConfig(subsample=2, border_px=1, max_matches=10)
    fused = match_and_fuse(preds, np.stack([np.eye(4)] * 2), cfg, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    for k, p in enumerate(preds):
        want, got = filter_matches(p, cfg, rng), fused.pair(k)
        assert len(got.xy1) == 10
        assert not np.array_equal(got.pts3d_cam, p.pts3d_1[got.xy1[:, 1], got.xy1[:, 0]].numpy())
        np.testing.assert_array_equal(got.pts3d_cam, want.pts3d_1)
        np.testing.assert_array_equal(got.conf, want.conf_1)
    for name, a in zip(fused._fields, fused):
        assert a.dtype == (np.int64 if name in ("slot", "xy1", "xy2") else np.float64), name


def test_match_and_fuse_of_no_pair_has_the_documented_shapes_and_dtypes():
    from mast3r_ros.core.matchers.mast3r import match_and_fuse

    empty = match_and_fuse([], np.zeros((0, 4, 4)), MatchingConfig(), np.random.default_rng(0))
    shapes = {"slot": (0,), "xy1": (0, 2), "xy2": (0, 2), "pts3d_cam": (0, 3),
              "pts3d_map": (0, 3), "conf": (0,)}
    for name, a in zip(empty._fields, empty):
        assert a.shape == shapes[name], name
        assert a.dtype == (np.int64 if name in ("slot", "xy1", "xy2") else np.float64), name


def test_fixed_rows_keep_a_match_at_the_last_pixels_of_the_last_pair(monkeypatch):
    """The key of the last pair's bottom-right pixels in both images, K * n1 * n2 - 1, is the
    largest key and still below the sentinel of unconverged walkers: that match is kept."""
    from mast3r_ros.core.matchers import fixed_matching

    def identity_walk(flat1, flat2, start, max_iter):  # walker p ends at (p, p), converged
        xy = start.expand(flat1.shape[0], -1).clone()
        return xy, xy.clone(), torch.ones_like(xy, dtype=torch.bool), torch.zeros_like(
            xy, dtype=torch.bool)

    monkeypatch.setattr(fixed_matching, "reciprocal_walk_fixed", identity_walk)
    g = torch.Generator().manual_seed(0)
    ones = torch.ones((2, 2))
    pred = PairPrediction(torch.randn((2, 2, 3), generator=g), ones, torch.randn((2, 2, 4)),
                          ones, None, None, torch.randn((2, 2, 4)), ones)
    cfg = MatchingConfig(subsample=1, border_px=0, min_desc_conf=0.0, min_pointmap_conf=0.0)
    rows = fixed_matching.fixed_rows([pred, pred], np.stack([np.eye(4)] * 2), cfg, graphs=False)
    np.testing.assert_array_equal(rows[:, 0], np.ones(8))
    np.testing.assert_array_equal(rows[:, 1], [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(rows[:, 2:4], [[0, 0], [1, 0], [0, 1], [1, 1]] * 2)
    np.testing.assert_array_equal(rows[:, 4:6], rows[:, 2:4])


def test_pairs_of_a_merged_map_fuse_per_keyframe_shape_in_candidate_order(monkeypatch):
    """`Mast3rMatcher._pairs` on keyframes of two network shapes (a merged map): each shape
    is fused on its own, and candidate k gets its own matches, moved by its own keyframe's
    pose, whatever its place in its shape's group."""
    from types import SimpleNamespace

    from mast3r_ros.core.geometry import transform_points
    from mast3r_ros.core.matchers.mast3r import Mast3rMatcher

    # keyframe 4 of another network size (16 x 24) first: the 24 x 32 keyframes' group
    # does not start at candidate 0
    preds = [_prediction(7, 16, 24), _prediction(5), _prediction(6)]
    indices = [4, 0, 2]
    poses = [_pose(s) for s in range(5)]
    m = Mast3rMatcher.__new__(Mast3rMatcher)
    m.kf_map = SimpleNamespace(keyframes=[SimpleNamespace(map_from_cam=p) for p in poses])
    m.cfg, m.rng = MatchingConfig(subsample=2, border_px=1), np.random.default_rng(0)
    monkeypatch.setattr(Mast3rMatcher, "_pair", lambda self, i, fused, *_: (i, fused))
    out = m._pairs(indices, preds, np.eye(3))
    assert [i for i, _ in out] == indices
    for (i, got), p in zip(out, preds):
        want = filter_matches(p, m.cfg, np.random.default_rng(0))  # no subset: no draw
        assert len(want.xy1) > 0
        np.testing.assert_array_equal(got.xy1, want.xy1)
        np.testing.assert_array_equal(got.xy2, want.xy2)
        np.testing.assert_allclose(got.pts3d_map, transform_points(poses[i], want.pts3d_1),
                                   rtol=0, atol=1e-12)


def _packed(k_n, n, seed):
    """(k_n * n, 13) packed rows in slot order, ~80 % kept, dropped rows at slot 0 (as
    `fixed_matching.device_pack` leaves them)."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(k_n * n, 13))
    h[:, 0] = rng.random(len(h)) < 0.8
    h[:, 1] = np.repeat(np.arange(k_n), n)
    h[h[:, 0] == 0, 1] = 0
    h[:, 2:6] = rng.integers(0, 50, (len(h), 4))
    return h


def _select_reference(host, k_n, max_matches, rng):
    """The selection as `_select_rows` first wrote it: one pass over all rows per slot."""
    rows = []
    for k in range(k_n):
        kept = np.flatnonzero((host[:, 0] > 0) & (host[:, 1] == k))
        if len(kept) > max_matches:
            kept = kept[np.sort(rng.choice(len(kept), max_matches, replace=False))]
        rows.append(kept)
    return host[np.concatenate(rows)]


@pytest.mark.parametrize("k_n,max_matches,kept,shuffle", [
    (1, 10**6, None, False), (3, 30, None, False), (3, 10**6, None, True),
    (2, 10**6, 1.0, False), (2, 10**6, 0.0, False)])
def test_select_rows_same_rows_and_draws_contiguous_columns_and_pair_views(
        k_n, max_matches, kept, shuffle):
    """`_select_rows` picks the rows and makes the draws of a pass per slot (also from rows out
    of slot order, all rows kept, none kept); its columns are contiguous and
    `FusedMatches.pair` hands out views of them, not copies (a frame's host finish, issue 9)."""
    from mast3r_ros.core.matchers.mast3r import _select_rows

    host = _packed(k_n, 50, seed=k_n)
    if kept is not None:
        host[:, 0] = kept
    if shuffle:
        host = host[np.random.default_rng(0).permutation(len(host))]
    cfg = MatchingConfig(max_matches=max_matches)
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    got, want = _select_rows(host, k_n, cfg, r1), _select_reference(host, k_n, max_matches, r2)
    assert r1.bit_generator.state == r2.bit_generator.state
    for col, (a, b) in zip(got, ((1, 2), (2, 4), (4, 6), (6, 9), (9, 12), (12, 13))):
        np.testing.assert_array_equal(col, want[:, a:b].reshape(col.shape))
    for name in ("pts3d_cam", "pts3d_map", "conf", "xy1"):
        assert getattr(got, name).flags.c_contiguous, name
    for k in range(k_n):
        for a, b in zip(got.pair(k), got):
            np.testing.assert_array_equal(a, b[got.slot == k])
            assert not len(a) or np.shares_memory(a, b)
