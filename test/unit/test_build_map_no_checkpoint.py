"""build-map with its defaults (the mast3r matcher, no checkpoint) builds a map without MASt3R
encodings: before, said only in an INFO line, while localize with the same defaults refuses.
Now a WARNING says what the map lacks and both fixes (--checkpoint, --matcher sift), once, and
before the recording is read (it came after every frame was: 4.7 s into a 50-frame folder)."""

from __future__ import annotations

import logging
import types

from mast3r_ros.core.config import Config
from mast3r_ros.replay import map_build


def test_a_map_without_encodings_is_warned_about_once_before_the_recording_is_read(
        tum, tmp_path, capsys, monkeypatch):
    from mast3r_ros.replay import cli

    opened, err = cli._open, []

    def _open(*args, **kwargs):  # the recording is found here, then read (a bag: indexed)
        load = kwargs["before_index"]  # the network's load: after SOURCE is found, before the read

        def loaded_then_said():
            load()
            err.append(capsys.readouterr().err)

        return opened(*args, **{**kwargs, "before_index": loaded_then_said})

    monkeypatch.setattr(cli, "_open", _open)
    assert cli.main(["build-map", tum[0], "--out", str(tmp_path / "map"), "--max-frames", "4",
                     "--log-level", "warning"]) == 0
    err.append(capsys.readouterr().err)
    before, after = err
    assert "[WARNING]" in before and "no MASt3R encodings" in before, before  # before the read
    assert "no MASt3R encodings" not in after, after  # and once: not again when encoding
    assert "--checkpoint PATH" in before and "--matcher sift" in before, before


def test_encoding_a_map_without_a_checkpoint_says_nothing_more(tmp_path, caplog):
    writer = types.SimpleNamespace(tmp=str(tmp_path))  # no encodings folder: nothing unfinished
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        assert map_build.encode_map_keyframes(writer, Config(), map_build.BuildOptions()) is None
    assert "encodings" not in caplog.text  # said before the recording was read


def test_a_sift_build_is_not_warned_about(tmp_path, caplog):
    import dataclasses

    cfg = Config()
    cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher="sift"))
    writer = types.SimpleNamespace(tmp=str(tmp_path))
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        assert map_build.encode_map_keyframes(writer, cfg, map_build.BuildOptions()) is None
    assert "encodings" not in caplog.text
