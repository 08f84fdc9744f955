"""Regressions a review of one day's changes found (each test fails on the code before its fix)."""

from __future__ import annotations

import os

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.keyframes import KeyframeMap

from test_keyframes import _encodings, _keyframes


def test_encodings_are_cached_into_a_map_whose_manifest_has_a_bom(tmp_path):
    """`KeyframeMap.load` accepts a manifest a Windows editor saved with a UTF-8 BOM, but the
    'map unchanged since it was loaded' check read it as plain UTF-8 text: json refused the
    BOM, the map counted as changed, and a localizer never cached its encodings (recomputed at
    every start; the log blamed another process)."""
    path = kfm.write_map(str(tmp_path / "map"), _keyframes())
    manifest = os.path.join(path, "manifest.json")
    with open(manifest, "rb") as fh:
        data = fh.read()
    with open(manifest, "wb") as fh:
        fh.write(b"\xef\xbb\xbf" + data)
    assert KeyframeMap.load(path).save_encodings(_encodings("ckptA"))
    assert KeyframeMap.load(path).encoding_store("ckptA", 224) is not None


def test_a_tail_a_hundred_times_sigma_is_written_as_a_plain_number():
    """The tail verdict formatted its ratio with '.2g': 150x read '~1.5e+02x sigma'."""
    from mast3r_ros.replay.metrics import CHI2_3DOF_95, calibration_verdict

    assert calibration_verdict(2.37, CHI2_3DOF_95 * 150.0 ** 2).endswith("~150x sigma")
    assert calibration_verdict(2.37, CHI2_3DOF_95 * 39.0 ** 2).endswith("~39x sigma")
    assert calibration_verdict(2.37, CHI2_3DOF_95 * 3.4 ** 2).endswith("~3.4x sigma")
