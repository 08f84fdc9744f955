"""build-map decodes only the frames of a TUM folder that may become keyframes (a colleague's
measurement: 52 s of a 91 s build of 3000 frames went to decoding every frame twice, Pillow's
integrity check then OpenCV, though a keyframe is chosen by its pose). Pinned by counting
decodes, and by comparing the map with the one the old path (every frame decoded) builds of
the same folder with damaged frames: identical keyframes, table and PNG bytes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mast3r_ros.replay import pipeline, tum
from mast3r_ros.replay.cli import main

PARAMS = ("mast3r_localizer:\n  ros__parameters:\n"
          "    map_build: {min_translation_m: 0.5, min_rotation_deg: 180.0}\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """48 frames at 160x120; with PARAMS the keyframes are frames 0, 6, 10, 14, ... (11)."""
    from mast3r_ros.replay.synthetic import write_demo_sequences

    return write_demo_sequences(str(tmp_path_factory.mktemp("cand")), num_frames=96,
                                width=160, height=120, seed=1)[0]


def _rgb_files(folder: Path) -> list:
    return [ln.split()[1] for ln in (folder / "rgb.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def _damaged(src: str, tmp_path: Path, frames=()) -> Path:
    out = tmp_path / "src"
    shutil.copytree(src, out)
    for k in frames:  # a colour PNG cut short: Pillow's check refuses it
        p = out / _rgb_files(out)[k]
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return out


def _build(folder: Path, out: Path, monkeypatch, capsys, every_frame=False, extra=()):
    """Build with the sift matcher; the colour images decoded (their file names), the
    summary line. ``every_frame``: the old path, every frame decoded."""
    decoded = []
    read = tum.read_image_file

    def spy(path, *a, **k):
        decoded.append(Path(path).name)
        return read(path, *a, **k)
    with monkeypatch.context() as m:
        m.setattr(tum, "read_image_file", spy)
        if every_frame:
            m.setattr(pipeline, "_candidate_frames", lambda *a, **k: None)
        params = out.parent / f"{out.name}.yaml"
        params.write_text(PARAMS)
        capsys.readouterr()
        assert main(["build-map", str(folder), "--out", str(out), "--matcher", "sift",
                     "--params", str(params), "--log-level", "error", *extra]) == 0
    return decoded, capsys.readouterr().out


def _content(path: Path) -> dict:
    """What makes the map: the manifest (less the records of frames not built from and the
    map check's time), the keyframe table and every keyframe PNG, as bytes."""
    manifest = json.loads((path / "manifest.json").read_text())
    for key in ("unreadable_frames", "frames_not_read"):
        manifest.pop(key, None)
    check = manifest["consistency"]  # less the check's wall-clock time, in its message too
    check.pop("elapsed_s")
    check["message"] = re.sub(r" in [0-9.]+ s$", "", check["message"])
    files = {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*"))
             if p.is_file() and (p.suffix == ".npy" or p.parent.name == "keyframes")}
    return {"manifest": manifest, **files}


def test_only_the_keyframe_candidates_are_decoded(folder, tmp_path, monkeypatch, capsys):
    decoded, summary = _build(Path(folder), tmp_path / "map", monkeypatch, capsys)
    manifest = json.loads((tmp_path / "map" / "manifest.json").read_text())
    names = _rgb_files(Path(folder))
    assert decoded == [Path(names[k]).name for k in (0, 6, 10, 14, 18, 23, 29, 33, 37, 41, 46)]
    assert ": 11 keyframes from 48 frames; " in summary  # none unreadable: nothing to qualify
    assert manifest["frames_not_read"] == {"count": 37, "of_frames": 48,
                                           "reason": "not keyframe candidates"}
    assert "unreadable_frames" not in manifest


@pytest.mark.parametrize("bad", [(3, 6), (0, 3, 6, 7)])
def test_the_map_is_the_one_every_frame_decoded_gives_with_damaged_frames(
        folder, tmp_path, monkeypatch, capsys, bad):
    """Frame 6 is a keyframe of the intact folder (a candidate: decoded, unreadable, the next
    frame offered instead, as before), frame 3 is none (not decoded now: not counted as
    unreadable); with 0 and 7 damaged too the first frames are read until one is."""
    src = _damaged(folder, tmp_path, bad)
    lazy, lazy_summary = _build(src, tmp_path / "lazy", monkeypatch, capsys)
    every, _ = _build(src, tmp_path / "every", monkeypatch, capsys, every_frame=True)
    assert len(every) == 48 and len(lazy) < 20
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")
    stamps = [int(s) for s in tum.TumSequence(src).stamps_ns]
    lazy_m = json.loads((tmp_path / "lazy" / "manifest.json").read_text())
    every_m = json.loads((tmp_path / "every" / "manifest.json").read_text())
    assert every_m["unreadable_frames"]["stamps_ns"] == [stamps[k] for k in bad]
    assert 3 not in [stamps.index(s) for s in lazy_m["unreadable_frames"]["stamps_ns"]]
    assert set(lazy_m["unreadable_frames"]["stamps_ns"]) < set(every_m["unreadable_frames"]
                                                               ["stamps_ns"])
    assert "frames_not_read" not in every_m
    assert lazy_m["frames_not_read"]["count"] == 48 - len(lazy)
    assert (f"{len(lazy_m['unreadable_frames']['stamps_ns'])} unreadable, skipped; "
            f"{48 - len(lazy)} not read: not keyframe candidates)") in lazy_summary


def test_first_frames_all_unreadable_are_still_refused(folder, tmp_path, monkeypatch, capsys):
    """The refusal of a broken recording (its first ten frames unreadable) reads them all,
    though frames 1..5 are no candidates once frame 0 is a keyframe: the rule is unchanged."""
    src = _damaged(folder, tmp_path, range(10))
    decoded = []
    read = tum.read_image_file

    def spy(path, *a, **k):
        decoded.append(path)
        return read(path, *a, **k)
    monkeypatch.setattr(tum, "read_image_file", spy)
    (tmp_path / "p.yaml").write_text(PARAMS)
    capsys.readouterr()
    assert main(["build-map", str(src), "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--params", str(tmp_path / "p.yaml"), "--log-level", "error"]) == 2
    assert "broken recording" in capsys.readouterr().err and len(decoded) == 10


def test_check_map_names_the_frames_not_read_beside_the_unreadable_ones():
    from mast3r_ros.replay.check_map import skipped_frames, unreadable_notes

    unread = {"count": 1, "of_frames": 48, "stamps_ns": [1], "first": {"stamp_ns": 1,
              "reason": "x"}, "longest_run": {"frames": 1, "first_ns": 1, "last_ns": 1}}
    not_read = {"count": 36, "of_frames": 48, "reason": "not keyframe candidates"}
    manifest = {"unreadable_frames": unread, "frames_not_read": not_read}
    assert unreadable_notes(manifest)[0].endswith(
        "; 36 frames not read: not keyframe candidates, not known to be readable or not")
    assert skipped_frames(manifest) == manifest
    assert skipped_frames({"frames_not_read": {"count": 0}}) == {}


def test_poses_from_a_trajectory_file_select_the_same_candidates(folder, tmp_path, monkeypatch,
                                                                 capsys):
    """--trajectory FILE: the candidates are chosen by its poses, not the folder's (none)."""
    src = _damaged(folder, tmp_path, (3, 6))
    traj = tmp_path / "traj.txt"
    (src / "groundtruth.txt").rename(traj)
    extra = ("--trajectory", str(traj))
    lazy, _ = _build(src, tmp_path / "lazy", monkeypatch, capsys, extra=extra)
    every, _ = _build(src, tmp_path / "every", monkeypatch, capsys, every_frame=True,
                      extra=extra)
    assert len(every) == 48 and len(lazy) == 12  # 11 keyframes and frame 6, unreadable
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")


def test_a_merged_map_still_names_its_sources_frames_without_a_pose(tmp_path):
    """merge-maps kept each source's unreadable_frames in merged_from but dropped its
    frames_without_pose, so check-map on the merged map (note and --json) said nothing of the
    frames a source's build skipped for want of a pose."""
    from types import SimpleNamespace

    import numpy as np

    from mast3r_ros.replay.check_map import no_pose_notes, skipped_frames
    from mast3r_ros.replay.map_merge import merged_from

    no_pose = {"count": 7, "of_frames": 8, "reason": "groundtruth.txt covers one frame"}
    maps = []
    for name, extra in (("a", {"frames_without_pose": no_pose}), ("b", {})):
        (tmp_path / name).mkdir()
        manifest = {"format": "mast3r_ros_keyframe_map", "version": 3, **extra}
        (tmp_path / name / "manifest.json").write_text(json.dumps(manifest))
        maps.append(SimpleNamespace(path=str(tmp_path / name), manifest=manifest))
    sources = merged_from(maps, [np.ones(1, bool), np.ones(2, bool)],
                          (str(tmp_path / "a"), str(tmp_path / "b")))
    assert sources[0]["frames_without_pose"] == no_pose
    assert "frames_without_pose" not in sources[1]
    merged = {"merged_from": sources}
    assert skipped_frames(merged) == merged
    assert no_pose_notes(merged) == [
        f"map A ({tmp_path / 'a'}) was built from 8 frames, 7 without a pose and skipped (no "
        "keyframe taken from them): groundtruth.txt covers one frame"]
    assert no_pose_notes({"frames_without_pose": {"count": 0}}) == []


def test_a_merge_of_merged_maps_names_a_nested_sources_frames_without_a_pose():
    """A merged map merged again: the inner source's frames_without_pose, two merged_from
    levels down, is still a note naming the path to it."""
    from mast3r_ros.replay.check_map import no_pose_notes, skipped_frames

    inner = [{"role": "A", "map": "a", "frames_without_pose": {"count": 2, "of_frames": 9}},
             {"role": "B", "map": "b", "unreadable_frames": {"count": 1}}]
    merged = {"merged_from": [{"role": "A", "map": "ab", "merged_from": inner},
                              {"role": "B", "map": "c"}]}
    assert no_pose_notes(merged) == [
        "map A (ab) > map A (a) was built from 9 frames, 2 without a pose and skipped (no "
        "keyframe taken from them)"]
    assert skipped_frames(merged) == merged
    assert skipped_frames({"frames_without_pose": {"count": 0, "of_frames": 9}}) == {}
