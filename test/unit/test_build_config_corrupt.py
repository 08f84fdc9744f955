"""A map's build_config.yaml (the parameter file build-map writes beside a v2/v3 map: what it
was built with, informational only, outside its checksummed file table) was never read by a
v3 map's load or check-map: a corrupt one went unsaid. Now one warning naming the file and
saying the map is still usable; the map loads and checks as before (never refused for it)."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.keyframes.build_record import build_config_problem
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CORRUPT = {
    "not YAML": (b"scale: [unclosed\n", "is not YAML (ParserError at line 2, column 1)"),
    "a list": (b"- checkpoint\n- matcher\n", "holds a list, not a mapping"),
    "a string": (b"just some text\n", "holds a string, not a mapping"),
    "empty": (b"", "is empty"),
    "not UTF-8": (b"a: \xff\xfe\n", "is not UTF-8 text"),
}


@pytest.fixture(scope="module")
def v3_map(tmp_path_factory):
    cam = default_intrinsics(160, 120)
    frames = [(f.rgb, cam, f.map_from_cam, f.stamp_ns, f.depth_m.astype(np.float32))
              for f in render_frames(40, cam, indices=range(0, 8, 2))]
    return kfm.write_map(str(tmp_path_factory.mktemp("maps") / "m"), frames, version=3)


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
            and "build_config.yaml" in r.getMessage()]


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_a_corrupt_build_config_is_warned_naming_the_file_and_the_map_still_loads(
        v3_map, case, caplog):
    content, what = CORRUPT[case]
    path = f"{v3_map}/build_config.yaml"
    with open(path, "wb") as fh:
        fh.write(content)
    try:
        assert what in build_config_problem(v3_map), build_config_problem(v3_map)
        for lazy in (False, True):
            caplog.clear()
            with caplog.at_level(logging.WARNING):
                kmap = KeyframeMap.load(v3_map, lazy=lazy)
            assert len(kmap) == 4 and kmap.image(0).shape == (120, 160, 3)
            if lazy:  # the localizer's open reads the manifest and index only (test_map_v2)
                assert _warnings(caplog) == []
                continue
            (line,) = _warnings(caplog)
            assert line.startswith(f"{path} {what}"), line
            assert "the map is still usable" in line and "informational" in line
    finally:
        os.unlink(path)


def test_a_build_config_that_reads_or_is_absent_is_not_warned(v3_map, caplog):
    with caplog.at_level(logging.WARNING):
        KeyframeMap.load(v3_map)
    assert _warnings(caplog) == [] and build_config_problem(v3_map) == ""
    path = f"{v3_map}/build_config.yaml"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("mast3r_localizer:\n  ros__parameters:\n    matcher: sift\n")
    try:
        with caplog.at_level(logging.WARNING):
            KeyframeMap.load(v3_map)
        assert _warnings(caplog) == [] and build_config_problem(v3_map) == ""
    finally:
        os.unlink(path)


def test_check_map_warns_of_it_and_passes(v3_map, capsys):
    from mast3r_ros.replay.cli import main

    path = f"{v3_map}/build_config.yaml"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("a: [unclosed\n")
    try:
        assert main(["check-map", v3_map]) == 0
        err = capsys.readouterr().err
        assert f"{path} is not YAML" in err and "the map is still usable" in err, err
    finally:
        os.unlink(path)


@pytest.mark.parametrize("content, kind", [(b"2026-12-06\n", "a date"),
                                           (b"2026-12-06 10:00:00\n", "a date and time"),
                                           (b"!!binary aGVsbG8=\n", "binary data"),
                                           (b"3.5\n", "a number"), (b"true\n", "a boolean")])
def test_a_build_config_of_one_scalar_names_its_kind(tmp_path, content, kind):
    """A file of one YAML scalar that is no number (a date, as `date -I > build_config.yaml`
    leaves; a !!binary value) was said to hold "a number": any type not listed read so."""
    (tmp_path / "build_config.yaml").write_bytes(content)
    assert f"holds {kind}, not a mapping" in build_config_problem(str(tmp_path))
