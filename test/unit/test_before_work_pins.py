"""The checks this stop added before long work (`KeyframeMap.check_folder`, localize's check
before a rosbag2 is indexed, `refuse_busy_output` through `check_partial_before_run`) and the
16UC1-as-colour warning, at the edges their tests leave open: a mutation audit's pins, each
failing with one mutation those tests let through."""

from __future__ import annotations

import os

import pytest
from test_keyframes import _keyframes

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.errors import MapFormatError


def _map(path):
    with kfm.MapWriter(str(path)) as w:
        for rgb, cam, pose, stamp, depth in _keyframes()[:1]:
            w.add_keyframe(rgb, cam, pose, stamp, depth)
        w.commit()
    return path


def test_check_folder_expands_a_tilde_as_load_does(tmp_path, monkeypatch):
    """``--map=~/site`` reaches the map open unexpanded (no shell expands it there)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    _map(tmp_path / "site")
    kfm.KeyframeMap.check_folder("~/site")
    kfm.KeyframeMap.load("~/site")
    with pytest.raises(MapFormatError) as e:
        kfm.KeyframeMap.check_folder("~/nowhere")
    assert f"map folder not found: {tmp_path / 'nowhere'} " in str(e.value)


@pytest.mark.parametrize("given", ["site", "site/"])
def test_a_missing_map_beside_its_build_says_how_to_resume_that_build(tmp_path, given):
    """The refusal's command resumes MAP (--out as given), not MAP.partial, and the trailing
    '/' of ``--map site/`` finds site.partial too (pathlib's ``tmp_path / "site/"`` drops it)."""
    os.mkdir(tmp_path / "site.partial")
    path = os.path.join(str(tmp_path), given)
    with pytest.raises(MapFormatError) as e:
        kfm.KeyframeMap.check_folder(path)
    assert f"{tmp_path / 'site.partial'} holds an interrupted build" in str(e.value)
    assert f"build-map SOURCE --out {path} --resume`" in str(e.value)


def test_a_live_writer_of_out_given_with_a_trailing_slash_is_named_first(tmp_path):
    """``--out run/`` names the folder whose lock (run.lock, beside it) a live run holds."""
    from test_output_lock import held_elsewhere

    from mast3r_ros.core.fileio import OutputBusyError
    from mast3r_ros.replay.run_resume import check_partial_before_run

    out = str(tmp_path / "run")
    with held_elsewhere(out) as pid:
        for given in (out + "/", os.path.relpath(out)):
            with pytest.raises(OutputBusyError, match=f"another writer \\(pid {pid}, "):
                check_partial_before_run(given, False, False)


def test_16uc1_images_of_each_frame_id_are_warned_about_once(monkeypatch, caplog):
    """Two cameras' depth topics given as colour: each frame id is said once, not only the
    first one seen."""
    from types import SimpleNamespace as NS

    import numpy as np

    from mast3r_ros.core import message_fields
    from mast3r_ros.core.said_once import SaidOnce

    monkeypatch.setattr(message_fields, "_DEPTH_ENCODED_FRAME_IDS", SaidOnce())
    a = np.full((4, 6), 2500, dtype="<u2")
    with caplog.at_level("WARNING", logger="mast3r_ros.core.message_fields"):
        for frame_id in ("left", "right", "left", "right"):
            message_fields.frame_from_image_message(NS(
                header=NS(stamp=NS(sec=1, nanosec=0), frame_id=frame_id), encoding="16UC1",
                height=4, width=6, step=12, is_bigendian=0, data=a.tobytes()), None)
    warned = [r.getMessage() for r in caplog.records if "REP-118" in r.getMessage()]
    assert [w.split("'")[1] for w in warned] == ["left", "right"], warned


@pytest.mark.parametrize("tf, extra, said", [
    (False, ["--pose-frames", "map"], "needs tf, but rosbag2"),
    (True, ["--camera-info-topic", "/nope"], "/nope"),
], ids=["pose-frames-without-tf", "camera-info-topic"])
def test_a_bags_own_refusals_still_come_before_the_maps(tmp_path, capsys, monkeypatch, tf,
                                                        extra, said):
    """The bag's topic and tf checks, which read no message, were made before the map's (the
    map was opened last); the map check sits after them, just before the indexing pass."""
    pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")
    from rosbags.rosbag2 import StoragePlugin
    from test_rosbag import rgbd_messages, write_bag

    from mast3r_ros.replay.cli import main
    from mast3r_ros.replay.rosbag import BagSequence

    msgs = [m for m in rgbd_messages() if tf or m[0] not in ("/tf", "/tf_static")]
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, msgs)

    def indexed(self, reader):
        raise AssertionError("the rosbag2 was indexed")
    monkeypatch.setattr(BagSequence, "_index", indexed)
    assert main(["localize", str(bag), "--map", str(tmp_path / "nomap"), "--out",
                 str(tmp_path / "run"), "--matcher", "sift", "--log-level", "warning"]
                + extra) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and said in errors[0] and "nomap" not in errors[0], errors
