"""check-map reads each keyframe at the check's working width (`MapRecords(map, width)`): the
stored PNGs decoded (`KeyframeMap.stored_pixels`), reduced, then the depth converted to metres
and the colour to RGB, instead of converting the full-size images and reducing after (3-4 ms a
640x480 keyframe). The records, and so the report, must be the same, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.config import Config
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.map_check import MapRecords, check_keyframes, check_map
from mast3r_ros.replay.synthetic import default_intrinsics, render_frames

CFG = Config().map_check


def _map(tmp_path, w, h, n=4, name="m"):
    """A written map of the synthetic walk at w x h, depth with holes (0 stored)."""
    cam = default_intrinsics(w, h)
    frames = []
    for f in render_frames(40, cam, indices=range(0, 2 * n, 2)):
        depth = f.depth_m.astype(np.float32).copy()
        depth[::7, ::5] = np.nan
        frames.append((f.rgb, cam, f.map_from_cam, f.stamp_ns, depth))
    return kfm.write_map(str(tmp_path / name), frames, version=3)


@pytest.mark.parametrize("w, h, width", [(160, 120, 80), (161, 121, 80), (160, 120, 57),
                                         (160, 120, 160)])
def test_reduced_reads_equal_the_full_records_reduced(tmp_path, w, h, width):
    kmap = KeyframeMap.load(_map(tmp_path, w, h), lazy=True, check_files=False)
    fast, full = MapRecords(kmap, width), MapRecords(kmap)
    for i in range(len(full)):
        a, b = fast[i], full[i].reduced(width)
        assert a.rgb.dtype == b.rgb.dtype and np.array_equal(a.rgb, b.rgb)
        assert a.depth_m.dtype == b.depth_m.dtype
        assert np.array_equal(a.depth_m, b.depth_m, equal_nan=True)
        assert np.isnan(a.depth_m).any()
        ca, cb = a.intrinsics, b.intrinsics
        assert (ca.width, ca.height, ca.distortion_model) == (cb.width, cb.height,
                                                              cb.distortion_model)
        assert np.array_equal(ca.K, cb.K) and np.array_equal(ca.dist, cb.dist)
        assert a.camera_scale == b.camera_scale
        assert np.array_equal(a.map_from_cam, b.map_from_cam)
        assert (a.stamp_ns, a.label) == (b.stamp_ns, b.label)


def test_check_map_reads_reduced_and_reports_the_same(tmp_path, monkeypatch):
    """No full-size float depth or RGB is made (`depth`, `image` not called), every PNG still
    verified as it is read, and the report equals the check of the full-size records."""
    path = _map(tmp_path, 640, 480, n=3)
    full = check_keyframes(MapRecords(KeyframeMap.load(path)), CFG)
    kmap = KeyframeMap.load(path, lazy=True, check_files=False)
    for name in ("depth", "image"):
        monkeypatch.setattr(KeyframeMap, name, lambda self, i, _n=name: pytest.fail(_n))
    rep = check_map(kmap, CFG)
    assert (rep.verdict, rep.note) == (full.verdict, full.note)
    assert [vars(p) for p in rep.pairs] == [vars(p) for p in full.pairs]
    assert len(kmap._headers_checked) == 2 * len(kmap)  # each PNG checksummed when read


def test_both_reduced_reads_take_the_one_reduction(tmp_path, monkeypatch):
    """`KeyframeRecord.reduced` and `MapRecords`' reduced reads were two copies of the same
    resize code (area for the image, nearest for the depth, the intrinsics scaled), kept
    bit-identical only by the test above. Both now call `records._reduce`: the test above pins
    that reducing before the conversions (BGR -> RGB, stored units -> metres) gives the pixels
    of reducing after, not that two copies agree."""
    from mast3r_ros.core.map_check import records

    calls, real = [], records._reduce
    monkeypatch.setattr(records, "_reduce",
                        lambda *a: calls.append(a[0].shape) or real(*a))
    kmap = KeyframeMap.load(_map(tmp_path, 160, 120, n=2), lazy=True, check_files=False)
    MapRecords(kmap, 80)[0]
    MapRecords(kmap)[1].reduced(80)
    assert calls == [(120, 160, 3), (120, 160, 3)]
    rec = MapRecords(kmap)[0]
    assert rec.reduced(160) is rec and len(calls) == 3            # no wider: the record itself
