"""build-map --stereo-depth on an EuRoC folder read cam0's sensor.yaml twice (for the frames'
intrinsics, then again for the stereo pair), so its 'read as an EuRoC/ASL sensor.yaml' INFO
line was logged twice. It is read once; cam1's once."""

from __future__ import annotations

import logging

from test_stereo_depth import STEREO, euroc_stereo_tree

from mast3r_ros.replay.sources import open_source


def test_each_sensor_yaml_is_said_once(tmp_path, caplog):
    root, _ = euroc_stereo_tree(tmp_path)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        open_source(str(root), STEREO)
    said = [r.getMessage() for r in caplog.records if "read as" in r.getMessage()]
    assert sum("cam0" in m for m in said) == 1, said
    assert sum("cam1" in m for m in said) == 1, said
