"""The node's per-frame path (mast3r_ros/ros/processing.py) on the unit tests' fake host, with a
3-D odometry (heading 20 deg, pitch 3, roll -2, 5 cm up): what is published, in 6-DoF and in
two_d_mode. Run from the repository root."""
import sys

import numpy as np
from scipy.spatial.transform import Rotation

sys.path[:0] = ["test/unit", "test"]
import test_ros_processing as T  # noqa: E402

from mast3r_ros.core.geometry import make_pose  # noqa: E402
from mast3r_ros.ros.frames import planar_pose  # noqa: E402

odom = make_pose(Rotation.from_euler("ZYX", [20, 3, -2], degrees=True).as_matrix(),
                 [1.5, -0.7, 0.05])
for two_d in (False, True):
    host = T.Host(two_d_mode=two_d, odom_frame="odom", transform_tolerance=0.1)
    host._tf.odom_from_base = odom
    host._process(T.image(T.stamp(0)))
    (pose, cov), = host._outputs.published
    tf = host._tf.sent_tf
    truth = planar_pose(T.MAP_FROM_BASE) if two_d else T.MAP_FROM_BASE
    print(f"two_d_mode {two_d}: TF {tf.parent} -> {tf.child}, pose stamp = image stamp "
          f"{host._outputs.poses[0] == T.stamp(0)}, TF stamp - now "
          f"{(host._tf.sent[0] - host.clock.now_ns) / 1e9} s")
    print(f"  lookups (target, source, stamp, timeout): {host._tf.lookups}")
    print(f"  (map->odom)(odom->base) - pose {np.abs(tf.parent_from_child @ odom - pose).max():.1e}"
          f", pose - truth {np.abs(pose - truth).max():.1e}")
    print(f"  covariance diag {np.round(np.diag(cov), 8).tolist()}, min eigenvalue "
          f"{np.linalg.eigvalsh(cov).min():.1e}, finite {bool(np.isfinite(cov).all())}")
