"""Poses shared by the node's tests (importable because test/conftest.py puts test/ on sys.path)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import make_pose

# Camera optical frame (x right, y down, z forward) on a base_link (x forward, y left, z up).
R_BASE_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def rz(deg: float) -> np.ndarray:
    """3x3 rotation by ``deg`` degrees about z."""
    return Rotation.from_euler("z", deg, degrees=True).as_matrix()


def random_pose(rng: np.random.Generator) -> np.ndarray:
    return make_pose(Rotation.random(random_state=rng.integers(1 << 31)).as_matrix(),
                     rng.normal(size=3))


def camera_on_robot() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(base_from_cam, map_from_base, map_from_cam): a camera 0.2 m ahead of and 0.5 m above
    base_link, looking forward; the robot at (1, 2) facing +y (yaw 90 deg). By hand the camera
    is at (1, 2.2, 0.5) in the map."""
    base_from_cam = make_pose(R_BASE_FROM_OPTICAL, [0.2, 0.0, 0.5])
    map_from_base = make_pose(rz(90.0), [1.0, 2.0, 0.0])
    map_from_cam = make_pose(rz(90.0) @ R_BASE_FROM_OPTICAL, [1.0, 2.2, 0.5])
    return base_from_cam, map_from_base, map_from_cam


def camera_along_yaw(x: float, y: float, yaw: float) -> np.ndarray:
    """map_from_cam of a camera at (x, y, 0) whose optical axis (+z of the optical frame) points
    along ``yaw`` (radians) in the map's x-y plane, its x axis to the right, horizontal."""
    T = np.eye(4)
    z = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    x_axis = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    T[:3, 0], T[:3, 1], T[:3, 2] = x_axis, np.cross(z, x_axis), z
    T[:3, 3] = x, y, 0.0
    return T
