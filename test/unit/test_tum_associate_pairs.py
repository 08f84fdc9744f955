"""TUM folders whose images are listed as TUM's associate.py pairs ('rgb_stamp rgb_file
depth_stamp depth_file' per line, ORB-SLAM's associations.txt): named, with the commands that
split them into rgb.txt and depth.txt, whether the pairs stand in rgb.txt or in a file of their
own beside the images (no rgb.txt)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from mast3r_ros.replay.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _one_error(capsys, argv) -> str:
    capsys.readouterr()
    rc = main([*argv, "--log-level", "warning"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ": error: " in ln]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, (rc, err)
    return lines[0]


def _as_pairs(text: str) -> str:
    """rgb.txt's lines -> associate.py's (each image paired with its same-stamp depth PNG)."""
    return re.sub(r"^(\S+) rgb/(\S+)\.png$", r"\1 rgb/\2.png \1 depth/\2.png", text, flags=re.M)


def _split_commands(line: str) -> str:
    """The shell commands the error line gives (after 'split them: ')."""
    return line.split("split them: ", 1)[1].split(", and write camera.yaml", 1)[0]


@pytest.mark.parametrize("in_rgb_txt", [True, False], ids=["rgb.txt", "associations.txt"])
def test_associate_pairs_are_named_with_commands_that_split_them(tum, tmp_path, capsys,
                                                                  in_rgb_txt):
    folder = tmp_path / "seq with space"
    shutil.copytree(tum[0], folder)
    pairs = _as_pairs((folder / "rgb.txt").read_text())
    (folder / "depth.txt").unlink()
    (folder / "rgb.txt").unlink()
    pairs_file = folder / ("rgb.txt" if in_rgb_txt else "associations.txt")
    pairs_file.write_text(pairs)

    line = _one_error(capsys, ["build-map", str(folder), "--out", str(tmp_path / "m"),
                               "--matcher", "sift"])
    assert "associate.py" in line and "rgb.txt and depth.txt" in line, line
    if in_rgb_txt:  # before: "expected 'timestamp filename', got '...' (4 columns)"
        assert line.split(": error: ", 1)[1].startswith(f"{pairs_file}:2: "), line
    else:  # before: "... for a folder of images (24 here, ...), write rgb.txt ..."
        assert "associations.txt" in line and "for a folder of images" not in line, line
    # the commands given work as written (quoted paths, rgb.txt moved away before it is read)
    subprocess.run(_split_commands(line), shell=True, check=True, cwd=tmp_path)
    assert (folder / "rgb.txt").read_text().split() == [
        w for ln in pairs.splitlines() if not ln.startswith("#") for w in ln.split()[:2]]
    assert main(["build-map", str(folder), "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--log-level", "warning"]) == 0


def test_a_two_column_list_with_a_bad_line_keeps_its_plain_message(tum, tmp_path, capsys):
    folder = tmp_path / "seq"
    shutil.copytree(tum[0], folder)
    rgb = folder / "rgb.txt"
    rgb.write_text(rgb.read_text() + "1.0 rgb/x.png extra\n")
    line = _one_error(capsys, ["build-map", str(folder), "--out", str(tmp_path / "m"),
                               "--matcher", "sift"])
    assert line.endswith("(3 columns)"), line
