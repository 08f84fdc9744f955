"""The node's frame algebra (mast3r_ros/ros/frames.py) on a known robot: a REP-103 optical
camera 0.3 m ahead, 0.1 m left, 0.6 m up on base_link, the base at (2, 1, 0) heading 30 deg in
map, odometry at (0.5, -0.2) heading 10 deg. Run from the repository root."""
import math

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import invert_pose, make_pose
from mast3r_ros.ros import frames

R_BASE_OPT = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)  # z fwd, x right, y down
base_from_cam = make_pose(R_BASE_OPT, [0.3, 0.1, 0.6])
cam_from_base = invert_pose(base_from_cam)
truth = make_pose(Rotation.from_euler("z", 30, degrees=True).as_matrix(), [2.0, 1.0, 0.0])
map_from_cam = truth @ base_from_cam
odom = make_pose(Rotation.from_euler("z", 10, degrees=True).as_matrix(), [0.5, -0.2, 0.0])

base = frames.map_from_base(map_from_cam, cam_from_base)
tf = frames.localization_tf(base, odom, "map", "odom", "base_link")
print(f"map_from_base error {np.abs(base - truth).max():.1e}; TF {tf.parent} -> {tf.child}; "
      "(map->odom)(odom->base) - map->base "
      f"{np.abs(tf.parent_from_child @ odom - truth).max():.1e}")
no_odom = frames.localization_tf(base, None, "map", "", "base_link")
print(f"without odom_frame: {no_odom.parent} -> {no_odom.child}")

# 1 deg (1 sigma) of camera rotation about map z only: the base moves by dtheta x r
s2 = math.radians(1.0) ** 2
cov_cam = np.zeros((6, 6))
cov_cam[5, 5] = s2
cov = frames.base_pose_covariance(cov_cam, map_from_cam, cam_from_base)
r = truth[:3, 3] - map_from_cam[:3, 3]
print(f"lever arm (map) {np.round(r, 4)}; var x, y / sigma^2: {cov[0, 0] / s2:.5f}, "
      f"{cov[1, 1] / s2:.5f} (expected r_y^2 {r[1] ** 2:.5f}, r_x^2 {r[0] ** 2:.5f}); "
      f"cov(x, rot_z) / sigma^2 {cov[0, 5] / s2:+.5f} (expected -r_y {-r[1]:+.5f}), "
      f"cov(y, rot_z) / sigma^2 {cov[1, 5] / s2:+.5f} (expected r_x {r[0]:+.5f})")
assert abs(cov[0, 5] / s2 + r[1]) < 1e-6 and abs(cov[1, 5] / s2 - r[0]) < 1e-6

tilted = truth @ make_pose(Rotation.from_euler("xy", [0.05, -0.03]).as_matrix(), [0, 0, 0.2])
flat = frames.planar_pose(tilted)
planar = frames.planar_covariance(cov + np.eye(6) * 1e-4)
print(f"two_d_mode: z {flat[2, 3]}, yaw {math.degrees(math.atan2(flat[1, 0], flat[0, 0])):.3f} "
      f"deg, var diag {np.round(np.diag(planar), 6).tolist()}, "
      f"min eigenvalue {np.linalg.eigvalsh(planar).min():.1e}")
