"""Progress vs --log-level: `export --log-level warning` (and error) still drew its stage line
on a terminal, and build-map its bars, while every INFO line was silenced. One rule now
(`core.progress_output`): progress is a live INFO line, drawn on a terminal at --log-level info
or debug only; warning and error silence it, as a --quiet does."""

from __future__ import annotations

import sys

import pytest

from mast3r_ros.replay.cli import main
from test_export import _stub_writer

# export runs the tiny network to record its reference outputs: faster on one thread on
# small shared machines (`one_torch_thread`)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("level, drawn", [("info", True), ("debug", True), ("warning", False),
                                          ("error", False)])
def test_exports_stage_line_follows_the_log_level(tiny_ckpt, tmp_path, capsys, monkeypatch,
                                                  level, drawn):
    _stub_writer(monkeypatch, slow_s=0.1)
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["export", tiny_ckpt, "--out", str(tmp_path / "e"), "--size", "224",
                 "--exporter", "torchscript", "--log-level", level]) == 0
    err = capsys.readouterr().err
    assert ("in all]" in err) is drawn, err
    if not drawn:
        assert err == "", err  # the one stdout line says it is done


@pytest.mark.parametrize("level, drawn", [("info", True), ("warning", False), ("error", False)])
def test_build_maps_bar_follows_the_log_level(tum, tmp_path, capsys, monkeypatch, level, drawn):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # capsys's, in the test's body
    # 4 of the 12 frames: whether the bar is drawn does not depend on how many (cheaper)
    assert main(["build-map", tum[0], "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--max-frames", "4", "--log-level", level]) == 0
    err = capsys.readouterr().err
    assert ("build-map: " in err and "frame/s" in err) is drawn, err
    if not drawn:
        assert err == "", err


def test_off_a_terminal_nothing_is_drawn_at_info(tum, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert main(["build-map", tum[0], "--out", str(tmp_path / "map"), "--matcher", "sift",
                 "--max-frames", "4"]) == 0
    assert "frame/s" not in capsys.readouterr().err
