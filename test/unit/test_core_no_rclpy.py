"""The core and the offline tools never import ROS: importing all of them leaves rclpy unloaded.

Runs in a fresh interpreter so that nothing imported by other tests (or by pytest plugins) can
hide or fake an import.
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = r"""
import importlib, json, pkgutil, sys, traceback
import mast3r_ros.core, mast3r_ros.replay

failed, names = {}, []
for pkg in (mast3r_ros.core, mast3r_ros.replay):
    names.append(pkg.__name__)
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        names.append(info.name)
for name in names:
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=3)
ros = sorted(m for m in sys.modules if m.split(".")[0] in (
    "rclpy", "rcl_interfaces", "tf2_ros", "launch", "launch_ros", "sensor_msgs",
    "geometry_msgs", "diagnostic_updater", "cv_bridge", "mast3r_ros"
) and not m.startswith(("mast3r_ros.core", "mast3r_ros.replay")) and m != "mast3r_ros")
print(json.dumps({"modules": names, "failed": failed, "ros": ros}))
"""


def test_importing_core_and_replay_never_imports_ros():
    proc = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "mast3r_ros.core.ros_logic" in report["modules"]
    assert "mast3r_ros.core.config" in report["modules"]
    assert not report["failed"], "modules failed to import:\n" + "\n".join(
        f"{k}:\n{v}" for k, v in report["failed"].items())
    assert report["ros"] == [], f"ROS modules imported by the core: {report['ros']}"
