"""Pin of `core.image_codec.files.read_image_file` that the mutation audit 2026-12-06i found
untested: a folder of 16-bit depth-like files (a TUM depth/ given as rgb/) is judged on its
first file and warned about once, not once per frame."""

from __future__ import annotations

import logging

from test_pair_depth_png import _depth_png, _warnings

from mast3r_ros.core.image_codec.files import read_image_file


def test_a_folder_of_depth_like_files_is_warned_about_once(tmp_path, caplog):
    """Three depth PNGs of one folder read as frames: one warning for 'DIR/*.png' (the check's
    `uint16 and ndim == 2 and first(source)` as `or` judged and warned every file)."""
    paths = [_depth_png(tmp_path / f"{k:04d}.png", seed=k) for k in range(3)]
    with caplog.at_level(logging.WARNING):
        for path in paths:
            read_image_file(path)
    said = [m for m in _warnings(caplog) if "looks like a depth image" in m]
    assert len(said) == 1, said
    assert said[0].startswith(f"{tmp_path}/*.png: ") and "(said once for these files)" in said[0]
