"""`mast3r-ros check-map MAP > /dev/null` of a map with a keyframe file deleted: the bad files
are listed on stdout, and the one error line on stderr said "(listed above)", above which,
stdout redirected, nothing was. It says the list is on stdout; with `--json -` (the lines for a
person on stderr) it is above the error line, as before."""

from __future__ import annotations

import os
import shutil

from mast3r_ros.replay.cli import main


def _broken(sift_map, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(sift_map, copy)
    os.remove(os.path.join(copy, "keyframes", "000001.png"))
    return copy


def test_the_error_says_the_bad_files_are_listed_on_stdout(sift_map, tmp_path, capsys):
    copy = _broken(sift_map, tmp_path)
    capsys.readouterr()
    assert main(["check-map", copy]) == 2
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    assert "000001.png" in out and "000001.png" not in line, (out, err)
    assert "(listed above), named on stdout; rebuild the map" in line, line


def test_with_json_on_stdout_the_list_is_above_the_error_on_stderr(sift_map, tmp_path,
                                                                    capsys):
    copy = _broken(sift_map, tmp_path)
    capsys.readouterr()
    assert main(["check-map", copy, "--json", "-"]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert "000001.png" in lines[-2] and "000001.png" not in out, (out, err)
    assert "(listed above); rebuild the map" in lines[-1], lines
