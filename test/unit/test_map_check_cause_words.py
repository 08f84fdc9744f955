"""How the map check words a depth factor beside other causes (`diagnose._describe`): an
unconfirmed unit confusion (the fallback when no fix made every pair agree) names the unit
alone, and a factor that is no unit confusion, found with a pose convention, puts its focal
length caveat on the depth's entry, not on the pose convention's."""

from __future__ import annotations

from mast3r_ros.core.map_check.diagnose import _describe


def test_an_unconfirmed_unit_confusion_names_the_unit_not_the_focal_length():
    cause = _describe("", 1000.0, False, 1000.0, (2.0, 5.0))
    assert cause.name == "depth_scale" and cause.confirmed is False
    assert cause.what == ("depth is x1000 the size the poses fit (read in units of 1 mm, "
                          "--depth-scale 1000; the poses fit units of 1 um)"), cause.what
    assert cause.fix == "--depth-scale 1000000 (depth units per metre)", cause.fix
    assert "focal" not in cause.what and "fx" not in cause.fix


def test_the_focal_caveat_of_a_two_part_cause_follows_the_depth_entry():
    cause = _describe("quaternion_wxyz", 1.3, True, None, (2.0, 5.0), unit_like=False)
    assert cause.name == "quaternion_wxyz+depth_scale"
    pose, depth = cause.what.split("; ", 1)
    assert pose == "the quaternions are in w x y z order but were read as x y z w", pose
    assert depth.startswith("depth is x1.3 the size the poses fit, or the focal length is "
                            "off: x1.3 is no depth unit"), depth
    pose_fix, depth_fix = cause.fix.split("; ", 1)
    assert pose_fix == "write the trajectory's quaternions as qx qy qz qw (TUM order)", pose_fix
    assert depth_fix.startswith("check fx, fy in the camera_info's K"), depth_fix


def test_the_figures_ruling_the_focal_length_out_follow_the_depth_entry():
    ruled_out = "fx, fy off fit worse: x1.1 leaves 3 % against 0.5 %"
    cause = _describe("quaternion_wxyz", 1.3, True, None, (2.0, 5.0), unit_like=False,
                      focal_ruled_out=ruled_out)
    pose, depth = cause.what.split("; ", 1)
    assert pose == "the quaternions are in w x y z order but were read as x y z w", pose
    assert depth == f"depth is x1.3 the size the poses fit, {ruled_out}", depth
    assert "check fx" not in cause.fix, cause.fix


def test_a_unit_of_0_2_mm_is_not_called_tum_s_on_a_source_of_another_kind():
    """A RealSense bag (depth in 1 mm) built with --trajectory whose poses fit depth x5: the
    words said 'the poses fit units of 0.2 mm (TUM)', as if the source were a TUM folder;
    the map check does not know the source's kind, so the unit is named alone."""
    cause = _describe("", 5.0, True, 1000.0, (2.0, 5.0))
    assert cause.what == ("depth is x5 the size the poses fit (read in units of 1 mm, "
                          "--depth-scale 1000; the poses fit units of 0.2 mm)"), cause.what
    assert cause.fix == "--depth-scale 5000 (depth units per metre)", cause.fix
    read_as = _describe("", 0.2, True, 5000.0, (2.0, 5.0))  # 0.2 mm units read: no TUM claim
    assert "TUM" not in read_as.what and "units of 0.2 mm," in read_as.what, read_as.what
