"""Every field case of ../shared/cases (issue 8) behaves as its README's "expected" says, end to
end through the ``mast3r-ros`` command line, on inputs built in tmp folders by the case's own
make_inputs.py (skipped where shared/ is absent).
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

def test_reversed_pose_frames_are_told_to_be_swapped(tmp_path, capsys):
    """--pose-frames CAMERA:MAP (the pair reversed) was diagnosed as inverted poses with the
    fix 'invert the poses', which a bag user cannot do: the fix now names the option's order."""
    d = make_case("bag-time-jump", tmp_path)
    opts = [o if o != "map:camera_optical" else "camera_optical:map" for o in BAG_OPTS]
    rc, _, err = run_cli(capsys, ["build-map", str(d / "sim_reset_bag"), "--out",
                                  str(d / "map"), "--run", "1", *opts])
    line = one_line_error(rc, err, "build-map")
    assert "inverted" in line and "--pose-frames, the map frame first: MAP:CAMERA" in line, line


def test_bag_time_jump_split_into_runs(tmp_path, capsys):
    d = make_case("bag-time-jump", tmp_path)
    bag, out = str(d / "sim_reset_bag"), d / "map"
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
    run = d / "run"
    rc, _, _ = run_cli(capsys, ["localize", str(d / "query"), "--map", str(out), "--out",
                                str(run), "--matcher", "sift", "--max-frames", "8"])
    assert rc == 0 and _median_error_m(run) < 0.05  # poses of one run: no interpolated ones
    rc, _, _ = run_cli(capsys, ["build-map", bag, "--out", str(d / "map2"), "--run", "2",
                                *BAG_OPTS])
    assert rc == 0
    stamps2 = [k["stamp_ns"] for k in keyframe_records(d / "map2")]
    assert min(stamps2) > min(stamps)  # run 2 starts 50 ms after run 1's start
    rc, _, err = run_cli(capsys, ["build-map", bag, "--out", str(d / "map3"), "--run", "3",
                                  *BAG_OPTS])
    assert "has 2 runs" in one_line_error(rc, err, "build-map")
    rc, _, err = run_cli(capsys, ["build-map", str(d / "query"), "--out", str(d / "map4"),
                                  "--run", "1", "--matcher", "sift"])
    assert "TUM folder" in one_line_error(rc, err, "build-map")


# -------------------------------------------------------------------- query-aspect-ratio ---

def test_query_of_another_aspect_ratio_is_processed(tmp_path, capsys, tiny_ckpt):
    d = make_case("query-aspect-ratio", tmp_path)
    params = tmp_path / "p.yaml"  # the 512 model's grid, kept cheap on a CPU
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    device: cpu\n"
                      "    max_keyframes: 1\n    matching: {subsample: 32, max_iter: 2}\n")
    common = ["--matcher", "mast3r", "--checkpoint", tiny_ckpt, "--params", str(params)]
    rc, _, _ = run_cli(capsys, ["build-map", str(d / "map_4x3"), "--out", str(d / "map"),
                                "--overwrite", *common])
    assert rc == 0
    reasons = {}
    for query in ("query_16x9", "query_4x3_hires"):
        run = d / f"run_{query}"
        rc, _, err = run_cli(capsys, ["localize", str(d / query), "--map", str(d / "map"),
                                      "--out", str(run), "--max-frames", "1", *common])
        assert rc == 0, err
        (rec,) = [json.loads(ln) for ln in (run / "results.jsonl").read_text().splitlines()]
        assert "inference" in rec["timings_s"] and "matching" in rec["timings_s"], rec
        assert "aspect" not in rec["reason"]
        reasons[query] = rec["reason"]
    # random weights: no pose expected, but both queries get through the same steps
    assert reasons["query_16x9"].split("(")[0] == reasons["query_4x3_hires"].split("(")[0]


def test_matching_descriptor_maps_of_different_sizes():
    import torch

    from mast3r_ros.core.matching import fast_reciprocal_matches

    g = torch.Generator().manual_seed(0)
    desc2 = torch.nn.functional.normalize(torch.randn(18, 32, 8, generator=g), dim=-1)
    desc1 = torch.nn.functional.normalize(torch.randn(24, 32, 8, generator=g), dim=-1)
    desc1[3:21] = desc2  # view 2 is rows 3..20 of view 1 (a 16:9 crop of a 4:3 view)
    xy1, xy2 = fast_reciprocal_matches(desc1, desc2, subsample=2)
    assert len(xy1) > 100
    np.testing.assert_array_equal(xy1[:, 0], xy2[:, 0])
    np.testing.assert_array_equal(xy1[:, 1], xy2[:, 1] + 3)


# --------------------------------------------------------------------- zero-header-stamp ---

def test_zero_header_stamp_map_builds(tmp_path, capsys):
    """The offline part: the case's map recording builds (the node part is the node's tests)."""
    d = make_case("zero-header-stamp", tmp_path)
    rc, stdout, _ = run_cli(capsys, ["build-map", str(d / "map_tum"), "--out", str(d / "map"),
                                     "--overwrite", "--matcher", "sift"])
    assert rc == 0 and "map check: consistent" in stdout
    assert _manifest(d / "map")["consistency"]["verdict"] == "consistent"


# ------------------------------------------------------ localize --groundtruth up front ---

def test_bad_groundtruth_refused_before_localizing(tmp_path, capsys):
    d = make_case("tum-ns-timestamps", tmp_path)
    rc, _, _ = run_cli(capsys, ["build-map", str(d / "seq_nogt"), "--out", str(d / "map"),
                                "--matcher", "sift", "--trajectory", str(d / "trajectory_s.txt")])
    assert rc == 0
    bad = d / "bad_gt.txt"
    bad.write_text("0.0 1 2 3 0 0 0 1\n0.1 1 2 three 0 0 0 1\n", encoding="utf-8")
    run = d / "run"
    rc, _, err = run_cli(capsys, ["localize", str(d / "seq_nogt"), "--map", str(d / "map"),
                                  "--out", str(run), "--matcher", "sift", "--groundtruth",
                                  str(bad)])
    assert "bad_gt.txt" in one_line_error(rc, err, "localize")
    assert not (run / "results.jsonl").exists()  # refused before any frame was localized


# ------------------------------------------------ cases fixed by i8io (decoding, files) ---

def test_tum_ns_timestamps(tmp_path, capsys):
    d = make_case("tum-ns-timestamps", tmp_path)
    commands = [
        ["build-map", str(d / "seq"), "--out", str(d / "map_a")],
        ["build-map", str(d / "seq_nogt"), "--out", str(d / "map_b"), "--trajectory",
         str(d / "trajectory_ns.txt")],
    ]
    for argv in commands:
        rc, _, err = run_cli(capsys, [*argv, "--overwrite", "--matcher", "sift"])
        if rc:  # refused: one line naming the file and the nanoseconds
            line = one_line_error(rc, err, "build-map")
            assert ".txt" in line and "nanosecond" in line
    rc, _, _ = run_cli(capsys, ["build-map", str(d / "seq_nogt"), "--out", str(d / "map_s"),
                                "--matcher", "sift", "--trajectory", str(d / "trajectory_s.txt")])
    assert rc == 0
    run = d / "run"
    rc, _, err = run_cli(capsys, ["localize", str(d / "seq_nogt"), "--map", str(d / "map_s"),
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


def _pair_matches(capsys, d: Path, a: str, b: str, ckpt: str, out: str) -> int:
    rc, _, err = run_cli(capsys, ["pair", str(d / a), str(d / b), "--checkpoint", ckpt,
                                  "--out", str(d / out), "--size", "224", "--device", "cpu"])
    assert rc == 0, err
    with np.load(d / out / "pair.npz") as z:
        return len(z["matches_1"])


def test_png16_grey_pair(tmp_path, capsys, ref_fixtures):
    d = make_case("png16-gray-pair", tmp_path)
    ck = str(ref_fixtures / "mast3r_tiny" / "ckpt.pth")
    n8 = _pair_matches(capsys, d, "grey8_img1.jpg", "grey8_img2.jpg", ck, "out8")
    n16 = _pair_matches(capsys, d, "grey16_img1.png", "grey16_img2.png", ck, "o_grey16")
    assert n16 >= 0.7 * n8, (n16, n8)


def test_png12_in_16bit_is_read_as_cv_bridge_does_and_named(tmp_path, caplog):
    """12-bit values in a 16-bit file: scaled as cv_bridge scales mono16 (dark, never white),
    with a warning that says so and how to fix it."""
    from mast3r_ros.core.image_codec import read_image_file

    d = make_case("png16-gray-pair", tmp_path)
    with caplog.at_level("WARNING"):
        rgb = read_image_file(d / "grey12_img1.png")
    assert rgb.max() <= 16 and rgb.max() > 0  # 4095 * 255 / 65535 = 15.9: dark, not white
    assert "10/12-bit" in caplog.text


def test_ckpt_module_prefix(tmp_path, capsys, ref_fixtures):
    d = make_case("ckpt-variants", tmp_path)
    # each DDP-wrapped file gives exactly what its unwrapped twin gives (a bare state dict
    # carries no constructor string, so bare and official twins are compared separately)
    for wrapped, plain in (("ddp_official.pth", "ckpt.pth"), ("ddp_bare.pth", "bare.pth")):
        ref = _pair_matches(capsys, d, "img1.png", "img2.png", str(d / plain), f"out_{plain}")
        n = _pair_matches(capsys, d, "img1.png", "img2.png", str(d / wrapped), f"out_{wrapped}")
        assert n == ref and n > 0, wrapped
        with np.load(d / f"out_{plain}" / "pair.npz") as z1, \
                np.load(d / f"out_{wrapped}" / "pair.npz") as z2:
            np.testing.assert_array_equal(z2["desc_1"], z1["desc_1"])
    empty = d / "empty.pth"
    empty.write_bytes(b"")
    rc, _, err = run_cli(capsys, ["pair", str(d / "img1.png"), str(d / "img2.png"),
                                  "--checkpoint", str(empty), "--out", str(d / "o_empty"),
                                  "--device", "cpu"])
    assert "empty.pth" in one_line_error(rc, err, "pair")
