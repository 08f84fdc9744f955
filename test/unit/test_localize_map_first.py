"""``localize --map`` with no map there read the whole recording first (a new user's find): a
rosbag2 is indexed when opened (every message read: seconds to minutes), and the map was opened
only after that. A path that is no map folder (missing, a file, a plain folder, a recording, a
map copied without its manifest or with one cut short) is now refused before the indexing pass,
in the words of the map's own open; so is a map copied only in part (its manifest there, but
keyframes/ or retrieval/ missing, a keyframe file missing or empty), which was found only after
the bag was indexed; every error that came before the map's still does (an
earlier attempt checked the map first and put it before --stride, --groundtruth and the camera
file's own errors). A TUM folder's lists are now read after the map check too (no log line
before the one error: test_localize_bad_args_one_line)."""

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


def _partly_copied(kind, tmp_path, sift_map):
    """A copy of ``sift_map`` (v3: keyframe_table.npy, keyframes/, retrieval/thumbnail/) with
    its manifest but not all of its files, of one ``kind``."""
    copy = str(tmp_path / "partly_copied_map")
    shutil.copytree(sift_map, copy)
    if kind == "keyframes-missing":  # scp -r stopped after manifest.json
        shutil.rmtree(os.path.join(copy, "keyframes"))
    elif kind == "one-keyframe-missing":
        os.remove(os.path.join(copy, "keyframes", "000003.png"))
    elif kind == "retrieval-missing":  # the manifest names retrieval/thumbnail
        shutil.rmtree(os.path.join(copy, "retrieval"))
    elif kind == "keyframe-table-missing":
        os.remove(os.path.join(copy, "keyframe_table.npy"))
    else:  # "empty-file": created, never written
        open(os.path.join(copy, "keyframes", "000001_depth.png"), "wb").close()
    return copy


def _refused_before_indexing_as_the_open_says(given, bag, tum, tmp_path, capsys):
    """``localize BAG --map given``'s one line, checked to be what the map's own open says
    after a TUM folder's lists are read, with nothing written."""
    # the words the map's open gives after the source is read (a TUM folder's run meets it
    # there still: its lists read, no image decoded)
    rc, late = _errors(capsys, ["localize", tum[1], "--map", given, "--out",
                                str(tmp_path / "run_tum"), "--matcher", "sift"])
    assert rc == 2 and len(late) == 1 and given in late[0], late  # the map's refusal
    run = str(tmp_path / "run")
    rc, errors = _errors(capsys, ["localize", bag, "--map", given, "--out", run,
                                  "--matcher", "sift"])
    assert rc == 2 and errors == late, (errors, late)
    assert not os.path.exists(run) and not os.path.exists(run + ".partial")
    return errors[0]


@pytest.mark.parametrize("kind", ["missing", "file", "plain-folder", "recording",
                                  "copy-without-manifest", "manifest-cut-short"])
def test_a_map_path_that_is_no_map_is_refused_before_the_bag_is_indexed(
        bag, tum, sift_map, tmp_path, capsys, kind):
    given = _no_map(kind, tmp_path, tum, sift_map)
    _refused_before_indexing_as_the_open_says(given, bag, tum, tmp_path, capsys)


@pytest.mark.parametrize("kind, first, count", [
    ("keyframes-missing", "map folder missing: {map}/keyframes", "(24 map files missing"),
    ("one-keyframe-missing", "map file missing: {map}/keyframes/000003.png", ""),
    ("retrieval-missing", "map folder missing: {map}/retrieval", "(2 map files missing"),
    ("keyframe-table-missing", "map file missing: {map}/keyframe_table.npy", ""),
    ("empty-file", "map file truncated or corrupt (0 bytes, the map says ", ""),
])
def test_a_map_copied_only_in_part_is_refused_before_the_bag_is_indexed(
        bag, tum, sift_map, tmp_path, capsys, kind, first, count):
    """Its manifest read as a map's, so the early check passed it: the bag was indexed (every
    message read), then the map's open named the missing file."""
    given = _partly_copied(kind, tmp_path, sift_map)
    error = _refused_before_indexing_as_the_open_says(given, bag, tum, tmp_path, capsys)
    assert first.format(map=given) in error and count in error, error
    assert f"map {given} is incomplete (copied only in part?): rebuild it or copy it again" \
        in error, error


def test_a_complete_map_passes_the_check_and_the_bag_is_indexed(tum, sift_map, tmp_path,
                                                                monkeypatch, capsys):
    """The early check refuses no whole map: ``localize`` goes on to index the bag."""
    bag = write_bag(tmp_path / "bag", StoragePlugin.MCAP, rgbd_messages())

    class Indexed(Exception):
        pass

    def indexed(self, reader):
        raise Indexed
    monkeypatch.setattr(BagSequence, "_index", indexed)
    with pytest.raises(Indexed):
        main(["localize", str(bag), "--map", sift_map, "--out", str(tmp_path / "run"),
              "--matcher", "sift", "--log-level", "warning"])


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
