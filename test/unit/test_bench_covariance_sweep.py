"""bench/bench_covariance.py --sweep: its argument is checked before any work, and each run
prints one reliability row (the observed fractions within the chi^2(3) quantiles)."""

from __future__ import annotations

import argparse

import pytest
from mast3r_test_utils import bench_script


def _bench():
    return bench_script("bench_covariance")


def test_a_sweep_names_a_covariance_parameter_and_numbers(capsys):
    b, ap = _bench(), argparse.ArgumentParser()
    assert b._sweep_arg(ap, "covariance.view_angle_sigma_ratio=0,0.1") == (
        "view_angle_sigma_ratio", [0.0, 0.1])
    # an int parameter keeps int values (the config refuses a float 16.0 for it)
    kv = b._sweep_arg(ap, "model_selection_draws=0,16")
    assert kv == ("model_selection_draws", [0, 16]) and type(kv[1][1]) is int
    for bad, why in (("view_angle=0.1", "no covariance parameter 'view_angle'"),
                     ("model_selection_draws=0.5", "values must be whole numbers"),
                     ("depth_sigma_k=a", "values must be numbers"),
                     ("depth_sigma_k=", "no values")):
        with pytest.raises(SystemExit):
            b._sweep_arg(ap, bad)
        assert why in capsys.readouterr().err


def test_a_reliability_row_gives_percent_within_each_level():
    b = _bench()
    blk = {"frames": 4, "coverage": {"50": 0.5, "90": 0.75, "95": 1.0, "99": 1.0}}
    none = {"frames": 0, "coverage": {k: None for k in ("50", "90", "95", "99")}}
    cov = {"position": blk, "position_gt_1cm": blk, "rotation": none,
           "position_sigma_m_median": 0.0123, "rotation_sigma_deg_median": 0.5}
    assert b.reliability_row("x=1", cov) == (
        "| x=1 | 4 | 50 / 75 / 100 / 100 | 50 / 75 / 100 / 100 | - / - / - / - | 1.23 / 0.50 |")
    assert b.RELIABILITY_HEAD.count("|---") == b.reliability_row("x", cov).count(" | ") + 1


def test_the_base_config_comes_from_params(tmp_path):
    """--params: a sparser map_build.* for a real-data map (the sweep's base config)."""
    b = _bench()
    y = tmp_path / "sparse.yaml"
    y.write_text("/**/mast3r_localizer:\n  ros__parameters:\n    map_build:\n"
                 "      min_rotation_deg: 60.0\n      min_translation_m: 0.8\n")
    mb = b._base_config(str(y)).map_build
    assert (mb.min_rotation_deg, mb.min_translation_m) == (60.0, 0.8)
    assert b._base_config("") == b.Config()
