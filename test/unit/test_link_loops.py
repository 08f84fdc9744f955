"""A path that runs into a loop of symbolic links (``ln -s b a; ln -s a b``) given as a map, a
checkpoint or a TUM folder was said to be 'not found', although it is there: it is now named as
the loop it is, with the links followed, by the CLI (every path option, before anything is read)
and by the map, checkpoint and source opens (`link_loops`)."""

from __future__ import annotations

import os
import re

import pytest

from mast3r_ros.core.errors import CheckpointError, InputError, MapFormatError
from mast3r_ros.replay.cli import main


@pytest.fixture
def loop(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    os.symlink("b", a)
    os.symlink("a", b)
    return str(a)


def _said(loop):
    return (f"{loop} runs into a loop of symbolic links ({loop} -> b -> a), so it leads to no "
            "file or folder: point the link at the real one")


@pytest.mark.parametrize("argv, name", [
    (["localize", "{loop}", "--map", "{map}"], "SOURCE"),
    (["localize", "{query}", "--map", "{loop}"], "--map"),
    (["localize", "{query}", "--map", "{map}", "--checkpoint", "{loop}"], "--checkpoint"),
    (["build-map", "{loop}"], "SOURCE"),
])
def test_the_cli_names_a_link_loop_in_one_line(tum, sift_map, tmp_path, capsys, loop, argv,
                                               name):
    argv = [a.format(loop=loop, map=sift_map, query=tum[1]) for a in argv]
    assert main(argv + ["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "not found" not in err[0], err
    assert f"error: {name} {_said(loop)}" in err[0], err
    assert main(["check-map", loop + "/"]) == 2  # a trailing slash, as a shell completes it
    assert f"error: MAP {loop}/ runs into a loop of symbolic links ({loop} -> b -> a)" in \
        capsys.readouterr().err


def test_the_map_checkpoint_and_source_opens_name_it(loop):
    from mast3r_ros.core.keyframes import KeyframeMap
    from mast3r_ros.core.model.checkpoint import require_checkpoint
    from mast3r_ros.replay.sources import open_source

    with pytest.raises(MapFormatError, match=re.escape("map folder " + _said(loop))):
        KeyframeMap.load(loop)
    with pytest.raises(CheckpointError, match=re.escape("checkpoint " + _said(loop))):
        require_checkpoint(loop)
    with pytest.raises(InputError, match=re.escape("source " + _said(loop))):
        open_source(loop)


def test_a_link_to_itself_and_a_missing_path_or_a_dangling_link(tmp_path):
    from mast3r_ros.core.link_loops import link_loop

    os.symlink("self", tmp_path / "self")
    assert link_loop(str(tmp_path / "self")) == f"{tmp_path / 'self'} -> self"
    os.symlink("nowhere", tmp_path / "dangling")
    assert link_loop(str(tmp_path / "dangling")) is None  # missing: 'not found' is right
    assert link_loop(str(tmp_path / "missing")) is None and link_loop(str(tmp_path)) is None


def test_a_loop_inside_a_tum_folder_is_named_not_missing(tum, tmp_path, capsys):
    """A TUM folder's camera.yaml or a listed image that is a loop of links was 'does not
    exist' / 'no such file': the file is there, so the user looked for the wrong fault."""
    import shutil

    from mast3r_ros.replay.tum import TumSequence

    folder = tmp_path / "seq"
    shutil.copytree(tum[1], folder)
    first = sorted((folder / "rgb").iterdir())[0]
    first.unlink()
    os.symlink(first.name, first)  # an image linked to itself
    assert main(["build-map", str(folder), "--out", str(tmp_path / "m"), "--matcher",
                 "sift"]) == 0
    err = capsys.readouterr().err
    assert (f"cannot read colour image {first}: it runs into a loop of symbolic links "
            f"({first} -> {first.name}), so it leads to no file") in err, err
    assert "no such file" not in err

    (folder / "camera.yaml").unlink()
    os.symlink("camera.yaml", folder / "camera.yaml")
    with pytest.raises(InputError, match=re.escape(
            f"no camera intrinsics: camera calibration {folder / 'camera.yaml'} runs into a "
            f"loop of symbolic links ({folder / 'camera.yaml'} -> camera.yaml)")):
        TumSequence(str(folder))


@pytest.mark.parametrize("argv", [["check-map", "{map}"],
                                  ["localize", "{query}", "--map", "{map}", "--matcher", "sift",
                                   "--out", "{tmp}/run"],
                                  ["merge-maps", "{good}", "{map}", "--out", "{tmp}/merged"]],
                         ids=["check-map", "localize", "merge-maps"])
def test_a_map_whose_manifest_or_file_is_a_loop_is_named_as_one(sift_map, tum, tmp_path,
                                                                 capsys, argv):
    """A map folder that exists, its manifest.json (or a file it lists) a link to itself: the
    OS's 'cannot use path: MAP/manifest.json: Too many levels of symbolic links', where every
    other path names the loop."""
    import shutil

    folder = str(tmp_path / "map")
    shutil.copytree(sift_map, folder)
    argv = [a.format(map=folder, good=sift_map, query=tum[1], tmp=tmp_path) for a in argv]
    for rel in ("manifest.json", "keyframe_table.npy", "keyframes/000001.png"):
        full = os.path.join(folder, rel)
        os.replace(full, full + ".real")
        os.symlink(os.path.basename(rel), full)
        assert main(argv + ["--log-level", "error"]) == 2
        out, err = capsys.readouterr()
        assert len(err.splitlines()) == 1 and "Too many levels" not in out + err, (out, err)
        said = (f"{full} runs into a loop of symbolic links ({full} -> "
                f"{os.path.basename(rel)}), so it leads to no file or folder")
        # check-map lists a bad keyframe file on stdout, once, above its error line
        assert said in (out if "listed above" in err else err), (out, err)
        assert (out + err).count(said) == 1, (out, err)
        os.remove(full)
        os.replace(full + ".real", full)
