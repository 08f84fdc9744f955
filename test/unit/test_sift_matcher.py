"""The SIFT baseline matcher (`matchers.sift`): RootSIFT extraction, the mutual ratio test, the
keyframe 3-D points from stored depth and their covariances, the byte-bounded LRU cache, the
re-ranking and the stage times, each checked against values worked out independently (OpenCV's
own SIFT, hand-made unit vectors, the pinhole + distortion forward model, the documented
covariance model).

The keyframe map is a small stand-in (`_Map`) with only what `SiftMatcher` reads, so keyframe
ids, poses, distortion and depth can be chosen freely; everything runs on 160 x 120 images.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.config import CovarianceConfig, MatchingConfig
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.matchers import sift
from mast3r_ros.core.matchers.sift import (SiftMatcher, extract_sift, match_descriptors,
                                          similarities)
from mast3r_ros.core.types import CameraIntrinsics, Frame

W, H = 160, 120
K = np.array([[150.0, 0.0, 81.0], [0.0, 140.0, 58.5], [0.0, 0.0, 1.0]])  # fx != fy


def _texture(seed, w=W, h=H):
    """A blurred random block texture: plenty of SIFT keypoints, each distinctive."""
    rng = np.random.default_rng(seed)
    small = rng.random((h // 6 + 1, w // 6 + 1, 3))
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def _pose(rotvec, t):
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    T[:3, 3] = t
    return T


class _Map:
    """What `SiftMatcher` reads from a `KeyframeMap`: keyframes (id, intrinsics, pose), their
    images and depths, ``has_depth`` and ``encoding_cache_mb``."""

    path = "stand-in"

    def __init__(self, images, depths, poses, cams=None, ids=None, encoding_cache_mb=1024.0):
        n = len(images)
        cams = cams or [CameraIntrinsics(img.shape[1], img.shape[0], K) for img in images]
        ids = list(range(n)) if ids is None else ids
        self.keyframes = [SimpleNamespace(id=ids[i], intrinsics=cams[i], map_from_cam=poses[i])
                          for i in range(n)]
        self._images, self._depths = images, depths
        self.encoding_cache_mb = encoding_cache_mb
        self.image_reads = 0

    def __len__(self):
        return len(self.keyframes)

    def has_depth(self):
        return all(d is not None for d in self._depths)

    def image(self, i):
        self.image_reads += 1
        return self._images[i]

    def depth(self, i):
        return self._depths[i]


def _flat_depth(z, w=W, h=H):
    return np.full((h, w), z, np.float32)


def _frame(rgb):
    return Frame(rgb, CameraIntrinsics(rgb.shape[1], rgb.shape[0], K), 0)


def _unit(*v):
    v = np.asarray(v, np.float64)
    return (v / np.linalg.norm(v)).astype(np.float32)


# ------------------------------------------------------------------------ extraction ---

def test_extract_sift_is_rootsift_of_opencv_sift():
    """RootSIFT (Arandjelovic & Zisserman 2012): each OpenCV SIFT descriptor L1-normalised,
    then square-rooted, so unit L2 norm; keypoints (x, y) as OpenCV gives them."""
    rgb = _texture(0)
    kps, raw = cv2.SIFT_create().detectAndCompute(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None)
    assert len(kps) > 50
    f = extract_sift(rgb, 100000)
    assert f.xy.dtype == np.float64 and f.desc.dtype == np.float32
    np.testing.assert_array_equal(f.xy, [[k.pt[0], k.pt[1]] for k in kps])
    raw = raw.astype(np.float64)
    np.testing.assert_allclose(f.desc, np.sqrt(raw / raw.sum(axis=1, keepdims=True)),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(f.desc, axis=1), 1.0, rtol=0, atol=1e-5)


def test_extract_sift_reads_rgb_with_bt601_luma():
    """The image is RGB: grey = 0.299 R + 0.587 G + 0.114 B. A pattern drawn in red at 200 and
    another in blue at 100 give the features of the grey image 60 * red + 11 * blue (0.299 *
    200 = 59.8, 0.114 * 100 = 11.4, both ends 71.2), not those of the channels swapped."""
    rng = np.random.default_rng(1)
    red = cv2.resize((rng.random((20, 27)) > 0.5).astype(np.uint8), (W, H),
                     interpolation=cv2.INTER_NEAREST)
    blue = cv2.resize((rng.random((15, 20)) > 0.5).astype(np.uint8), (W, H),
                      interpolation=cv2.INTER_NEAREST)
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 200 * red, 100 * blue
    grey = (60 * red + 11 * blue).astype(np.uint8)
    want = extract_sift(np.repeat(grey[..., None], 3, axis=2), 4000)
    swapped = (23 * red + 30 * blue).astype(np.uint8)  # 0.114 * 200, 0.299 * 100
    other = extract_sift(np.repeat(swapped[..., None], 3, axis=2), 4000)
    got = extract_sift(rgb, 4000)
    assert len(want) > 20
    np.testing.assert_array_equal(got.xy, want.xy)
    np.testing.assert_array_equal(got.desc, want.desc)
    assert len(other) != len(want) or not np.array_equal(other.xy, want.xy)


@pytest.mark.parametrize("n", [10, 20, 37])
def test_extract_sift_keeps_at_most_max_features_the_strongest(n):
    """``max_features`` is a bound: OpenCV's ``nfeatures`` keeps every keypoint as strong as
    the n-th, and a location's extra orientations are keypoints with the same response, so
    ties gave n + 1 or more (1, 1 and 3 of these 6 images). The strongest n are kept."""
    for seed in range(6):
        rgb = _texture(10 + seed)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        every = cv2.SIFT_create().detect(grey, None)
        assert len(every) > 2 * n
        f = extract_sift(rgb, n)
        assert len(f) == n, (seed, len(f))
        strength = {(k.pt[0], k.pt[1]): k.response for k in every}
        kept = sorted((strength[tuple(p)] for p in f.xy), reverse=True)
        # the n strongest of all keypoints (extra orientations share their location)
        best = sorted((k.response for k in every), reverse=True)[:n]
        np.testing.assert_allclose(kept, best, rtol=1e-6, err_msg=str(seed))


def test_a_featureless_image_gives_no_features_and_no_matches():
    f = extract_sift(np.full((40, 50, 3), 128, np.uint8), 100)
    assert f.xy.shape == (0, 2) and f.desc.shape == (0, 128)
    assert f.xy.dtype == np.float64 and f.desc.dtype == np.float32
    i1, i2 = match_descriptors(f.desc, extract_sift(_texture(2), 100).desc, 0.8)
    assert i1.shape == i2.shape == (0,) and i1.dtype == np.int64


# -------------------------------------------------------------------- ratio test ---

def test_ratio_test_is_strict_on_l2_distances():
    """q = e1; c1 at cos 0.75 (squared distance 2 - 2 * 0.75 = 0.5), c2 orthogonal (squared
    distance 2): the L2 ratio is sqrt(0.5 / 2) = 0.5 exactly. Lowe's test ``d1 < r d2`` keeps
    the match for r = 0.51 and drops it at r = 0.5."""
    q = np.array([[1.0, 0.0, 0.0]], np.float32)
    c = np.array([[0.75, np.sqrt(1 - 0.75 ** 2), 0.0], [0.0, 1.0, 0.0]], np.float32)
    i1, i2 = match_descriptors(q, c, 0.51)
    assert i1.tolist() == [0] and i2.tolist() == [0]
    assert len(match_descriptors(q, c, 0.5)[0]) == 0


def test_ratio_is_on_distances_not_squared_distances():
    """Squared distances 1.445 and 2: the L2 ratio is sqrt(0.7225) = 0.85, so r = 0.8 drops
    it (its squared ratio 0.7225 is below 0.8) and r = 0.86 keeps it."""
    s = 1 - 0.7225  # cosine with squared distance 2 - 2 s = 1.445
    q = np.array([[1.0, 0.0, 0.0]], np.float32)
    c = np.array([[0.0, 1.0, 0.0], [s, np.sqrt(1 - s * s), 0.0]], np.float32)
    assert len(match_descriptors(q, c, 0.8)[0]) == 0
    i1, i2 = match_descriptors(q, c, 0.86)
    assert i1.tolist() == [0] and i2.tolist() == [1]


def test_ratio_test_uses_the_second_nearest_not_any_other():
    """c1 at cos 0.9 and c2 at cos 0.85 are both near q (ratio sqrt(0.2 / 0.3) = 0.82 > 0.8):
    ambiguous, dropped, wherever a far column c3 stands."""
    q = np.array([[1.0, 0.0, 0.0]], np.float32)
    c1, c2, c3 = _unit(0.9, np.sqrt(0.19), 0), _unit(0.85, 0, np.sqrt(1 - 0.85 ** 2)), \
        _unit(-1, 0.1, 0)
    for cols in ([c3, c1, c2], [c3, c2, c1], [c1, c3, c2], [c2, c3, c1], [c1, c2, c3]):
        assert len(match_descriptors(q, np.stack(cols), 0.8)[0]) == 0, cols
    i1, i2 = match_descriptors(q, np.stack([c3, c1, c2]), 0.85)  # 0.816 < 0.85
    assert i1.tolist() == [0] and i2.tolist() == [1]


def test_identical_neighbours_are_ambiguous():
    """Two copies of the query descriptor: ratio 1, dropped (float32 rounding makes their
    squared distance slightly negative; it is 0)."""
    q = np.full((1, 9), 1 / 3, np.float32)  # q . q > 1 in float32
    c = np.stack([q[0], q[0], _unit(1, 0, 0, 0, 0, 0, 0, 0, 0)])
    assert len(match_descriptors(q, c, 0.8)[0]) == 0


def test_matches_are_mutual_and_index_each_side():
    """Rows 0 and 2 of desc1 both have column 3 as nearest; only row 2, the nearer, is its
    nearest row: row 0 is dropped. Row 1 pairs with column 0. Returned as (desc1 rows, desc2
    columns)."""
    e = np.eye(6, dtype=np.float32)
    cols = np.stack([e[0], e[1], e[2], e[3], e[4]])
    rows = np.stack([_unit(0.3, 0, 0, 1, 0, 0), e[0], _unit(0, 0, 0, 1, 0.1, 0)])
    i1, i2 = match_descriptors(rows, cols, 0.8)
    assert i1.tolist() == [1, 2] and i2.tolist() == [0, 3]
    assert i1.dtype == i2.dtype == np.int64


def test_ratio_test_needs_two_columns_and_one_row():
    one = np.eye(3, dtype=np.float32)[:1]
    assert len(match_descriptors(np.eye(3, dtype=np.float32), one, 0.8)[0]) == 0
    i1, i2 = match_descriptors(np.zeros((0, 3), np.float32), np.eye(3, dtype=np.float32), 0.8)
    assert i1.shape == i2.shape == (0,)


def _argpartition_match(desc1, desc2, ratio):
    """The matcher as it was before issue 9's host work: squared distances, a per-row
    argpartition of the two nearest, the column argmin for the mutual check (an independent
    reference to compare the cheaper form against), on the same products (`similarities`:
    one BLAS thread, or row blocks, for a small one, equal to ``desc1 @ desc2.T`` up to
    rounding, which decides the exact ties these descriptors' copies make)."""
    d2 = np.maximum(2.0 - 2.0 * similarities(desc1, desc2), 0.0)
    top2 = np.argpartition(d2, 1, axis=1)[:, :2]
    rows = np.arange(len(desc1))
    a, b = d2[rows, top2[:, 0]], d2[rows, top2[:, 1]]
    nn = np.where(a <= b, top2[:, 0], top2[:, 1])
    ok = np.minimum(a, b) < (ratio ** 2) * np.maximum(a, b)
    ok &= np.argmin(d2, axis=0)[nn] == rows
    i1 = np.flatnonzero(ok)
    return i1, nn[i1]


@pytest.mark.parametrize("seed", range(4))
def test_matches_equal_the_argpartition_form_with_ties_and_copies(seed):
    """Random RootSIFT-like descriptors with repeated rows and columns (exact ties of nearest
    and second nearest, and of a column's nearest rows): the same matches, in the same order,
    as the argpartition form, at every ratio in (0, 1]."""
    rng = np.random.default_rng(seed)
    d1 = np.sqrt(rng.dirichlet(np.full(128, 0.3), 300)).astype(np.float32)
    d2 = np.concatenate([d1[rng.choice(300, 120)] + rng.normal(0, 0.02, (120, 128)),
                         np.sqrt(rng.dirichlet(np.full(128, 0.3), 200))]).astype(np.float32)
    d2 /= np.linalg.norm(d2, axis=1, keepdims=True)
    d2 = np.concatenate([d2, d2[:15]])   # copies: ties in a row's two nearest
    d1 = np.concatenate([d1, d1[:10]])   # copies: ties in a column's nearest row
    for ratio in (0.1, 0.6, 0.8, 0.95, 1.0):
        i1, i2 = match_descriptors(d1, d2, ratio)
        r1, r2 = _argpartition_match(d1, d2, ratio)
        assert np.array_equal(i1, r1) and np.array_equal(i2, r2), ratio
    assert 20 < len(match_descriptors(d1, d2, 0.8)[0])


def test_matching_holds_one_distance_matrix_not_several():
    """Peak memory of matching 4000 x 4000 features (a 64 MB float32 distance matrix) is at
    most two such matrices: the distances are formed in place (the argpartition form held the
    similarities, their double, the distances and the partition's indices: 5x)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    d1 = rng.normal(size=(1500, 16)).astype(np.float32)
    d2 = rng.normal(size=(1200, 16)).astype(np.float32)
    d1 /= np.linalg.norm(d1, axis=1, keepdims=True)
    d2 /= np.linalg.norm(d2, axis=1, keepdims=True)
    tracemalloc.start()
    try:
        match_descriptors(d1, d2, 0.8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 2.2 * d1.shape[0] * d2.shape[0] * 4, peak


# ------------------------------------------------------- keyframe points and matching ---

def _distorted_keyframe_map(ids=(7, 42)):
    """One textured keyframe seen by a distorted camera (k1 = -0.25, p1, p2): depth is the
    plane z = 2 + 0.01 u in distorted pixels, NaN left of u = 40; a rotated, shifted pose."""
    cam = CameraIntrinsics(W, H, K, np.array([-0.25, 0.08, 0.002, -0.003, 0.0]))
    u = np.arange(W, dtype=np.float32)[None, :].repeat(H, axis=0)
    depth = 2.0 + 0.01 * u
    depth[:, :40] = np.nan
    pose = _pose([0.3, -0.5, 0.2], [1.0, -2.0, 0.5])
    rgb = _texture(3)
    other = _texture(4)
    m = _Map([other, rgb], [_flat_depth(3.0), depth], [np.eye(4), pose],
             cams=[CameraIntrinsics(W, H, K), cam], ids=list(ids))
    return m, rgb, cam, pose


def test_keyframe_points_reproject_onto_their_keyframe_pixels():
    """Each 3-D point, taken back to the keyframe camera and projected through its distortion
    (OpenCV's forward model), lands on the keyframe pixel it was matched at, at the depth the
    depth image has there (registered to the distorted image); the query pixels are the
    keyframe's shifted by the crop; the keyframe id (not the map index) is reported."""
    m, rgb, cam, pose = _distorted_keyframe_map()
    query = np.ascontiguousarray(rgb[:, 8:])  # x_query = x_keyframe - 8
    matcher = SiftMatcher(m)
    state = matcher.query_state(_frame(query))
    (c,) = matcher.correspond(_frame(query), state, [1], {})
    assert c.keyframe_id == 42 and len(c) > 40
    cam_pts = (c.points3d - pose[:3, 3]) @ pose[:3, :3]
    np.testing.assert_allclose(cam_pts[:, 2], 2.0 + 0.01 * c.keyframe_xy[:, 0], rtol=0,
                               atol=1e-5)
    uv, _ = cv2.projectPoints(cam_pts, np.zeros(3), np.zeros(3), K, cam.dist)
    np.testing.assert_allclose(uv.reshape(-1, 2), c.keyframe_xy, rtol=0, atol=1e-4)
    assert c.keyframe_xy[:, 0].min() >= 40  # no point from the NaN part
    shift = c.points2d - (c.keyframe_xy - [8, 0])
    assert np.median(np.abs(shift)) < 0.05, shift


def test_keyframe_point_covariance_follows_the_depth_model():
    """`core.uncertainty`'s depth model, worked from its documented terms: along the ray
    ``(x/z, y/z, 1)`` sigma ``k z^2``; across it the keypoint noise ``sigma_px z / fx`` in x and
    ``sigma_px z / fy`` in y; rotated into the map frame by the keyframe pose."""
    m, rgb, cam, pose = _distorted_keyframe_map()
    k, s_px = 2e-3, 0.7
    matcher = SiftMatcher(m, depth_sigma_k=k, pixel_sigma_px=s_px)
    (c,) = matcher.correspond(_frame(rgb), matcher.query_state(_frame(rgb)), [1], {})
    assert len(c) > 40 and c.points3d_cov.shape == (len(c), 3, 3)
    R = pose[:3, :3]
    for p, cov in zip((c.points3d - pose[:3, 3]) @ R, c.points3d_cov):
        z = p[2]
        ray = p / z
        S = (k * z * z) ** 2 * np.outer(ray, ray) + np.diag(
            [(s_px * z / K[0, 0]) ** 2, (s_px * z / K[1, 1]) ** 2, 0.0])
        np.testing.assert_allclose(cov, R @ S @ R.T, rtol=1e-9, atol=1e-15)


def test_defaults_are_the_configured_ones():
    """A matcher made without arguments behaves as the localizer's configured one (Lowe's 0.8,
    4000 features, the covariance model's defaults)."""
    m = SiftMatcher(_Map([_texture(0)], [_flat_depth(2.0)], [np.eye(4)]))
    mc, cc = MatchingConfig(), CovarianceConfig()
    assert m.ratio == mc.sift_ratio == 0.8 and m.max_features == mc.sift_max_features
    assert m.depth_sigma_k == cc.depth_sigma_k
    assert m.pixel_sigma_px == cc.keyframe_pixel_sigma_px


def test_a_map_without_depth_is_refused():
    with pytest.raises(InputError, match="without depth"):
        SiftMatcher(_Map([_texture(0)], [None], [np.eye(4)]))


# ----------------------------------------------------------------------------- cache ---

def _three_same_keyframes(**kw):
    rgb = _texture(5)
    m = _Map([rgb] * 3, [_flat_depth(2.0)] * 3, [np.eye(4)] * 3, **kw)
    return m, rgb


def test_cache_entry_size_counts_every_array():
    """Per valid keypoint: xy 2 float64, RootSIFT 128 float32, its map point 3 float64 and
    covariance 9 float64 = 16 + 512 + 24 + 72 = 624 bytes."""
    m, rgb = _three_same_keyframes()
    matcher = SiftMatcher(m)
    matcher.correspond(_frame(rgb), matcher.query_state(_frame(rgb)), [0], {})
    n = len(extract_sift(rgb, matcher.max_features))
    assert n > 40
    assert matcher._cache[0].nbytes == 624 * n == matcher.cached_bytes


def test_cache_is_least_recently_used_and_bounded_exactly():
    """A cache of exactly two entries (MiB from bytes, 2**20) holds two: the one used least
    recently goes first; an entry that fits exactly is kept."""
    m, rgb = _three_same_keyframes()
    size = 624 * len(extract_sift(rgb, 4000))
    q = _frame(rgb)
    one = SiftMatcher(m, cache_mb=size / 2 ** 20)
    assert one.cache_bytes == size
    one.correspond(q, one.query_state(q), [1], {})
    assert list(one._cache) == [1] and one.cached_bytes == size

    matcher = SiftMatcher(m, cache_mb=2 * size / 2 ** 20)
    state = matcher.query_state(q)
    matcher.correspond(q, state, [0, 1, 2], {})
    assert list(matcher._cache) == [1, 2] and matcher.cached_bytes == 2 * size
    reads = m.image_reads
    matcher.correspond(q, state, [1], {})           # a hit: no image read, now most recent
    assert m.image_reads == reads and list(matcher._cache) == [2, 1]
    matcher.correspond(q, state, [0], {})           # evicts 2, the least recently used
    assert list(matcher._cache) == [1, 0] and matcher.cached_bytes == 2 * size
    matcher.close()
    assert matcher.cached_bytes == 0 and not matcher._cache


def test_cache_size_comes_from_the_map_in_mib_and_is_never_negative():
    m, rgb = _three_same_keyframes()
    m.encoding_cache_mb = 3.0
    assert SiftMatcher(m).cache_bytes == 3 * 2 ** 20
    neg = SiftMatcher(m, cache_mb=-1.0)
    assert neg.cache_bytes == 0
    q = _frame(rgb)
    (c,) = neg.correspond(q, neg.query_state(q), [0], {})
    assert len(c) > 40 and neg.cached_bytes == 0 and not neg._cache


# ---------------------------------------------------------------- rerank and timings ---

def test_rerank_orders_by_mutual_matches_keeping_ties_in_order():
    """Keyframe A is the query twice side by side: from A's side every feature has one clear
    nearest query feature (and half of them are mutual), while from the query's side each
    feature has two equal candidates in A. Ranked by the matches `correspond` makes (keyframe
    rows against query columns), A comes first, before B (a third of the query); featureless
    keyframes tie at 0 and keep their retrieval order."""
    q = _texture(6)
    a = np.ascontiguousarray(np.hstack([q, q]))
    b = np.ascontiguousarray(np.hstack([q[:, :60], _texture(7)[:, :100]]))
    blank = np.full((H, W, 3), 90, np.uint8)
    images = [blank] * 20 + [a, b]
    depths = [_flat_depth(2.0, w=img.shape[1]) for img in images]
    cams = [CameraIntrinsics(img.shape[1], H, K) for img in images]
    m = _Map(images, depths, [np.eye(4)] * len(images), cams=cams)
    matcher = SiftMatcher(m)
    f = _frame(q)
    state = matcher.query_state(f)
    counts = [len(c) for c in matcher.correspond(f, state, [20, 21], {})]
    assert counts[0] > counts[1] > 10, counts
    blanks = list(np.random.default_rng(0).permutation(20))
    order = blanks[:7] + [21] + blanks[7:] + [20]
    assert matcher.rerank(f, state, order) == [20, 21] + blanks


def test_stage_times_are_features_then_matching(monkeypatch):
    """``features`` is the time to get the keyframe's features, ``matching`` the ratio test's,
    both added to what ``timings`` holds (a clock that reads 10, 10.5, 12)."""
    m, rgb = _three_same_keyframes()
    matcher = SiftMatcher(m)
    state = matcher.query_state(_frame(rgb))
    ticks = itertools.chain([10.0, 10.5, 12.0], itertools.count(100.0))
    monkeypatch.setattr(sift.time, "perf_counter", lambda: next(ticks))
    timings = {"matching": 1.0}
    matcher.correspond(_frame(rgb), state, [0], timings)
    assert timings == {"features": 0.5, "matching": 2.5}


def test_a_pixel_pair_is_one_correspondence_however_many_orientations_match():
    """SIFT makes one keypoint per dominant orientation of a location, and the mutual matching
    paired the keyframe's with the query's one to one: the same two pixels came back as two or
    three correspondences (counted twice toward gates.min_inliers, and as independent by the
    covariance). Each pixel pair now appears once."""
    rgb = _texture(3)
    m = _Map([rgb], [_flat_depth(2.0)], [np.eye(4)])
    matcher = SiftMatcher(m)
    query = np.ascontiguousarray(rgb[:, 8:])
    state = matcher.query_state(_frame(query))
    feats = matcher._keyframe(0).feats
    ik, iq = match_descriptors(feats.desc, state.desc, matcher.ratio)
    raw = np.concatenate([feats.xy[ik], state.xy[iq]], axis=1)
    assert len(np.unique(raw, axis=0)) < len(raw)  # the texture has such locations
    (c,) = matcher.correspond(_frame(query), state, [0], {})
    pairs = np.concatenate([c.keyframe_xy, c.points2d], axis=1)
    assert len(c) == len(np.unique(raw, axis=0)) == len(np.unique(pairs, axis=0))
    i1, i2 = sift.distinct_pairs(np.zeros((3, 2)), np.zeros((3, 2)), np.arange(3),
                                 np.arange(3))
    assert list(i1) == [0] and list(i2) == [0]  # the first of each kept, in order
