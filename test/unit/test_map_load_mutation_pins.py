"""Map loading behaviour pinned where a one-token change of `core.keyframes.loader` passed
every other map test."""

import os
import shutil

import numpy as np
import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.errors import MapFormatError
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.keyframes import KeyframeMap
from test_keyframes import _keyframes, _manifest
from test_map_load import _edit


@pytest.mark.parametrize("version", [2, 3])
def test_a_retrieval_index_with_more_rows_than_keyframes_is_refused(tmp_path, version):
    """The thumbnail index of a 4-keyframe map copied into a 3-keyframe one (checksums
    updated, so only the row count is wrong) is refused as the reverse copy is: a row count
    other than the keyframe count, not only a smaller one (``<`` for ``!=`` passed)."""
    small = kfm.write_map(str(tmp_path / "small"), _keyframes(), version=version)
    big = kfm.write_map(str(tmp_path / "big"), _keyframes(n=4, seed=3), version=version)
    shutil.rmtree(os.path.join(small, "retrieval/thumbnail"))
    shutil.copytree(os.path.join(big, "retrieval/thumbnail"),
                    os.path.join(small, "retrieval/thumbnail"))
    files = _manifest(big)["files"]
    _edit(small, lambda m: m["files"].update(
        {k: v for k, v in files.items() if k.startswith("retrieval/thumbnail/")}))
    with pytest.raises(MapFormatError, match=r"retrieval/thumbnail/index.json: 4 rows for 3 "
                                             "keyframes"):
        KeyframeMap.load(small, lazy=True)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_distortion_with_some_zero_coefficients_is_listed_in_every_map_version(tmp_path,
                                                                                version):
    """`KeyframeMap.distortions` of a plumb_bob D with zero tangential terms is that D, and an
    all-zero D is no distortion, for the keyframe list of v1/v2 maps as for the v3 table (only
    v3 was tested: 'no coefficient non-zero' read as 'not all non-zero' passed)."""
    from test_query_distortion_check import RAW_D, _cam

    rng = np.random.default_rng(0)
    cams = [_cam(RAW_D), _cam([0.0] * 5)]
    kfs = [(rng.integers(0, 255, (c.height, c.width, 3), dtype=np.uint8), c,
            make_pose(np.eye(3), [float(i), 0.0, 0.0]), 10 * i,
            np.full((c.height, c.width), 2.0, np.float32)) for i, c in enumerate(cams)]
    kf_map = KeyframeMap.load(kfm.write_map(str(tmp_path / "map"), kfs, version=version))
    got = sorted((w, h, m, d.tolist()) for w, h, m, d in kf_map.distortions())
    assert got == [(640, 480, "", []), (640, 480, "plumb_bob", RAW_D)]
