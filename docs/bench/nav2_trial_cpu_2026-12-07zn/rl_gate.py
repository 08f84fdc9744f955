"""Seconds until robot_localization's pose0_rejection_threshold (n sigmas) lets the node's first
pose through, for an EKF initialised from wheel odometry at the map origin (x, y, yaw = 0,
initial_estimate_covariance 1e-9) whose x, y, yaw variances grow by the default process noise
(0.05, 0.05, 0.06 a second); the pose d metres away and turned 90 deg, 1 cm / 1 deg sigma."""
import math

n = 5.0  # the threshold docs/ros_node.md's snippet set before this trial
for d in (3.0, 10.0, 30.0):
    t = 0.0
    while True:
        t += 0.1
        m2 = (d * d / (1e-9 + 0.05 * t + 1e-4)
              + (math.pi / 2) ** 2 / (1e-9 + 0.06 * t + math.radians(1) ** 2))
        if m2 < n * n:
            break
    print(f"d = {d:4.0f} m: first pose fused after {t:6.1f} s")

# the alternative docs/ros_node.md gives for a gate in the filter: initial_estimate_covariance
# 1e4, 1e4 (x, y) and 10 (yaw), so the first pose is taken at once
for d in (3.0, 10.0, 30.0):
    m2 = d * d / (1e4 + 0.05 * 5.0) + (math.pi / 2) ** 2 / (10.0 + 0.06 * 5.0)
    print(f"d = {d:4.0f} m, initial_estimate_covariance 1e4 / 10, pose 5 s after start: "
          f"squared Mahalanobis {m2:.3f} < {n * n:.0f}: fused {m2 < n * n}")
