"""Options accepted and silently unused (a fresh-user review's find): localize --depth-scale and
--sync-tolerance (localizing reads no query depth), build-map --workers with the sift matcher
(nothing is encoded; --ray-address in the same case is refused). Each now gets one WARNING line
naming the option and why it has no effect."""

from __future__ import annotations

import pytest

from mast3r_ros.replay.cli import main


def _warnings(capsys):
    return [ln for ln in capsys.readouterr().err.splitlines() if "WARNING" in ln]


@pytest.mark.parametrize("option,value", [("--depth-scale", "1000"),
                                          ("--sync-tolerance", "0.05")])
def test_localize_warns_once_for_a_depth_option(tmp_path, tum, sift_map, capsys, option, value):
    capsys.readouterr()
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(tmp_path / "r"),
                 "--matcher", "sift", option, value, "--log-level", "warning"]) == 0
    (line,) = [w for w in _warnings(capsys) if option in w]
    assert "has no effect" in line and "query depth" in line, line


def test_localize_without_them_warns_nothing_about_them(tmp_path, tum, sift_map, capsys):
    capsys.readouterr()
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(tmp_path / "r"),
                 "--matcher", "sift", "--log-level", "warning"]) == 0
    assert not [w for w in _warnings(capsys) if "has no effect" in w]


def test_build_map_warns_for_workers_with_sift(tmp_path, tum, capsys):
    capsys.readouterr()
    assert main(["build-map", tum[0], "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--workers", "4", "--log-level", "warning"]) == 0
    (line,) = [w for w in _warnings(capsys) if "--workers" in w]
    assert "has no effect" in line and "sift" in line, line
