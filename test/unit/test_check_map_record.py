"""`check-map MAP --record` gives a map without a lens-distortion figure its figure
(`replay.check_map_record`). A map built before build-map recorded ``consistency.distortion``
had no way to get it but a rebuild: check-map computed it and wrote it only to ``--json``, so
a run against that map could only mark rectified-looking poses "published, degraded", never
refuse them (`distortion_run_gate.map_images_right`)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.check_map_record import record_distortion

FIGURE = {"fx_px": 525.0, "given_k1": 0.0, "k1": -0.01, "frames_used": 7, "off": False}


@pytest.fixture
def old_map(sift_map, tmp_path):
    """The shared SIFT map copied, its manifest without the distortion figure (an older
    build's)."""
    out = str(tmp_path / "old")
    shutil.copytree(sift_map, out)
    path = os.path.join(out, "manifest.json")
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    assert "distortion" in manifest["consistency"]  # build-map records it today
    del manifest["consistency"]["distortion"]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
    return out


def _manifest(path):
    with open(os.path.join(path, "manifest.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_record_adds_the_figure_the_check_computed_and_nothing_else(old_map, sift_map,
                                                                     tmp_path, capsys):
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.replay.cli import main

    before = _manifest(old_map)
    js = tmp_path / "check.json"
    assert main(["check-map", old_map, "--record", "--json", str(js)]) == 0
    out = capsys.readouterr().out
    after = _manifest(old_map)
    figure = json.loads(js.read_text())["distortion"]
    assert after["consistency"]["distortion"] == figure
    del after["consistency"]["distortion"]
    assert after == before  # the rest of the manifest as it was
    assert (f"{old_map}: recorded its lens-distortion figure (k1 " in out
            and "in manifest.json (consistency.distortion, added)" in out), out
    KeyframeMap.load(old_map)  # still a map
    assert main(["check-map", old_map, "--record"]) == 0  # again: the same figure, unchanged
    assert "already records this distortion figure: unchanged" in capsys.readouterr().out
    assert sorted(os.listdir(old_map)) == sorted(os.listdir(sift_map))  # no file left over


def test_without_record_the_manifest_is_not_touched(old_map):
    from mast3r_ros.replay.cli import main

    before = open(os.path.join(old_map, "manifest.json"), "rb").read()
    assert main(["check-map", old_map]) == 0
    assert open(os.path.join(old_map, "manifest.json"), "rb").read() == before


def _one_file_map(tmp_path, manifest):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return str(folder)


def test_a_manifest_changed_while_checked_is_refused_and_left_as_it_is(tmp_path):
    read = {"format": "x", "consistency": {"verdict": "consistent"}}
    folder = _one_file_map(tmp_path, dict(read, rebuilt=True))
    before = (tmp_path / "m" / "manifest.json").read_bytes()
    with pytest.raises(InputError, match="changed while the map was checked"):
        record_distortion(folder, read, FIGURE)
    assert (tmp_path / "m" / "manifest.json").read_bytes() == before


def test_no_figure_records_nothing_and_says_why(tmp_path):
    read = {"format": "x", "consistency": {"verdict": "consistent"}}
    folder = _one_file_map(tmp_path, read)
    said = record_distortion(folder, read, None)
    assert said.startswith(f"{folder}: nothing recorded: no keyframe pair could be fitted")
    assert json.loads((tmp_path / "m" / "manifest.json").read_text()) == read


def test_a_failed_write_leaves_the_old_manifest_and_no_temporary_file(tmp_path, monkeypatch):
    read = {"format": "x", "consistency": {"verdict": "consistent"}}
    folder = _one_file_map(tmp_path, read)
    before = (tmp_path / "m" / "manifest.json").read_bytes()

    def full_disk(*a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        record_distortion(folder, read, FIGURE)
    assert (tmp_path / "m" / "manifest.json").read_bytes() == before
    assert os.listdir(folder) == ["manifest.json"]


def test_a_manifest_unreadable_now_is_refused(tmp_path):
    read = {"format": "x"}
    folder = _one_file_map(tmp_path, read)
    (tmp_path / "m" / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot be read again"):
        record_distortion(folder, read, FIGURE)


def test_record_of_a_map_not_there_or_a_file_is_the_maps_own_refusal(tmp_path, capsys):
    """--record's writability probe ran before the map was opened: a missing map was told
    "the folder ... does not exist (create it, ...)", a file given as the map "choose another
    --record: the map's"; the map's own refusal comes first now, nothing written."""
    from mast3r_ros.replay.cli import main

    missing = tmp_path / "nomap"
    assert main(["check-map", str(missing), "--record"]) == 2
    err = capsys.readouterr().err
    assert "map folder not found" in err and "create it" not in err, err
    assert not missing.exists()
    a_file = tmp_path / "m.txt"
    a_file.write_text("not a map\n")
    assert main(["check-map", str(a_file), "--record"]) == 2
    err = capsys.readouterr().err
    assert "map path is a file, not a map folder" in err and "--record" not in err, err


def test_record_into_a_map_folder_taking_no_file_says_what_to_do(old_map, capsys,
                                                                  monkeypatch):
    """A map folder on a read-only mount (or ``chattr +i``) was told "choose another --record:
    the map's on a file system you can write to": --record is a switch. Refused before the
    check, in words that fit it; the manifest untouched."""
    import errno
    import tempfile

    from mast3r_ros.replay.cli import main

    real = tempfile.mkstemp

    def read_only(*args, **kwargs):
        if os.path.abspath(str(kwargs.get("dir") or "")) == os.path.abspath(old_map):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    before = _manifest(old_map)
    assert main(["check-map", old_map, "--record"]) == 2
    err = capsys.readouterr().err
    assert (f"--record: cannot replace manifest.json in the map folder {old_map} (Read-only "
            "file system): nothing checked; run check-map without --record" in err), err
    assert "choose another" not in err and err.count("\n") == 1, err
    assert _manifest(old_map) == before
