"""A relative ``--out`` naming the folder the shell is in (``cd runs/r1 && mast3r-ros localize
... --out . --overwrite``, or ``--out ..`` from inside a demo folder): the output was published
over the current folder, which took the current folder away, and then the relative path was
resolved again: localize and merge-maps ended with "cannot use path: No such file or directory"
(exit 2) after publishing, demo with "TUM folder ../data/query does not exist" after replacing
its map (its run lost). The CLI now makes such an --out absolute before any work."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from mast3r_ros.replay.cli import main


def _localize(tum, sift_map, out, *extra):
    return main(["localize", tum[1], "--map", sift_map, "--out", out, "--matcher", "sift",
                 "--max-frames", "1", "--log-level", "error", *extra])


def test_localize_over_the_current_folder(tum, sift_map, tmp_path, monkeypatch, capsys):
    run = str(tmp_path / "run")
    assert _localize(tum, sift_map, run) == 0
    monkeypatch.chdir(run)
    assert _localize(tum, sift_map, ".", "--overwrite") == 0, capsys.readouterr().err
    with open(os.path.join(run, "metrics.json")) as fh:
        assert json.load(fh)["frames"] == 1
    assert capsys.readouterr().out.splitlines()[0].endswith(f"-> {run}")


def test_merge_maps_over_the_current_folder_from_inside_it(sift_map, tmp_path, monkeypatch,
                                                          capsys):
    merged, copy = str(tmp_path / "merged"), str(tmp_path / "copy")
    shutil.copytree(sift_map, copy)  # its keyframes A's twins: dropped, A's kept
    argv = ["merge-maps", sift_map, copy, "--log-level", "error"]
    assert main([*argv, "--out", merged]) == 0
    monkeypatch.chdir(os.path.join(merged, "keyframes"))
    assert main([*argv, "--out", "..", "--overwrite"]) == 0, capsys.readouterr().err
    assert os.path.isfile(os.path.join(merged, "manifest.json"))


def test_a_relative_out_elsewhere_is_kept_as_given(tum, sift_map, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _localize(tum, sift_map, "r2") == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("-> r2")


@pytest.mark.parametrize("argv", [
    ["build-map", "src"], ["merge-maps", "a", "b"], ["localize", "src", "--map", "m"],
    ["demo"], ["pair", "a.png", "b.png"], ["export"], ["retrieve", "a.png"],
])
def test_out_dash_is_refused_not_made_a_folder_named_dash(argv, tmp_path, monkeypatch, capsys):
    """`--out -` (as `--json -` writes to stdout): every --out is a folder, and build-map made
    one named '-' in the current folder. One line, exit 2, before any input is read."""
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--out", "-"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out -" in err[0] and "folder" in err[0], err
    assert not os.path.exists(tmp_path / "-")


def test_an_out_given_as_a_link_is_named_as_typed_in_an_error(tmp_path, monkeypatch, capsys):
    """`demo --out link` (a symbolic link to a folder the demo did not make): the 'already exists'
    error named the resolved folder, which the user never typed; it names the link, with its
    target once, and paths inside it through the link."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "notes.txt").write_text("x\n")
    (tmp_path / "real2").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--out", "link/", "--log-level", "error"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mast3r-ros demo: error: output folder already exists: link (a link to "
                   f"{tmp_path / 'real'}), and it is not an output of this command (it holds "
                   "notes.txt), which --overwrite would not replace either: choose another --out")
    from mast3r_ros.replay.cli import _as_typed

    assert _as_typed("/r/real/run; /r/real2 /r/real, /r/real", "ln", "/r/real") == (
        "ln/run; /r/real2 ln (a link to /r/real), ln")


def test_a_tilde_the_shell_left_is_the_home_folder(tum, sift_map, tmp_path, monkeypatch,
                                                   capsys):
    """`--out=~/run` (bash expands no '~' there) made a folder named '~' in the current one,
    while `--map=~/maps/x` reads the home folder's map; now --out reads it so too."""
    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir()
    here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    assert main(["localize", tum[1], "--map", sift_map, "--out=~/run", "--matcher", "sift",
                 "--max-frames", "1", "--log-level", "error"]) == 0, capsys.readouterr().err
    assert os.listdir(here) == [] and (home / "run" / "metrics.json").is_file()


def test_check_map_reads_a_tilde_in_json_and_plot_as_the_home_folder(sift_map, tmp_path,
                                                                     monkeypatch, capsys):
    """`check-map MAP --json=~/c.json` said 'the folder HERE/~ does not exist'."""
    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir()
    here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    assert main(["check-map", sift_map, "--json=~/c.json", "--log-level", "error"]) == 0, \
        capsys.readouterr().err
    assert os.listdir(here) == [] and (home / "c.json").is_file()


def test_a_tilde_left_in_the_source_and_map_is_the_home_folder(tum, sift_map, tmp_path,
                                                               monkeypatch, capsys):
    """`SRC="~/data"; mast3r-ros localize "$SRC"` read "source not found: ~/data"."""
    home = tmp_path / "home"
    home.mkdir()
    os.symlink(tum[1], home / "query")
    os.symlink(sift_map, home / "map")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert main(["localize", "~/query", "--map", "~/map", "--out", "run", "--matcher", "sift",
                 "--max-frames", "1", "--log-level", "error"]) == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "metrics.json").is_file()


@pytest.mark.parametrize("command", ["localize", "build-map", "merge-maps", "demo"])
def test_an_out_that_is_a_link_to_nothing_is_refused_not_followed(command, tum, sift_map,
                                                                   tmp_path, monkeypatch, capsys):
    """`--out latest` where latest links to a folder that is gone (a drive not mounted, a run
    deleted): the CLI resolved the link first, so the command made the missing folder and every
    missing parent (a new /media/usb/runs/r1 on the root file system) and wrote there, while
    the writers themselves refuse a link to nothing. Now exit 2, one line, nothing made."""
    link, gone = tmp_path / "latest", tmp_path / "unmounted" / "runs" / "r1"
    os.symlink(gone, link)
    beside = sorted(os.listdir(os.path.dirname(sift_map)))  # the session's maps, shared
    monkeypatch.chdir(tmp_path)
    argv = {"localize": ["localize", tum[1], "--map", sift_map, "--matcher", "sift",
                         "--max-frames", "1"],
            "build-map": ["build-map", tum[0], "--matcher", "sift", "--max-frames", "2"],
            "merge-maps": ["merge-maps", sift_map, str(tmp_path / "b")],
            "demo": ["demo", "--frames", "5"]}[command]
    if command == "merge-maps":  # a second map in this test's folder, not the session's
        shutil.copytree(sift_map, tmp_path / "b")
    assert main([*argv, "--out", "latest", "--log-level", "error"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "latest" in err[0] and "link" in err[0], err
    assert not (tmp_path / "unmounted").exists()
    assert link.is_symlink()
    assert sorted(os.listdir(os.path.dirname(sift_map))) == beside
