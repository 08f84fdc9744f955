"""The per-camera table of undistorted network-grid pixels (core/grid_undistort.py, issue 9):
every lookup must give the very bits `undistort_pixels` gives on the matched pixels."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.geometry import apply_homography, undistort_pixels
from mast3r_ros.core.grid_undistort import GridUndistortCache
from mast3r_ros.core.model.preprocess import plan_resize

DIST = {
    "plumb_bob": lambda r: np.array([r.uniform(-0.3, 0.3), r.uniform(-0.2, 0.2),
                                     r.uniform(-2e-3, 2e-3), r.uniform(-2e-3, 2e-3),
                                     r.uniform(-0.05, 0.05)]),
    "rational_polynomial": lambda r: np.concatenate([
        [r.uniform(-0.3, 0.3), r.uniform(-0.2, 0.2), r.uniform(-2e-3, 2e-3),
         r.uniform(-2e-3, 2e-3), r.uniform(-0.05, 0.05)], r.uniform(-0.05, 0.05, 3)]),
    "equidistant": lambda r: np.array([r.uniform(-0.1, 0.1), r.uniform(-0.02, 0.02),
                                       r.uniform(-5e-3, 5e-3), r.uniform(-1e-3, 1e-3)]),
}


def _camera(rng, w, h):
    f = rng.uniform(0.6, 1.2) * w
    return np.array([[f, 0, w / 2 - 0.5 + rng.normal(0, 3)],
                     [0, f * rng.uniform(0.98, 1.02), h / 2 - 0.5 + rng.normal(0, 3)],
                     [0, 0, 1]])


def _grid(rng, hw, n, dup=True):
    """``n`` network pixels (x, y) of an (H, W) grid in random order, some repeated."""
    h, w = hw
    cells = rng.integers(0, h * w, n) if dup else rng.choice(h * w, n, replace=False)
    return np.stack([cells % w, cells // w], axis=1).astype(np.int64)


# query sizes: the map's 4:3, 16:9 and 2:3 (a query of another aspect ratio than the map's),
# at the network sizes the localizer runs (512, 384, 224 with its square crop)
SIZES = [(640, 480, 512), (1280, 720, 512), (320, 480, 384), (640, 480, 224), (752, 480, 224)]


@pytest.mark.parametrize("model", sorted(DIST))
@pytest.mark.parametrize("w,h,size", SIZES)
def test_lookup_is_bit_identical_to_undistorting_the_matched_pixels(model, w, h, size):
    rng = np.random.default_rng(zlib.crc32(f"{model} {w} {h} {size}".encode()))
    plan = plan_resize(w, h, size)
    T = plan.to_orig()
    hw = plan.net_size[::-1]
    K, d = _camera(rng, w, h), DIST[model](rng)
    cache = GridUndistortCache()
    for n in (1, 7, 1000, 5000, 1000):  # lazily filled across frames, then warm cells
        xy = _grid(rng, hw, n)
        px, und = cache.lookup(xy, T, hw, K, d, model)
        want_px = apply_homography(T, xy)
        np.testing.assert_array_equal(px, want_px)
        assert px.dtype == und.dtype == np.float64 and und.shape == (n, 2)
        want = undistort_pixels(want_px, K, d, model)  # NaN where OpenCV's iteration fails
        assert np.array_equal(und, want, equal_nan=True), np.nanmax(np.abs(und - want))
    # the grid's last column and row, and a crop's offset grid of the same camera
    last = np.array([[hw[1] - 1, hw[0] - 1], [0, hw[0] - 1], [hw[1] - 1, 0]])
    assert np.array_equal(cache.lookup(last, T, hw, K, d, model)[1],
                          undistort_pixels(apply_homography(T, last), K, d, model))
    T2 = np.array([[1.0, 0, 17], [0, 1.0, 5], [0, 0, 1]]) @ T
    xy = _grid(rng, hw, 300)
    assert np.array_equal(cache.lookup(xy, T2, hw, K, d, model)[1],
                          undistort_pixels(apply_homography(T2, xy), K, d, model))


def test_a_new_camera_info_never_reads_the_old_table():
    """Another K, other coefficients or another model (a new CameraInfo), another mapping or
    grid: a table of their own, not the stale one; at most ``max_tables`` kept."""
    rng = np.random.default_rng(3)
    plan = plan_resize(640, 480, 512)
    T, hw = plan.to_orig(), plan.net_size[::-1]
    K, d = _camera(rng, 640, 480), DIST["plumb_bob"](rng)
    K2 = K.copy()
    K2[0, 0] += 1.0
    d2 = d.copy()
    d2[0] += 0.01
    cache = GridUndistortCache(max_tables=4)
    xy = _grid(rng, hw, 2000)
    px = apply_homography(T, xy)
    cams = [(K, d, "plumb_bob"), (K, d2, "plumb_bob"), (K2, d, "plumb_bob"),
            (K, d[:4], "plumb_bob"), (K, np.r_[d, 0, 0, 0], "rational_polynomial"),
            (K, d[:4], "equidistant")]
    for _ in range(2):  # the second round: the first cameras were dropped, recomputed
        for k, dist, model in cams:
            got = cache.lookup(xy, T, hw, k, dist, model)[1]
            assert np.array_equal(got, undistort_pixels(px, k, dist, model)), model
            assert len(cache) <= 4
    assert len(cache) == 4
    # the same camera after a change and back: the values follow the camera every time
    for dist in (d, d2, d):
        assert np.array_equal(cache.lookup(xy, T, hw, K, dist)[1], undistort_pixels(px, K, dist))


def test_the_table_is_indexed_by_column_and_row():
    """A non-square grid and a pixel and its transpose: a table read as (row, column) or with
    the wrong stride gives other pixels."""
    plan = plan_resize(640, 480, 512)
    T, hw = plan.to_orig(), plan.net_size[::-1]
    assert hw == (384, 512)
    K, d = _camera(np.random.default_rng(0), 640, 480), np.array([-0.25, 0.1, 0, 0, 0])
    xy = np.array([[5, 300], [300, 5], [511, 0], [0, 383], [100, 200]])
    px, und = GridUndistortCache().lookup(xy, T, hw, K, d)
    np.testing.assert_array_equal(px, apply_homography(T, xy))
    np.testing.assert_array_equal(und, undistort_pixels(px, K, d))
    assert len(np.unique(und, axis=0)) == len(xy)


def test_lookup_refuses_pixels_off_the_grid_and_non_integers():
    c = GridUndistortCache()
    T, K, d = np.eye(3), np.diag([100.0, 100, 1]), np.array([0.1, 0, 0, 0, 0])
    with pytest.raises(InputError, match="outside the 8x4 grid"):
        c.lookup(np.array([[8, 0]]), T, (4, 8), K, d)
    with pytest.raises(InputError, match="outside"):
        c.lookup(np.array([[0, -1]]), T, (4, 8), K, d)
    with pytest.raises(InputError, match="integer network pixels"):
        c.lookup(np.array([[0.5, 1.0]]), T, (4, 8), K, d)
    px, und = c.lookup(np.zeros((0, 2), np.int64), T, (4, 8), K, d)
    assert px.shape == und.shape == (0, 2)


def test_lookups_from_two_threads_agree_with_undistort_pixels():
    """The node's worker may leave a straggler in a frame while the next frame runs: lookups
    from two threads into one lazily filled table still give the exact values."""
    import threading

    plan = plan_resize(640, 480, 512)
    T, hw = plan.to_orig(), plan.net_size[::-1]
    K, d = _camera(np.random.default_rng(1), 640, 480), np.array([-0.25, 0.1, 1e-3, 0, 0])
    cache = GridUndistortCache()
    bad = []

    def work(seed):
        r = np.random.default_rng(seed)
        for _ in range(20):
            xy = _grid(r, hw, 500)
            und = cache.lookup(xy, T, hw, K, d)[1]
            if not np.array_equal(und, undistort_pixels(apply_homography(T, xy), K, d)):
                bad.append(seed)
    ts = [threading.Thread(target=work, args=(s,)) for s in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad


def test_cells_whose_undistortion_fails_are_nan_in_both():
    """A strong rational_polynomial camera whose undistortion of a few corner pixels comes out
    NaN (OpenCV's iteration diverges; found by a search over seeds): the table holds the same
    NaN cells, so the lookup stays identical (NaN for NaN) to `undistort_pixels`."""
    w, h, size = 320, 480, 384
    plan = plan_resize(w, h, size)
    T, hw = plan.to_orig(), plan.net_size[::-1]
    rng = np.random.default_rng(332)
    K, d = _camera(rng, w, h), DIST["rational_polynomial"](rng)
    cache = GridUndistortCache()
    nan = 0
    for n in (1, 7, 1000, 5000, 1000):
        xy = _grid(rng, hw, n)
        want = undistort_pixels(apply_homography(T, xy), K, d, "rational_polynomial")
        und = cache.lookup(xy, T, hw, K, d, "rational_polynomial")[1]
        assert np.array_equal(und, want, equal_nan=True)
        nan += int(np.isnan(want).any())
    assert nan  # the case this test is about


def test_undistorted_pixels_of_another_length_are_refused():
    """``solve_pnp(x_undistorted=...)`` and ``Correspondences.points2d_undistorted`` name the
    mismatch instead of pairing the wrong pixels."""
    from mast3r_ros.core.pnp import solve_pnp
    from mast3r_ros.core.types import CameraIntrinsics, Correspondences

    cam = CameraIntrinsics(64, 48, np.array([[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]]))
    X, x = np.zeros((6, 3)), np.zeros((6, 2))
    with pytest.raises(InputError, match="6 query pixels but 5 undistorted"):
        solve_pnp(X, x, cam, x_undistorted=np.zeros((5, 2)))
    with pytest.raises(InputError, match="points2d_undistorted and points2d differ"):
        Correspondences(0, X, x, x, None, np.zeros((5, 2)))
    with pytest.raises(InputError, match="points2d_undistorted must be"):
        Correspondences(0, X, x, x, None, np.zeros(12))


@pytest.mark.parametrize("model", sorted(DIST))
@pytest.mark.parametrize("w,h,size", [(640, 480, 512), (1280, 720, 512), (640, 480, 384),
                                      (320, 240, 224)])
def test_coarse_to_fine_windows_read_the_captured_grid_table_bit_identically(model, w, h, size):
    """A coarse-to-fine window is a crop of the network's size, so its mapping is a whole-pixel
    shift (`pixel_shift`) and its pixels are captured integer pixels: the table of the captured
    image's grid (identity mapping) gives the very bits of undistorting the window's mapped
    pixels."""
    from mast3r_ros.core.matchers.mast3r import pixel_shift, select_windows, window_starts

    rng = np.random.default_rng(zlib.crc32(f"c2f {model} {w} {h} {size}".encode()))
    wn, hn = plan_resize(w, h, size).net_size
    K, d = _camera(rng, w, h), DIST[model](rng)
    cache = GridUndistortCache()
    wins = [(int(x), int(y)) for y in window_starts(h, hn) for x in window_starts(w, wn)]
    assert len(wins) > 1 and sorted(wins) == sorted(select_windows(
        (w, h), (wn, hn), rng.uniform([0, 0], [w - 1, h - 1], (4000, 2)), coverage=1.0))
    for x0, y0 in wins + wins:  # new windows, then the same again (warm cells)
        plan = plan_resize(wn, hn, size)  # what `Mast3rEngine.prepare` plans for the crop
        assert plan.net_size == (wn, hn)
        T = np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1]]) @ plan.to_orig()
        shift = pixel_shift(T)
        assert shift is not None and shift.tolist() == [x0, y0]
        xy = _grid(rng, (hn, wn), 2000)
        want_px = apply_homography(T, xy)  # the window's pixels as the matcher maps them
        whole = want_px.astype(np.int64)  # ... and as `Mast3rMatcher._fine` looks them up
        np.testing.assert_array_equal(whole, xy + shift)
        px, und = cache.lookup(whole, np.eye(3), (h, w), K, d, model)
        np.testing.assert_array_equal(px, want_px)
        assert np.array_equal(und, undistort_pixels(want_px, K, d, model), equal_nan=True)
    assert len(cache) == 1  # one table of the captured grid serves every window


def test_pixel_shift_takes_only_whole_pixel_shifts():
    from mast3r_ros.core.matchers.mast3r import pixel_shift

    assert pixel_shift(np.eye(3)).tolist() == [0, 0]
    assert pixel_shift(np.array([[1.0, 0, 128], [0, 1, 96], [0, 0, 1]])).tolist() == [128, 96]
    assert pixel_shift(np.array([[1.0, 0, -5], [0, 1, 7], [0, 0, 1]])).dtype == np.int64
    for bad in ([[1.0, 0, 0.5], [0, 1, 0], [0, 0, 1]],      # half a pixel
                [[1.25, 0, 0], [0, 1.25, 0], [0, 0, 1]],    # a resize
                [[1.0, 1e-12, 0], [0, 1, 0], [0, 0, 1]],    # (almost) a shear
                [[1.0, 0, 0], [0, 1, 0], [1e-9, 0, 1]],     # a perspective row
                [[1.0, 0, 0], [0, 1, 0], [0, 0, 2]],        # a scaled homogeneous row
                [[1.0, 0, np.nan], [0, 1, 0], [0, 0, 1]],
                [[1.0, 0, 2.0 ** 31], [0, 1, 0], [0, 0, 1]],  # past any image's int32 pixels
                [[1.0, 0, 0], [0, 1, -2.0 ** 31], [0, 0, 1]]):
        assert pixel_shift(np.array(bad)) is None, bad


def test_a_cell_is_undistorted_once_and_the_tables_kept_are_the_last_used(monkeypatch):
    """The table's point (issue 9): a lookup undistorts only the cells not seen before, each
    once however often it is matched, and a camera used again is not dropped before one used
    less recently (least recently used, not first made). Counted through `undistort_pixels`."""
    import mast3r_ros.core.grid_undistort as gu

    undistorted = []

    def counting(px, *args):
        undistorted.append(len(px))
        return undistort_pixels(px, *args)

    monkeypatch.setattr(gu, "undistort_pixels", counting)
    plan = plan_resize(640, 480, 512)
    T, hw = plan.to_orig(), plan.net_size[::-1]
    rng = np.random.default_rng(5)
    d = DIST["plumb_bob"](rng)
    cams = [_camera(rng, 640, 480) for _ in range(3)]
    xy = np.array([[3, 4], [10, 20], [3, 4], [10, 20], [7, 7]], np.int64)
    cache = GridUndistortCache(max_tables=2)

    def calls(k):
        undistorted.clear()
        und = cache.lookup(xy, T, hw, cams[k], d)[1]
        assert np.array_equal(und, undistort_pixels(apply_homography(T, xy), cams[k], d))
        return sum(undistorted)

    assert calls(0) == 3  # three distinct cells, each undistorted once
    assert calls(0) == 0  # all seen: gathered, not undistorted again
    assert calls(1) == 3
    assert calls(0) == 0  # camera 0 used last: camera 1 is the least recently used
    assert calls(2) == 3  # a third camera: camera 1's table dropped, camera 0's kept
    assert calls(0) == 0 and calls(2) == 0
    assert calls(1) == 3 and len(cache) == 2


def test_grids_of_another_width_get_their_own_table():
    """Two query sizes whose grids share a height (same mapping, camera): a cell index of one
    grid is another pixel of the other, so each has a table of its own."""
    T, K, d = np.eye(3), _camera(np.random.default_rng(1), 64, 48), np.array([-0.2, 0.05, 0, 0, 0])
    cache = GridUndistortCache()
    xy = np.array([[5, 3], [1, 2], [5, 0]], np.int64)
    for hw in ((4, 6), (4, 8), (4, 6)):
        px, und = cache.lookup(xy, T, hw, K, d)
        np.testing.assert_array_equal(px, apply_homography(T, xy))
        np.testing.assert_array_equal(und, undistort_pixels(px, K, d))


def test_the_captured_grid_table_holds_only_undistorted_pixels():
    """The captured image's grid (identity mapping, what coarse-to-fine windows read) keeps 16 +
    1 bytes a pixel, not 32 + 1: its captured pixels are the cells' own column and row (35 MB
    of address space at 1920 x 1080 instead of 68 MB). Lookups stay bit-identical, cold and
    warm; a network grid (another mapping) keeps its captured pixels."""
    w, h = 1920, 1080
    rng = np.random.default_rng(9)
    K, d = _camera(rng, w, h), DIST["rational_polynomial"](rng)
    cache = GridUndistortCache()
    for _ in range(2):
        xy = _grid(rng, (h, w), 3000)
        px, und = cache.lookup(xy, np.eye(3), (h, w), K, d, "rational_polynomial")
        want = apply_homography(np.eye(3), xy)
        np.testing.assert_array_equal(px, want)
        assert px.dtype == und.dtype == np.float64 and px.flags.c_contiguous
        assert np.array_equal(und, undistort_pixels(want, K, d, "rational_polynomial"),
                              equal_nan=True)
    assert cache.nbytes == w * h * 17
    plan = plan_resize(w, h, 512)
    hw = plan.net_size[::-1]
    cache.lookup(_grid(rng, hw, 10), plan.to_orig(), hw, K, d, "rational_polynomial")
    assert cache.nbytes == w * h * 17 + hw[0] * hw[1] * 33
