"""A TUM folder whose rgb.txt lists images that do not exist was logged as 'N images' and each
missing one found only when read (a frame skipped as unreadable, many minutes into a run). Every
listed file is now stat'ed when the folder is opened: 'N listed, M missing: first NAME', and the
frames are still skipped as unreadable when read (docs/maps.md: 'Frames that cannot be read')."""

from __future__ import annotations

import logging
import shutil

from mast3r_ros.replay.tum import TumSequence


def _folder(tum, tmp_path):
    folder = tmp_path / "query"
    shutil.copytree(tum[1], folder)
    rows = [ln.split() for ln in (folder / "rgb.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    return folder, rows


def test_missing_listed_images_are_counted_when_the_folder_opens(tum, tmp_path, caplog):
    folder, rows = _folder(tum, tmp_path)
    for _, name in rows[3:5]:
        (folder / name).unlink()
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        seq = TumSequence(folder, read_depth=False)
    said = [r.getMessage() for r in caplog.records]
    want = (f"{folder / 'rgb.txt'}: {len(rows)} colour images listed, 2 missing: first "
            f"{rows[3][1]} (each is skipped as an unreadable frame when it is read)")
    assert want in said, said
    assert any(f"{len(rows)} images (2 missing), depth not read" in m for m in said), said
    assert len(seq) == len(rows)  # not dropped: skipped as unreadable when read, as before


def test_missing_depth_images_are_counted_when_depth_is_read(tum, tmp_path, caplog):
    folder, _ = _folder(tum, tmp_path)
    depth = [ln.split()[1] for ln in (folder / "depth.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    (folder / depth[0]).unlink()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        TumSequence(folder)
    said = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"{folder / 'depth.txt'}: ") and "1 missing: first "
               f"{depth[0]}" in m for m in said), said


def test_a_complete_folder_says_nothing_of_missing_files(tum, tmp_path, caplog):
    folder, _ = _folder(tum, tmp_path)
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        TumSequence(folder)
    assert not any("missing" in r.getMessage() for r in caplog.records)
