"""Files and SOURCE folders the user may not read (permission denied: a recording copied as
another user, a mount with other owners).

A colour or depth image that cannot be opened is an unreadable frame, like an empty or
truncated one (skipped by build-map and localize, named, counted), not the end of the build with
"cannot use path ... (check the paths given)"; a SOURCE folder that cannot be listed is named as
such, not as a ``mav0/cam0/data.csv`` it does not hold. The tests may run as root, whom chmod
does not stop, so `_deny` refuses the opens as chmod 000 does for another user; the chmod test
itself runs where the tests are not root.
"""
from __future__ import annotations

import builtins
import errno
import json
import os
import shutil

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.sources import open_source
from mast3r_ros.replay.tum import TumSequence

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _deny(monkeypatch, *paths):
    """open() and os.listdir() of ``paths`` raise PermissionError, as for a chmod 000 file."""
    denied = {os.path.abspath(p) for p in paths}
    real_open, real_listdir = builtins.open, os.listdir

    def is_denied(p):
        return isinstance(p, (str, os.PathLike)) and os.path.abspath(p) in denied

    def fake_open(file, *args, **kwargs):
        if is_denied(file):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def fake_listdir(path="."):
        if is_denied(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "listdir", fake_listdir)


def test_tum_image_that_cannot_be_opened_is_an_unreadable_frame_naming_it(tum, monkeypatch):
    frames = TumSequence(tum[1])
    rgb, depth = frames._rgb_paths[1], frames._depth_paths[2]
    _deny(monkeypatch, rgb, depth)
    with pytest.raises(InputError) as rgb_err:
        frames[1]
    assert str(rgb_err.value) == f"cannot read colour image {rgb}: Permission denied"
    with pytest.raises(InputError) as depth_err:
        frames[2]
    assert str(depth_err.value) == f"cannot read depth image {depth}: Permission denied"
    assert frames[3].rgb.shape == (240, 320, 3)  # the others read as before


def test_build_map_skips_a_colour_image_it_may_not_read(tum, tmp_path, monkeypatch, capsys):
    src = tmp_path / "rec"
    shutil.copytree(tum[0], src)
    first = TumSequence(str(src))._rgb_paths[0]
    _deny(monkeypatch, first)
    out = tmp_path / "map"
    assert main(["build-map", str(src), "--out", str(out), "--matcher", "sift",
                 "--log-level", "error"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert "Permission denied" in json.dumps(manifest["unreadable_frames"])
    assert "unreadable" in capsys.readouterr().out


def test_source_folder_that_cannot_be_listed_is_named(tum, tmp_path, monkeypatch):
    src = tmp_path / "rec"
    shutil.copytree(tum[0], src)
    _deny(monkeypatch, src)
    with pytest.raises(InputError) as err:
        open_source(str(src))
    assert str(err.value) == (f"cannot read the folder {src}: Permission denied (SOURCE must be "
                              "readable by this user: check its permissions)")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads a chmod 000 file")
def test_chmod_000_colour_image_is_an_unreadable_frame(tum, tmp_path):
    src = tmp_path / "rec"
    shutil.copytree(tum[1], src)
    frames = TumSequence(str(src))
    os.chmod(frames._rgb_paths[1], 0)
    try:
        with pytest.raises(InputError, match="cannot read colour image .*: Permission denied"):
            frames[1]
    finally:
        os.chmod(frames._rgb_paths[1], 0o644)


def test_rosbag2_it_may_not_read_is_not_sent_to_reindex(tmp_path):
    """rosbags' refusals of a bag this user may not read (a PermissionError for metadata.yaml,
    AnyReaderError's text for a storage file): no 'ros2 bag reindex' or 'mcap recover' advice,
    which would rewrite a bag that is whole; the permissions named instead."""
    from rosbags.highlevel import AnyReaderError

    from mast3r_ros.replay.rosbag.opening import _open_hint

    bag = tmp_path / "bag"
    bag.mkdir()
    meta = PermissionError(errno.EACCES, "Permission denied", str(bag / "metadata.yaml"))
    storage = AnyReaderError(f"Could not open file '{bag}/bag.mcap': Permission denied.")
    for err in (meta, storage):
        hint = _open_hint(bag, err)
        assert "reindex" not in hint and "recover" not in hint
        assert hint == " (this user may not read it: check the permissions of the bag's files)"


def test_map_not_replaced_is_not_said_to_be_replaced(tum, sift_map, tmp_path, monkeypatch,
                                                      capsys):
    """build-map --overwrite over a map this user may not replace (a folder of another owner):
    the warning that the replaced map's cached encodings are lost comes only once it was
    replaced, not before the refusal that leaves it as it was."""
    from mast3r_ros.core.keyframes import writer

    out = tmp_path / "map"
    shutil.copytree(sift_map, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["encodings"] = [{"identity": "feedbeef" * 8, "image_size": 224}]
    (out / "manifest.json").write_text(json.dumps(manifest))

    def refuse(src, dst, overwrite):
        raise PermissionError(errno.EACCES, "Permission denied", dst)

    monkeypatch.setattr(writer, "publish_folder", refuse)
    assert main(["build-map", tum[0], "--out", str(out), "--overwrite", "--matcher", "sift",
                 "--log-level", "warning"]) == 2
    assert "feedbeef" in (out / "manifest.json").read_text()  # the old map kept
    refused = capsys.readouterr().err
    assert "Permission denied" in refused
    assert "cached encodings this one does not" not in refused
    monkeypatch.undo()
    assert main(["build-map", tum[0], "--out", str(out), "--overwrite", "--matcher", "sift",
                 "--log-level", "warning"]) == 0
    said = capsys.readouterr().err
    assert "the map replaced at" in said and "feedbeef" in said


def test_map_whose_manifest_this_user_may_not_read_is_named(sift_map, tmp_path, monkeypatch,
                                                            capsys):
    """check-map and localize of a map this user may not read: one line naming the map and
    its permissions, not 'cannot use path ... (check the paths given)'."""
    out = tmp_path / "map"
    shutil.copytree(sift_map, out)
    _deny(monkeypatch, out / "manifest.json")
    assert main(["check-map", str(out), "--log-level", "error"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mast3r-ros check-map: error: cannot read the map {out}: "
                   f"{out / 'manifest.json'}: Permission denied (check the map's permissions: "
                   "this user may not read it)")


def test_sqlite3_bag_it_may_not_read_names_the_permissions(tmp_path, monkeypatch):
    """A ``.db3`` this user may not read: SQLite (through rosbags) says only 'unable to open
    database file'; the refusal names the permissions, as it does for an MCAP file."""
    from rosbags.highlevel import AnyReaderError

    from mast3r_ros.replay.rosbag.opening import _open_hint

    bag = tmp_path / "bag"
    bag.mkdir()
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    (bag / "bag.db3").write_bytes(b"SQLite format 3\0")
    err = AnyReaderError(f"Cannot open database {bag}/bag.db3: unable to open database file")
    assert _open_hint(bag, err) == ""  # readable: nothing said about permissions
    _deny(monkeypatch, bag / "bag.db3")
    for given in (bag, bag / "bag.db3"):  # the folder, or the file given alone
        assert _open_hint(given, err) == (" (this user may not read it: check the permissions "
                                          "of the bag's files)")


@pytest.mark.parametrize("name", ["keyframes/000000.png", "keyframe_table.npy"])
def test_map_file_this_user_may_not_read_is_not_called_damaged(sift_map, tmp_path, monkeypatch,
                                                               capsys, name):
    """A keyframe PNG or the keyframe table of another owner: whole, so check-map does not say
    'missing, truncated or corrupt ... rebuild the map or re-copy the files'; the permissions
    are named."""
    out = tmp_path / "map"
    shutil.copytree(sift_map, out)
    _deny(monkeypatch, out / name)
    assert main(["check-map", str(out), "--log-level", "error"]) == 2
    said = capsys.readouterr()
    line = (f"map file unreadable: {out / name}: Permission denied (check the map's "
            "permissions: this user may not read it)")
    assert line in said.out + said.err
    assert "rebuild" not in said.err and "corrupt" not in said.err


def test_map_folder_this_user_may_not_open_is_not_called_missing(tum, sift_map, tmp_path,
                                                                  monkeypatch, capsys):
    """A map's keyframes/ of another owner (chmod 700 by someone else): was 'map folder
    missing: ...; map ... is incomplete (copied only in part?): rebuild it or copy it again'.
    Neither the folder nor a file in it can be opened or stat'ed."""
    out = tmp_path / "map"
    shutil.copytree(sift_map, out)
    denied, real_open, real_stat = os.path.abspath(out / "keyframes"), os.open, os.stat

    def fake_open(path, *args, **kwargs):
        if os.path.abspath(path) == denied or os.path.dirname(os.path.abspath(path)) == denied:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def fake_stat(path, *args, **kwargs):  # no search permission: no file in it is reached
        if isinstance(path, (str, os.PathLike)) and not kwargs.get("dir_fd") and \
                os.path.dirname(os.path.abspath(path)) == denied:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "stat", fake_stat)
    for command in (["check-map", str(out)],
                    ["localize", tum[1], "--map", str(out), "--out",
                     str(tmp_path / "run"), "--matcher", "sift"]):
        assert main([*command, "--log-level", "error"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith(f"error: map folder unreadable: {out / 'keyframes'}: Permission "
                            "denied (check the map's permissions: this user may not read it)")


def test_map_folders_this_user_may_enter_but_not_list_are_read(tum, sift_map, tmp_path,
                                                               monkeypatch, capsys):
    """A map whose folders are mode 0711 (another owner's: entered, not listed): every map file
    is known by name from the manifest and the tables, and each opens, but check-map and
    localize refused the map as 'map folder unreadable'. Opening or listing a folder is denied
    here as 0711 denies it to another user; the files in it stay reachable by name."""
    out = tmp_path / "map"
    shutil.copytree(sift_map, out)
    folders = {os.path.abspath(d) for d, _, _ in os.walk(out)}
    real_open, real_listdir, real_scandir = os.open, os.listdir, os.scandir

    def denied(path):
        if isinstance(path, (str, os.PathLike)) and os.path.abspath(path) in folders:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

    def fake_open(path, flags, *args, **kwargs):
        if not kwargs.get("dir_fd") and not flags & getattr(os, "O_PATH", 0):
            denied(path)
        return real_open(path, flags, *args, **kwargs)

    def fake_listdir(path="."):
        denied(path)
        return real_listdir(path)

    def fake_scandir(path="."):
        denied(path)
        return real_scandir(path)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "listdir", fake_listdir)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    capsys.readouterr()
    assert main(["check-map", str(out), "--log-level", "error"]) == 0, capsys.readouterr().err
    assert "map consistent" in capsys.readouterr().out
    assert main(["localize", tum[1], "--map", str(out), "--out", str(tmp_path / "run"),
                 "--matcher", "sift", "--max-frames", "2", "--log-level", "error"]) == 0, \
        capsys.readouterr().err
