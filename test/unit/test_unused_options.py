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


def test_more_workers_than_cores_is_warned_about(monkeypatch, caplog):
    """A fresh user's find: --workers 64 on 2 cores was accepted silently and built a map 3x
    slower than the default (the processes compete for the cores). One warning names both
    numbers; as many workers as cores, or a Ray cluster's workers, are not warned about."""
    import argparse
    import dataclasses
    import logging

    from mast3r_ros.core.config import Config
    from mast3r_ros.replay import cli_options

    base = Config()
    cfg = dataclasses.replace(base, localizer=dataclasses.replace(base.localizer,
                                                                  matcher="mast3r"),
                              model=dataclasses.replace(base.model, checkpoint="weights.pth"))
    monkeypatch.setattr(cli_options.os, "cpu_count", lambda: 2)
    for workers, ray, warned in ((64, None, True), (2, None, False), (64, "auto", False)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
            cli_options.note_unused_workers(argparse.Namespace(workers=workers, ray_address=ray),
                                            cfg)
        lines = [r.getMessage() for r in caplog.records]
        assert bool(lines) == warned, (workers, ray, lines)
        if warned:
            assert "--workers 64" in lines[0] and "2 CPU cores" in lines[0], lines
