"""Pins of `core.repeated_image.RepeatedImageCheck`'s counters that the mutation audit
docs/bench/mutation_cpu_2026-12-07zl found untested (the node tests drive them only through
a frozen run from its first frame)."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.repeated_image import DROPPED_REPEATS, REASON_PREFIX, RepeatedImageCheck

S = 1_000_000_000


def test_the_repeat_count_and_frozen_start_at_zero_and_reset_clears_them():
    check = RepeatedImageCheck()
    assert check.repeats == 0 and not check.frozen
    assert check.dropped_reason().startswith(f"{REASON_PREFIX}: dropped, not localized")
    a = np.zeros((8, 6, 3), np.uint8)
    for k in range(DROPPED_REPEATS + 2):
        check.check(a, k * S)
    assert check.repeats == DROPPED_REPEATS + 1 == 3 and check.frozen
    check.reset()
    assert check.repeats == 0 and not check.frozen
    assert check.check(a, 9 * S) == "" and check.repeats == 0
    assert check.check(a, 10 * S).startswith(f"{REASON_PREFIX} (the image first seen at t=9.000 s, "
                                             "repeated 1x over 1.00 s")
    assert check.repeats == 1 and not check.frozen
