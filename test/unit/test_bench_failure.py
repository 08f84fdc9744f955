"""bench/bench_failure.py's verdicts: a localized frame more than 0.5 m / 10 deg off is wrong,
any pose of a set no pose is right for (mirror, black, ...) is unearned, and a 10 cm+ error
beyond 4 sigma is overconfident; its derived query folders keep the TUM layout."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from mast3r_test_utils import bench_script


def _bench():
    return bench_script("bench_failure")


def _tum(folder: Path, n: int) -> None:
    (folder / "rgb").mkdir(parents=True)
    (folder / "depth").mkdir()
    rgb, depth, gt = ["# timestamp filename"], ["# timestamp filename"], ["# gt"]
    for i in range(n):
        s = f"{i / 3:.6f}"
        cv2.imwrite(str(folder / f"rgb/{s}.jpg"), np.full((8, 8, 3), 40 * i, np.uint8))
        cv2.imwrite(str(folder / f"depth/{s}.png"), np.full((8, 8), 5000, np.uint16))
        rgb.append(f"{s} rgb/{s}.jpg")
        depth.append(f"{s} depth/{s}.png")
        gt.append(f"{s} {i} 0 0 0 0 0 1")
    for name, lines in (("rgb.txt", rgb), ("depth.txt", depth), ("groundtruth.txt", gt)):
        (folder / name).write_text("\n".join(lines) + "\n")
    (folder / "camera.yaml").write_text("image_width: 8\n")


def _result(stamp_s: float, x: float, sigma_m: float) -> dict:
    T = np.eye(4)
    T[0, 3] = x
    cov = np.diag([sigma_m ** 2] * 3 + [1e-4] * 3)
    return {"stamp_ns": round(stamp_s * 1e9), "success": True, "map_from_cam": T.tolist(),
            "covariance": cov.tolist(), "inliers": 40, "matches": 60}


def test_wrong_unearned_and_overconfident_frames_are_counted(tmp_path):
    b = _bench()
    q, run = tmp_path / "q", tmp_path / "run"
    _tum(q, 3)
    run.mkdir()
    rows = [_result(0.0, 0.01, 0.01),  # 1 cm off, 1 cm sigma: right
            _result(1 / 3, 1.6, 0.02),  # 60 cm off under a 2 cm sigma: wrong, overconfident
            {"stamp_ns": round(2e9 / 3), "success": False, "reason": "too few inliers (3 < 30)"}]
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = b.evaluate(run, q, "occluder")
    assert (r["frames"], r["localized"], r["wrong_or_unearned"], r["overconfident"]) == (3, 2, 1, 1)
    assert r["failure_reasons"] == {"too few inliers": 1}
    assert abs(r["max_t_cm"] - 60.0) < 1e-6
    assert b.evaluate(run, q, "mirror")["wrong_or_unearned"] == 2  # no pose is right there


def test_derived_folders_keep_the_layout_and_the_ground_truth(tmp_path):
    b = _bench()
    src, dst = tmp_path / "src", tmp_path / "dst"
    _tum(src, 3)
    assert b.write_folder(src, dst, lambda i, g: i != 1, b.TRANSFORMS["mirror"]) == 2
    rows = b.read_list(dst / "rgb.txt")
    assert [r[0] for r in rows] == ["0.000000", "0.666667"]
    assert [r[1] for r in b.read_list(dst / "groundtruth.txt")] == ["0", "2"]
    assert all((dst / r[1]).is_file() for r in rows + b.read_list(dst / "depth.txt"))
    img = np.zeros((480, 640, 3), np.uint8)
    cover = (b.occluder(img, 0) != 0).any(axis=2).mean()
    assert 0.6 <= cover <= 0.8


def test_an_unknown_set_is_refused_before_any_map_is_built(tmp_path, monkeypatch, capsys):
    b = _bench()
    built = []
    monkeypatch.setattr(b, "cli", lambda *args: built.append(args))
    monkeypatch.setattr("sys.argv", ["bench_failure.py", str(tmp_path), "--work",
                                     str(tmp_path / "w"), "--sets", "control,contrl"])
    with pytest.raises(SystemExit) as e:
        b.main()
    assert e.value.code == 2 and not built
    assert "unknown set 'contrl'" in capsys.readouterr().err


def test_an_unseen_set_left_without_query_frames_is_skipped_not_fatal(tmp_path, monkeypatch,
                                                                      capsys):
    """--unseen-m 10 left no query frame far enough: localize refused the empty list and the
    whole bench ended there, after its maps were built."""
    b = _bench()
    _tum(tmp_path / "redkitchen_a_map", 3)
    _tum(tmp_path / "redkitchen_a_query", 3)
    calls = []

    def cli(*args):
        calls.append(args[0])
        if args[0] == "localize":  # the control: every frame failed
            run = Path(args[args.index("--out") + 1])
            run.mkdir(parents=True, exist_ok=True)
            (run / "results.jsonl").write_text(json.dumps(
                {"stamp_ns": 0, "success": False, "reason": "x"}) + "\n")

    monkeypatch.setattr(b, "cli", cli)
    monkeypatch.setattr("sys.argv", ["bench_failure.py", str(tmp_path), "--work",
                                     str(tmp_path / "w"), "--sets", "control,unseen",
                                     "--unseen-m", "100"])
    b.main()
    assert calls == ["build-map", "build-map", "localize"]  # no localize of the empty set
    out = capsys.readouterr()
    assert "unseen: no query frame" in out.err
    assert '"unseen": {\n  "frames": 0' in out.out


def test_a_json_path_in_a_missing_folder_is_refused_before_any_work(tmp_path, monkeypatch,
                                                                    capsys):
    """--json results/fa.json without results/ ended the run, minutes in, with a traceback."""
    b = _bench()
    built = []
    monkeypatch.setattr(b, "cli", lambda *args: built.append(args))
    monkeypatch.setattr("sys.argv", ["bench_failure.py", str(tmp_path), "--work",
                                     str(tmp_path / "w"), "--json",
                                     str(tmp_path / "missing" / "fa.json")])
    with pytest.raises(SystemExit) as e:
        b.main()
    assert e.value.code == 2 and not built
    assert "does not exist" in capsys.readouterr().err


def test_lists_not_aligned_row_by_row_are_refused(tmp_path):
    """write_folder pairs rows by index: a depth.txt one row short paired every image after the
    gap with another frame's depth and ground truth, without a word."""
    b = _bench()
    src = tmp_path / "src"
    _tum(src, 3)
    lines = (src / "depth.txt").read_text().splitlines()
    (src / "depth.txt").write_text("\n".join(lines[:2] + lines[3:]) + "\n")  # frame 1 missing
    with pytest.raises(SystemExit, match="do not list the same stamps row by row"):
        b.write_folder(src, tmp_path / "dst", lambda i, g: True)
