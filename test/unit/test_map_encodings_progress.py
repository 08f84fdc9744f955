"""A localizer computing a map's missing keyframe encodings (a map built with another
checkpoint or image size, or with --matcher sift) showed one INFO line, 'computing them for N
keyframes', then nothing until the first frame: seconds a keyframe on a CPU, minutes to hours on
a large map. `encode_keyframes` now shows its progress in keyframes as every long step does (a
bar on a terminal, INFO lines off one). A fake clock and a stand-in engine, no network."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np

from mast3r_ros.core import progress_output
from mast3r_ros.core.matchers.map_encodings import encode_keyframes


class _Clock:
    """11 s later at each reading: every update is due a line."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        self.t += 11.0
        return self.t


class _Map:
    def __len__(self) -> int:
        return 3

    def image(self, i: int) -> np.ndarray:
        return np.full((32, 48, 3), i, np.uint8)


class _Engine:
    identity = "e5c7222f04daa5ea"

    def prepare(self, rgb, size):
        return SimpleNamespace(to_orig=np.eye(3))

    def encode(self, prep):
        return SimpleNamespace(to_numpy=lambda: {"feats": np.ones((4, 8), np.float32)})


def test_encoding_a_maps_keyframes_shows_progress_in_keyframes(monkeypatch, caplog):
    monkeypatch.setattr(progress_output, "_clock", _Clock())
    monkeypatch.setattr(progress_output, "_stderr_is_terminal", lambda: False)
    caplog.set_level(logging.INFO, logger="mast3r_ros")
    enc = encode_keyframes(_Map(), _Engine(), 224)
    assert len(enc.per_keyframe) == 3
    lines = [r.getMessage() for r in caplog.records if r.name == "mast3r_ros.progress"]
    assert lines and all(m.startswith("encoding the map's keyframes: ") for m in lines), lines
    assert lines[-1].startswith("encoding the map's keyframes: 3/3 keyframes, "), lines
