"""A RealSense recording's depth unit (`mast3r_ros.replay.rosbag.realsense`): a 'Depth Units'
option of 1e-45 m read every depth as 0 (invalid) and one of 5 m as nonsense, without a word;
0, negative or NaN said 'no Depth Units option recorded'; ``--depth-scale 0.001`` (metres per
unit, the option's own convention) read a 1 m wall as 1000 km. The float32 ``depth_units``
librealsense 2.3x+ writes after each Image was dropped: a recording without the option was
refused though each depth image stated its unit, and one whose images said another unit than
the option (or changed it) was read with the option's silently."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from test_realsense_bag import DEPTH, write_realsense_bag  # noqa: E402

from mast3r_ros.core.errors import InputError  # noqa: E402
from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402

OPTION = "/device_0/sensor_0/option/Depth Units/value"


def _aligned(path, **kw):
    """A D405-like recording: colour from the depth module, depth aligned to it."""
    return write_realsense_bag(path, colour_sensor=0, colour_offset_m=0.0, **kw)


def _refusal(bag, **kw):
    with pytest.raises(InputError) as err:
        BagSequence(bag, depth_topic=DEPTH, **kw)
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


@pytest.mark.parametrize("units, said", [(1e-45, "1.4013e-45 m"), (0.0, "0 m"),
                                         (-0.001, "-0.001 m"), (math.nan, "nan m"),
                                         (5.0, "5 m")])
def test_an_implausible_depth_units_option_is_refused_naming_it(tmp_path, units, said):
    msg = _refusal(_aligned(tmp_path / "rs.bag", depth_units=units))
    assert f"'Depth Units' option of depth stream /device_0/sensor_0/Depth_0 ({OPTION}) is " \
           f"{said}" in msg, msg
    assert "1e-06 to 0.01 m" in msg and "--depth-scale" in msg, msg


@pytest.mark.parametrize("scale, hint", [(0.001, "metres per unit? 0.001 m is --depth-scale "
                                                 "1000"), (50.0, ""), (2e6, "")])
def test_an_implausible_depth_scale_on_a_realsense_recording_is_refused(tmp_path, scale, hint):
    bag = _aligned(tmp_path / "rs.bag")
    with pytest.raises(InputError) as err:
        BagSequence(bag, depth_topic=DEPTH, depth_scale=scale,
                    option_names={"depth_scale": "--depth-scale"})
    msg = str(err.value)
    assert f"--depth-scale {scale:g} " in msg and "100 to 1e+06 units per metre" in msg, msg
    assert hint in msg and "\n" not in msg, msg
    for fine in (100.0, 1000.0, 1e6):  # the hardware's 0.01 m, 1 mm and 1 um
        assert BagSequence(bag, depth_topic=DEPTH, depth_scale=fine).depth_units_per_m == fine


def test_depth_scale_0_001_exits_2_in_one_line(tmp_path, capsys):
    bag = _aligned(tmp_path / "rs.bag")
    traj = tmp_path / "traj.txt"
    traj.write_text("".join(f"{1_700_000_000 + 0.1 * n:.9f} 0 0 0 0 0 0 1\n" for n in range(3)))
    assert main(["build-map", bag, "--out", str(tmp_path / "map"), "--depth-topic", DEPTH,
                 "--trajectory", str(traj), "--matcher", "sift",
                 "--depth-scale", "0.001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--depth-scale 0.001 " in err[0], err


def test_per_image_depth_units_are_read_without_the_option(tmp_path):
    """No option recorded, each depth image saying 0.1 mm: read at 10000 units per metre
    (it was refused asking for --depth-scale)."""
    bag = _aligned(tmp_path / "rs.bag", depth_units=None, image_units=(0.0001,) * 3,
                   depth_raw=10000)
    seq = BagSequence(bag, depth_topic=DEPTH)
    assert seq.depth_units_per_m == 10000.0
    assert all(np.all(f.depth_m == np.float32(1.0)) for f in seq)
    # an option of 0 (librealsense's unset) beside them: theirs
    bag = _aligned(tmp_path / "zero.bag", depth_units=0.0, image_units=(0.001,) * 3)
    assert BagSequence(bag, depth_topic=DEPTH).depth_units_per_m == 1000.0


def test_neither_the_option_nor_a_per_image_unit_is_refused_as_before(tmp_path):
    for n, kw in enumerate(({"trailing": False}, {"image_units": (0.0,) * 3})):  # 0: unset
        msg = _refusal(_aligned(tmp_path / f"rs{n}.bag", depth_units=None, **kw))
        assert "no 'Depth Units' option recorded" in msg and "--depth-scale" in msg, msg


@pytest.mark.parametrize("units", [1e-45, 5.0, math.nan, -0.001])
def test_an_implausible_per_image_unit_without_the_option_is_refused(tmp_path, units):
    msg = _refusal(_aligned(tmp_path / "rs.bag", depth_units=None, image_units=(units,) * 3))
    assert f"depth_units its Image messages carry ({DEPTH}) is" in msg, msg
    assert "1e-06 to 0.01 m" in msg and "--depth-scale" in msg, msg


def test_per_image_units_that_disagree_with_the_option_are_refused_naming_both(tmp_path):
    msg = _refusal(_aligned(tmp_path / "rs.bag", depth_units=0.001,
                            image_units=(0.0001,) * 3))
    assert f"'Depth Units' option ({OPTION}) says 0.001 m" in msg, msg
    assert f"depth_units its Image messages carry ({DEPTH}) 0.0001 m" in msg, msg
    assert "--depth-scale" in msg, msg
    # agreeing to float32's rounding (the option a float32 too): read, as before
    bag = _aligned(tmp_path / "same.bag", depth_units=0.0001, image_units=(1e-4,) * 3)
    assert BagSequence(bag, depth_topic=DEPTH).depth_units_per_m == 10000.0


@pytest.mark.parametrize("option", [None, 0.001])
def test_per_image_units_changing_mid_recording_are_refused(tmp_path, option):
    bag = _aligned(tmp_path / "rs.bag", depth_units=option, image_units=(0.001, 0.001, 0.0001))
    msg = _refusal(bag)
    assert ("depth_units of depth stream /device_0/sensor_0/Depth_0's Image messages changed "
            "during the recording (0.001 m, 0.0001 m;") in msg, msg
    assert "--depth-scale" in msg, msg
    assert BagSequence(bag, depth_topic=DEPTH, depth_scale=1000.0).depth_units_per_m == 1000.0


def test_images_with_unit_0_before_the_device_reports_one_are_read_with_the_later_unit(
        tmp_path, caplog):
    """No option recorded, the first depth image carrying 0 (librealsense's unset, written
    before the device reports its unit) and the later ones 0.1 mm: every depth image is read
    at 0.1 mm, the 0s counted in a warning (it was refused asking for --depth-scale)."""
    bag = _aligned(tmp_path / "rs.bag", depth_units=None, image_units=(0.0, 0.0001, 0.0001),
                   depth_raw=10000)
    with caplog.at_level("WARNING"):
        seq = BagSequence(bag, depth_topic=DEPTH)
    assert seq.depth_units_per_m == 10000.0
    frames = list(seq)
    assert len(frames) == 3 and all(np.all(f.depth_m == np.float32(1.0)) for f in frames)
    said = [r.getMessage() for r in caplog.records if "depth_units of 0" in r.getMessage()]
    assert len(said) == 1 and f"1 of the 3 depth images on {DEPTH}" in said[0], said
    assert "read with the unit the other 2 carry, 0.0001 m" in said[0], said
    assert "--depth-scale" in said[0], said
    # a later unit that changes is refused as before; all 0 is 'neither', as before
    bag = _aligned(tmp_path / "changed.bag", depth_units=None, image_units=(0.0, 0.001, 0.0001))
    assert "changed during the recording (0.001 m, 0.0001 m;" in _refusal(bag)
    # beside the option, a 0 is read with the option's unit without a word (as before)
    caplog.clear()
    bag = _aligned(tmp_path / "option.bag", depth_units=0.001, image_units=(0.0, 0.001, 0.001))
    with caplog.at_level("WARNING"):
        assert BagSequence(bag, depth_topic=DEPTH).depth_units_per_m == 1000.0
    assert not [r for r in caplog.records if "depth_units of 0" in r.getMessage()]
