"""The walk up from an output path to the map or run folder holding it (`enclosing_folder`:
check-map's --json/--plot refusal, localize's run-inside-run and build-map's map-inside-map
warnings) went up to `/`: a user's folder that sat anywhere below a folder holding
results.jsonl with config.yaml (generic names: another tool's experiment folder, the home
folder itself) was refused as 'inside the localize run folder'. The walk now stops below the
user's home folder (a path inside ~ is never inside ~ or above it) and at a filesystem
boundary (a mount point is looked at, the folders above it are not)."""

from __future__ import annotations

import os

from mast3r_ros.core import map_nesting
from mast3r_ros.core.map_nesting import enclosing_folder
from mast3r_ros.replay.cli import main


def _run_like(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("results.jsonl", "config.yaml"):
        (folder / name).write_text("{}\n")
    return folder


def _is_run(f):
    return os.path.isfile(os.path.join(f, "results.jsonl"))


def test_a_folder_at_or_above_home_is_not_taken_as_holding_a_path_inside_home(tmp_path,
                                                                                monkeypatch):
    home = tmp_path / "top" / "home"
    _run_like(tmp_path / "top")  # above the home folder
    _run_like(home)  # the home folder itself
    monkeypatch.setenv("HOME", str(home))
    deep = home / "work" / "reports" / "check.json"
    assert enclosing_folder(str(deep), _is_run) is None
    # a run folder below home still holds what is written in it, at any depth
    run = _run_like(home / "runs" / "r1")
    assert enclosing_folder(str(run / "sub" / "deeper" / "x.json"), _is_run) == str(run)
    # outside the home folder the bound does not apply
    assert enclosing_folder(str(tmp_path / "top" / "x" / "y.json"), _is_run) == str(
        tmp_path / "top")


def test_the_walk_stops_at_a_mount_point(tmp_path, monkeypatch):
    _run_like(tmp_path / "a")
    mount = tmp_path / "a" / "mnt"
    mount.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(map_nesting.os.path, "ismount",
                        lambda p: os.path.realpath(p) == str(mount) or real(p))
    assert enclosing_folder(str(mount / "x" / "check.json"), _is_run) is None
    _run_like(mount)  # the mount point itself is looked at
    assert enclosing_folder(str(mount / "x" / "check.json"), _is_run) == str(mount)
    assert enclosing_folder(str(tmp_path / "a" / "other" / "c.json"), _is_run) == str(
        tmp_path / "a")


def test_check_map_writes_a_report_below_a_run_like_folder_above_home(sift_map, tmp_path,
                                                                      monkeypatch, capsys):
    home = tmp_path / "exp" / "home"
    _run_like(tmp_path / "exp")
    monkeypatch.setenv("HOME", str(home))
    report = home / "reports" / "check.json"
    report.parent.mkdir(parents=True)
    assert main(["check-map", sift_map, "--json", str(report), "--log-level", "error"]) == 0
    assert report.is_file()
    run = _run_like(home / "runs" / "r1")  # a run below home: refused, as before
    capsys.readouterr()
    assert main(["check-map", sift_map, "--json", str(run / "sub" / "c.json"),
                 "--log-level", "error"]) == 2
    assert f"lies inside the localize run folder {run}" in capsys.readouterr().err
