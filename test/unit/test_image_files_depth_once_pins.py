"""Pin of `core.image_codec.files.read_image_file` that the mutation audit 2026-12-06i found
untested: a folder of 16-bit depth-like files (a TUM depth/ given as rgb/) is judged on its
first file and warned about once, not once per frame; and once each time it is read (in the
watch of its reader, as a Bayer-mosaic folder), not once a process; the 10- to 14-bit data
warning of a folder too."""

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


def test_each_read_of_a_depth_like_folder_says_it_once(tmp_path, caplog):
    """The depth check's record was one of the process (`files._DEPTH_LIKE_CHECKED`): the same
    folder read again in one process (build-map then localize of it, a notebook) said nothing
    ([1, 0, 1] for reads of a, a, b). Now it is kept in the reader's watch (`BayerWatch.first`),
    each `TumSequence` holding its own: [1, 1, 1]."""
    import cv2
    import numpy as np
    from test_tum import H, W, make_folder

    from mast3r_ros.replay.tum import TumSequence

    folders = []
    for name in ("a", "b"):
        folder = make_folder(tmp_path / name)
        for k in range(3):
            rng = np.random.default_rng(k)
            depth = rng.integers(800, 4500, size=(H, W)).astype(np.uint16)  # millimetres
            depth[rng.random(depth.shape) < 0.08] = 0                      # the sensor's holes
            cv2.imwrite(str(folder / "rgb" / f"{k}.png"), depth)
        folders.append(folder)
    said = []
    for folder in (folders[0], folders[0], folders[1]):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert len(list(TumSequence(folder))) == 3
        said.append([m for m in _warnings(caplog) if "looks like a depth image" in m])
    assert [len(s) for s in said] == [1, 1, 1], said
    assert said[1] == said[0] and said[2][0].startswith(f"{folders[1]}/rgb/*.png: ")


def test_each_read_of_a_twelve_bit_folder_says_it_once(tmp_path, caplog):
    """The 10- to 14-bit data warning of a folder had the same process-wide record
    (`raw._LOW_BIT_DEPTH_CHECKED`): a second read of it ([1, 0]) said nothing. It is kept in
    the reader's watch too."""
    import numpy as np

    from mast3r_ros.core.image_codec import BayerWatch

    for i in range(3):
        cv2_write(tmp_path / f"{i}.png", np.full((4, 6), 1000 + i, np.uint16))
    said = []
    for _ in range(2):                              # two readers (a TumSequence each)
        caplog.clear()
        watch = BayerWatch()
        with caplog.at_level(logging.WARNING):
            for i in range(3):
                read_image_file(tmp_path / f"{i}.png", bayer_watch=watch)
        said.append(len([m for m in _warnings(caplog) if "10/12-bit" in m]))
    assert said == [1, 1]


def cv2_write(path, image):
    import cv2

    assert cv2.imwrite(str(path), image)
