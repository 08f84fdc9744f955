"""Edges of the EuRoC/ASL reader (`replay/euroc.py`) the main tests (test_euroc_source) did
not pin: which folder is a camera, data.csv and ground-truth lines that must be refused or
read, a ground truth written out of order, the ground truth chosen when two exist, a T_BS that
is a reflection or written to a few digits, and the reasons given when no frame can have a
pose or there are no intrinsics."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from test_euroc_source import T0, T_BS_CAM, _body, _gt_line, _pose, euroc_tree

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.euroc import euroc_camera_folder, read_t_bs
from mast3r_ros.replay.sources import open_source, refuse_without_poses

GT = "state_groundtruth_estimate0"


def test_a_sensor_folder_of_data_csv_alone_is_no_camera_folder(tmp_path):
    """imu0 and the ground truth's folder hold a data.csv but no data/ of images."""
    euroc_tree(tmp_path)
    assert euroc_camera_folder(tmp_path / "mav0" / GT) is None
    assert euroc_camera_folder(tmp_path / "mav0") == tmp_path / "mav0" / "cam0"


def _rewrite_data_csv(cam, fn):
    csv = cam / "data.csv"
    lines = csv.read_bytes().decode().split("\r\n")
    csv.write_bytes("\r\n".join(fn(lines)).encode())
    return csv


def test_column_names_without_hash_are_skipped_only_as_the_first_line(tmp_path):
    cam = euroc_tree(tmp_path)
    _rewrite_data_csv(cam, lambda lines: ["timestamp,filename"] + lines[1:])
    assert len(open_source(str(tmp_path))) == 5
    csv = _rewrite_data_csv(cam, lambda lines: lines[:3] + ["timestamp,filename"] + lines[3:])
    with pytest.raises(InputError, match="not integer nanoseconds") as err:
        open_source(str(tmp_path))
    assert str(err.value).startswith(f"{csv}:4: ")


@pytest.mark.parametrize("line, why", [
    (f"{2**63},a.png", "not integer nanoseconds"),            # past int64
    (f"{T0 + 9},", "expected 'timestamp \\[ns\\],filename'"),  # no file name
])
def test_a_stamp_past_int64_or_a_line_without_a_file_name_is_refused(tmp_path, line, why):
    cam = euroc_tree(tmp_path)
    csv = _rewrite_data_csv(cam, lambda lines: lines[:2] + [line] + lines[2:])
    with pytest.raises(InputError, match=why) as err:
        open_source(str(tmp_path))
    assert str(err.value).startswith(f"{csv}:3: ")


def test_a_data_csv_listing_no_image_is_refused_naming_it(tmp_path):
    cam = euroc_tree(tmp_path)
    (cam / "data.csv").write_text("#timestamp [ns],filename\n")
    with pytest.raises(InputError, match=r"data.csv lists no images"):
        open_source(str(tmp_path))


def test_data_csv_going_back_in_time_is_read_sorted_with_a_warning(tmp_path, caplog):
    cam = euroc_tree(tmp_path)
    _rewrite_data_csv(cam, lambda lines: [lines[0], lines[2], lines[1]] + lines[3:])
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        source = open_source(str(tmp_path))
    assert list(source.stamps_ns) == [T0 + i * 50_000_000 for i in range(5)]
    np.testing.assert_allclose(source[1].map_from_cam, _body(0) @ T_BS_CAM, atol=1e-12)
    assert any("go back in time" in r.getMessage() for r in caplog.records)


def _gt_csv(root):
    return root / "mav0" / GT / "data.csv"


@pytest.mark.parametrize("row, why", [
    (f"{T0},1,2,3,1,0,0", "got 7 columns"),  # refused as such, not as a non-numeric value
    (f"{T0},1,2,3,1.05,0,0,0", "of norm 1.050000"),
])
def test_seven_columns_or_a_quaternion_5_percent_off_unit_are_refused(tmp_path, row, why):
    euroc_tree(tmp_path)
    gt = _gt_csv(tmp_path)
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(lines[:2] + [row] + lines[2:]) + "\n")
    with pytest.raises(InputError, match=why) as err:
        open_source(str(tmp_path))
    assert str(err.value).startswith(f"{gt}:3: ")


def test_ground_truth_written_out_of_order_gives_the_same_poses(tmp_path):
    euroc_tree(tmp_path)
    want = [f.map_from_cam for f in open_source(str(tmp_path))]
    gt = _gt_csv(tmp_path)
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(lines[:1] + lines[1:][::-1]) + "\n")
    got = open_source(str(tmp_path))
    for a, b in zip(want, (f.map_from_cam for f in got)):
        assert (a is None and b is None) or np.allclose(a, b, atol=1e-12)
    stamps, poses = got.groundtruth()
    assert np.all(np.diff(stamps) > 0)
    np.testing.assert_allclose(poses[0], _body(0) @ T_BS_CAM, atol=1e-12)


def test_the_state_estimate_is_taken_over_vicon_when_both_exist(tmp_path):
    euroc_tree(tmp_path)
    vicon = tmp_path / "mav0" / "vicon0"
    vicon.mkdir()
    far = _pose([0, 0, 0], [100.0, 0, 0])
    vicon.joinpath("data.csv").write_text(
        "\n".join(_gt_line(T0 + 50_000_000 + k * 100_000_000, far) for k in range(5)) + "\n")
    source = open_source(str(tmp_path))
    assert source.groundtruth_file.endswith(f"{GT}/data.csv")
    np.testing.assert_allclose(source[1].map_from_cam, _body(0) @ T_BS_CAM, atol=1e-12)


def test_a_ground_truth_listing_no_pose_is_the_reason_given(tmp_path):
    euroc_tree(tmp_path)
    _gt_csv(tmp_path).write_text("#timestamp [ns], p_RS_R_x [m]\n")
    with pytest.raises(InputError, match=r"data.csv lists no pose: pass --trajectory"):
        refuse_without_poses(open_source(str(tmp_path)))


def test_a_camera_without_t_bs_has_no_pose_and_no_ground_truth(tmp_path):
    """Without the camera's T_BS the body's poses are no camera poses: none given out (they
    would be the body's, as if T_BS were the identity), and the reason names T_BS."""
    cam = euroc_tree(tmp_path)
    text = (cam / "sensor.yaml").read_text()
    start = text.index("T_BS:")
    (cam / "sensor.yaml").write_text(text[:start] + text[text.index("rate_hz"):])
    source = open_source(str(tmp_path))
    assert all(f.map_from_cam is None for f in source)
    assert source.groundtruth()[0].size == 0 and source.groundtruth_file is None
    with pytest.raises(InputError, match=r"states no T_BS"):
        refuse_without_poses(source)


def test_a_camera_without_sensor_yaml_asks_for_camera_info(tmp_path):
    cam = euroc_tree(tmp_path)
    (cam / "sensor.yaml").unlink()
    with pytest.raises(InputError, match=r"no camera intrinsics: .*sensor.yaml does not exist; "
                                         r"pass --camera-info"):
        open_source(str(tmp_path))


def _sensor_with(tmp_path, data):
    path = tmp_path / "sensor.yaml"
    path.write_text("T_BS:\n  cols: 4\n  rows: 4\n  data: [" + ", ".join(data) + "]\n")
    return path


def test_a_reflection_is_no_t_bs(tmp_path):
    """Orthonormal but det -1 (one axis flipped): no rigid transform."""
    path = _sensor_with(tmp_path, [str(v) for v in np.diag([1.0, 1.0, -1.0, 1.0]).ravel()])
    with pytest.raises(InputError, match=r"no rotation .*det -1.000"):
        read_t_bs(path)


def test_a_t_bs_written_to_four_digits_is_made_a_rotation(tmp_path):
    want = _pose([0.3, -1.2, 0.4], [0.02, -0.06, 0.01])
    t_bs = read_t_bs(_sensor_with(tmp_path, [f"{v:.4f}" for v in want.ravel()]))
    rot = t_bs[:3, :3]
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(t_bs, want, atol=1e-3)


def test_the_missing_data_csv_hint_is_given_from_mav0_and_needs_sensor_yaml_or_mav0(tmp_path):
    from mast3r_ros.replay.euroc import euroc_folder_hint

    cam = euroc_tree(tmp_path)
    (cam / "data.csv").unlink()
    assert f"{cam} looks like an EuRoC/ASL camera folder" in euroc_folder_hint(
        str(tmp_path / "mav0"))
    (cam / "sensor.yaml").unlink()  # mav0/cam0/data/ still says EuRoC: both files named
    assert "lacks its sensor.yaml" in euroc_folder_hint(str(tmp_path))
    (tmp_path / "mav0").rename(tmp_path / "seq")
    assert euroc_folder_hint(str(tmp_path / "seq" / "cam0")) == ""  # nothing says EuRoC
