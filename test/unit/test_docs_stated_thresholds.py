"""Thresholds the README (with its pages in docs/), docs/ros_node.md and config/localize.yaml state
in prose are the code's constants: a tf edge interpolated across 2.5x its median sample spacing
(it was 1.5x, and the README, the parameter's description and the YAML comment each had to be
found and changed), the hole in the poses at 2.5x their 90th-percentile step, the covariance's
reliability levels and their chi^2(3) quantiles, the `quaternion_order` test's thresholds, the
/diagnostics window and timeouts, the progress log cadence, the demo's minimum --frames, the map
check's focal thresholds, the depth-PNG warning's, the RealSense registration's and the node's
deactivate wait and /initialpose TF window. Each sentence is looked up by its words, so a
rewording fails here first, not silently."""

from __future__ import annotations

import re
from pathlib import Path

from user_docs import user_docs_text

ROOT = Path(__file__).resolve().parents[2]


def _text(rel: str) -> str:
    """The file's text with every run of white space (line breaks included) one space."""
    return " ".join((ROOT / rel).read_text(encoding="utf-8").split())


def _user_docs() -> str:
    """README.md and its pages in docs/ (``user_docs``), white space as in ``_text``: a sentence
    moved from the README to a page is still found."""
    return " ".join(user_docs_text().split())


def _number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, f"the sentence {pattern!r} is gone: update this test with its new words"
    return float(m.group(1))


def test_the_tf_edge_and_pose_hole_factor_is_edge_gap_periods():
    from mast3r_ros.core.config import param_specs
    from mast3r_ros.core.tf_buffer import EDGE_GAP_PERIODS

    readme = _user_docs()
    stated = {
        "README, tf edge": _number(r"larger of `max_gap_s` and ([0-9.]+) times its own median",
                                   readme),
        "README, two lost messages": _number(r"two lost messages in a row of the 5 Hz edge: "
                                             r"0\.6 s, more than ([0-9.]+) x 0\.2 s", readme),
        "README, pose hole": _number(r"A gap wider than ([0-9.]+) x the poses'", readme),
        "config/localize.yaml": _number(r"a tf edge: or ([0-9.]+)x its own median sample spacing",
                                        _text("config/localize.yaml")),
        "pose_at_stamp.max_gap_s's description": _number(
            r"a tf edge: or ([0-9.]+)x its own median",
            next(s.description for s in param_specs() if s.name == "pose_at_stamp.max_gap_s")),
    }
    wrong = {k: v for k, v in stated.items() if v != EDGE_GAP_PERIODS}
    assert not wrong, f"EDGE_GAP_PERIODS is {EDGE_GAP_PERIODS:g}; the docs say {wrong}"


def test_the_reliability_levels_are_chi2_3dof_levels():
    from scipy.stats import chi2

    from mast3r_ros.replay.metrics import CHI2_3DOF_LEVELS

    levels = " / ".join(CHI2_3DOF_LEVELS)  # "50 / 90 / 95 / 99"
    assert f"chi²(3) {levels} % quantiles" in _user_docs()
    assert f"within the {levels} % regions" in _text("docs/ros_node.md")
    bench = _text("docs/bench/covcal_cpu_2026-12-05/README.md")
    assert f"`coverage` at {levels} %" in bench
    bounds = re.search(r"\(bounds ([0-9.]+) / ([0-9.]+) / ([0-9.]+) / ([0-9.]+)\)", bench)
    assert bounds, "the bench note's chi2 bounds are gone"
    for (level, q), stated in zip(CHI2_3DOF_LEVELS.items(), bounds.groups()):
        assert abs(q - chi2.ppf(int(level) / 100, 3)) < 1e-9, level
        assert f"{q:.2f}" == stated, (level, q, stated)


def test_the_quaternion_order_thresholds_are_the_codes():
    from mast3r_ros.replay.metrics import (FRAME_OFFSET_GAIN, FRAME_OFFSET_GROSS_DEG,
                                           FRAME_OFFSET_MIN_FRAMES)

    m = re.search(r"`quaternion_order`: ground truth whose quaternions look written w first -- "
                  r"median rotation error over ([0-9.]+)°, brought under it and at least "
                  r"([0-9.]+)x down by reading them `qw qx qy qz` \(from ([0-9]+) frames\)",
                  _user_docs())
    assert m, "the README's quaternion_order sentence is gone"
    assert [float(g) for g in m.groups()] == [FRAME_OFFSET_GROSS_DEG, FRAME_OFFSET_GAIN,
                                              FRAME_OFFSET_MIN_FRAMES]


def test_the_diagnostics_window_and_timeouts_are_the_nodes():
    from mast3r_ros.core.focal_evidence import MIN_FRAMES, NODE_MAX_FRAMES
    from mast3r_ros.ros.diagnostics import DiagnosticsWindow

    window = DiagnosticsWindow()  # as the node makes it (ros/processing.py)
    doc = _text("docs/ros_node.md")
    no_image = _number(r"when no image arrived for ([0-9.]+) s;(?: -)? ERROR", doc)  # list item
    assert no_image == window.no_image_warn_s
    assert _number(r"ERROR for ([0-9.]+) s after an unexpected exception", doc) == window.window_s
    assert _number(r"over the last ([0-9]+) judged frames", doc) == NODE_MAX_FRAMES
    assert _number(r"`not judged \(N frames\)` below ([0-9]+)\)", doc) == MIN_FRAMES


def _help(command: str, flag: str) -> str:
    import argparse

    from mast3r_ros.replay.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if flag in a.option_strings)
    return " ".join(action.help.split())


def test_the_progress_log_cadence_is_the_codes():
    from mast3r_ros.core import progress_output as po

    readme = _user_docs()
    m = re.search(r"a plain INFO line instead, at most one every ([0-9.]+) s, at each further "
                  r"([0-9.]+) % or every ([0-9.]+) s .*?a run under ([0-9.]+) s writes none",
                  readme)
    assert m, "the README's progress cadence sentence is gone: update this test with its words"
    gap, step, every, short = (float(g) for g in m.groups())
    assert (gap, step / 100, every, short) == (po.LOG_MIN_GAP_S, po.LOG_STEP, po.LOG_EVERY_S,
                                               po.LOG_MIN_GAP_S)
    m = re.search(r"a log line every ([0-9.]+)-([0-9.]+) s otherwise", _help("localize",
                                                                            "--log-level"))
    assert m, "--log-level's help no longer states the cadence"
    assert (float(m.group(1)), float(m.group(2))) == (po.LOG_MIN_GAP_S, po.LOG_EVERY_S)


def test_the_demo_minimum_frames_is_the_codes():
    from mast3r_ros.replay.demo import MIN_FRAMES

    readme = _number(r"Fewer than ([0-9]+) `--frames` are refused before any work",
                     _user_docs())
    helped = _number(r"frames rendered around the loop, at least ([0-9]+) ",
                     _help("demo", "--frames"))
    assert readme == helped == MIN_FRAMES


def test_the_map_checks_focal_thresholds_are_the_codes():
    from mast3r_ros.core.map_check.focal import _CLEAR_FIT_RATIO, _FOV_DEG

    readme = _user_docs()
    assert _number(r"when one is at least ([0-9.]+)x the other, the better one is named alone",
                   readme) == _CLEAR_FIT_RATIO
    m = re.search(r"a horizontal field of view outside ([0-9.]+) to ([0-9.]+) deg", readme)
    assert m, "the README's implausible focal length sentence is gone"
    assert (float(m.group(1)), float(m.group(2))) == _FOV_DEG


def test_the_depth_png_warning_thresholds_are_the_codes():
    from mast3r_ros.core.image_codec.files import DEPTH_LIKE_MIN_HOLES, DEPTH_LIKE_RANGE

    m = re.search(r"looks like a depth image \(at least ([0-9.]+) % of its pixels exactly 0 or "
                  r"65535, the others' 1st-99th percentile within ([0-9]+)\.\.([0-9]+)",
                  _user_docs())
    assert m, "the README's depth-PNG warning is gone: update this test with its words"
    assert float(m.group(1)) / 100 == DEPTH_LIKE_MIN_HOLES
    assert (int(m.group(2)), int(m.group(3))) == DEPTH_LIKE_RANGE


def test_the_realsense_registration_thresholds_are_the_codes():
    from mast3r_ros.core.depth_register import _MAX_FOOTPRINT_PX
    from mast3r_ros.replay.rosbag.realsense import _SAME_FRAME_M, _SAME_FRAME_RAD

    readme = _user_docs()
    m = re.search(r"extrinsics \(`tf/0`\) within ([0-9.]+) mm and ([0-9.]+) mrad", readme)
    assert m, "the README's aligned-streams sentence is gone"
    assert (float(m.group(1)) / 1e3, float(m.group(2)) / 1e3) == (_SAME_FRAME_M,
                                                                   _SAME_FRAME_RAD)
    assert _number(r"colour pixels its footprint covers \(up to ([0-9]+) a side", readme) == (
        _MAX_FOOTPRINT_PX)


def test_the_readmes_registration_and_sgbm_costs_are_the_bench_notes():
    """The README said 'about 30 ms' a registered frame and '0.2 s' a KITTI keyframe with no
    bench note behind either; its figures are now those of register_sgbm_cpu_2026-12-05 and,
    for --stereo-depth's whole per-frame cost, stereo_timing_cpu_2026-12-06."""
    import json

    note = ROOT / "docs" / "bench" / "register_sgbm_cpu_2026-12-05"
    readme = _user_docs()
    m = re.search(r"About ([0-9.]+)-([0-9.]+) ms of one CPU core a 848x480 depth frame, to "
                  r"848x480 or 1280x720 colour \(`core/depth_register.py`; "
                  r"`docs/bench/register_sgbm_cpu_2026-12-05/`", readme)
    assert m, "the README's registration cost sentence is gone (or names no bench note)"
    lo, hi = float(m.group(1)), float(m.group(2))
    cases = json.loads((note / "depth_register.json").read_text())["cases"]
    footprints = [c["median_ms"] for c in cases if c["footprint"] and "plumb" not in c["colour"]]
    assert len(footprints) == 2 and all(lo <= v <= hi for v in footprints), footprints
    # --stereo-depth's whole per-frame cost: stereo_timing_cpu_2026-12-06's step-by-step bench
    stereo = ROOT / "docs" / "bench" / "stereo_timing_cpu_2026-12-06"
    euroc, kitti = (json.loads((stereo / f"stereo_frame_{name}.json").read_text())["median_ms"]
                    for name in ("euroc", "kitti"))
    m = re.search(r"Its cost: ([0-9]+) ms of CPU a keyframe candidate \(752x480, one core: SGBM "
                  r"([0-9]+) ms", readme)
    assert m, "the README's EuRoC stereo cost sentence is gone"
    assert abs(float(m.group(1)) - euroc["total"]) < 1 and abs(float(m.group(2)) - euroc["sgbm"]
                                                               ) < 1, (m.groups(), euroc)
    m = re.search(r"([0-9]+) ms of CPU a keyframe candidate\s+at 1241x376 on one core \(SGBM "
                  r"([0-9]+) ms of it", readme)
    assert m, "the README's KITTI stereo cost sentence is gone"
    assert abs(float(m.group(1)) - kitti["total"]) < 1 and abs(float(m.group(2)) - kitti["sgbm"]
                                                               ) < 1, (m.groups(), kitti)


def _module_constant(rel: str, name: str) -> float:
    """A module-level ``NAME = number`` of a module that imports rclpy, read without importing
    it (the unit tests run without ROS)."""
    import ast

    for node in ast.parse((ROOT / rel).read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == name):
            return float(ast.literal_eval(node.value))
    raise AssertionError(f"{rel} no longer sets {name}")


def test_the_nodes_deactivate_wait_and_initialpose_tf_window_are_the_codes():
    doc = _text("docs/ros_node.md")
    join = _module_constant("mast3r_ros/ros/node.py", "WORKER_JOIN_TIMEOUT_S")
    assert _number(r"waiting up to ([0-9.]+) s for the frame in progress", doc) == join
    assert _number(r"a frame still in inference after ([0-9.]+) s keeps its model", doc) == join
    assert _number(r"frame in inference outlived its ([0-9.]+) s wait", doc) == join
    assert _number(r"the latest odometry when the stamp is 0, older than the TF buffer's "
                   r"([0-9.]+) s", doc) == _module_constant("mast3r_ros/ros/tf_client.py",
                                                            "TF_CACHE_S")


def test_the_readmes_progress_line_is_what_progress_log_writes():
    """The README's example line said '~1 min left' for 38 frames at 2.3 s/frame left, where
    ProgressLog writes '~87 s left' (seconds below 90 s)."""
    from mast3r_ros.core.progress_output import ProgressLog

    m = re.search(r"\(`(localize: (\d+)/(\d+) frames, ([0-9.]+) s/frame, [^`]*)`",
                  _user_docs())
    assert m, "the README's progress example line is gone"
    line, done, total, rate = m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4))
    now = [0.0]
    progress = ProgressLog(total, "localize", clock=lambda: now[0])
    now[0] = done * rate
    progress.update(done)
    assert progress.line(now[0]) == line
