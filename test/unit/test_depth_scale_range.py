"""A --depth-scale outside what float32 depth can hold (1e308: every depth 0; 1e-300: every
depth inf) built an unusable map with exit 0, and a sift build whose keyframes' depth holds no
valid pixel was written with only a 'map not checked' line (a fresh-user review's find)."""

from __future__ import annotations

import os

import pytest

from mast3r_ros.replay.cli import main


def _err_lines(capsys):
    return [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]


@pytest.mark.parametrize("scale", ["1e308", "1e-300", "1e-7", "1e10"])
def test_a_depth_scale_float32_cannot_hold_exits_2_with_one_line(tmp_path, tum, capsys, scale):
    out = tmp_path / "m"
    assert main(["build-map", tum[0], "--out", str(out), "--matcher", "sift",
                 "--depth-scale", scale, "--log-level", "warning"]) == 2
    (err,) = _err_lines(capsys)
    assert "--depth-scale" in err and "1e-06" in err and "1e+09" in err, err
    assert not os.path.exists(out)


@pytest.mark.parametrize("scale", ["nan", "inf"])
def test_a_depth_scale_that_is_no_number_is_called_so(tmp_path, tum, capsys, scale):
    """NaN was refused as 'beyond' the range, where float32 'overflows or vanishes'."""
    out = tmp_path / "m"
    assert main(["build-map", tum[0], "--out", str(out), "--matcher", "sift",
                 "--depth-scale", scale, "--log-level", "warning"]) == 2
    (err,) = _err_lines(capsys)
    assert "--depth-scale must be a finite number" in err and scale in err, err
    assert "overflows" not in err and not os.path.exists(out)


def test_sift_build_whose_depth_has_no_valid_pixel_is_refused(tmp_path, tum, capsys):
    # every depth PNG 0 (a blinded sensor, a wrong topic): no keyframe has a valid pixel
    import shutil

    import numpy as np
    from PIL import Image

    src = tmp_path / "src"
    shutil.copytree(tum[0], src)
    for name in os.listdir(src / "depth"):
        p = src / "depth" / name
        Image.fromarray(np.zeros_like(np.asarray(Image.open(p)))).save(p)
    out = tmp_path / "m"
    assert main(["build-map", str(src), "--out", str(out), "--matcher", "sift",
                 "--log-level", "warning"]) == 2
    (err,) = _err_lines(capsys)
    assert "valid" in err and "sift" in err and "--depth-scale" in err, err
    assert not os.path.exists(out)
