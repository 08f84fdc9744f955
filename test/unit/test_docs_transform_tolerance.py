"""docs/ros_node.md's Timing and TF section on ``transform_tolerance``, checked against the
node's stamping (`ros.tracking.tf_stamp_ns`: now + the tolerance, as Nav2's AMCL does) and a
lookup as tf2 makes it (a transform's cache interpolates between the samples around the time
asked, and refuses a time before its first or after its last: extrapolation).

The section said only "future-dated like AMCL's": a user who copied AMCL's 1.0 s had every
correction reach Nav2 a second late. It now says what a lookup at t reads, what 1.0 s costs and
which value to take; these tests pin those figures to the code's defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from mast3r_ros.core.config import param_specs
from mast3r_ros.ros.tracking import tf_stamp_ns

ROOT = Path(__file__).resolve().parents[2]
SPECS = {s.name: s for s in param_specs()}
NS = 1_000_000_000


def _section() -> str:
    text = (ROOT / "docs" / "ros_node.md").read_text(encoding="utf-8")
    return " ".join(text.split("### Timing and TF", 1)[1].split("\n### ", 1)[0].split())


def _broadcasts(tolerance_s: float, rate_hz: float, fix_s: float, end_s: float
                ) -> List[Tuple[int, int, float]]:
    """(sent ns, stamp ns, correction) of each map->odom broadcast at ``rate_hz`` from the first
    fix at 1 s on; the correction steps from 0 to 1 at ``fix_s`` (broadcast at once, as a fix
    is)."""
    times = sorted(set(np.arange(1.0, end_s, 1.0 / rate_hz).round(9)) | {fix_s})
    return [(int(t * NS), tf_stamp_ns(int(t * NS), tolerance_s), 1.0 if t >= fix_s else 0.0)
            for t in times]


def _lookup(samples: List[Tuple[int, int, float]], t_ns: int) -> Optional[float]:
    """tf2's lookup at the current time ``t_ns`` on the samples sent by then: interpolated
    between their stamps, None before the first or after the last (extrapolation)."""
    known = [(stamp, v) for sent, stamp, v in samples if sent <= t_ns]
    if not known or t_ns < known[0][0] or t_ns > known[-1][0]:
        return None
    return float(np.interp(t_ns, [s for s, _ in known], [v for _, v in known]))


def _delay_s(tolerance_s: float, rate_hz: float) -> float:
    """How long after a fix at 3 s a lookup at the current time first reads it whole."""
    samples = _broadcasts(tolerance_s, rate_hz, 3.0, 8.0)
    for t in np.arange(3.0, 8.0, 0.001):
        if _lookup(samples, int(t * NS)) == 1.0:
            return float(t - 3.0)
    raise AssertionError("never read")


def test_a_lookup_at_t_reads_the_value_broadcast_one_tolerance_earlier():
    rate = SPECS["tf_publish_rate"].default
    for tol in (0.1, 0.2, 1.0):
        assert tol <= _delay_s(tol, rate) <= tol + 1.0 / rate + 1e-3, tol
    assert 0.95 <= _delay_s(1.0, rate) <= 1.1  # "delays each correction by about a second"
    # the first fix: no map->odom at the current time for about one tolerance
    first = _broadcasts(1.0, rate, 1.0, 4.0)
    assert _lookup(first, int(1.5 * NS)) is None and _lookup(first, int(2.05 * NS)) == 1.0


def _gaps(tolerance_s: float, rate_hz: float) -> int:
    """Lookups at the current time, every ms once map->odom has been broadcast a while, that find
    the last broadcast older than they are (extrapolation into the future)."""
    samples = _broadcasts(tolerance_s, rate_hz, 1.0, 5.0)
    return sum(_lookup(samples, int(t * NS)) is None for t in np.arange(3.0, 4.0, 0.001))


def test_the_recommended_tolerance_bridges_the_rebroadcast_and_the_default_is_in_it():
    section = _section()
    m = re.search(r"keep `transform_tolerance` at ([0-9.]+)–([0-9.]+) s \(the default is "
                  r"([0-9.]+)\)", section)
    assert m, "the recommendation is not where the section gives it"
    low, high, said = (float(g) for g in m.groups())
    default = SPECS["transform_tolerance"].default
    rate = SPECS["tf_publish_rate"].default
    assert said == default and low <= default <= high
    assert f"1 / `tf_publish_rate`: {1000 / rate:.0f} ms at the default {rate:.0f} Hz" in section
    assert low > 1.0 / rate  # the gap between two broadcasts, with room for their delivery
    assert _gaps(low, rate) == 0 and _gaps(high, rate) == 0
    assert _gaps(0.5 / rate, rate) > 0  # below the gap: "fails (extrapolation into the future)"
    assert "Copying AMCL's 1.0 s" in section and "delays each correction by about a second" \
        in section
    # "(0.1 s: one frame period at 10 Hz, three at 30 Hz)"
    assert round(default * 10) == 1 and round(default * 30) == 3
    assert f"({default:g} s: one frame period at 10 Hz, three at 30 Hz)" in section
