"""What ``localize`` does with one bad query frame (a fresh user's find: one truncated depth PNG
stopped the whole run, keeping only the frames before it in RUN.partial).

A query frame's depth is unused by the localizer, so ``localize`` does not read it at all
(``TumSequence(read_depth=False)``); ``build-map`` reads it, and skips the frame of a bad depth
PNG as it skips one of a bad colour image: no keyframe is taken from it, and the map's manifest
names it (``unreadable_frames``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.tum import TumSequence

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])


def _listed(folder: Path, txt: str) -> list:
    """The files ``folder/txt`` lists, in its order."""
    return [folder / ln.split()[1] for ln in (folder / txt).read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def _results(run: Path) -> list:
    return [json.loads(ln) for ln in (run / "results.jsonl").read_text().splitlines()]


# ------------------------------------- one unreadable frame is a failed frame, not a stop ---

def _localize(folder: Path, sift_map: str, run: Path, capsys) -> tuple:
    """``mast3r-ros localize FOLDER``: (exit status, stdout, stderr)."""
    capsys.readouterr()
    rc = main(["localize", str(folder), "--map", sift_map, "--out", str(run), "--matcher",
               "sift", "--log-level", "warning"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_unreadable_frames_are_failed_frames_and_the_run_goes_on(tum, sift_map, tmp_path,
                                                                  capsys):
    """One run for both kinds of bad frame (a run and a build cost ~2.8 CPU s): a bad colour
    image is a failed frame of ``localize``; a truncated depth PNG is not even read by it (the
    frame localizes), while ``build-map``, which reads depth, skips and names that frame too."""
    folder = tmp_path / "q"
    shutil.copytree(tum[1], folder)
    bad_depth = _listed(folder, "depth.txt")[4]
    _truncate(bad_depth)  # unused by localize: the frame localizes
    assert TumSequence(folder, read_depth=False)[4].depth_m is None
    rgb = _listed(folder, "rgb.txt")
    truncated, missing = rgb[3], rgb[8]
    _truncate(truncated)
    missing.unlink()
    run = tmp_path / "run"
    rc, out, err = _localize(folder, sift_map, run, capsys)
    assert rc == 0, err
    results = _results(run)
    assert len(results) == len(rgb) == 12
    bad = {i: r["reason"] for i, r in enumerate(results) if not r["success"]}
    assert sorted(bad) == [3, 8], bad
    assert [i for i, r in enumerate(results) if r["unreadable"]] == [3, 8]
    assert bad[3].startswith(f"unreadable frame: cannot read colour image {truncated}"), bad[3]
    assert "truncated" in bad[3]
    assert bad[8].startswith("unreadable frame: cannot read colour image") and str(missing) in \
        bad[8], bad[8]
    stamps = TumSequence(folder).stamps_ns
    assert [r["stamp_ns"] for r in results] == stamps.tolist()
    # one warning line per bad frame, naming its file; the count at the end
    warned = [ln for ln in err.splitlines() if "skipped (a failed frame)" in ln]
    assert len(warned) == 2 and str(truncated) in warned[0] and str(missing) in warned[1], err
    # the count ended '(naming the file)', naming none: the first one's file, its reason
    (count,) = [ln for ln in err.splitlines() if "2 of 12 frames could not be read" in ln]
    assert f"the first at t={stamps[3] * 1e-9:.6f} s: cannot read colour image {truncated}" \
        in count and "naming the file" not in count, count
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["frames"] == 12 and metrics["localized"] == 10
    assert metrics["unreadable_frames"] == 2
    assert metrics["failure_reasons"] == {"unreadable frame": 2}
    assert "unreadable (failed, skipped)" in out and not Path(f"{run}.partial").exists()
    # build-map skips them too (and the frame of the truncated depth PNG, which it reads),
    # each named; it stopped at the first
    capsys.readouterr()
    assert main(["build-map", str(folder), "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--log-level", "warning"]) == 0
    stdout, err = capsys.readouterr()
    warned = [ln for ln in err.splitlines() if "skipped (no keyframe taken from it)" in ln]
    assert len(warned) == 3 and str(truncated) in warned[0] and str(missing) in warned[2], err
    assert f"cannot read depth image {bad_depth}" in warned[1] and "truncated" in warned[1], err
    assert "3 of 12 frames could not be read and were skipped" in err, err
    assert "12 frames (3 unreadable, skipped)" in stdout, stdout
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["unreadable_frames"]["stamps_ns"] == stamps[[3, 4, 8]].tolist()
    keyframes = KeyframeMap.load(str(tmp_path / "m")).keyframes
    assert len(keyframes) == 9 and not {k.stamp_ns for k in keyframes} & set(stamps[[3, 4, 8]])


def test_a_recording_whose_first_ten_frames_are_unreadable_stops(tum, sift_map, tmp_path,
                                                                 capsys):
    folder = tmp_path / "q"
    shutil.copytree(tum[1], folder)
    rgb = _listed(folder, "rgb.txt")
    for path in rgb[:9]:  # nine: the tenth is read, the run goes on
        _truncate(path)
    rc, _, err = _localize(folder, sift_map, tmp_path / "run9", capsys)
    assert rc == 0, err
    assert json.loads((tmp_path / "run9" / "metrics.json").read_text())["unreadable_frames"] == 9
    _truncate(rgb[9])  # ten: a broken recording, stopped with the first error as before
    run = tmp_path / "run"
    rc, _, err = _localize(folder, sift_map, run, capsys)
    lines = [ln for ln in err.splitlines() if ": error: " in ln]
    assert rc == 2 and len(lines) == 1, err
    assert f"cannot read colour image {rgb[0]}" in lines[0], lines[0]
    assert "the first 10 frames are unreadable" in lines[0], lines[0]
    assert not run.exists() and not Path(f"{run}.partial").exists()  # nothing was written


def test_a_short_recording_with_no_readable_frame_stops(tum, sift_map, tmp_path, capsys):
    folder = tmp_path / "q"
    shutil.copytree(tum[1], folder)
    lines = [ln for ln in (folder / "rgb.txt").read_text().splitlines() if ln.strip()
             and not ln.startswith("#")][:3]
    (folder / "rgb.txt").write_text("\n".join(lines) + "\n")
    rgb = _listed(folder, "rgb.txt")
    for path in rgb:
        path.unlink()
    rc, _, err = _localize(folder, sift_map, tmp_path / "run", capsys)
    errors = [ln for ln in err.splitlines() if ": error: " in ln]
    assert rc == 2 and len(errors) == 1, err
    assert str(rgb[0]) in errors[0] and "all 3 frames are unreadable" in errors[0], errors[0]
    # build-map alike (it stopped at the first, as at any one bad frame): one line, no map
    out = tmp_path / "m"
    assert main(["build-map", str(folder), "--out", str(out), "--matcher", "sift",
                 "--log-level", "warning"]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    assert len(errors) == 1 and errors[0].startswith(
        f"mast3r-ros build-map: error: cannot read colour image {rgb[0]}"), errors
    assert errors[0].endswith("(all 3 frames are unreadable: a broken recording, not one bad "
                              "frame)"), errors[0]
    assert not out.exists() and not Path(f"{out}.partial").exists()


# ------------------------------------------- --stride reads (decodes) only the frames taken ---

def test_stride_reads_only_the_frames_it_takes(tum, sift_map, tmp_path, capsys, monkeypatch):
    """``localize --stride`` took every Nth frame of an iterator that had read and decoded each
    one, so a skipped frame's corrupt image was an unreadable frame of the run; now a skipped
    image is never read, and the frames taken (and max_frames) are the same as before."""
    from mast3r_ros.core.types import UnreadableFrame
    from mast3r_ros.replay.sources import frames_or_unreadable, select_frames

    folder = tmp_path / "q"
    shutil.copytree(tum[1], folder)
    rgb = _listed(folder, "rgb.txt")
    _truncate(rgb[3])  # skipped by --stride 2
    rgb[8].unlink()  # taken by --stride 2: still an unreadable frame
    seq = TumSequence(folder, read_depth=False)
    for stride in (1, 2, 3, 5):
        for most in (0, 1, 2, 4):
            old = [(f.stamp_ns, isinstance(f, UnreadableFrame))
                   for f in select_frames(seq.frames_or_unreadable(), stride, most)]
            new = [(f.stamp_ns, isinstance(f, UnreadableFrame))
                   for f in frames_or_unreadable(seq, stride, most)]
            assert new == old, (stride, most)
    read = []
    real = TumSequence._read_rgb
    monkeypatch.setattr(TumSequence, "_read_rgb", lambda self, p: read.append(p) or real(self, p))
    run = tmp_path / "run"
    capsys.readouterr()
    assert main(["localize", str(folder), "--map", sift_map, "--out", str(run), "--matcher",
                 "sift", "--log-level", "warning", "--stride", "2"]) == 0
    err = capsys.readouterr().err
    assert read == rgb[0::2]  # the images of the frames taken, each read once
    results = _results(run)
    assert [r["stamp_ns"] for r in results] == seq.stamps_ns[0::2].tolist()
    assert [i for i, r in enumerate(results) if r["unreadable"]] == [4], results
    assert str(rgb[3]) not in err and "1 of 6 frames could not be read" in err, err
