"""Behaviour the 2026-12-06 mutation audit (docs/bench/mutation_cpu_2026-12-06b) found no test
of: which moment a moving /tf extrinsic's refusal names and how far it says it turned, frames
/tf does not join, the RealSense depth-unit range's ends, the warning of a cam1 whose stamps
all differ from cam0's, the exposure match leaving an image of the reference's own levels as
it is, and a content-id cache folder under a file."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.tf_buffer import TransformBuffer

MS = 1_000_000


def _moving(samples):
    """A buffer: link -> colour on /tf_static, link -> depth on /tf with ``samples`` (stamp
    ns, x offset metres, turn about y in degrees)."""
    buf = TransformBuffer()
    buf.add_static("link", "colour", np.eye(4))
    stamps = np.array([s for s, _, _ in samples], np.int64)
    t = np.array([[0.015 + x, 0.0, 0.0] for _, x, _ in samples])
    q = Rotation.from_euler("y", [[d] for _, _, d in samples], degrees=True).as_quat()
    buf.add_dynamic_tq("link", "depth", stamps, t, q)
    return buf


def _refusal(buf) -> str:
    from mast3r_ros.replay.rosbag.tf_extrinsic import constant_extrinsic
    with pytest.raises(InputError) as err:
        constant_extrinsic(buf, "colour", "depth", "bag b", "pass X")
    return str(err.value)


def test_a_moving_tf_extrinsic_names_the_moment_it_moved_most_in_both_units():
    """6 mm alone at 2 s, 0.55 deg alone at 3 s, 4 mm and 0.3 deg at 4 s: the last is the
    farthest counted in both units (4/1 + 0.3/0.1 = 7 limits), so the message names t=4 s;
    the largest of each unit is said on its own."""
    text = _refusal(_moving([(1000 * MS, 0, 0), (2000 * MS, 0.006, 0), (3000 * MS, 0, 0.55),
                             (4000 * MS, 0.004, 0.3)]))
    assert "by up to 6.0 mm and 0.55 deg (at t=4.000000 s against t=1.000000 s" in text, text


def test_a_tf_extrinsic_that_flips_says_how_far_it_turned():
    text = _refusal(_moving([(1000 * MS, 0, 0), (2000 * MS, 0, 180.0)]))
    assert "and 180.00 deg" in text, text


def test_frames_tf_does_not_join_give_no_extrinsic_not_an_error():
    """Both frames known, in two trees (no transform between them): None, as for a frame
    /tf lacks, so the caller refuses the depth as unregistered."""
    from mast3r_ros.replay.rosbag.tf_extrinsic import constant_extrinsic
    buf = TransformBuffer()
    buf.add_static("link", "colour", np.eye(4))
    buf.add_dynamic_tq("other", "depth", np.array([MS]), np.zeros(3), np.array([0, 0, 0, 1.0]))
    assert constant_extrinsic(buf, "colour", "depth", "bag b", "pass X") is None


@pytest.mark.parametrize("units", [1e-6, 0.01])
def test_the_depth_unit_range_ends_are_realsense_units(units):
    """1 um and 1 cm, the ends of DEPTH_UNITS_RANGE_M, are read (option or carried)."""
    from mast3r_ros.replay.rosbag import realsense
    topic = "/device_0/sensor_0/Depth_0/image/data"
    assert realsense.depth_units_of("bag", topic, [units], None) == pytest.approx(units)
    carried = float(np.float32(units))
    assert realsense.depth_units_of("bag", topic, [], carried) == pytest.approx(units)


def test_cam1_all_off_cam0_stamps_warns_how_far_the_first_is(tmp_path, caplog):
    """cam1's stamps 5 ms after cam0's (another clock or a wrong data.csv): every cam0 image
    is unpaired and the warning says how far cam0's first stamp is from cam1's nearest."""
    from test_stereo_depth import STEREO, T0, euroc_stereo_tree

    from mast3r_ros.replay.sources import open_source
    root, _ = euroc_stereo_tree(tmp_path, 2)
    csv = root / "mav0" / "cam1" / "data.csv"
    text = csv.read_text()
    for i in range(2):
        stamp = T0 + i * 50_000_000
        text = text.replace(f"{stamp},", f"{stamp + 5 * MS},")
    csv.write_text(text)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        open_source(str(root), STEREO)
    said = [r.getMessage() for r in caplog.records if "same stamp" in r.getMessage()]
    assert len(said) == 1 and "2 of 2 cam0 images" in said[0], said
    assert "(cam0's first stamp is 5000000 ns from cam1's nearest)" in said[0], said


def test_matching_an_image_to_its_own_levels_changes_nothing():
    """An image of levels 0..200 only (no 255, a dark scene) and one with both ends used:
    matched to itself, each is returned as it is (the look-up table's ends are 0 and 255)."""
    from mast3r_ros.replay.stereo_depth import match_exposure
    rng = np.random.default_rng(0)
    for top in (200, 255):
        image = rng.integers(0, top + 1, (24, 32)).astype(np.uint8)
        image[0, :2] = (0, top)
        np.testing.assert_array_equal(match_exposure(image, image), image)


def test_a_cache_folder_under_a_file_is_not_recordable(tmp_path):
    """content ids are not recorded under a path whose nearest existing part is a file (even
    an executable one): no folder can be made there."""
    from mast3r_ros.core.model.content_id import recordable
    blocker = tmp_path / "file"
    blocker.write_text("x")
    os.chmod(blocker, 0o755)
    assert not recordable(str(blocker / "cache"))
    assert recordable(str(tmp_path / "new" / "cache"))


@pytest.mark.parametrize("as_matrix", [False, True])
def test_a_tf_extrinsic_of_one_sample_is_that_sample(as_matrix):
    """The depth's transform published once on /tf (as quaternion or as a 4x4): the extrinsic
    is that sample, counted as one (slerp needs two; the one sample is held)."""
    from mast3r_ros.replay.rosbag.tf_extrinsic import constant_extrinsic
    link_from_depth = np.eye(4)
    link_from_depth[:3, :3] = Rotation.from_euler("y", 2, degrees=True).as_matrix()
    link_from_depth[:3, 3] = (0.015, 0.002, -0.001)
    buf = TransformBuffer()
    buf.add_static("link", "colour", np.eye(4))
    if as_matrix:
        buf.add_dynamic("link", "depth", 5 * MS, link_from_depth)
    else:
        q = Rotation.from_matrix(link_from_depth[:3, :3]).as_quat()
        buf.add_dynamic_tq("link", "depth", np.array([5 * MS]), link_from_depth[:3, 3], q)
    got, n = constant_extrinsic(buf, "colour", "depth", "bag b", "pass X")
    np.testing.assert_allclose(got, link_from_depth, atol=1e-12)
    assert n == 1


def test_samples_between_a_frame_and_itself_is_one_identity():
    buf = TransformBuffer()
    buf.add_static("link", "colour", np.eye(4))
    stamps, poses = buf.samples_between("colour", "colour")
    assert stamps.tolist() == [0] and poses.shape == (1, 4, 4)
    np.testing.assert_array_equal(poses[0], np.eye(4))


def test_a_tf_extrinsic_sample_1e300_m_away_is_refused_alone_without_a_warning_line():
    """One damaged /tf sample of the depth frame 1e300 m away: refused as moving, and no
    numpy overflow RuntimeWarning printed before the CLI's one-line refusal (there was)."""
    import warnings
    buf = TransformBuffer()
    buf.add_static("link", "colour", np.eye(4))
    t = np.array([[0.015, 0, 0], [0.015, 1e300, 0], [0.015, 0, 0]])
    buf.add_dynamic_tq("link", "depth", np.array([1, 2, 3]) * MS, t, np.tile([0, 0, 0, 1.0],
                                                                              (3, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        text = _refusal(buf)
    assert "moves during the recording" in text, text


def test_a_focal_summary_without_an_outlier_count_says_none_left_out():
    """A summary written before the outlier count (no 'frames_outliers': an older metrics
    file) prints the row as before, not '1 more left out'."""
    import math

    from test_focal_evidence_edges import _result

    from mast3r_ros.core.focal_evidence import FocalFit
    from mast3r_ros.replay.metrics import summarize
    from mast3r_ros.replay.metrics_table import format_table
    fits = [FocalFit(1.0, 0.01, 500.0)] * 5 + [FocalFit(math.exp(0.09), 0.01, 500.0)]
    m = summarize([_result(True, f) for f in fits])
    m["camera_focal"].pop("frames_outliers")
    (row,) = [ln for ln in format_table(m).splitlines() if "camera focal length" in ln]
    assert "(5 frames; 6 passed the per-frame gate)" in row, row


def test_map_check_panel_draws_its_limits_where_the_thresholds_are():
    """The dashed lines sit at the thresholds (5 % residual, 50 % agreeing, 51 px), the
    depth axis runs 0 to 140 % (headroom for the legend) with ticks 0..100 by 20, and the
    reprojection axis reaches 1.05 x 1.4 x the larger of the limit and the data."""
    from mast3r_ros.core.map_check.report import ConsistencyReport, KeyframeFigures
    from mast3r_ros.replay import plot_save, plots
    kf = [KeyframeFigures(i, str(i), 0.008, 0.9, 15.0 + i, [], True) for i in range(4)]
    report = ConsistencyReport("consistent", kf, [], "map consistent", thresholds={
        "max_depth_residual": 0.05, "min_depth_agree": 0.5, "max_reproj_px": 51.0})
    fig, ax = plot_save.new_figure((6.4, 4.8))
    plots.plot_consistency(ax, report)
    ax2 = [a for a in fig.axes if a is not ax][0]
    dashed = {ln.get_label(): ln.get_ydata()[0] for a in (ax, ax2) for ln in a.lines
              if ln.get_linestyle() == "--"}
    assert dashed == pytest.approx({"depth residual limit": 5.0,
                                    "depth agreeing limit": 50.0,
                                    "match reprojection limit": 51.0}), dashed
    assert ax.get_ylim() == pytest.approx((0, 140.0))
    assert list(ax.get_yticks()) == [0, 20, 40, 60, 80, 100]
    assert ax2.get_ylim() == pytest.approx((0, 51.0 * 1.05 * 1.4))


def test_errors_axes_run_from_5_percent_below_zero_to_5_percent_above_the_largest():
    from mast3r_ros.replay import plots
    figs = []
    plots._save, old = (lambda fig, path: figs.append(fig)), plots._save
    try:
        plots.plot_errors("unused.png", np.arange(3.0), np.array(
            [[0.01, 0.2], [0.02, 0.4], [np.nan, np.nan]]), np.array([True, True, False]))
    finally:
        plots._save = old
    tops = [a.get_ylim() for a in figs[0].axes]
    assert len(tops) == 2
    for (y0, y1), top in zip(sorted(tops, key=lambda t: t[1]), (0.4, 2.0)):  # deg, cm
        assert (y0, y1) == pytest.approx((-0.05 * top, 1.05 * top), rel=1e-9), (y0, y1)


def test_a_tf_extrinsic_joining_the_two_frames_directly_is_taken():
    """/tf holding only colour -> depth (no camera_link): the buffer knows just the two
    frames, and the extrinsic is that transform."""
    from mast3r_ros.replay.rosbag.tf_extrinsic import constant_extrinsic
    buf = TransformBuffer()
    buf.add_dynamic_tq("colour", "depth", np.array([1, 2]) * MS, np.array([[0.015, 0, 0]] * 2),
                       np.array([[0, 0, 0, 1.0]] * 2))
    got, n = constant_extrinsic(buf, "colour", "depth", "bag b", "pass X")
    assert n == 2 and got[0, 3] == pytest.approx(0.015)


def test_matching_exposure_maps_levels_onto_the_references():
    """A two-level image (10, 20) matched to a two-level reference (100, 200) of the same
    halves takes the reference's levels."""
    from mast3r_ros.replay.stereo_depth import match_exposure
    image = np.repeat(np.array([10, 20], np.uint8), 8).reshape(4, 4)
    reference = np.repeat(np.array([100, 200], np.uint8), 8).reshape(4, 4)
    np.testing.assert_array_equal(match_exposure(image, reference), reference)
