"""Tests of the ROS-free transform buffer."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.tf_buffer import (
    ExtrapolationError,
    TransformBuffer,
    TransformError,
)
from mast3r_test_utils import pose

S = 1_000_000_000


RNG = np.random.default_rng(0)
BASE_FROM_CAM = pose(RNG.normal(size=3), RNG.normal(size=3))
ODOM_FROM_BASE_0 = pose([0, 0, 0.0], [0, 0, 0])
ODOM_FROM_BASE_1 = pose([0, 0, 0.4], [1.0, 2.0, 0])
MAP_FROM_ODOM = pose([0, 0, -0.1], [5.0, 0, 0])
BASE_FROM_LIDAR = pose([0.1, 0, 0], [0, 0, 0.3])


@pytest.fixture
def buf() -> TransformBuffer:
    b = TransformBuffer()
    b.add_static("base_link", "camera_optical", BASE_FROM_CAM)
    b.add_static("base_link", "lidar", BASE_FROM_LIDAR)
    # added out of order on purpose
    b.add_dynamic("odom", "base_link", 2 * S, ODOM_FROM_BASE_1)
    b.add_dynamic("odom", "base_link", 1 * S, ODOM_FROM_BASE_0)
    b.add_dynamic("map", "odom", 1 * S, MAP_FROM_ODOM)
    b.add_dynamic("map", "odom", 2 * S, MAP_FROM_ODOM)
    return b


def test_chain_at_sample(buf):
    got = buf.lookup("map", "camera_optical", 2 * S)
    np.testing.assert_allclose(got, MAP_FROM_ODOM @ ODOM_FROM_BASE_1 @ BASE_FROM_CAM, atol=1e-12)


def test_chain_interpolated(buf):
    got = buf.lookup("map", "camera_optical", S + S // 4)
    odom_from_base = pose([0, 0, 0.1], [0.25, 0.5, 0])
    np.testing.assert_allclose(got, MAP_FROM_ODOM @ odom_from_base @ BASE_FROM_CAM, atol=1e-12)


def test_lookup_through_common_ancestor_and_inverse(buf):
    cam_from_lidar = buf.lookup("camera_optical", "lidar", 0)  # static-only path: any stamp
    np.testing.assert_allclose(cam_from_lidar, np.linalg.inv(BASE_FROM_CAM) @ BASE_FROM_LIDAR)
    lidar_from_map = buf.lookup("lidar", "map", 2 * S)
    expected = np.linalg.inv(MAP_FROM_ODOM @ ODOM_FROM_BASE_1 @ BASE_FROM_LIDAR)
    np.testing.assert_allclose(lidar_from_map, expected, atol=1e-12)
    np.testing.assert_array_equal(buf.lookup("map", "map", 0), np.eye(4))


def test_extrapolation_tolerance(buf):
    late = 2 * S + 10_000_000
    with pytest.raises(ExtrapolationError, match="odom -> base_link.*2.010000 s.*1.000000 s to 2"):
        buf.lookup("map", "camera_optical", late)
    got = buf.lookup("map", "camera_optical", late, tolerance_ns=20_000_000)
    np.testing.assert_allclose(got, MAP_FROM_ODOM @ ODOM_FROM_BASE_1 @ BASE_FROM_CAM, atol=1e-12)


def test_max_gap(buf):
    """Edges are taken by the one pose-at-stamp rule: no interpolation across a longer gap."""
    with pytest.raises(ExtrapolationError, match="gaps up to 0.500 s"):
        buf.lookup("map", "camera_optical", S + S // 4, tolerance_ns=S // 10, max_gap_ns=S // 2)
    near = buf.lookup("map", "camera_optical", S + S // 20, tolerance_ns=S // 10,
                      max_gap_ns=S // 2)
    np.testing.assert_allclose(near, MAP_FROM_ODOM @ ODOM_FROM_BASE_0 @ BASE_FROM_CAM, atol=1e-12)


def test_unknown_and_disconnected_frames(buf):
    with pytest.raises(TransformError, match="'camera' is not in the transform tree.*lidar"):
        buf.lookup("map", "camera", S)
    buf.add_static("world", "other", np.eye(4))
    with pytest.raises(TransformError, match="'map' and 'other' are not connected.*'world'"):
        buf.lookup("map", "other", S)
    assert issubclass(TransformError, InputError)


def test_tree_rules(buf):
    with pytest.raises(InputError, match="two parents"):
        buf.add_static("map", "base_link", np.eye(4))
    with pytest.raises(InputError, match="loop"):
        buf.add_static("camera_optical", "map", np.eye(4))
    buf.lookup("map", "camera_optical", S)  # the rejected edge was not kept: no loop
    with pytest.raises(InputError, match="both on /tf and /tf_static"):
        buf.add_dynamic("base_link", "lidar", S, np.eye(4))
    with pytest.raises(InputError, match="4x4"):
        buf.add_static("a", "b", np.eye(3))
    buf.add_static("base_link", "lidar", np.eye(4))  # a new static value replaces the old one
    np.testing.assert_array_equal(buf.lookup("base_link", "lidar", 0), np.eye(4))


def test_extrapolation_error_says_the_gap_it_fell_in(buf):
    """A stamp between two samples farther apart than max_gap carries their spacing (what a
    larger pose_at_stamp.max_gap_s would interpolate across); one outside the samples none."""
    with pytest.raises(ExtrapolationError, match="samples around t are 1.000 s apart") as err:
        buf.lookup("map", "camera_optical", S + S // 4, tolerance_ns=S // 10, max_gap_ns=S // 2)
    assert err.value.gap_ns == S
    with pytest.raises(ExtrapolationError) as err:
        buf.lookup("map", "camera_optical", 3 * S)
    assert err.value.gap_ns is None and "apart" not in str(err.value)


def test_a_dynamic_transform_stamped_zero_says_its_publisher_does_not_stamp_it():
    """A node publishing base_link -> camera on /tf with header.stamp left at 0 (every sample):
    no image time finds it, as in tf2, and the reason read 'it is known from 0.000000 s to
    0.000000 s'. Now the zero stamps are named, with the fix; a lookup at 0 still finds it."""
    b = TransformBuffer()
    for _ in range(3):
        b.add_dynamic("base_link", "camera_optical", 0, BASE_FROM_CAM)
    b.add_dynamic("odom", "base_link", 1 * S, ODOM_FROM_BASE_0)
    with pytest.raises(ExtrapolationError) as err:
        b.lookup("base_link", "camera_optical", S, tolerance_ns=S // 10)
    assert ("transform base_link -> camera_optical is not available at t=1.000000 s: every "
            "sample of it is stamped 0, so its publisher leaves header.stamp unset") in str(
                err.value)
    assert "/tf_static" in str(err.value)
    np.testing.assert_allclose(b.lookup("base_link", "camera_optical", 0), BASE_FROM_CAM)


def test_bracketing_gaps():
    from mast3r_ros.core.trajectory import bracketing_gaps

    got = bracketing_gaps(np.array([10, 20, 50]), np.array([5, 10, 15, 30, 50, 60]))
    assert got.tolist() == [-1, 0, 10, 30, 0, -1]
    assert bracketing_gaps(np.zeros(0, np.int64), np.array([1])).tolist() == [-1]


def test_stored_transforms_are_copies_of_the_callers_arrays():
    """A caller that fills one array for every message (a reused buffer) must not rewrite the
    samples already stored: each lookup gives the value the array had when it was added."""
    b = TransformBuffer()
    m = np.eye(4)
    b.add_static("base", "cam", m)
    m[0, 3] = 5.0
    b.add_dynamic("odom", "base", 1 * S, m)
    m[0, 3] = 7.0
    b.add_dynamic("odom", "base", 2 * S, m)
    m[0, 3] = 9.0
    assert b.lookup("base", "cam", 0)[0, 3] == 0.0
    assert b.lookup("odom", "base", 1 * S)[0, 3] == 5.0
    assert b.lookup("odom", "base", 2 * S)[0, 3] == 7.0


def test_non_finite_transforms_are_refused():
    b = TransformBuffer()
    bad = np.eye(4)
    bad[0, 3] = np.nan
    with pytest.raises(InputError, match=r"base -> cam must be a finite 4x4 matrix, but it is "
                       r"not finite: nan at \[0, 3\] \(1 of 16\)"):
        b.add_static("base", "cam", bad)
    bad[0, 3] = np.inf
    with pytest.raises(InputError, match="odom -> base must be a finite 4x4"):
        b.add_dynamic("odom", "base", S, bad)
    with pytest.raises(InputError, match=r"odom -> base must be a finite 4x4 matrix, got shape "
                       r"\(3, 4\)"):
        b.add_dynamic("odom", "base", S, np.eye(4)[:3])
    assert b.frames == set()


def test_unknown_target_frame_is_named(buf):
    """The target is checked like the source: not a vague 'not connected'."""
    with pytest.raises(TransformError, match="'camera' is not in the transform tree"):
        buf.lookup("camera", "map", S)


def test_a_frame_from_itself_is_the_identity_even_when_unknown(buf):
    """tf2's BufferCore returns the identity for target == source before it validates the
    frame ids: a camera whose frame is the base frame needs no tf at all."""
    np.testing.assert_array_equal(buf.lookup("nowhere", "nowhere", S), np.eye(4))
    np.testing.assert_array_equal(TransformBuffer().lookup("cam", "cam", 0), np.eye(4))


def test_a_transform_from_a_frame_to_itself_is_refused():
    b = TransformBuffer()
    with pytest.raises(InputError, match="from frame 'a' to itself"):
        b.add_static("a", "a", np.eye(4))
    with pytest.raises(InputError, match="from frame 'a' to itself"):
        b.add_dynamic("a", "a", S, np.eye(4))


def test_a_sample_added_after_a_lookup_is_used(buf):
    """The per-edge arrays are cached on the first lookup; a later add must refresh them."""
    buf.lookup("map", "camera_optical", 2 * S)
    late = pose([0, 0, 0.5], [3.0, 0, 0])
    buf.add_dynamic("odom", "base_link", 3 * S, late)
    buf.add_dynamic("map", "odom", 3 * S, MAP_FROM_ODOM)
    np.testing.assert_allclose(buf.lookup("odom", "base_link", 3 * S), late, atol=1e-12)
    # half way between the samples at 2 s and 3 s: yaw 0.45 rad, translation (2, 1, 0)
    np.testing.assert_allclose(buf.lookup("odom", "base_link", 2 * S + S // 2),
                               pose([0, 0, 0.45], [2.0, 1.0, 0]), atol=1e-12)


def test_default_rule_interpolates_across_any_gap_and_never_extrapolates():
    """The defaults are tf2's: any gap between two samples is interpolated (max_gap_ns None),
    and a stamp even 1 ns outside the samples is refused (tolerance_ns 0)."""
    b = TransformBuffer()
    b.add_dynamic("odom", "base", 0, pose([0, 0, 0], [0, 0, 0]))
    b.add_dynamic("odom", "base", 100 * S, pose([0, 0, 1.0], [10.0, -4.0, 2.0]))
    np.testing.assert_allclose(b.lookup("odom", "base", 25 * S),
                               pose([0, 0, 0.25], [2.5, -1.0, 0.5]), atol=1e-12)
    for stamp in (-1, 100 * S + 1):
        with pytest.raises(ExtrapolationError):
            b.lookup("odom", "base", stamp)


def test_extrapolation_is_a_transform_error():
    """Callers that catch TransformError (any lookup failure) also catch extrapolation."""
    assert issubclass(ExtrapolationError, TransformError)


@pytest.mark.parametrize("stamp", [2.5, 1.0, True])
def test_a_sample_stamped_with_a_float_or_bool_is_refused(stamp):
    """2.5 was stored as 2 ns, and the lookup at 2.5 then refused its float."""
    b = TransformBuffer()
    with pytest.raises(InputError, match="odom -> base_link.*integer number of nanoseconds"):
        b.add_dynamic("odom", "base_link", stamp, np.eye(4))
    assert b.frames == set()
    b.add_dynamic("odom", "base_link", np.int64(2 * S), pose([0, 0, 0.0], [1.0, 0, 0]))
    assert b.lookup("odom", "base_link", 2 * S)[0, 3] == 1.0


def _reference_lookup(samples, stamp, tolerance_ns, max_gap_ns):
    """``lookup(parent, child)`` of one edge the plain way: all its samples, in the order they
    were added, through `poses_at_stamps` (which sorts stably and keeps the first of equal
    stamps itself), composed as `TransformBuffer.lookup` composes a one-edge chain. Returns
    (pose or None, the gap the stamp fell in). The gap interpolated across is the edge's own:
    ``max_gap_ns``, or 2.5 times the median spacing of its distinct stamps (4 or more) when
    longer."""
    from mast3r_ros.core.trajectory import bracketing_gaps, lookup_samples, poses_at_stamps

    stamps = np.array([s for s, _ in samples], np.int64)
    poses = np.stack([p for _, p in samples])
    distinct = np.unique(stamps)
    if max_gap_ns is not None and distinct.size >= 4:
        max_gap_ns = max(int(max_gap_ns), int(round(2.5 * float(np.median(np.diff(distinct))))))
    out, valid = poses_at_stamps(stamps, poses, [stamp], tolerance_ns, max_gap_ns)
    gap = int(bracketing_gaps(lookup_samples(stamps, poses)[0], [stamp])[0])
    if not valid[0]:
        return None, gap
    return np.linalg.inv(np.eye(4)) @ (out[0] @ np.eye(4)), gap


@pytest.mark.parametrize("seed", range(6))
def test_lookups_are_bit_identical_to_the_plain_rule_on_random_samples(seed):
    """The compact columns (sorted once, of equal stamps the first added kept, grown as
    samples come, translation + quaternion rebuilt per lookup) give what all the samples in
    added order give through `poses_at_stamps`, bit for bit: out-of-order adds, repeated
    stamps with other poses, lookups between adds, both ways of adding (and both on one edge),
    exact stamps, interpolation, the nearest sample within the tolerance, outside the samples,
    one sample."""
    from mast3r_ros.core.message_fields import tq_to_matrix

    rng = np.random.default_rng(seed)
    b = TransformBuffer()
    samples = []  # (stamp, 4x4) as added, the reference's
    n = int(rng.integers(1, 300))
    stamps = rng.integers(0, 60, n) * (S // 10) + rng.integers(0, 3, n)  # many repeats
    t = rng.normal(0, 2, (n, 3))
    q = rng.normal(0, 1, (n, 4))
    q[rng.random(n) < 0.3] *= 1 + rng.normal(0, 1e-3, 4)  # not quite unit, as messages
    # seed % 3: 0 all as translation + quaternion; 1 then as matrices; 2 matrices, then tq
    switch = int(rng.integers(1, n + 1))
    i = 0
    while i < n:
        k = int(rng.integers(1, 20))
        if seed % 3 and (i >= switch) != (seed % 3 == 2):
            for j in range(i, min(i + k, n)):
                b.add_dynamic("map", "odom", int(stamps[j]), tq_to_matrix(t[j], q[j]))
        else:
            b.add_dynamic_tq("map", "odom", stamps[i:i + k], t[i:i + k], q[i:i + k])
        samples += [(int(stamps[j]), tq_to_matrix(t[j], q[j])) for j in range(i, min(i + k, n))]
        i += k
        queries = [int(s) for s in rng.choice(stamps[:i], 3)] + [
            int(x) for x in rng.integers(-S, 7 * S, 5)]
        for stamp in queries:
            rule = (int(rng.choice([0, S // 20, S])), rng.choice([None, S // 5, S]))
            want, gap = _reference_lookup(samples, stamp, *rule)
            if want is None:
                with pytest.raises(ExtrapolationError) as err:
                    b.lookup("map", "odom", stamp, *rule)
                assert err.value.gap_ns == (gap if gap > 0 else None)
            else:
                got = b.lookup("map", "odom", stamp, *rule)
                assert got.tobytes() == want.tobytes(), (stamp, rule)


def _bytes_per_sample(fill, n):
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        b = fill()
        b.lookup("map", "odom", S)  # the first lookup sorts (the old buffer stacked a copy)
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - base) / n
    finally:
        tracemalloc.stop()


def test_a_bag_hour_of_tf_is_kept_in_compact_columns():
    """Every tf sample of a bag is kept: as a 4x4 array in a Python list (and a Python int
    stamp) each took ~310 B, ~410 B once the first lookup had stacked them too -- 560 MB for an
    hour of 100 Hz odometry and five 50 Hz edges, on a Jetson's shared memory. Now 64 B as the
    bag reader adds them (translation + quaternion), 136 B as 4x4 matrices."""
    n = 6000
    rng = np.random.default_rng(0)
    stamps = np.arange(n, dtype=np.int64) * (S // 100) + rng.integers(0, 1000, n)
    t, q = rng.normal(size=(n, 3)), rng.normal(size=(n, 4))

    def tq():
        b = TransformBuffer()
        b.add_dynamic_tq("map", "odom", stamps[: n // 2], t[: n // 2], q[: n // 2])
        b.add_dynamic_tq("map", "odom", stamps[n // 2:], t[n // 2:], q[n // 2:])
        return b

    from mast3r_ros.core.message_fields import tq_to_matrix
    matrices = [tq_to_matrix(a, c) for a, c in zip(t, q)]

    def matrix():
        b = TransformBuffer()
        for s, m in zip(stamps, matrices):
            b.add_dynamic("map", "odom", s, m)  # a numpy integer: a fresh Python int stored
        return b

    assert _bytes_per_sample(tq, n) < 80
    assert _bytes_per_sample(matrix, n) < 200


def test_transform_samples_given_as_translation_and_quaternion_are_checked():
    b = TransformBuffer()
    t, q = np.zeros((2, 3)), np.tile([0.0, 0, 0, 1], (2, 1))
    with pytest.raises(InputError, match=r"odom -> base: stamps_ns must be integer nanoseconds, "
                       "got a float64 array"):
        b.add_dynamic_tq("odom", "base", [0.5, 1.5], t, q)
    with pytest.raises(InputError, match=r"odom -> base: quats_xyzw must be \(2, 4\): one per "
                       r"stamp, got shape \(2, 3\)"):
        b.add_dynamic_tq("odom", "base", [0, S], t, q[:, :3])
    bad = q.copy()
    bad[1] = 0.0
    with pytest.raises(InputError, match=r"odom -> base at t=1.000000 s: pose quaternion is all "
                       "zeros"):
        b.add_dynamic_tq("odom", "base", [0, S], t, bad)
    bad = t.copy()
    bad[0, 2] = np.nan
    with pytest.raises(InputError, match=r"odom -> base at t=0.000000 s: pose has non-finite"):
        b.add_dynamic_tq("odom", "base", [0, S], bad, q)
    bad = q.copy()
    bad[1, 0] = 1e200  # normalised, all zeros: scipy's ValueError at the first lookup
    with pytest.raises(InputError, match=r"odom -> base at t=1.000000 s: pose quaternion .* is "
                       "too large to normalise"):
        b.add_dynamic_tq("odom", "base", [0, S], t, bad)
    assert b.frames == set()  # nothing of a refused batch is kept
    b.add_dynamic_tq("odom", "base", 2 * S, [1.0, 2, 3], [0, 0, 0, 2.0])  # one sample
    np.testing.assert_array_equal(b.lookup("odom", "base", 2 * S), pose([0, 0, 0], [1, 2, 3]))
    b.add_dynamic_tq("odom", "wheel", np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 4)))
    assert "wheel" not in b.frames  # no samples, no edge
    with pytest.raises(InputError, match="both on /tf and /tf_static"):
        b.add_static("odom", "base", np.eye(4))


@pytest.mark.parametrize("tq_first", [True, False])
def test_both_ways_of_adding_on_one_edge_without_a_lookup_between(tq_first):
    """An edge given translation + quaternion samples and 4x4 matrices with no lookup between
    (a lookup trims the columns to their samples; before it they have spare room): every sample
    kept, whichever came first (the random test above looks up between adds)."""
    from mast3r_ros.core.message_fields import tq_to_matrix

    rng = np.random.default_rng(7)
    t, q = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    b = TransformBuffer()
    for batch in ((0, 1, 2), (3, 4)) if tq_first else ((0, 1), (2, 3, 4)):
        if (batch[0] == 0) == tq_first:
            b.add_dynamic_tq("map", "odom", np.array(batch) * S, t[list(batch)], q[list(batch)])
        else:
            for j in batch:
                b.add_dynamic("map", "odom", j * S, tq_to_matrix(t[j], q[j]))
    for j in range(5):
        assert b.lookup("map", "odom", j * S).tobytes() == tq_to_matrix(t[j], q[j]).tobytes()


def test_unsigned_integer_stamps_are_integer_nanoseconds():
    """Stamps given as an unsigned integer array (a uint64 column, as a ROS stamp's fields
    are unsigned) are integers: accepted, as the docstring says, not refused as floats are."""
    b = TransformBuffer()
    t, q = np.array([[0.0, 0, 0], [2.0, 0, 0]]), np.tile([0.0, 0, 0, 1], (2, 1))
    b.add_dynamic_tq("map", "odom", np.array([S, 3 * S], np.uint64), t, q)
    np.testing.assert_array_equal(b.lookup("map", "odom", 2 * S), pose([0, 0, 0], [1.0, 0, 0]))


@pytest.mark.parametrize("norm, refused", [(5e-7, True), (9.9e-7, True), (1.01e-6, False),
                                           (1.5e-6, False)])
def test_a_near_zero_quaternion_is_refused_at_add_as_tq_to_matrix_refuses_it(norm, refused):
    """The batch check screens rows by a vectorised norm and asks `tq_to_matrix` about the
    rows near its 1e-6 limit: a quaternion just under it is refused when added (not kept and
    normalised at a lookup, which checks no more), one just over it is kept."""
    from mast3r_ros.core.message_fields import tq_to_matrix

    b = TransformBuffer()
    t, q = np.zeros((2, 3)), np.array([[0.0, 0, 0, 1], [0.0, 0, 0.6 * norm, 0.8 * norm]])
    if refused:
        with pytest.raises(InputError, match=r"map -> odom at t=1.000000 s: pose quaternion "
                           "norm is .*near zero"):
            b.add_dynamic_tq("map", "odom", [0, S], t, q)
        assert b.frames == set()
    else:
        b.add_dynamic_tq("map", "odom", [0, S], t, q)
        assert b.lookup("map", "odom", S).tobytes() == tq_to_matrix(t[1], q[1]).tobytes()


def test_lookups_across_the_whole_int64_range_do_not_overflow():
    """Stamps -2**63 and 0 (or 2**63 - 1) are both valid int64, but the gap between them is
    not: ``stamps[hi] - stamps[hi - 1]`` overflowed (numpy's RuntimeWarning, then an alpha of
    9.2e18 refused by interpolate_pose, or a negative one), and the nearest-sample search
    wrapped: a query at 2**63 - 1 came out 1 ns from a sample at -2**63 and took it."""
    import warnings

    from mast3r_ros.core.trajectory import bracketing_gaps, nearest_indices

    lo, hi = -2 ** 63, 2 ** 63 - 1
    far = pose([0, 0, 0.0], [1.0, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warning fails the test
        b = TransformBuffer()
        b.add_dynamic("map", "cam", lo, np.eye(4))
        b.add_dynamic("map", "cam", 0, far)
        for t, x in ((-2 ** 62, 0.5), (-1, 1 - 1 / 2 ** 63), (lo + 1, 2.0 ** -63), (lo, 0),
                     (0, 1)):
            assert b.lookup("map", "cam", t)[0, 3] == pytest.approx(x, abs=1e-15), t
        with pytest.raises(ExtrapolationError, match=r"apart") as e:
            b.lookup("map", "cam", -2 ** 62, max_gap_ns=S)
        assert e.value.gap_ns == 2 ** 63 - 1  # type: ignore[attr-defined] # 2**63: saturated
        b2 = TransformBuffer()
        b2.add_dynamic("map", "cam", lo, np.eye(4))
        b2.add_dynamic("map", "cam", hi, far)
        assert b2.lookup("map", "cam", -1)[0, 3] == pytest.approx(0.5)
        with pytest.raises(ExtrapolationError) as e:
            b2.lookup("map", "cam", 0, max_gap_ns=S)
        assert e.value.gap_ns == 2 ** 63 - 1  # type: ignore[attr-defined] # 2**64 - 1
        one = np.array([lo], np.int64)
        assert nearest_indices(one, np.array([hi]), 5).tolist() == [-1]
        assert nearest_indices(np.array([lo, hi]), np.array([hi - 3, lo + 2]), 5).tolist() \
            == [1, 0]
        assert bracketing_gaps(np.array([lo, hi]), np.array([0])).tolist() == [2 ** 63 - 1]


def test_a_lookup_stamp_outside_int64_is_refused_not_wrapped():
    """A query of 2**63 ns (a Python int, or a uint64) was cast to int64, wrapping to -2**63:
    the pose at the first sample came back for a time after the last; one below -2**63 was
    called 'not integer nanoseconds ... convert seconds'."""
    from mast3r_ros.core.trajectory import nearest_indices

    b = TransformBuffer()
    b.add_dynamic("map", "cam", -2 ** 63, np.eye(4))
    b.add_dynamic("map", "cam", 2 ** 63 - 1, pose([0, 0, 0.0], [1.0, 0, 0]))
    for t in (2 ** 63, np.uint64(2 ** 63), -2 ** 63 - 1, 2 ** 64):
        with pytest.raises(InputError, match=rf"a stamp of {int(t)} ns lies outside int64"):
            b.lookup("map", "cam", t)
    assert b.lookup("map", "cam", np.uint64(2 ** 63 - 1))[0, 3] == 1.0
    assert nearest_indices(np.array([1, 5]), np.array([4, 2], dtype=object), 1).tolist() \
        == [1, 0]
    # a tolerance past uint64 (numpy's OverflowError): every sample is within it
    assert nearest_indices(np.array([-2 ** 63]), np.array([2 ** 63 - 1]), 2 ** 70).tolist() \
        == [0]


def test_connected_and_static_edges_tell_what_joins_two_frames():
    buf = TransformBuffer()
    buf.add_static("base_link", "camera_optical", np.eye(4))
    buf.add_static("base_link", "imu", np.eye(4))
    buf.add_dynamic("odom", "body", 0, np.eye(4))
    assert buf.connected("imu", "camera_optical") and buf.connected("x", "x")
    assert not buf.connected("body", "camera_optical")  # two trees
    assert not buf.connected("map", "camera_optical")  # an unknown frame
    assert buf.static_edges() == [("base_link", "camera_optical"), ("base_link", "imu")]
