"""A checkpoint (or a camera_info YAML) given where a command's map or parameter file goes:
`check-map model.pth` said "a checkpoint goes in --checkpoint", and `check-map MAP --params
camera.yaml` "pass it with --camera-info", options check-map has not. Each command's words
now name only the options its own parser has, and the commands that take the file instead."""

from __future__ import annotations

import re
import zipfile

import pytest

from mast3r_ros.replay.cli import build_parser, main

ELSEWHERE = re.compile(r"build-map and localize take (a checkpoint|a camera_info YAML) as --\S+")


def _flags(command):
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices
               and command in a.choices)
    return set(sub.choices[command]._option_string_actions)


@pytest.fixture
def files(tmp_path):
    """A torch.save zip archive's layout (an entry */data.pkl), a camera_info YAML."""
    for name in ("model.pth", "other.pth"):
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    (tmp_path / "cam.yaml").write_text(
        "image_width: 640\nimage_height: 480\ncamera_matrix:\n"
        "  rows: 3\n  cols: 3\n  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]\n")
    return tmp_path


@pytest.mark.parametrize("argv, said", [
    (("check-map", "{d}/model.pth"), "check-map takes a map folder and has no --checkpoint; "
     "build-map and localize take a checkpoint as --checkpoint"),
    (("check-map", "{d}", "--params", "{d}/model.pth"), "PyTorch checkpoint (torch.save): "
     "check-map has no --checkpoint; build-map and localize take a checkpoint as --checkpoint"),
    (("check-map", "{d}", "--params", "{d}/cam.yaml"), "check-map has no --camera-info; "
     "build-map and localize take a camera_info YAML as --camera-info"),
    (("merge-maps", "{d}/model.pth", "{d}/other.pth", "--out", "{d}/c"),
     "merge-maps takes a map folder and has no --checkpoint"),
    # commands with the option keep the short words
    (("demo", "--params", "{d}/model.pth"), "(torch.save): a checkpoint goes in --checkpoint"),
    (("localize", "{d}/model.pth", "--map", "{d}", "--out", "{d}/o"),
     "(torch.save): a checkpoint goes in --checkpoint"),
])
def test_each_command_names_only_its_own_options(files, capsys, argv, said):
    rc = main([a.format(d=files) for a in argv] + ["--log-level", "error"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and said in err, err
    own = _flags(argv[0])
    # what is left after the options said to be absent, and other commands' named as theirs
    others = "|".join(c for c in ("build-map", "localize", "check-params") if c != argv[0])
    rest = re.sub(rf"has no --\S+|`mast3r-ros ({others}) --[a-z-]+", "", ELSEWHERE.sub("", err))
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest))
    assert named <= own, (named - own, err)


def test_outside_a_command_the_words_are_as_before(files):
    """The node and library callers run no command: every option counts as there."""
    from mast3r_ros.core.fileio import checkpoint_file_note

    assert checkpoint_file_note(str(files / "model.pth"), takes="a map folder") == \
        "; it is a PyTorch checkpoint (torch.save): a checkpoint goes in --checkpoint"
