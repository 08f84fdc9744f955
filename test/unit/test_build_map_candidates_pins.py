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
