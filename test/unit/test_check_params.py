"""`mast3r-ros check-params FILE`: a node parameter file checked offline with the validation
every --params goes through (before, the only way was `localize /nonexistent --out X --params
FILE`, refused for the file before the missing recording: undocumented, and a hack)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from mast3r_ros.replay.cli import main

ROOT = Path(__file__).resolve().parents[2]
ROBOTS = ("/robot1/mast3r_localizer:\n  ros__parameters:\n    max_keyframes: 3\n"
          "/robot2/mast3r_localizer:\n  ros__parameters:\n    max_keyframe: 3\n")


def _run(capsys, *argv):
    rc = main(["check-params", *argv, "--log-level", "error"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_shipped_file_is_valid_and_changes_nothing(capsys):
    rc, out, err = _run(capsys, str(ROOT / "config" / "localize.yaml"))
    assert (rc, err) == (0, "")
    assert "valid for node mast3r_localizer" in out and "0 parameters differ" in out, out


@pytest.mark.parametrize("ns, rc, said", [
    ("robot1", 0, "valid for node /robot1/mast3r_localizer; 1 parameter differs from the "
                  "defaults: max_keyframes"),
    ("/robot2", 2, "unknown parameter 'max_keyframe' (did you mean 'max_keyframes'?)"),
    ("robot3", 2, "pass --namespace one of: robot1, robot2"),
    (None, 2, "robot1"),  # two robots' blocks: which one?
])
def test_a_robots_blocks_are_checked_as_that_node_gets_them(tmp_path, capsys, ns, rc, said):
    f = tmp_path / "robots.yaml"
    f.write_text(ROBOTS)
    got, out, err = _run(capsys, str(f), *(["--namespace", ns] if ns else []))
    assert got == rc, (out, err)
    text = out if rc == 0 else err
    assert said in text and text.count("\n") == 1, text
    if rc:
        assert text.startswith("mast3r-ros check-params: error: ") and out == ""


def test_a_renamed_node_is_checked_under_its_name(tmp_path, capsys):
    f = tmp_path / "cam2.yaml"
    f.write_text("cam2_localizer:\n  ros__parameters:\n    max_keyframes: 4\n")
    assert _run(capsys, str(f))[0] == 2  # no block for mast3r_localizer
    rc, out, _ = _run(capsys, str(f), "--node-name", "cam2_localizer")
    assert rc == 0 and "max_keyframes" in out, out


def test_a_file_of_another_kind_is_told_as_check_params_spells_its_argument(tmp_path, capsys):
    """`check-params maps/rk/manifest.json` said '--params takes the node's parameter file':
    check-params has no --params; it takes FILE."""
    manifest, cam = tmp_path / "manifest.json", tmp_path / "camera.yaml"
    manifest.write_text('{"format": "mast3r_ros.keyframe_map", "version": 3}')
    cam.write_text("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3}\n")
    for f in (manifest, cam):
        rc, out, err = _run(capsys, str(f))
        assert rc == 2 and "FILE takes the node's parameter file" in err, err
        assert "--params" not in err, err


@pytest.mark.parametrize("line, said", [
    ("odom_frame: base_link", "must differ, got 'map', 'base_link', 'base_link'"),
    ("base_frame: map", "must differ"),
    ("map_frame: /map", "parameter 'map_frame': a frame name must not start with '/'"),
    ("base_frame: ''", "parameter 'base_frame': a frame name must not be empty"),
])
def test_frames_the_node_refuses_at_configure_are_refused(tmp_path, capsys, line, said):
    """check-params called these files valid, and the node then refused them at configure
    (never active: no pose, no map -> odom for Nav2). An empty odom_frame (no odometry) is
    one the node takes."""
    f = tmp_path / "frames.yaml"
    f.write_text(f"/**/mast3r_localizer:\n  ros__parameters:\n    {line}\n")
    rc, out, err = _run(capsys, str(f))
    assert rc == 2 and out == "" and said in err and "refuse it at configure" in err, err
    f.write_text("/**/mast3r_localizer:\n  ros__parameters:\n    odom_frame: ''\n")
    assert _run(capsys, str(f))[0] == 0


@pytest.mark.parametrize("name, said", [
    ("/robot1/mast3r_localizer", "--node-name mast3r_localizer --namespace /robot1"),
    ("robot1/mast3r_localizer", "--node-name mast3r_localizer --namespace /robot1"),
    ("2cam", "is not a ROS node name"),
])
def test_a_node_name_with_its_namespace_is_told_to_split_them(tmp_path, capsys, name, said):
    """The name `ros2 node list` prints, given as --node-name, was refused with the advice
    '(did you mean '/robot1//robot1/mast3r_localizer'?)'."""
    f = tmp_path / "robots.yaml"
    f.write_text(ROBOTS)
    rc, out, err = _run(capsys, str(f), "--node-name", name)
    assert rc == 2 and said in err and "//" not in err and err.count("\n") == 1, err


@pytest.mark.parametrize("block, value", [("/**/mast3r_localizer", '"true"'),
                                          ("/**", "1"), ("mast3r_localizer", "'false'")])
def test_use_sim_time_that_is_no_bool_is_refused(tmp_path, capsys, block, value):
    """rclpy declares use_sim_time a bool: an override of another type kills the node at
    start (InvalidParameterTypeException), while check-params skipped it and said valid."""
    f = tmp_path / "sim.yaml"
    f.write_text(f"{block}:\n  ros__parameters:\n    use_sim_time: {value}\n"
                 "/*/mast3r_localizer:\n  ros__parameters:\n    max_keyframes: 3\n")
    rc, out, err = _run(capsys, str(f))
    assert rc == 2 and "use_sim_time" in err and "not a bool" in err, (out, err)
    f.write_text("/**:\n  ros__parameters:\n    use_sim_time: yes\n"
                 "/**/mast3r_localizer:\n  ros__parameters:\n    use_sim_time: False\n")
    assert _run(capsys, str(f))[0] == 0


def _map_path_file(tmp_path, value):
    f = tmp_path / "robot.yaml"
    f.write_text(f"/**/mast3r_localizer:\n  ros__parameters:\n    map_path: '{value}'\n")
    return str(f)


def test_a_map_path_that_is_no_map_is_refused_as_the_node_would(tmp_path, capsys):
    """A robot's file whose map_path named a run folder, a map's keyframes/, an empty folder or
    a map of a newer format was called valid (a fleet maintainer's find); the node then refused
    it at configure, on the robot. The map's own refusal is said, naming map_path."""
    from mast3r_ros.core import keyframes as kfm
    from test_keyframes import _keyframes, _manifest, _write_manifest

    good = kfm.write_map(str(tmp_path / "site"), _keyframes())
    rc, out, err = _run(capsys, _map_path_file(tmp_path, good))
    assert (rc, err) == (0, "") and "map_path opens as a keyframe map" in out, (out, err)
    (tmp_path / "empty").mkdir()
    newer = kfm.write_map(str(tmp_path / "newer"), _keyframes())
    m = _manifest(newer)
    m["version"] = 99
    _write_manifest(newer, m)
    for bad, said in ((os.path.join(good, "keyframes"), "is inside the keyframe map"),
                      (str(tmp_path / "empty"), "is an empty folder, not a keyframe map"),
                      (newer, "written by a newer mast3r_ros")):
        rc, out, err = _run(capsys, _map_path_file(tmp_path, bad))
        assert rc == 2 and out == "", (bad, out, err)
        assert err.startswith("mast3r-ros check-params: error: ") and err.count("\n") == 1, err
        assert f"map_path '{bad}'" in err and said in err, err


def test_a_map_path_not_here_or_relative_is_a_warning(tmp_path, capsys, monkeypatch):
    """The map may live on the robot only: not found here is a warning, exit 0; a relative
    map_path is taken by the node from its working directory, which the warning says."""
    monkeypatch.chdir(tmp_path)
    rc = main(["check-params", _map_path_file(tmp_path, "maps/site")])
    out, err = capsys.readouterr()
    assert rc == 0 and "valid for node" in out and "opens as" not in out, out
    assert "is relative: the node takes it from its working directory" in err, err
    assert "not found on this machine" in err and "not checked" in err, err


def _checkpoint_file(tmp_path, value, matcher="mast3r"):
    f = tmp_path / "robot.yaml"
    f.write_text(f"/**/mast3r_localizer:\n  ros__parameters:\n    checkpoint: '{value}'\n"
                 f"    matcher: {matcher}\n")
    return str(f)


def test_a_checkpoint_in_no_format_the_loader_reads_is_refused(tmp_path, capsys):
    """A fresh user's find: 100 kB of random bytes, or a zip archive of other files, as the
    checkpoint was called valid (exit 0), and the node then refused it at configure. Now the
    loader's cheap checks (first bytes, a zip's record names; no weights loaded) refuse it in one
    line, exit 2, as a map_path that is no map is refused."""
    import zipfile

    import torch

    noise = tmp_path / "x_rand.pth"
    noise.write_bytes(bytes((i * 97 + 13) % 256 for i in range(100_000)))
    other_zip = tmp_path / "x_zip.pth"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("a.txt", "hello")
    for bad, said in ((noise, "(100000 bytes, not a zip archive or a pickle: its first bytes "
                              "are 0d 6e cf 30 91 f2 53 b4)"),
                      (other_zip, "a zip archive holding a.txt, without the data.pkl/version "
                                  "records of a torch.save file")):
        rc, out, err = _run(capsys, _checkpoint_file(tmp_path, bad))
        assert rc == 2 and out == "", (bad, out, err)
        assert err.startswith("mast3r-ros check-params: error: ") and err.count("\n") == 1, err
        assert f"parameter 'checkpoint': {bad}: cannot read the checkpoint" in err, err
        assert said in err and "download or copy it again" in err, err
        assert "refuse it at configure" in err, err
        # the sift matcher: the node does not load the checkpoint, nor refuse it
        assert _run(capsys, _checkpoint_file(tmp_path, bad, "sift"))[0] == 0
    good = tmp_path / "MASt3R.pth"
    torch.save({"w": torch.zeros(2)}, good)
    rc, out, err = _run(capsys, _checkpoint_file(tmp_path, good))
    assert (rc, err) == (0, "") and "checkpoint is in a format the node reads" in out, (out, err)


def test_a_checkpoint_not_here_is_a_warning(tmp_path, capsys, monkeypatch):
    """As map_path: the file may be written for the robot, where the checkpoint lives."""
    monkeypatch.chdir(tmp_path)
    rc = main(["check-params", _checkpoint_file(tmp_path, str(tmp_path / "robot" / "M.pth"))])
    out, err = capsys.readouterr()
    assert rc == 0 and "valid for node" in out and "format the node reads" not in out, out
    assert "checkpoint" in err and "not found on this machine" in err, err
    rc = main(["check-params", _checkpoint_file(tmp_path, "models/M.pth")])
    out, err = capsys.readouterr()
    assert rc == 0 and "is relative: the node takes it from its working directory" in err, err


def _retrieval_file(tmp_path, network, head, matcher="mast3r", method="auto"):
    f = tmp_path / "robot_asmk.yaml"
    f.write_text(f"/**/mast3r_localizer:\n  ros__parameters:\n    checkpoint: '{network}'\n"
                 f"    matcher: {matcher}\n    retrieval:\n      checkpoint: '{head}'\n"
                 f"      method: {method}\n")
    return str(f)


def test_the_retrieval_checkpoint_is_checked_as_the_checkpoint_is(tmp_path, capsys):
    """retrieval.checkpoint naming random bytes was called valid (exit 0) and the node refused it
    at configure (it loads the ASMK head with the mast3r matcher, method asmk or auto); now it
    gets the retrieval loader's cheap checks, and not found here is a warning."""
    import torch

    network = tmp_path / "MASt3R.pth"
    torch.save({"w": torch.zeros(2)}, network)
    noise = tmp_path / "x_retrieval_trainingfree.pth"
    noise.write_bytes(bytes((i * 97 + 13) % 256 for i in range(100_000)))
    rc, out, err = _run(capsys, _retrieval_file(tmp_path, network, noise))
    assert rc == 2 and out == "" and err.count("\n") == 1, (out, err)
    assert (f"parameter 'retrieval.checkpoint': {noise}: cannot read the retrieval checkpoint "
            "(100000 bytes, not a zip archive or a pickle: its first bytes are 0d 6e cf 30 91 f2 "
            "53 b4); the file is truncated or not a checkpoint: download or copy it again (the "
            "node would refuse it at configure)") in err, err
    # not loaded by the node: the sift matcher, or a method other than asmk/auto
    for matcher, method in (("sift", "auto"), ("mast3r", "pooled")):
        rc, out, err = _run(capsys, _retrieval_file(tmp_path, network, noise, matcher, method))
        assert rc == 0 and "retrieval.checkpoint and" not in out, (matcher, method, out, err)
    missing = tmp_path / "robot" / "R_retrieval_trainingfree.pth"
    rc = main(["check-params", _retrieval_file(tmp_path, network, missing)])
    out, err = capsys.readouterr()
    assert rc == 0 and "retrieval.checkpoint and" not in out, out
    assert f"retrieval.checkpoint '{missing}' is not found on this machine" in err, err
    from retrieval_test_utils import write_retrieval_checkpoint

    head = write_retrieval_checkpoint(str(tmp_path / "R_retrieval_trainingfree.pth"), 16)
    (tmp_path / "R_retrieval_codebook.pkl").write_bytes(pickle.dumps({"type": "Codebook"}))
    rc, out, err = _run(capsys, _retrieval_file(tmp_path, network, head, method="asmk"))
    assert (rc, err) == (0, "") and out.rstrip().endswith(
        "; retrieval.checkpoint and its codebook are in formats the node reads (weights not "
        "loaded)"), out
