"""Every field case of ../shared/cases (issue 8) behaves as its README's "expected" says, end to
end through the ``mast3r-ros`` command line, on inputs built in tmp folders by the case's own
make_inputs.py (skipped where shared/ is absent). Here the recordings' cases (bags, TUM folders);
the network's and image files' cases are in test_field_cases_models.py.

A case used by several tests is built once for the module (``case``): its tests only read its
inputs and write their outputs in their own tmp folders.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from case_inputs import DEPTH_TOPIC, make_case, one_line_error, run_cli
from mast3r_test_utils import keyframe_records

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BAG_OPTS = ["--matcher", "sift", "--pose-frames", "map:camera_optical", "--depth-topic",
            DEPTH_TOPIC, "--overwrite"]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """``case(name)``: the case's input folder, built once for this module."""
    built = {}

    def get(name: str) -> Path:
        if name not in built:
            built[name] = make_case(name, tmp_path_factory.mktemp(name))
        return built[name]
    return get


@pytest.fixture(scope="module")
def tum_ns_map(case, tmp_path_factory):
    """tum-ns-timestamps' seq_nogt mapped with the trajectory in seconds (its valid one)."""
    d = case("tum-ns-timestamps")
    out = tmp_path_factory.mktemp("tum_ns_map") / "map_s"
    from mast3r_ros.replay.cli import main

    rc = main(["build-map", str(d / "seq_nogt"), "--out", str(out), "--matcher", "sift",
               "--trajectory", str(d / "trajectory_s.txt"), "--log-level", "warning"])
    assert rc == 0
    return out


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))




def _median_error_m(run: Path) -> float:
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    return float(metrics["translation_error_m"]["median"])


# --------------------------------------------------------------------- d405-depth-units ---

def test_d405_depth_units_refused_then_built_with_depth_scale(tmp_path, capsys):
    d = make_case("d405-depth-units", tmp_path)
    bag, out = str(d / "map_bag_d405"), d / "map"
    rc, _, err = run_cli(capsys, ["build-map", bag, "--out", str(out), *BAG_OPTS])
    line = one_line_error(rc, err, "build-map")
    assert "map inconsistent" in line and "--depth-scale 10000" in line and "x10" in line
    assert not out.exists()  # nothing written
    # --force writes it anyway, the figures (and that it was forced) in the manifest
    rc, stdout, _ = run_cli(capsys, ["build-map", bag, "--out", str(out), "--force", *BAG_OPTS])
    assert rc == 0 and "forced" in stdout
    check = _manifest(out)["consistency"]
    assert check["verdict"] == "inconsistent" and check["forced"] is True
    assert check["depth_factor"] == pytest.approx(10.0, rel=0.2)
    assert len(check["keyframes"]) == len(keyframe_records(out))
    # the depth unit stated: consistent, and the map localizes the query frames
    rc, stdout, _ = run_cli(capsys, ["build-map", bag, "--out", str(out), "--depth-scale",
                                     "10000", *BAG_OPTS])
    assert rc == 0 and "map check: consistent" in stdout, stdout
    check = _manifest(out)["consistency"]
    assert check["verdict"] == "consistent" and check["forced"] is False
    assert all(k["ok"] is not False for k in check["keyframes"])
    assert (out / "keyframes.png").is_file()
    run = d / "run"
    rc, _, _ = run_cli(capsys, ["localize", str(d / "query_tum"), "--map", str(out), "--out",
                                str(run), "--matcher", "sift", "--max-frames", "6"])
    assert rc == 0 and _median_error_m(run) < 0.05


# ------------------------------------------------------------------------ bag-time-jump ---

def test_reversed_pose_frames_are_told_to_be_swapped(tmp_path, capsys, case):
    """--pose-frames CAMERA:MAP (the pair reversed) was diagnosed as inverted poses with the
    fix 'invert the poses', which a bag user cannot do: the fix now names the option's order."""
    d = case("bag-time-jump")
    opts = [o if o != "map:camera_optical" else "camera_optical:map" for o in BAG_OPTS]
    rc, _, err = run_cli(capsys, ["build-map", str(d / "sim_reset_bag"), "--out",
                                  str(tmp_path / "map"), "--run", "1", *opts])
    line = one_line_error(rc, err, "build-map")
    assert "inverted" in line and "--pose-frames, the map frame first: MAP:CAMERA" in line, line


def test_bag_time_jump_split_into_runs(tmp_path, capsys, case):
    d, o = case("bag-time-jump"), tmp_path
    bag, out = str(d / "sim_reset_bag"), o / "map"
    rc, stdout, err = run_cli(capsys, ["build-map", bag, "--out", str(out), *BAG_OPTS])
    assert rc == 0 and "map check: consistent" in stdout
    # the result in one stdout line; the check's figures are in the log (at INFO), not repeated
    assert stdout.count("\n") == 1 and "keyframes from" in stdout, stdout
    assert "neighbouring keyframe pairs" not in stdout, stdout
    warn = [ln for ln in err if "jumps back" in ln]
    assert len(warn) == 1 and "2 runs" in warn[0] and "run 1 only" in warn[0], warn
    assert "--run" in warn[0]
    # keyframes of one run only: 10 images per run, stamps within run 1's
    stamps = np.array([k["stamp_ns"] for k in keyframe_records(out)])
    assert 1 < len(stamps) <= 10 and (np.diff(stamps) > 0).all()
    run = o / "run"
    rc, _, _ = run_cli(capsys, ["localize", str(d / "query"), "--map", str(out), "--out",
                                str(run), "--matcher", "sift", "--max-frames", "8"])
    assert rc == 0 and _median_error_m(run) < 0.05  # poses of one run: no interpolated ones
    rc, _, _ = run_cli(capsys, ["build-map", bag, "--out", str(o / "map2"), "--run", "2",
                                *BAG_OPTS])
    assert rc == 0
    stamps2 = [k["stamp_ns"] for k in keyframe_records(o / "map2")]
    assert min(stamps2) > min(stamps)  # run 2 starts 50 ms after run 1's start
    rc, _, err = run_cli(capsys, ["build-map", bag, "--out", str(o / "map3"), "--run", "3",
                                  *BAG_OPTS])
    assert "has 2 runs" in one_line_error(rc, err, "build-map")
    rc, _, err = run_cli(capsys, ["build-map", str(d / "query"), "--out", str(o / "map4"),
                                  "--run", "1", "--matcher", "sift"])
    assert "TUM folder" in one_line_error(rc, err, "build-map")


# --------------------------------------------------------------------- zero-header-stamp ---

def test_zero_header_stamp_map_builds(tmp_path, capsys):
    """The offline part: the case's map recording builds (the node part is the node's tests)."""
    d = make_case("zero-header-stamp", tmp_path)
    rc, stdout, _ = run_cli(capsys, ["build-map", str(d / "map_tum"), "--out", str(d / "map"),
                                     "--overwrite", "--matcher", "sift"])
    assert rc == 0 and "map check: consistent" in stdout
    assert _manifest(d / "map")["consistency"]["verdict"] == "consistent"


# ------------------------------------------------------ localize --groundtruth up front ---

def test_bad_groundtruth_refused_before_localizing(tmp_path, capsys, case, tum_ns_map):
    d = case("tum-ns-timestamps")
    bad = tmp_path / "bad_gt.txt"
    bad.write_text("0.0 1 2 3 0 0 0 1\n0.1 1 2 three 0 0 0 1\n", encoding="utf-8")
    run = tmp_path / "run"
    rc, _, err = run_cli(capsys, ["localize", str(d / "seq_nogt"), "--map", str(tum_ns_map),
                                  "--out", str(run), "--matcher", "sift", "--groundtruth",
                                  str(bad)])
    assert "bad_gt.txt" in one_line_error(rc, err, "localize")
    assert not (run / "results.jsonl").exists()  # refused before any frame was localized


# ------------------------------------------------ cases fixed by i8io (decoding, files) ---

def test_tum_ns_timestamps(tmp_path, capsys, case, tum_ns_map):
    d = case("tum-ns-timestamps")
    commands = [
        ["build-map", str(d / "seq"), "--out", str(tmp_path / "map_a")],
        ["build-map", str(d / "seq_nogt"), "--out", str(tmp_path / "map_b"), "--trajectory",
         str(d / "trajectory_ns.txt")],
    ]
    for argv in commands:
        rc, _, err = run_cli(capsys, [*argv, "--overwrite", "--matcher", "sift"])
        if rc:  # refused: one line naming the file and the nanoseconds
            line = one_line_error(rc, err, "build-map")
            assert ".txt" in line and "nanosecond" in line
    # the map of the trajectory in seconds (built by tum_ns_map: exit 0 asserted there)
    run = tmp_path / "run"
    rc, _, err = run_cli(capsys, ["localize", str(d / "seq_nogt"), "--map", str(tum_ns_map),
                                  "--out", str(run), "--matcher", "sift", "--groundtruth",
                                  str(d / "trajectory_ns.txt")])
    if rc:
        assert "trajectory_ns.txt" in one_line_error(rc, err, "localize")
        assert not (run / "results.jsonl").exists()
    else:
        assert _median_error_m(run) < 0.05


def test_tum_bom_crlf(tmp_path, capsys):
    d = make_case("tum-bom-crlf", tmp_path)
    counts = {}
    for name in ("crlf", "bom_crlf", "bom_nocomment"):
        rc, _, err = run_cli(capsys, ["build-map", str(d / name), "--out", str(d / f"m_{name}"),
                                      "--overwrite", "--matcher", "sift"])
        assert rc == 0, err
        counts[name] = len(keyframe_records(d / f"m_{name}"))
    assert counts["bom_crlf"] == counts["bom_nocomment"] == counts["crlf"] > 0


def test_camerainfo_binning_and_roi(tmp_path, capsys):
    d = make_case("camerainfo-binning-roi", tmp_path)
    for name in ("binned_bag", "roi_bag"):
        out = d / f"map_{name}"
        rc, stdout, err = run_cli(capsys, ["build-map", str(d / name), "--out", str(out),
                                           *BAG_OPTS])
        assert rc == 0 and "map check: consistent" in stdout, err
        (kf, *_) = keyframe_records(out)
        assert (kf["intrinsics"]["width"], kf["intrinsics"]["height"]) == (320, 240)


def test_yuv422_and_bayer_encodings(tmp_path, capsys):
    d = make_case("yuv422-bayer-encodings", tmp_path)
    for name in ("usb_cam_yuyv_bag", "usb_cam_uyvy_bag", "bayer_rggb8_bag"):
        # no depth in these bags: the mast3r matcher's image-only map (no checkpoint needed to
        # build it), as the case's README runs it; --matcher sift is refused up front
        rc, _, err = run_cli(capsys, ["build-map", str(d / name), "--out", str(d / f"m_{name}"),
                                      "--overwrite", "--pose-frames", "map:camera_optical"])
        assert rc == 0, (name, err)
        assert len(keyframe_records(d / f"m_{name}")) > 1


