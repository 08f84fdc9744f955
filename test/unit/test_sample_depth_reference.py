"""`geometry.sample_depth` against a per-point reading of its docstring: the map check samples
~6 000 times per map check, so the function gathers the four neighbours flat; every bit of
the result must still be what one pixel at a time gives, at the edges, beside NaN, zero and
infinite depths, and for NaN or infinite positions."""

import math

import numpy as np

from mast3r_ros.core.geometry import sample_depth


def _one(depth, x, y, max_rel_step):
    h, w = depth.shape
    if h < 2 or w < 2 or not (0 <= x <= w - 1 and 0 <= y <= h - 1):
        return math.nan
    x0, y0 = min(int(math.floor(x)), w - 2), min(int(math.floor(y)), h - 2)
    d = [float(depth[y0, x0]), float(depth[y0, x0 + 1]), float(depth[y0 + 1, x0]),
         float(depth[y0 + 1, x0 + 1])]
    if any(math.isnan(v) for v in d):
        return math.nan
    lo, hi = min(d), max(d)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo > 0 and hi - lo <= max_rel_step * lo):
        return math.nan
    fx, fy = x - x0, y - y0
    return (d[0] * (1 - fx) * (1 - fy) + d[1] * fx * (1 - fy) + d[2] * (1 - fx) * fy
            + d[3] * fx * fy)


def test_sample_depth_gives_the_bits_one_point_at_a_time_gives():
    rng = np.random.default_rng(0)
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(1, 24, 2))
        depth = rng.uniform(0.5, 3.0, (h, w)).astype(np.float32)
        depth[rng.random((h, w)) < 0.1] = np.nan
        depth[rng.random((h, w)) < 0.05] = 0.0
        depth[rng.random((h, w)) < 0.02] = np.inf
        depth[rng.random((h, w)) < 0.3] *= np.float32(1.03)  # steps either side of 5 %
        px = rng.uniform(-2.0, max(h, w) + 1.0, (200, 2))
        px[:6] = [[0, 0], [w - 1, h - 1], [w - 1, 0], [0, h - 1], [np.nan, 1], [np.inf, 0]]
        px[6:30] = rng.integers(0, max(h, w), (24, 2))  # pixel centres, the last ones too
        step = float(rng.choice([0.05, 0.02]))
        with np.errstate(invalid="ignore"):  # inf x 0 of an infinite depth's neighbour
            got = sample_depth(depth, px, max_rel_step=step)
        want = np.array([_one(depth, x, y, step) for x, y in px])
        assert got.dtype == np.float64 and got.shape == (len(px),)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=str(trial))
        ok = ~np.isnan(want)
        assert got[ok].tobytes() == want[ok].tobytes(), trial
