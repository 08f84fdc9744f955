"""build-map with its defaults (the mast3r matcher, no checkpoint) builds a map without MASt3R
encodings: before, said only in an INFO line, while localize with the same defaults refuses.
Now a WARNING says what the map lacks and both fixes (--checkpoint, --matcher sift)."""

from __future__ import annotations

import logging
import types

from mast3r_ros.core.config import Config
from mast3r_ros.replay import map_build


def test_a_map_without_encodings_is_warned_about_with_both_fixes(tmp_path, caplog):
    writer = types.SimpleNamespace(tmp=str(tmp_path))  # no encodings folder: nothing unfinished
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        assert map_build.encode_map_keyframes(writer, Config(), map_build.BuildOptions()) is None
    said = [r for r in caplog.records if "no MASt3R encodings" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING, caplog.text
    text = said[0].getMessage()
    assert "--checkpoint PATH" in text and "--matcher sift" in text, text


def test_a_sift_build_is_not_warned_about(tmp_path, caplog):
    import dataclasses

    cfg = Config()
    cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher="sift"))
    writer = types.SimpleNamespace(tmp=str(tmp_path))
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        assert map_build.encode_map_keyframes(writer, cfg, map_build.BuildOptions()) is None
    assert "encodings" not in caplog.text
