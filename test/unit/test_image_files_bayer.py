"""A raw Bayer mosaic (one colour a pixel, 2x2 pattern) saved as a grey image file is warned
about, once for a folder's files (its first 8 judged, then every 8th: `BayerWatch`) and for a
mono8 topic, naming the demosaic fix; grey pictures and 16-bit depth PNGs are not
(`core.image_codec.bayer_watch.bayer_like`). A bag's topics: test_rosbag_bayer.py; the node's
/diagnostics: test_ros_bayer_diagnostics.py."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from test_pair_depth_png import _depth_png, _warnings

from mast3r_ros.core.image_codec.files import bayer_like, read_image_file


def _colour_scene(seed=0, shape=(120, 160)):
    """(H, W, 3) uint8 BGR: smooth random colour blobs (each channel its own), like a scene."""
    rng = np.random.default_rng(seed)
    noise = rng.random((*shape, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 3)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).round().astype(np.uint8)


def _mosaic(bgr):
    """RGGB mosaic of ``bgr``: (H, W) of its dtype."""
    m = np.empty(bgr.shape[:2], bgr.dtype)
    m[0::2, 0::2], m[0::2, 1::2] = bgr[0::2, 0::2, 2], bgr[0::2, 1::2, 1]
    m[1::2, 0::2], m[1::2, 1::2] = bgr[1::2, 0::2, 1], bgr[1::2, 1::2, 0]
    return m


def _bayer_warnings(caplog):
    return [m for m in _warnings(caplog) if "raw Bayer colour mosaic" in m]


@pytest.mark.parametrize("bits", [8, 16])
def test_a_folder_of_bayer_mosaics_is_warned_about_once_naming_the_demosaic(tmp_path, caplog,
                                                                            bits):
    """Read as grey without a word before: SIFT and MASt3R ran on the mosaic."""
    paths = []
    # a folder of its own per case: on pytest 6.2 (the compat leg) a removed tmp_path's name is
    # given to the next test, and a folder's files read with no reader's watch (as here) are
    # judged once per process
    folder = tmp_path / f"rgb{bits}"
    folder.mkdir()
    for k in range(3):
        mosaic = _mosaic(_colour_scene(seed=k))
        if bits == 16:
            mosaic = mosaic.astype(np.uint16) * 257
        paths.append(str(folder / f"{k:04d}.png"))
        cv2.imwrite(paths[-1], mosaic)
    with caplog.at_level(logging.WARNING):
        for path in paths:
            rgb = read_image_file(path)
    assert rgb.shape == (120, 160, 3)  # still read: a warning, not a refusal
    said = _bayer_warnings(caplog)
    assert len(said) == 1, said
    assert said[0].startswith(f"{folder}/*.png: a single-channel image that looks like a "
                              "raw Bayer colour mosaic (its pixels are predicted "), said
    assert "cv2.COLOR_BayerBG2BGR" in said[0] and "image_proc debayer" in said[0]
    assert said[0].endswith("(said once for these files)")


def test_grey_pictures_depth_pngs_and_colour_files_are_not_called_mosaics(tmp_path, caplog):
    scene = _colour_scene(seed=5)
    grey = cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY)
    for sub, image in (("grey8", grey), ("grey16", grey.astype(np.uint16) * 257),
                       ("colour", scene)):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / "a.png"), image)
    (tmp_path / "depth").mkdir()
    _depth_png(tmp_path / "depth" / "a.png")  # a sensor's noisy depth with holes
    yy, xx = np.mgrid[0:120, 0:160]
    (tmp_path / "planes").mkdir()  # a rendered depth: planes, no noise
    cv2.imwrite(str(tmp_path / "planes" / "a.png"),
                np.where(xx < 80, 1000 + 3 * yy, 2500 - 2 * xx).astype(np.uint16))
    with caplog.at_level(logging.WARNING):
        for sub in ("grey8", "grey16", "colour", "depth", "planes"):
            read_image_file(tmp_path / sub / "a.png")
    assert _bayer_warnings(caplog) == []


def test_bayer_like_judges_single_channel_8_and_16_bit_images_only():
    mosaic = _mosaic(_colour_scene())
    assert bayer_like(mosaic) and bayer_like(mosaic.astype(np.uint16) * 257)
    assert bayer_like(mosaic.astype(np.float32)) == ""
    assert bayer_like(np.stack([mosaic] * 3, axis=2)) == ""
    assert bayer_like(mosaic[:6]) == ""  # too small to tell
    assert bayer_like(np.full((40, 40), 7, np.uint8)) == ""  # flat: nothing to predict
    # interlaced video: its rows alternate, its columns do not
    rows = cv2.GaussianBlur(cv2.cvtColor(_colour_scene(), cv2.COLOR_BGR2GRAY), (0, 0), 1)
    rows[1::2] //= 3
    assert bayer_like(rows) == ""


def test_a_folder_whose_first_file_is_grey_is_still_judged_further_on(tmp_path, caplog):
    """The folder was judged on its first file only: a first grey picture (a lens-cap frame, a
    calibration target) hid mosaics after it. Its 1st, 2nd, 4th, ... files are judged now."""
    folder = tmp_path / "greyfirst"
    folder.mkdir()
    cv2.imwrite(str(folder / "0000.png"), cv2.cvtColor(_colour_scene(seed=9),
                                                       cv2.COLOR_BGR2GRAY))
    for k in range(1, 5):
        cv2.imwrite(str(folder / f"{k:04d}.png"), _mosaic(_colour_scene(seed=k)))
    with caplog.at_level(logging.WARNING):
        for k in range(5):
            read_image_file(str(folder / f"{k:04d}.png"))
    said = _bayer_warnings(caplog)
    assert len(said) == 1 and said[0].startswith(f"{folder}/*.png: "), said


def test_the_watch_judges_a_stream_s_first_images_then_every_8th_until_it_warns():
    from mast3r_ros.core.image_codec.bayer_watch import BayerWatch

    watch = BayerWatch(max_keys=2)
    assert [n + 1 for n in range(40) if watch.due("a")] == [1, 2, 3, 4, 5, 6, 7, 8, 16, 24,
                                                            32, 40]
    watch.said("a")
    assert not any(watch.due("a") for _ in range(64))
    assert watch.due("b") and watch.due("c") and watch.due("a")  # "a" forgotten: anew


def test_a_folder_that_turns_into_mosaics_after_32_grey_files_is_warned(tmp_path, caplog):
    """Judged on its 1st, 2nd, 4th, ... 32nd, 64th file, a folder joined from a debayered
    recording (32 grey files) and a raw one (8 mosaics after them) went unwarned. Every 8th
    file is judged now: a run of 8 mosaics anywhere is caught."""
    folder = tmp_path / "joined"
    folder.mkdir()
    for k in range(40):
        scene = _colour_scene(seed=k, shape=(48, 64))
        cv2.imwrite(str(folder / f"{k:04d}.png"),
                    cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY) if k < 32 else _mosaic(scene))
    with caplog.at_level(logging.WARNING):
        for k in range(40):
            read_image_file(str(folder / f"{k:04d}.png"))
    said = _bayer_warnings(caplog)
    assert len(said) == 1 and said[0].startswith(f"{folder}/*.png: "), said


def test_the_watch_s_cost_is_bounded_and_a_later_run_of_mosaics_still_caught(monkeypatch):
    """Counted, not timed: 8 + n / 8 judgements for n images (0.3 ms each at 640x480 on a
    loaded 2-core CPU, docs/bench/bayer_watch_cpu_2026-12-09e), and 8 mosaics after 300 grey
    images are found (the doubling schedule judged none of images 257..511)."""
    from mast3r_ros.core.image_codec import bayer_watch

    calls = []
    real = bayer_watch.bayer_like
    monkeypatch.setattr(bayer_watch, "bayer_like", lambda image: calls.append(1) or real(image))
    grey = cv2.cvtColor(_colour_scene(seed=2, shape=(16, 16)), cv2.COLOR_BGR2GRAY)
    mosaic = _mosaic(_colour_scene(seed=3, shape=(16, 16)))
    watch = bayer_watch.BayerWatch()
    said = [bayer_watch.warn_bayer_stream(grey, "mono8", "cam", "/grey", watch)
            for _ in range(1000)]
    assert not any(said) and len(calls) == watch.judgements == 8 + (1000 - 8) // 8 == 132
    said = [bayer_watch.warn_bayer_stream(grey if k < 300 else mosaic, "mono8", "cam", "/late",
                                          watch) for k in range(308)]
    assert [k for k, text in enumerate(said) if text] == [303]  # its 304th image: 8 x 38
    assert len(calls) == watch.judgements == 132 + 8 + (304 - 8) // 8
    assert not any(bayer_watch.warn_bayer_stream(mosaic, "mono8", "cam", "/late", watch)
                   for _ in range(50))  # said once: judged no more
    assert len(calls) == 132 + 8 + (304 - 8) // 8


def test_a_judgement_reads_at_most_32_row_pairs_and_32_column_pairs():
    from mast3r_ros.core.image_codec.bayer_watch import _line_pairs, bayer_encodings

    rows = _line_pairs(480)
    assert len(rows) <= 64 and rows[0] == 0 and rows[1] == 1 and rows[-1] > 440
    assert (rows[1::2] - rows[0::2] == 1).all() and (rows[0::2] % 2 == 0).all()
    assert list(_line_pairs(9)) == [0, 1, 2, 3, 4, 5, 6, 7]
    # the mosaic's green pair on the anti-diagonal (RGGB, BGGR) or the diagonal (GRBG, GBRG)
    scene = _colour_scene(seed=4)
    assert bayer_encodings(_mosaic(scene)) == ("bayer_rggb8", "bayer_bggr8")
    assert bayer_encodings(_mosaic(scene)[:, 1:-1]) == ("bayer_grbg8", "bayer_gbrg8")
    assert bayer_encodings(_mosaic(scene).astype(np.uint16) * 257) == ("bayer_rggb16",
                                                                       "bayer_bggr16")
    assert bayer_encodings(np.zeros((4, 4), np.uint8)) == ()


@pytest.mark.parametrize("encoding", ["mono8", "mono16"])
def test_a_mono_topic_of_bayer_mosaics_is_warned_about_once(caplog, encoding):
    """A mono8 image message decoded without its source's watch (a caller other than the bag
    reader and the node, which pass their topic and watch) is judged by frame_id and encoding;
    the warning names the driver's Bayer encodings the mosaic's green diagonal allows."""
    from test_message_fields import image_msg

    from mast3r_ros.core.message_fields import frame_from_image_message

    def msg(pixels, frame_id):
        m = image_msg(encoding, pixels if encoding == "mono8"
                      else pixels.astype(np.uint16) * 257)
        m.header.frame_id = frame_id
        return m

    grey = cv2.cvtColor(_colour_scene(seed=7), cv2.COLOR_BGR2GRAY)
    with caplog.at_level(logging.WARNING):
        for k in range(6):
            frame_from_image_message(msg(_mosaic(_colour_scene(seed=k)), f"bayer_{encoding}"),
                                     None)
            frame_from_image_message(msg(grey, f"grey_{encoding}"), None)
    said = [m for m in _warnings(caplog) if "raw Bayer colour mosaic" in m]
    assert len(said) == 1, said
    assert said[0].startswith(f"{encoding} images of frame_id 'bayer_{encoding}' look like a "
                              "raw Bayer colour mosaic"), said
    bits = "8" if encoding == "mono8" else "16"
    assert "image_proc debayer" in said[0], said
    assert f"driver's encoding to its Bayer one (bayer_rggb{bits} or bayer_bggr{bits})" in said[0]


def test_each_read_of_a_folder_judges_its_mosaics_anew(tmp_path, caplog):
    """The folder watch was one of the process: a folder found a mosaic was never judged again,
    so reading it again in one process (build-map then localize of the same folder, a notebook
    reading it twice, `pair` of the same file twice) said nothing the second time. Now each
    reader (`TumSequence`, and EuRoC / KITTI through it) judges with a watch of its own, so
    each read of a folder says it once; a second folder is said too."""
    from test_tum import H, W, make_folder

    from mast3r_ros.replay.tum import TumSequence

    folders = []
    for name in ("a", "b"):
        folder = make_folder(tmp_path / name)
        for k in range(3):
            cv2.imwrite(str(folder / "rgb" / f"{k}.png"),
                        _mosaic(_colour_scene(seed=k, shape=(H, W))))
        folders.append(folder)
    said = []
    for folder in (folders[0], folders[0], folders[1]):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            frames = list(TumSequence(folder))
        assert len(frames) == 3 and frames[0].rgb.shape == (H, W, 3)
        said.append(_bayer_warnings(caplog))
    assert [len(s) for s in said] == [1, 1, 1], said
    assert said[1] == said[0] and said[2][0].startswith(f"{folders[1]}/rgb/*.png: ")
    one = str(folders[0] / "rgb" / "0.png")      # `pair`'s one file: said at each read of it
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_image_file(one, one_file=True)
        read_image_file(one, one_file=True)
    assert len(_bayer_warnings(caplog)) == 2
