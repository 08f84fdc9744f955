"""bench_scale_cpu.py --dir (and --json): a folder that does not exist ended in tempfile.mkdtemp's
FileNotFoundError traceback, and the maps written under a given --dir were deleted at the end
(a user giving --dir wants to keep them, to look at or reuse)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_scale_cpu.py"


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), *argv], capture_output=True, text=True,
                          timeout=600)


def test_a_missing_dir_is_one_line(tmp_path):
    r = _run("--dir", str(tmp_path / "no" / "dir"), "--sizes", "4")
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.endswith(f"--dir {tmp_path / 'no' / 'dir'}: no such folder; create it, or leave "
                         "--dir out for a temporary one (deleted at the end)"), r.stderr


def test_maps_under_a_given_dir_are_kept(tmp_path):
    r = _run("--dir", str(tmp_path), "--sizes", "4", "--steps", "write")
    assert r.returncode == 0, r.stderr[-3000:]
    (work,) = os.listdir(tmp_path)
    assert sorted(os.listdir(tmp_path / work)) == ["a", "b", "m"], os.listdir(tmp_path / work)
    assert os.path.isfile(tmp_path / work / "m" / "manifest.json")
    assert f"maps kept in {tmp_path / work}" in r.stdout, r.stdout


def test_help_says_the_maps_are_kept():
    out = " ".join(_run("--help").stdout.split())
    assert "--dir DIR work folder, kept with its maps" in out, out


def test_a_json_path_in_a_missing_folder_is_one_line_before_any_work(tmp_path):
    """--json PATH in a folder that does not exist was found only at the end, after minutes of
    maps written and merged (write_json's traceback); now it is refused up front, exit 2."""
    path = tmp_path / "no" / "scale.json"
    r = _run("--json", str(path), "--dir", str(tmp_path), "--sizes", "4", "--steps", "write")
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.endswith(f"--json {path}: the folder {tmp_path / 'no'} does not exist; create "
                         "it, or give a path in an existing folder"), r.stderr
    assert os.listdir(tmp_path) == []  # no work folder: refused before the first map
