"""ROS stays at the edge: the core, the offline tools and the node's policy import without it.

* every `mast3r_ros.core` and `mast3r_ros.replay` module imports and leaves rclpy unloaded;
* every `mast3r_ros.ros` module except the rclpy adapters (`ROS_ADAPTERS`) imports with ROS made
  unimportable, so the node's policy (tracking, frames, diagnostics, debug view, parameters,
  worker) is testable on any machine; the adapters do need ROS (the list is not stale);
* nothing in `core/` is named after the node.

Runs in a fresh interpreter so that nothing imported by other tests (or by pytest plugins) can
hide or fake an import. ROS packages are blocked there by a meta-path finder, so the test means
the same on a machine with ROS 2 installed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Modules that import an optional or pip-only library at the top: where it is absent (a ROS
# machine has no rosbags; Jetson torch wheels bring no Triton, pip's torch 2.1-2.3 a Triton 2.x
# that nn_triton refuses) they may fail to import, with an ImportError that names the library.
OPTIONAL = {"mast3r_ros.core.nn_triton": "triton", "mast3r_ros.replay.rosbag": "rosbags"}
# The modules under mast3r_ros/ros that import rclpy, tf2_ros or ROS message packages.
ROS_ADAPTERS = {"bond", "conversions", "diagnostics_publisher", "node", "outputs", "tf_client",
                "topics"}

_PROBE = r"""
import importlib, importlib.abc, json, pkgutil, sys, traceback

ROS = ("rclpy", "rcl_interfaces", "tf2_ros", "tf2_msgs", "launch", "launch_ros", "sensor_msgs",
       "bond", "geometry_msgs", "std_msgs", "std_srvs", "visualization_msgs", "diagnostic_msgs",
       "diagnostic_updater", "builtin_interfaces", "cv_bridge", "message_filters")


class BlockRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ROS:
            raise ModuleNotFoundError(f"blocked for this test: {name}", name=name)
        return None


sys.meta_path.insert(0, BlockRos())
import mast3r_ros.core, mast3r_ros.replay, mast3r_ros.ros

def walk(pkg):
    return [pkg.__name__] + [i.name for i in pkgutil.walk_packages(pkg.__path__,
                                                                   pkg.__name__ + ".")]

adapters = set(json.loads(sys.argv[1]))
core = walk(mast3r_ros.core) + walk(mast3r_ros.replay)
ros = walk(mast3r_ros.ros)
failed, import_errors, adapter_imported = {}, {}, []
for name in core + [n for n in ros if n.rsplit(".", 1)[-1] not in adapters]:
    try:
        importlib.import_module(name)
    except BaseException as e:
        failed[name] = traceback.format_exc(limit=3)
        if isinstance(e, ImportError):
            import_errors[name] = str(e)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ROS)
for name in ros:
    if name.rsplit(".", 1)[-1] in adapters:
        try:
            importlib.import_module(name)
            adapter_imported.append(name)
        except ModuleNotFoundError:
            pass
print(json.dumps({"core": core, "ros": ros, "failed": failed, "import_errors": import_errors,
                  "loaded": loaded, "adapter_imported": adapter_imported}))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(sorted(ROS_ADAPTERS))],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _optional_absent(lib: str) -> bool:
    """``lib`` does not import here, or (Triton) is older than the 3.0 the kernels need."""
    try:
        mod = __import__(lib)
    except ImportError:
        return True
    return lib == "triton" and int(mod.__version__.split(".")[0]) < 3


def test_core_replay_and_ros_policy_import_without_ros(report):
    assert "mast3r_ros.core.config" in report["core"]
    assert "mast3r_ros.core.message_fields" in report["core"]
    assert "mast3r_ros.core.tracker" in report["core"]
    policy = {n.rsplit(".", 1)[-1] for n in report["ros"]} - ROS_ADAPTERS - {"ros"}
    assert {"tracking", "frames", "diagnostics", "debug_view", "params", "worker"} <= policy
    failed = {k: v for k, v in report["failed"].items()
              if not (k in OPTIONAL and _optional_absent(OPTIONAL[k])
                      and OPTIONAL[k] in report["import_errors"].get(k, ""))}
    assert not failed, "modules failed to import without ROS:\n" + "\n".join(
        f"{k}:\n{v}" for k, v in failed.items())
    assert report["loaded"] == [], f"ROS modules imported: {report['loaded']}"
    # each adapter really needs ROS (otherwise it belongs with the policy modules above)
    assert report["adapter_imported"] == []
    assert ROS_ADAPTERS <= {n.rsplit(".", 1)[-1] for n in report["ros"]}


def test_nothing_in_core_is_named_after_the_node(report):
    names = [n.rsplit(".", 1)[-1] for n in report["core"] if n.startswith("mast3r_ros.core")]
    assert not [n for n in names if "ros" in n or "node" in n], names
