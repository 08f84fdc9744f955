"""An rgb.txt line listed out of order at an earlier line's stamp (another image at that stamp:
a list merged or edited wrongly) was explained only as a clock reset between two recordings,
with "split the folder there"; the warning now names the repeated stamp and both lines, as a
rosbag's repeated stamps are named ("repeat ... stamp", "at t=... s")."""

from __future__ import annotations

import logging
import shutil

import pytest

from mast3r_ros.replay.synthetic import write_demo_sequences
from mast3r_ros.replay.tum import TumSequence


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A TUM folder of 30 frames 0.2 s apart (0 .. 5.8 s), its rgb.txt lines numbered from 2."""
    root = tmp_path_factory.mktemp("tum_repeat")
    map_dir, _ = write_demo_sequences(str(root / "scene"), num_frames=60, width=64, height=48)
    return map_dir


def _go_back_warning(folder, tmp_path, lines, caplog):
    copy = str(tmp_path / "seq")
    shutil.copytree(folder, copy)
    with open(f"{copy}/rgb.txt", "w") as fh:
        fh.write("# timestamp filename\n" + "".join(f"{t} {name}\n" for t, name in lines))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        seq = TumSequence(copy)
    (text,) = [r.getMessage() for r in caplog.records if "go back in time" in r.getMessage()]
    return seq, text


def _lines(folder):
    with open(f"{folder}/rgb.txt") as fh:
        return [line.split() for line in fh if not line.startswith("#")]


def test_an_image_listed_late_at_an_earlier_stamp_is_named_not_called_a_clock_reset(
        folder, tmp_path, caplog):
    lines = _lines(folder)  # line k + 2 of the file: stamp 0.2 k
    shutil.copy(f"{folder}/{lines[5][1]}", f"{folder}/rgb/extra.png")
    seq, text = _go_back_warning(folder, tmp_path, lines + [(lines[3][0], "rgb/extra.png")],
                                 caplog)
    assert "clock reset (a simulator" not in text, text
    assert "1 of 31 repeat an earlier image's stamp (line 32 at t=0.600000 s, as line 5: " \
        f"{lines[3][1]} and rgb/extra.png)" in text, text
    assert len(seq) == 31


def test_a_clock_reset_is_still_said_to_be_one(folder, tmp_path, caplog):
    """Two recordings whose second repeats the first's stamps (a simulator restarted at a fixed
    rate): many lines go back onto earlier stamps, a reset, not repeated stamps."""
    lines = _lines(folder)
    again = [(lines[i][0], lines[15 + i][1]) for i in range(15)]  # 0 .. 2.8 s once more
    _, text = _go_back_warning(folder, tmp_path, lines[:15] + again, caplog)
    assert "repeat an earlier image's stamp" not in text, text
    assert "clock reset (a simulator" in text, text
