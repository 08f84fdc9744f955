"""Map loading behaviour pinned where a one-token change of `core.keyframes.loader` passed
every other map test."""

import os
import shutil

import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.errors import MapFormatError
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
