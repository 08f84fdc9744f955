"""Poses are inverted with `core.geometry.invert_poses` (the rigid inverse R^T, -R^T t), not
LAPACK's general inverse: the EuRoC, KITTI, RealSense and pose-topic readers and merge-maps each
had a one-off ``np.linalg.inv`` of a pose (a T_BS, a stereo baseline, extrinsics, a TF mount, a
frame's two poses), whose small solves on numpy 1.21's OpenBLAS wake its threads (17 ms a 4x4
on a loaded CPU: `invert_poses`' docstring) and which reads a pose as any matrix."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

import mast3r_ros
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.replay import map_merge

ROOT = Path(mast3r_ros.__file__).parent


def _inv_calls(path: Path) -> list:
    """Lines of ``path`` that call ``*.linalg.inv(...)`` (or an ``inv`` imported from it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                and (n.module or "").endswith("linalg") for a in n.names if a.name == "inv"}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Attribute) and f.attr == "inv"
                    and isinstance(f.value, ast.Attribute) and f.value.attr == "linalg") \
                    or (isinstance(f, ast.Name) and f.id in imported):
                out.append(node.lineno)
    return out


def test_no_reader_nor_the_node_inverts_a_pose_with_a_general_inverse():
    """replay/ (dataset and bag readers, merge-maps) and ros/ hold poses only: every inverse
    there is a pose's, and goes through the rigid inverse."""
    found = {str(p.relative_to(ROOT)): lines for folder in ("replay", "ros")
             for p in sorted((ROOT / folder).rglob("*.py")) for lines in [_inv_calls(p)] if lines}
    assert not found, f"np.linalg.inv of poses (use core.geometry.invert_poses): {found}"


def test_merge_maps_pose_gap_is_unchanged_by_the_rigid_inverse():
    c, s = np.cos(0.3), np.sin(0.3)
    a = make_pose(np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]), np.array([1.0, 2.0, 3.0]))
    b = a @ make_pose(np.eye(3), np.array([0.03, 0.0, 0.04]))
    gap = map_merge._pose_gap(a, b)
    np.testing.assert_allclose(gap, (0.05, 0.0), atol=1e-9)
