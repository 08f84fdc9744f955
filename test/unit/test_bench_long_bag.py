"""bench/bench_long_bag.py writes a robot-shaped rosbag2 (30 Hz colour and depth, CameraInfo,
/tf, /tf_static, an IMU and a point cloud nothing reads) and times a read by receive time
given every MCAP chunk and the window's alone (``--no-build``: a few seconds of bag); the bag
it writes gives build-map's poses the drive it was written from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_long_bag  # noqa: E402

from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402


def test_the_reads_by_time_are_timed_side_by_side():
    r = subprocess.run([sys.executable, str(BENCH / "bench_long_bag.py"), "--minutes", "0.05",
                        "--width", "64", "--height", "48", "--cloud-points", "10",
                        "--no-build"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "one read by receive time (ms): given every chunk (before)" in r.stdout, r.stdout
    # 3 s of images, tf and the IMU 0.5 s further (the last image's pose interpolated)
    assert "/imu/data 1400" in r.stdout and "/camera/color/image_raw 90" in r.stdout, r.stdout


def test_the_bag_gives_the_poses_of_its_drive(tmp_path):
    bag = tmp_path / "bag"
    bench_long_bag.write_bag(bag, 0.02, 64, 48, cloud_points=10)
    seq = BagSequence(bag, depth_topic=bench_long_bag.DEPTH,
                      pose_frames=f"map:{bench_long_bag.OPTICAL}")
    frame = list(seq.frames_or_unreadable([30]))[0]
    x, y, yaw, drift = bench_long_bag._pose(1.0)
    assert frame.map_from_cam[:3, 3] == pytest.approx([x + drift, y, bench_long_bag.HEIGHT_M],
                                                      abs=1e-3)
    assert frame.map_from_cam[:3, 0] == pytest.approx([np.cos(yaw), np.sin(yaw), 0], abs=1e-4)
    assert frame.map_from_cam[:3, 2] == pytest.approx([0, 0, -1], abs=1e-9)  # looking down
    assert frame.depth_m == pytest.approx(bench_long_bag.HEIGHT_M)
