"""`mast3r-ros demo --params FILE` with ``image_stamp: receive`` (or ``image_rectified: true``)
ignored the key without a word: the demo renders a TUM folder, one time per image, which
build-map and localize refuse 'receive' for. The demo has no --image-stamp to override the
file's value, so it warns, naming the key, and goes on."""

from __future__ import annotations

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay import demo
from mast3r_ros.replay.cli import main


@pytest.fixture
def stopped(monkeypatch):
    """The demo stops once its checks passed, before it renders."""
    def stop(*a, **k):
        raise InputError("stopped before rendering")

    monkeypatch.setattr(demo, "_run_demo", stop)


def _warnings(tmp_path, capsys, params: str):
    (tmp_path / "p.yaml").write_text("mast3r_localizer:\n  ros__parameters:\n" + params)
    assert main(["demo", "--out", str(tmp_path / "d"), "--params", str(tmp_path / "p.yaml"),
                 "--log-level", "warning"]) == 2
    return [line for line in capsys.readouterr().err.splitlines() if "(--params)" in line]


def test_image_stamp_receive_is_named_as_having_no_effect(tmp_path, capsys, stopped):
    (line,) = _warnings(tmp_path, capsys, "    image_stamp: receive\n")
    assert line.endswith("image_stamp receive (--params) has no effect on the demo: its "
                         "rendered scene has one time per image, no receive time (it reads a "
                         "bag's); ignored"), line


def test_image_rectified_is_named_and_the_defaults_say_nothing(tmp_path, capsys, stopped):
    (line,) = _warnings(tmp_path, capsys, "    image_rectified: true\n")
    assert "image_rectified (--params) has no effect on the demo" in line, line
    assert _warnings(tmp_path, capsys, "    image_stamp: header\n") == []
