"""Ground truth written w first ('timestamp tx ty tz qw qx qy qz') without a header saying so,
and not starting at the identity: read as x y z w, every rotation error came out near 170 deg
without a word (a quaternion alone cannot tell the orders apart: both are unit quaternions,
and reordering keeps every angle between two of them, so no smoothness test can either). The
localized poses can: `metrics.quaternion_order` says when the ground truth read w first agrees
with them and read as written does not, in metrics.json and one row of the printed table."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mast3r_ros.core.geometry import make_pose, pose_errors
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay import metrics
from mast3r_ros.replay.metrics_table import format_table


def _truth(n=8, seed=3):
    """A handheld-like path: turning about every axis, none at the identity."""
    rng = np.random.default_rng(seed)
    rots = Rotation.from_rotvec(np.array([0.3, -0.8, 0.5]) + 0.15 * rng.standard_normal((n, 3)))
    return rots, rng.uniform(-1, 1, (n, 3))


def _run(rots, centres, noise_deg=0.5, seed=4):
    rng = np.random.default_rng(seed)
    out = []
    for i, (r, c) in enumerate(zip(rots, centres)):
        turn = Rotation.from_rotvec(np.radians(noise_deg) * rng.standard_normal(3))
        out.append(LocalizationResult(True, i, make_pose((turn * r).as_matrix(), c + 0.01),
                                      None))
    return out


def _poses(quats_xyzw, centres):
    return np.stack([make_pose(Rotation.from_quat(q).as_matrix(), c)
                     for q, c in zip(quats_xyzw, centres)])


def test_ground_truth_written_w_first_is_named_with_the_fix():
    rots, centres = _truth()
    res = _run(rots, centres)
    q = rots.as_quat()  # x y z w
    w_first_read_as_xyzw = _poses(q[:, [3, 0, 1, 2]], centres)  # the file's columns, misread
    m = metrics.summarize(res, w_first_read_as_xyzw)
    assert m["rotation_error_deg"]["median"] > 60
    qo = m["quaternion_order"]
    assert qo["frames"] == 8 and qo["rotation_error_deg_median"] > 60
    assert qo["w_first_rotation_error_deg_median"] < 2
    row = [ln for ln in format_table(m).splitlines() if "ground truth quaternions" in ln]
    assert len(row) == 1 and "read w first (qw qx qy qz) they are 0." in row[0], row
    assert "move qw to the last column" in row[0] and "metrics.json: quaternion_order" in row[0]


def test_no_quaternion_order_note_for_good_ground_truth_or_bad_runs():
    rots, centres = _truth()
    res = _run(rots, centres)
    gt = _poses(rots.as_quat(), centres)
    assert metrics.summarize(res, gt)["quaternion_order"] is None  # right: nothing to say
    assert metrics.summarize(res, None)["quaternion_order"] is None
    lost = _run(Rotation.random(8, random_state=9), centres)  # a badly localized run
    assert metrics.summarize(lost, gt)["quaternion_order"] is None
    few = metrics.summarize(res[:4], _poses(rots.as_quat()[:4, [3, 0, 1, 2]], centres[:4]))
    assert few["quaternion_order"] is None  # under FRAME_OFFSET_MIN_FRAMES
    assert "ground truth quaternions" not in format_table(metrics.summarize(res, gt))


def test_ground_truth_written_w_first_is_not_also_called_another_frame():
    """The 7-Scenes query with its ground truth written w first: every rotation ~171 deg off,
    and one rigid transform also brings the errors down (to ~10 deg), so the table said both
    'another frame than the map's? ... give ground truth in the map's frame' and 'written w
    first?'. Read w first the rotations agree with no transform at all: the frame row is a
    wrong lead and its fix a wrong fix; only the quaternion row is said."""
    rng = np.random.default_rng(5)  # a camera turning a little (as in 7-Scenes' redkitchen)
    rots = Rotation.from_rotvec(np.array([0.3, -0.8, 0.5]) + 0.05 * rng.standard_normal((20, 3)))
    centres = rng.uniform(-0.3, 0.3, (20, 3))
    res = _run(rots, centres)
    m = metrics.summarize(res, _poses(rots.as_quat()[:, [3, 0, 1, 2]], centres))
    assert m["quaternion_order"] is not None
    assert m["frame_offset"] is None
    table = format_table(m)
    assert "ground truth quaternions" in table and "ground truth frame" not in table


def _near_the_cycle(t, n=8):
    """Rotations whose quaternions read w first are ~280 t deg from themselves (near
    (0.5, 0.5, 0.5, 0.5), which the reordering keeps): both readings are close."""
    q = np.array([0.5, 0.5, 0.5, 0.5]) + np.outer(t + 0.001 * np.arange(n), [1, -1, 0, 0])
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _medians(res, gt):
    est = np.stack([r.map_from_cam for r in res])
    reread = gt.copy()
    quats = Rotation.from_matrix(gt[:, :3, :3]).as_quat()[:, [1, 2, 3, 0]]
    reread[:, :3, :3] = Rotation.from_quat(quats).as_matrix()
    return (float(np.median(pose_errors(est, gt)[1])),
            float(np.median(pose_errors(est, reread)[1])))


def test_no_note_unless_the_error_as_read_is_gross_and_w_first_is_5x_better():
    """A run 8 deg off the ground truth as read and 0 deg read w first: not gross, nothing
    said. One 17 deg off as read and 5 deg read w first: not 5x better, nothing said."""
    centres = np.zeros((8, 3))
    q = _near_the_cycle(0.03)
    gt = _poses(q, centres)
    res = _run(Rotation.from_quat(q[:, [1, 2, 3, 0]]), centres, noise_deg=0.0)
    raw, fixed = _medians(res, gt)
    assert 5 < raw < 10 and fixed < 0.1, (raw, fixed)
    assert metrics.quaternion_order(res, gt) is None
    q = _near_the_cycle(0.06)
    gt = _poses(q, centres)
    off = Rotation.from_rotvec([0, 0, np.radians(5)])
    res = _run(off * Rotation.from_quat(q[:, [1, 2, 3, 0]]), centres, noise_deg=0.0)
    raw, fixed = _medians(res, gt)
    assert raw > 10 and fixed < 10 and fixed * 5 > raw, (raw, fixed)
    assert metrics.quaternion_order(res, gt) is None


def test_failed_frames_are_not_counted():
    rots, centres = _truth()
    res = _run(rots, centres)
    failed = [LocalizationResult(False, 8 + i, r.map_from_cam, None) for i, r in enumerate(res)]
    q = rots.as_quat()
    misread = _poses(q[:, [3, 0, 1, 2]], centres)
    qo = metrics.quaternion_order(res + failed, np.concatenate([misread, misread]))
    assert qo is not None and qo["frames"] == 8


def test_conjugated_ground_truth_is_told_from_w_first_and_named_with_the_fix():
    """Ground truth whose quaternions are the conjugates of the right ones (JPL convention, as
    OpenVINS/MSCKF write, or camera_from_world rotations beside the camera's position): every
    rotation far off and nothing said, since read w first does not fix it. Transposed, the
    rotations agree: named as conjugated, with the negation that undoes it."""
    rots, centres = _truth()
    res = _run(rots, centres)
    conjugated = _poses(rots.inv().as_quat(), centres)  # qx qy qz negated, t kept
    m = metrics.summarize(res, conjugated)
    qo = m["quaternion_order"]
    assert qo is not None and qo["written"] == "conjugate" and qo["frames"] == 8
    assert qo["rotation_error_deg_median"] > 60 and qo["conjugate_rotation_error_deg_median"] < 2
    assert "w_first_rotation_error_deg_median" not in qo and m["frame_offset"] is None
    row = [ln for ln in format_table(m).splitlines() if "ground truth quaternions" in ln]
    assert len(row) == 1 and "conjugated (JPL convention" in row[0], row
    assert "transposed they are 0." in row[0] and "negate qx qy qz" in row[0]
    assert "written w first" not in row[0]
    w_first = metrics.summarize(res, _poses(rots.as_quat()[:, [3, 0, 1, 2]], centres))
    assert w_first["quaternion_order"]["written"] == "w_first"  # still told apart


def test_covariance_rows_give_no_verdict_against_misread_quaternions():
    """Ground truth written w first read 'covariance rotation: ... overconfident' under the row
    that says its quaternions are misread: the rotation covariance was judged against
    rotations ~170 deg off that are not the localizer's. As a frame offset's, such rows keep
    their figures and say why they give no verdict. Written w first moves only the quaternion
    columns: the position rows are still judged; conjugated may be a whole camera_from_world
    pose: none is."""
    rots, centres = _truth()
    cov = np.diag([0.002 ** 2] * 3 + [0.0001 ** 2] * 3)  # 2 mm, 0.006 deg sigmas
    res = [LocalizationResult(True, r.stamp_ns, r.map_from_cam, cov)
           for r in _run(rots, centres)]  # under 1.7 cm, 0.5 deg errors: overconfident
    good = format_table(metrics.summarize(res, _poses(rots.as_quat(), centres)))
    assert [ln.split(":")[0].split()[-1] for ln in good.splitlines()
            if "chi2 95 %" in ln and "overconfident" in ln] == ["position", "rotation"], good

    def rows(gt):
        m = metrics.summarize(res, gt)
        assert m["quaternion_order"] is not None and m["frame_offset"] is None
        return {ln.split(":")[0].split()[-1]: ln for ln in format_table(m).splitlines()
                if "chi2 95 %" in ln}

    w_first = rows(_poses(rots.as_quat()[:, [3, 0, 1, 2]], centres))
    assert len(w_first) == 3
    assert "overconfident" not in w_first["rotation"] and (
        "not judged: the ground truth's quaternions look written w first (the 'ground truth "
        "quaternions' row)") in w_first["rotation"], w_first["rotation"]
    assert "overconfident" in w_first["position"]  # the positions are read right
    assert not any("not judged" in w_first[k] for k in set(w_first) - {"rotation"}), w_first
    conjugated = rows(_poses(rots.inv().as_quat(), centres))
    assert len(conjugated) == 3
    for row in conjugated.values():
        assert "overconfident" not in row and "not judged: the ground truth's quaternions " \
            "look conjugated (the 'ground truth quaternions' row)" in row, row
