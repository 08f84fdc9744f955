"""build-map --max-frames N: a quick map of a long recording's first N frames, to check the
settings before the long build. The cut is made where the source is opened (`FirstFrames`),
so every reader honours it the same way and everything after sees N frames: the frames
decoded, the keyframes, the summary's and the manifest's counts, the poses of --trajectory
(frames past N without a pose are no frames without a pose). Bad values are refused in one
line, exit 2, before the recording is read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mast3r_test_utils import keyframe_records

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay import tum
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.sources import SourceOptions, open_source

PARAMS = ("mast3r_localizer:\n  ros__parameters:\n"
          "    map_build: {min_translation_m: 0.5, min_rotation_deg: 180.0}\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A TUM folder of 20 frames at 96x72 with ground truth and depth."""
    from mast3r_ros.replay.synthetic import write_demo_sequences

    return Path(write_demo_sequences(str(tmp_path_factory.mktemp("first")), num_frames=40,
                                     width=96, height=72, seed=2)[0])


def _build(source, out: Path, capsys, monkeypatch=None, extra=()):
    params = out.parent / f"{out.name}.yaml"
    params.write_text(PARAMS)
    capsys.readouterr()
    rc = main(["build-map", str(source), "--out", str(out), "--matcher", "sift", "--params",
               str(params), "--log-level", "error", *extra])
    assert rc == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _stamps(out: Path) -> list:
    return [k["stamp_ns"] for k in keyframe_records(out)]


def _cut_copy(folder: Path, dst: Path, n: int) -> Path:
    """``folder`` with rgb.txt cut to its first ``n`` images (the other files as they are)."""
    dst.mkdir()
    for p in folder.iterdir():
        (dst / p.name).symlink_to(p)
    (dst / "rgb.txt").unlink()
    lines = (folder / "rgb.txt").read_text().splitlines()
    data = [i for i, ln in enumerate(lines) if ln.strip() and not ln.startswith("#")]
    (dst / "rgb.txt").write_text("\n".join(lines[:data[n - 1] + 1]) + "\n")
    return dst


def test_a_tum_folder_is_built_from_its_first_frames(folder, tmp_path, capsys, monkeypatch):
    decoded = []
    read = tum.read_image_file

    def spy(path, *a, **k):
        decoded.append(Path(path).name)
        return read(path, *a, **k)
    monkeypatch.setattr(tum, "read_image_file", spy)
    summary = _build(folder, tmp_path / "cut", capsys, extra=("--max-frames", "8"))
    assert " keyframes from 8 frames (the first of 20: --max-frames); " in summary
    assert _manifest(tmp_path / "cut")["max_frames"] == {
        "max_frames": 8, "frames": 8, "of_frames": 20}
    first8 = [ln.split()[1].split("/")[-1] for ln in (folder / "rgb.txt").read_text()
              .splitlines() if ln.strip() and not ln.startswith("#")][:8]
    assert decoded and set(decoded) <= set(first8 + [n.replace("rgb", "depth") for n in first8])
    # the same keyframes as a map of a folder that lists only those 8 frames
    _build(_cut_copy(folder, tmp_path / "short", 8), tmp_path / "ref", capsys)
    assert _stamps(tmp_path / "cut") == _stamps(tmp_path / "ref")
    assert "max_frames" not in _manifest(tmp_path / "ref")


def test_more_than_the_recording_holds_reads_every_frame(folder, tmp_path, capsys):
    summary = _build(folder, tmp_path / "all", capsys, extra=("--max-frames", "500"))
    assert "from 20 frames;" in summary and "--max-frames" not in summary
    assert _manifest(tmp_path / "all")["max_frames"] == {
        "max_frames": 500, "frames": 20, "of_frames": 20}


def test_trajectory_poses_are_checked_against_the_first_frames(folder, tmp_path, capsys):
    """A --trajectory of the first 8 frames alone: frames past them are read as without a
    pose by a full build, not by one of those 8 frames."""
    gt = [ln for ln in (folder / "groundtruth.txt").read_text().splitlines()
          if ln.strip() and not ln.startswith("#")]
    stamps = [float(ln.split()[0]) for ln in (folder / "rgb.txt").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    traj = tmp_path / "traj.txt"
    traj.write_text("\n".join(ln for ln in gt if float(ln.split()[0]) <= stamps[7]) + "\n")
    _build(folder, tmp_path / "full", capsys, extra=("--trajectory", str(traj)))
    assert _manifest(tmp_path / "full")["frames_without_pose"]["count"] == 12
    _build(folder, tmp_path / "cut", capsys, extra=("--trajectory", str(traj),
                                                     "--max-frames", "8"))
    assert "frames_without_pose" not in _manifest(tmp_path / "cut")


def test_no_pose_in_the_first_frames_says_they_are_the_first_n(folder, tmp_path, capsys):
    """A --trajectory that starts after the first N frames: 'no frame has a pose ... the
    frames are at t=0.000..0.233 s' did not say that --max-frames had cut the recording there."""
    gt = [ln for ln in (folder / "groundtruth.txt").read_text().splitlines()
          if ln.strip() and not ln.startswith("#")]
    traj = tmp_path / "late.txt"
    traj.write_text("\n".join(gt[10:]) + "\n")
    capsys.readouterr()
    rc = main(["build-map", str(folder), "--out", str(tmp_path / "m"), "--matcher", "sift",
               "--trajectory", str(traj), "--max-frames", "4", "--log-level", "error"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "no frame has a pose" in line, line
    assert line.endswith("; only the first 4 of the 20 frames are read (--max-frames 4)"), line


@pytest.mark.parametrize("value, why", [("-3", "must be >= 0 (0: all frames"),
                                        ("2.5", "invalid int value"),
                                        ("many", "invalid int value")])
def test_a_bad_max_frames_is_one_line_before_the_source_is_read(value, why, tmp_path,
                                                                capsys):
    try:  # argparse's own refusal (not a number) exits
        rc = main(["build-map", str(tmp_path / "missing"), "--out", str(tmp_path / "m"),
                   "--matcher", "sift", "--max-frames", value])
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--max-frames" in err[0] and why in err[0], err
    assert "source not found" not in err[0]


def test_max_frames_0_reads_every_frame_as_localize_s_does(folder, tmp_path, capsys):
    """localize's --max-frames 0 means every frame (its help: '0: all'); build-map's refused
    it, so the one option read two ways. Now 0 is every frame for both; a negative count is
    refused naming 0; the API's max_frames=0 (None reads all) stays refused."""
    summary = _build(folder, tmp_path / "all", capsys, extra=("--max-frames", "0"))
    assert " from 20 frames" in summary and "--max-frames" not in summary, summary
    assert "max_frames" not in _manifest(tmp_path / "all")
    rc = main(["build-map", str(tmp_path / "missing"), "--out", str(tmp_path / "m"),
               "--matcher", "sift", "--max-frames", "-1"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    # localize's words: '>= 1 ... got -1; 0 reads every frame' read as a contradiction
    assert rc == 2 and line.endswith("--max-frames must be >= 0 (0: all frames; N: the first "
                                     "N frames of the recording), got -1"), line
    with pytest.raises(InputError, match="got 0; leave max_frames out to read every frame$"):
        open_source(str(tmp_path), SourceOptions(max_frames=0))
    with pytest.raises(InputError) as refused:
        open_source(str(tmp_path), SourceOptions(max_frames=-1))
    assert "leave" not in str(refused.value)


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3"])
def test_the_api_refuses_a_bad_max_frames(value, folder):
    with pytest.raises(InputError, match=r"max_frames must be a whole number >= 1"):
        open_source(str(folder), SourceOptions(max_frames=value))


def test_the_source_is_cut_where_it_is_opened(folder):
    src = open_source(str(folder), SourceOptions(max_frames=5))
    full = open_source(str(folder))
    assert len(src) == 5 and list(src.stamps_ns) == list(full.stamps_ns[:5])
    assert [f.stamp_ns for f in src] == list(full.stamps_ns[:5])
    assert [f.stamp_ns for f in src.frames_or_unreadable(iter([1, 4, 6, 9]))] == [
        full.stamps_ns[1], full.stamps_ns[4]]
    assert src[-1].stamp_ns == full.stamps_ns[4]
    with pytest.raises(IndexError):
        src[5]
    assert src.intrinsics.width == 96 and src.folder == full.folder  # the reader's own


def test_a_bag_is_built_from_its_first_frames(tmp_path, capsys, monkeypatch):
    pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
    from test_build_map_bag_candidates import POSES, _build as build_bag
    from test_build_map_unreadable import STAMPS, _mapping_bag

    bag = _mapping_bag(tmp_path / "bag")
    colour, depths, summary = build_bag(bag, tmp_path / "cut", monkeypatch, capsys,
                                        extra=(*POSES, "--max-frames", "5"))
    assert colour == depths == [STAMPS[k] for k in (0, 3)]  # keyframes 1.2 m apart
    assert ": 2 keyframes from 5 frames (the first of 10: --max-frames);" in summary
    manifest = _manifest(tmp_path / "cut")
    assert manifest["max_frames"] == {"max_frames": 5, "frames": 5, "of_frames": 10}
    assert manifest["frames_not_read"]["of_frames"] == 5
    # every frame decoded (a source that cannot tell a pose before decoding): still 5
    colour, _, summary = build_bag(bag, tmp_path / "every", monkeypatch, capsys,
                                   every_frame=True, extra=(*POSES, "--max-frames", "5"))
    assert colour == STAMPS[:5]
    assert _stamps(tmp_path / "every") == _stamps(tmp_path / "cut")
