"""build-map wrote a map in map_frame ' ' (or '') with exit 0, which the loader then refused
with 'rebuild the map' -- and the rebuild wrote the same map (a regression review's find)."""

from __future__ import annotations

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.keyframes import MapWriter
from mast3r_ros.replay.cli import main


@pytest.mark.parametrize("frame", ["", " ", " map", "/map", 5])
def test_map_writer_refuses_a_map_frame_tf2_or_the_loader_would_not_take(tmp_path, frame):
    with pytest.raises(InputError, match="map_frame must be a frame name"):
        MapWriter(str(tmp_path / "m"), map_frame=frame)
    assert not (tmp_path / "m").exists()


def test_build_map_with_a_blank_map_frame_is_refused_before_writing(tmp_path, tum, capsys):
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    map_frame: ' '\n")
    assert main(["build-map", tum[0], "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--params", str(params), "--log-level", "warning"]) == 2
    err = capsys.readouterr().err
    assert "map_frame must be a frame name" in err and err.count("\n") == 1, err
    assert not (tmp_path / "m").exists()
