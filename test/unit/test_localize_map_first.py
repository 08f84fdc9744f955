"""``localize --map`` with no map there read the whole recording first (a new user's find): a
rosbag2 is indexed when opened (every message read: seconds to minutes), and the map was opened
only after that. A path that is no map folder (missing, a file, a plain folder, a recording, a
map copied without its manifest or with one cut short) is now refused before the indexing pass,
in the words of the map's own open; every error that came before the map's still does (an
earlier attempt checked the map first and put it before --stride, --groundtruth and the camera
file's own errors). A TUM folder's lists are read before the map as before: no image is."""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("rosbags", reason="rosbags is not installed (pip install rosbags)")

from rosbags.rosbag2 import StoragePlugin  # noqa: E402

from mast3r_ros.replay.cli import main  # noqa: E402
from mast3r_ros.replay.rosbag import BagSequence  # noqa: E402
from test_rosbag import rgbd_messages, write_bag  # noqa: E402


@pytest.fixture
def bag(tmp_path, monkeypatch):
    """A rosbag2 whose indexing pass (the long read) fails the test when it starts."""
    path = write_bag(tmp_path / "bag", StoragePlugin.MCAP, rgbd_messages())

    def indexed(self, reader):
        raise AssertionError("the rosbag2 was indexed before the --map was checked")
    monkeypatch.setattr(BagSequence, "_index", indexed)
    return str(path)


def _errors(capsys, argv):
    rc = main(argv + ["--log-level", "warning"])
    return rc, capsys.readouterr().err.strip().splitlines()


def _no_map(kind, tmp_path, tum, sift_map):
    """A --map path that is no map folder, of one ``kind``."""
    if kind == "missing":
        return str(tmp_path / "nomap")
    if kind == "file":
        return os.path.join(sift_map, "manifest.json")
    if kind == "plain-folder":
        (tmp_path / "plain").mkdir()
        (tmp_path / "plain" / "notes.txt").write_text("x")
        return str(tmp_path / "plain")
    if kind == "recording":
        return tum[0]
    copy = str(tmp_path / "copied_map")
    shutil.copytree(sift_map, copy)
    manifest = os.path.join(copy, "manifest.json")
    if kind == "copy-without-manifest":  # cp -r stopped before manifest.json
        os.remove(manifest)
    else:  # "manifest-cut-short": stopped while copying it
        with open(manifest, "rb") as fh:
            head = fh.read(200)
        with open(manifest, "wb") as fh:
            fh.write(head)
    return copy


@pytest.mark.parametrize("kind", ["missing", "file", "plain-folder", "recording",
                                  "copy-without-manifest", "manifest-cut-short"])
def test_a_map_path_that_is_no_map_is_refused_before_the_bag_is_indexed(
        bag, tum, sift_map, tmp_path, capsys, kind):
    given = _no_map(kind, tmp_path, tum, sift_map)
    # the words the map's open gives after the source is read (a TUM folder's run meets it
    # there still: its lists read, no image decoded)
    rc, late = _errors(capsys, ["localize", tum[1], "--map", given, "--out",
                                str(tmp_path / "run_tum"), "--matcher", "sift"])
    assert rc == 2 and len(late) == 1, late
    run = str(tmp_path / "run")
    rc, errors = _errors(capsys, ["localize", bag, "--map", given, "--out", run,
                                  "--matcher", "sift"])
    assert rc == 2 and errors == late, (errors, late)
    assert not os.path.exists(run) and not os.path.exists(run + ".partial")


@pytest.mark.parametrize("extra, said", [
    (["--stride", "0"], "--stride must be >= 1"),
    (["--max-frames", "-1"], "--max-frames must be >= 0"),
    (["--groundtruth", "nowhere.txt"], "--groundtruth nowhere.txt: no such file"),
    (["--sync-tolerance", "20"], "--sync-tolerance must be between 0 and 1 seconds"),
    (["--pose-frames", "map:"], "--pose-frames must be 'parent:child'"),
    (["--image-topic", "/nope"], "/nope"),
    (["--camera-info", "CAMERA"], "not valid YAML"),
], ids=["stride", "max-frames", "groundtruth", "sync-tolerance", "pose-frames", "image-topic",
        "camera-file"])
def test_the_errors_before_the_maps_still_come_first(bag, tmp_path, capsys, extra, said):
    """Each of these came before the map's refusal (the map was opened last): still so, with
    no map at --map and the bag not indexed."""
    camera = tmp_path / "cam.yaml"
    camera.write_text("image_width: [640\n")
    extra = [str(camera) if a == "CAMERA" else a for a in extra]
    rc, errors = _errors(capsys, ["localize", bag, "--map", str(tmp_path / "nomap"), "--out",
                                  str(tmp_path / "run"), "--matcher", "sift"] + extra)
    assert rc == 2 and len(errors) == 1 and said in errors[0], errors
    assert "nomap" not in errors[0], errors
