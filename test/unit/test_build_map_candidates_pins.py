"""Pins on build-map's lazy decoding (`pipeline._candidate_frames`) that
test_build_map_candidates.py left free: failed on hand mutants of pipeline.py."""

from __future__ import annotations

from test_build_map_candidates import PARAMS, _damaged, folder  # noqa: F401  (the fixture)

from mast3r_ros.replay import tum
from mast3r_ros.replay.cli import main


def test_unposed_first_frames_are_decoded_until_one_is_read(folder, tmp_path, monkeypatch,  # noqa: F811
                                                            capsys):
    """Until a frame has been read every frame is decoded, pose or not: ten unreadable first
    frames without a pose in --trajectory are still a broken recording (judging them by their
    pose from the start, or once the first frame was only tried, passed them over unread and
    built a map)."""
    src = _damaged(folder, tmp_path, range(10))
    stamps = [int(s) for s in tum.TumSequence(src).stamps_ns]
    lines = [ln for ln in (src / "groundtruth.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    traj = tmp_path / "traj.txt"  # poses from frame 10's stamp on only
    traj.write_text("\n".join(ln for ln in lines if float(ln.split()[0]) * 1e9 >= stamps[10]
                              - 1e3) + "\n")
    (src / "groundtruth.txt").unlink()
    (tmp_path / "p.yaml").write_text(PARAMS)
    capsys.readouterr()
    assert main(["build-map", str(src), "--out", str(tmp_path / "m"), "--matcher", "sift",
                 "--params", str(tmp_path / "p.yaml"), "--trajectory", str(traj),
                 "--log-level", "error"]) == 2
    assert "broken recording" in capsys.readouterr().err


def test_frames_without_a_trajectory_pose_are_not_decoded(folder, tmp_path, monkeypatch,  # noqa: F811
                                                          capsys):
    """Once a frame has been read, a frame --trajectory gives no pose (its rows start at frame
    10's stamp) is no candidate: counted in frames_not_read, never decoded."""
    from test_build_map_candidates import _build, _rgb_files

    src = _damaged(folder, tmp_path, ())
    stamps = [int(s) for s in tum.TumSequence(src).stamps_ns]
    lines = [ln for ln in (src / "groundtruth.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    traj = tmp_path / "traj.txt"
    traj.write_text("\n".join(ln for ln in lines if float(ln.split()[0]) * 1e9 >= stamps[10]
                              - 1e3) + "\n")
    (src / "groundtruth.txt").unlink()
    decoded, _ = _build(src, tmp_path / "m", monkeypatch, capsys,
                        extra=("--trajectory", str(traj)))
    names = [p.rsplit("/", 1)[-1] for p in _rgb_files(src)]
    assert not set(decoded) & set(names[1:10]), decoded  # frame 0 read: the first is decoded


def test_frames_without_depth_are_not_decoded_when_sift_needs_depth(folder, tmp_path,  # noqa: F811
                                                                    monkeypatch, capsys):
    """The sift matcher needs keyframe depth: once a frame has been read, one whose depth.txt
    lists no depth for it is no candidate and is never decoded (frame 6, a keyframe of the
    intact folder, included), and the map is the one every frame decoded gives."""
    from test_build_map_candidates import _build, _content, _rgb_files

    src = _damaged(folder, tmp_path, ())
    stamps = [int(s) for s in tum.TumSequence(src).stamps_ns]
    depth_txt = src / "depth.txt"
    gone = {round(s * 1e-9, 6) for s in stamps[1:10]}
    depth_txt.write_text("\n".join(
        ln for ln in depth_txt.read_text().splitlines()
        if ln.startswith("#") or not ln.strip()
        or round(float(ln.split()[0]), 6) not in gone) + "\n")
    decoded, _ = _build(src, tmp_path / "lazy", monkeypatch, capsys)
    names = [p.rsplit("/", 1)[-1] for p in _rgb_files(src)]
    assert not set(decoded) & set(names[1:10]), decoded
    _build(src, tmp_path / "every", monkeypatch, capsys, every_frame=True)
    assert _content(tmp_path / "lazy") == _content(tmp_path / "every")
