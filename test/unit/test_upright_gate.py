"""``gates.max_down_axis_deg``: an upside-down or sideways image is refused, not published turned
180 degrees about the optical axis (core/localizer/upright.py)."""

from __future__ import annotations

import numpy as np

from mast3r_ros.core.localizer.upright import down_axis_reason, map_down_axis


def _roll(deg, yaw_deg=0.0):
    """A level camera (x right, y down = map -z, z forward) yawed, then rolled about its z."""
    a, b = np.radians(deg), np.radians(yaw_deg)
    level = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # columns: x, y, z in map axes
    yaw = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    roll = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3] = yaw @ level @ roll
    return T


def test_a_level_map_has_a_down_and_a_turned_image_fails_naming_the_gate():
    kfs = np.stack([_roll(r, y) for r, y in [(0, 0), (10, 90), (-12, 200), (5, 300)]])
    down = map_down_axis(kfs)
    assert np.allclose(down, [0, 0, -1], atol=0.1)
    assert down_axis_reason(60, down, _roll(25, 45)) == ""  # tilted hand-held: passes
    reason = down_axis_reason(60, down, _roll(180, 30))
    # the words before " (" are the failure_reasons key: one key, whatever the angle
    assert reason.startswith("the image is upside down or sideways (17")
    assert "deg from the map keyframes' down direction" in reason
    assert "gates.max_down_axis_deg 60" in reason and "flip or rotate" in reason
    assert down_axis_reason(60, down, _roll(90)) != ""  # sideways
    assert down_axis_reason(0, down, _roll(180)) == ""  # 0 disables


def test_a_map_without_a_common_down_applies_no_gate():
    # a camera looking up at the ceiling while the robot turns: its down axis turns with it
    up = np.array([[1.0, 0, 0], [0, -1, 0], [0, 0, -1]])
    kfs = []
    for yaw in range(0, 360, 45):
        b = np.radians(yaw)
        T = np.eye(4)
        T[:3, :3] = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0],
                              [0, 0, 1]]) @ up
        kfs.append(T)
    assert map_down_axis(np.stack(kfs)) is None
    assert down_axis_reason(60, None, _roll(180)) == ""
    assert map_down_axis(np.zeros((0, 4, 4))) is None


def test_an_upside_down_query_is_refused_by_the_localizer(tum, sift_map):
    import dataclasses

    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.replay.tum import TumSequence

    cfg = config_from_params({"matcher": "sift"})
    seq = TumSequence(tum[1])
    results = {}
    with Localizer(KeyframeMap.load(sift_map), cfg.localizer, retrieval=cfg.retrieval) as loc:
        for i in (2, 7):
            f = seq[i]
            upside = dataclasses.replace(f, rgb=np.ascontiguousarray(f.rgb[::-1, ::-1]),
                                         stamp_ns=f.stamp_ns + 1)
            results[i] = (loc.localize(f), loc.localize(upside))
    assert all(r.success for r, _ in results.values())  # the upright frames localize
    for _, turned in results.values():
        assert not turned.success and turned.map_from_cam is None
        assert "gates.max_down_axis_deg" in turned.reason, turned.reason
