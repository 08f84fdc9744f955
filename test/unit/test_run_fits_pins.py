"""Pins of `run_evidence.RunFits`, the bookkeeping the focal, principal point and distortion
run evidences share, tested directly (mutation audit docs/bench/mutation_cpu_2026-12-07zt): its
subclasses' tests left its default length, `clear` and the abstract `_same_camera` open."""

from __future__ import annotations

import pytest

from mast3r_ros.core.run_evidence import RunFits


class _Fits(RunFits):
    def _same_camera(self, camera):
        return camera == self.camera


def test_by_default_every_fit_is_kept():
    fits = _Fits()
    for i in range(300):
        fits._take("cam", (float(i), 1.0))
    assert len(fits) == 300
    assert list(fits._columns(2)[0][:2]) == [0.0, 1.0]


def test_max_frames_keeps_the_most_recent():
    fits = _Fits(max_frames=3)
    for i in range(5):
        fits._take("cam", (float(i),))
    assert list(fits._columns(1)[0]) == [2.0, 3.0, 4.0]


def test_clear_drops_the_fits_and_the_calibration_not_the_restart_count():
    fits = _Fits()
    fits._take("a", (1.0,))
    fits._take("b", (2.0,))  # another calibration: the first fit dropped
    assert fits.frames_restarted == 1 and fits.camera == "b" and len(fits) == 1
    fits.clear()
    assert len(fits) == 0 and fits._columns(1) == [[]]
    assert fits.camera is None and fits.frames_restarted == 1
    fits.use_camera("c")  # after clear, a calibration is the first again: nothing restarted
    assert fits.camera == "c" and fits.frames_restarted == 1


def test_a_subclass_must_say_when_two_calibrations_are_the_same():
    fits = RunFits()
    fits.use_camera("a")  # the first: nothing to compare with
    with pytest.raises(NotImplementedError):
        fits.use_camera("b")
