"""merge-maps of two builds of one recording, one read with --image-stamp header and one with
receive, kept each shared frame twice: copies are found by stamp and image, and the two builds
stamp one frame differently (its header stamp, its receive time). (Seen on a bag received 5 ms
after its header stamps: 4 + 4 keyframes merged into 8.) Maps that record different
image_stamp are now refused, naming both and the rebuild that matches them; --force merges
maps of different recordings, with a warning."""

from __future__ import annotations

from test_keyframes import _keyframes

from mast3r_ros.core.keyframes import KeyframeMap, MapWriter
from mast3r_ros.replay.cli import main

RECEIVED_LATER_NS = 5_000_000


def _map(path, image_stamp, shift_ns=0, recording="rosbag2"):
    """The same 3 keyframes (images, poses) stamped ``shift_ns`` later, recording
    ``image_stamp`` as build-map does for a bag (``recording`` None: as the previous release
    did for any recording); its folder."""
    with MapWriter(str(path)) as w:
        for rgb, cam, pose, stamp, depth in _keyframes(3, seed=0):
            w.add_keyframe(rgb, cam, pose, stamp + shift_ns, depth)
        w.set_manifest_field("image_stamp", image_stamp)
        if recording:
            w.set_manifest_field("recording", recording)
        w.commit()
    return str(path)


def _merge(tmp_path, capsys, b, *extra):
    a = str(tmp_path / "a") if (tmp_path / "a").exists() else _map(tmp_path / "a", "header")
    rc = main(["merge-maps", a, b, "--out", str(tmp_path / "ab"), "--log-level", "warning",
               *extra])
    return rc, capsys.readouterr().err.strip().splitlines()


def test_maps_read_with_different_image_stamp_are_refused_naming_both(tmp_path, capsys):
    b = _map(tmp_path / "b", "receive", RECEIVED_LATER_NS)
    rc, err = _merge(tmp_path, capsys, b)
    assert rc == 2 and len(err) == 1, err
    a = str(tmp_path / "a")
    assert (f"maps {a} (built from a recording read with image_stamp header) and {b} "
            "(image_stamp receive) time their keyframes differently") in err[0], err
    assert err[0].endswith(f"rebuild {b} with --image-stamp header (or {a} with receive), or "
                           "pass --force for maps of different recordings"), err
    assert not (tmp_path / "ab").exists()


def test_force_merges_them_with_a_warning_and_one_setting_drops_the_copies(tmp_path, capsys):
    rc, err = _merge(tmp_path, capsys, _map(tmp_path / "b", "receive", RECEIVED_LATER_NS),
                     "--force")
    assert rc == 0 and any("--force: merged as maps of different recordings" in line
                           for line in err), err
    assert len(KeyframeMap.load(str(tmp_path / "ab")).keyframes) == 6
    rc, err = _merge(tmp_path, capsys, _map(tmp_path / "c", "header"), "--overwrite")
    assert rc == 0 and len(KeyframeMap.load(str(tmp_path / "ab")).keyframes) == 3, err


def test_an_older_folder_map_s_header_does_not_refuse_a_receive_map(tmp_path, capsys):
    """The previous release recorded image_stamp header for a folder's map too (no choice
    there): merge-maps refused it with a bag map read with receive."""
    _map(tmp_path / "a", "header", recording=None)
    rc, err = _merge(tmp_path, capsys, _map(tmp_path / "b", "receive", RECEIVED_LATER_NS))
    assert rc == 0 and not any("time their keyframes differently" in line for line in err), err
