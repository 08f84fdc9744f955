"""Pins of `image_codec.bayer_watch` (mutation audit docs/bench/mutation_cpu_2026-12-07zt): a
topic's image is judged as a Bayer mosaic only for a single-channel encoding and a 2-D array,
and the watch remembers ``max_keys`` streams, not one fewer."""

from __future__ import annotations

import logging

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
