"""EuRoC and KITTI folders whose listed images do not exist were logged as 'N images' and each
missing one found only when read (a frame skipped as unreadable, minutes into a run), while a
TUM folder says so when it opens (test_tum_missing_listed). They now say it the same way,
through the same helper (`tum_paths.warn_missing_listed`)."""

from __future__ import annotations

import logging

from test_euroc_source import T0, euroc_tree
from test_kitti_source import kitti_tree

from mast3r_ros.replay.sources import open_source


def _said(caplog):
    return [r.getMessage() for r in caplog.records]


def test_an_euroc_camera_missing_listed_images_says_so_when_it_opens(tmp_path, caplog):
    cam = euroc_tree(tmp_path)
    for i in (2, 3):
        (cam / "data" / f"{T0 + i * 50_000_000}.png").unlink()
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        source = open_source(str(cam))
    want = (f"{cam / 'data.csv'}: 5 images listed, 2 missing: first data/"
            f"{T0 + 100_000_000}.png (each is skipped as an unreadable frame when it is read)")
    assert want in _said(caplog), _said(caplog)
    assert any("5 images (2 missing), no depth" in m for m in _said(caplog)), _said(caplog)
    assert len(source.stamps_ns) == 5  # not dropped: skipped as unreadable when read


def test_a_kitti_sequence_missing_images_says_so_when_it_opens(tmp_path, caplog):
    seq = kitti_tree(tmp_path)
    (seq / "image_0" / "000001.png").unlink()
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        open_source(str(seq))
    want = (f"{seq / 'times.txt'}: 4 image_0 images (one a line) listed, 1 missing: first "
            "image_0/000001.png (each is skipped as an unreadable frame when it is read)")
    assert want in _said(caplog), _said(caplog)
    assert any("4 images (1 missing), no depth" in m for m in _said(caplog)), _said(caplog)


def test_complete_euroc_and_kitti_folders_say_nothing_of_missing_files(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        open_source(str(euroc_tree(tmp_path / "e")))
        open_source(str(kitti_tree(tmp_path / "k")))
    assert not any("missing" in m for m in _said(caplog)), _said(caplog)
