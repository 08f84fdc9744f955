"""Pins of `image_codec.bayer_watch` (mutation audit docs/bench/mutation_cpu_2026-12-07zt): a
topic's image is judged as a Bayer mosaic only for a single-channel encoding and a 2-D array,
and the watch remembers ``max_keys`` streams, not one fewer."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from test_image_files_bayer import _colour_scene, _mosaic

from mast3r_ros.core.image_codec import bayer_watch
from mast3r_ros.core.image_codec.bayer_watch import BayerWatch, warn_bayer_stream


@pytest.fixture
def fresh_watch(monkeypatch):
    monkeypatch.setattr(bayer_watch, "_TOPIC_WATCH", BayerWatch())
    return bayer_watch


def _said(caplog):
    return [r.getMessage() for r in caplog.records if "raw Bayer colour mosaic" in r.getMessage()]


def test_only_single_channel_encodings_of_2d_arrays_are_judged(fresh_watch, caplog):
    mosaic = _mosaic(_colour_scene(seed=3))
    with caplog.at_level(logging.WARNING):
        warn_bayer_stream(mosaic, "rgb8", "cam")  # not a mono encoding: never judged
        warn_bayer_stream(mosaic[..., None], "mono8", "cam")  # not 2-D
        assert _said(caplog) == []
        assert fresh_watch._TOPIC_WATCH._counts == {}  # not even counted
        warn_bayer_stream(mosaic, "mono8", "cam")  # the same pixels as mono8: warned
    assert len(_said(caplog)) == 1


def test_the_watch_remembers_max_keys_streams():
    watch = BayerWatch(max_keys=2)
    watch.due("a")
    watch.said("a")
    watch.due("b")  # two streams: "a" is still remembered as warned about
    assert not watch.due("a")
    watch.due("c")  # a third: "b", the least recently seen, forgotten
    assert list(watch._counts) == ["a", "c"]


# mutation audit 2026-12-09g: the judgement's edges the tests above leave open

def _cells(main_diff: float, anti_diff: float, shape=(40, 48)) -> np.ndarray:
    """(H, W) uint8 of 2x2 cells [[a, b], [b + anti_diff, a + main_diff]], a and b varying
    smoothly: the diagonals differ by the given amounts (pixels)."""
    scene = _colour_scene(seed=7, shape=(shape[0] // 2, shape[1] // 2)).astype(np.float32)
    a, b = 60 + scene[..., 0] / 4, 60 + scene[..., 1] / 4
    out = np.empty(shape, np.float32)
    out[0::2, 0::2], out[1::2, 1::2] = a, a + main_diff
    out[0::2, 1::2], out[1::2, 0::2] = b, b + anti_diff
    return out.round().astype(np.uint8)


def test_the_mosaic_threshold_is_a_ratio_of_1_5_in_both_directions(monkeypatch):
    for ratios, said in (((1.5, 1.5), True), ((2.0, 9.0), True), ((1.49, 9.0), False),
                         ((9.0, 1.49), False)):
        monkeypatch.setattr(bayer_watch, "bayer_ratios", lambda image, r=ratios: r)
        assert bool(bayer_watch.bayer_like(np.zeros((8, 8), np.uint8))) is said, ratios


def test_the_ratios_are_along_rows_then_columns_of_any_shape():
    mosaic = _mosaic(_colour_scene(seed=3))
    assert bayer_watch.bayer_ratios(mosaic.T.copy()) is not None  # portrait: 160 x 120
    interlaced = np.repeat(_colour_scene(seed=3)[::2, :, 1], 2, axis=0)
    interlaced[1::2] //= 3  # every other row dark: along columns only
    rows, cols = bayer_watch.bayer_ratios(interlaced)
    assert cols > 1.5 > rows and bayer_watch.bayer_like(interlaced) == ""


def test_8x8_is_judged_7_is_not_and_a_faint_mosaic_is_judged():
    mosaic = _mosaic(_colour_scene(seed=3))
    assert bayer_watch.bayer_ratios(mosaic[:8, :8]) is not None
    assert bayer_watch.bayer_ratios(mosaic[:7, :8]) is None
    assert bayer_watch.bayer_ratios(mosaic[:8, :7]) is None
    faint = mosaic // 32  # 0..7: its mean prediction error under 1 grey level
    assert bayer_watch.bayer_ratios(faint) is not None


def test_line_pairs_keep_the_last_pair_and_at_most_32():
    assert list(bayer_watch._line_pairs(8)) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert len(bayer_watch._line_pairs(65)) == 64  # 32 pairs: every one
    assert len(bayer_watch._line_pairs(67)) <= 64  # 33 pairs: spread


def test_the_green_diagonal_is_told_at_0_8_of_the_other():
    enc = bayer_watch.bayer_encodings
    assert enc(_cells(10.0, 7.0)) == ("bayer_rggb8", "bayer_bggr8")
    assert enc(_cells(10.0, 9.0)) == ()
    assert enc(_cells(7.0, 10.0)) == ("bayer_grbg8", "bayer_gbrg8")
    assert enc(_cells(9.0, 10.0)) == ()
    assert enc(_cells(0.0, 0.0)) == ()  # equal diagonals: neither
    mosaic = _mosaic(_colour_scene(seed=4, shape=(121, 161)))  # odd sizes: cropped to even
    assert enc(mosaic) == ("bayer_rggb8", "bayer_bggr8")
    portrait = _mosaic(_colour_scene(seed=4, shape=(122, 121)))  # odd width, 61 row pairs
    assert enc(portrait) == ("bayer_rggb8", "bayer_bggr8")
    assert enc(mosaic.astype(np.float32)) == ()  # not judged: not uint8 / uint16
    grey = cv2.cvtColor(_colour_scene(seed=4), cv2.COLOR_BGR2GRAY)
    assert enc(grey) == ()


def test_a_watch_judging_every_image_and_a_short_first_run():
    for every in (0, 1):
        watch = BayerWatch(every=every, first_tries=0)
        assert all(watch.due("a") for _ in range(5))
    watch = BayerWatch(every=8, first_tries=5)
    assert [n + 1 for n in range(16) if watch.due("a")] == [1, 2, 3, 4, 5, 8, 16]


def test_the_default_watch_remembers_256_streams():
    for n, remembered in ((255, True), (256, False)):
        watch = BayerWatch()
        watch.said("s")
        for k in range(n):
            watch.due(k)
        assert watch.due("s") is not remembered


def test_nothing_to_say_is_an_empty_string():
    grey = cv2.cvtColor(_colour_scene(seed=2), cv2.COLOR_BGR2GRAY)
    watch = BayerWatch()
    assert warn_bayer_stream(grey, "rgb8", "cam", "/t", watch) == ""
    assert warn_bayer_stream(grey, "mono8", "cam", "/t", watch) == ""
    watch.said("k")
    assert watch.check("k", grey) == ""


def test_two_threads_judging_one_streams_images_warn_once(monkeypatch):
    """`check` judged a due image outside the lock and marked the stream said after: two
    threads judging its images at once (both images due, both mosaics) both got the reason,
    and the stream was warned about twice. The mark is now claimed under the lock."""
    import threading

    both_judging = threading.Barrier(2, timeout=10)

    def judged_together(_image):
        both_judging.wait()  # neither returns before the other has judged too
        return "a mosaic"

    monkeypatch.setattr(bayer_watch, "bayer_like", judged_together)
    watch, said = BayerWatch(), []
    image = np.zeros((8, 8), np.uint8)
    threads = [threading.Thread(target=lambda: said.append(watch.check("/cam", image)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(said) == ["", "a mosaic"] and watch.judgements == 2
