"""One-line refusals a fresh user's review of the CLI found unclear or missing: each names the
option at fault and the fix, exit 2, nothing written."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

from mast3r_ros.replay.cli import main


def _one_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_check_map_refuses_an_empty_output_path(tmp_path, capsys, option):
    """`check-map MAP --json ""` exited 0 and wrote nothing (an unset shell variable), while
    an empty --map is an error."""
    rc = main(["check-map", str(tmp_path / "nomap"), option, ""])
    line = _one_line(capsys)
    assert rc == 2 and f"{option} is empty" in line, line


def test_build_map_names_trajectory_when_its_file_is_missing(tmp_path, capsys):
    """`build-map --trajectory /nonexist` said only 'cannot read /nonexist: ...'."""
    missing = str(tmp_path / "nonexist.txt")
    rc = main(["build-map", str(tmp_path), "--out", str(tmp_path / "m"), "--matcher", "sift",
               "--trajectory", missing])
    line = _one_line(capsys)
    assert rc == 2 and "--trajectory" in line and missing in line, line
    assert not (tmp_path / "m").exists()


def test_run_zero_names_the_option(tmp_path, capsys):
    """`--run 0` said 'run must be >= 1' (which run? the option is --run)."""
    rc = main(["build-map", str(tmp_path), "--out", str(tmp_path / "m"), "--matcher", "sift",
               "--run", "0"])
    line = _one_line(capsys)
    assert rc == 2 and "--run must be >= 1" in line, line


def test_an_unknown_option_of_a_subcommand_is_one_line_naming_the_subcommand(tmp_path, capsys):
    """`build-map ... --max-frames 2` (before build-map had it) printed the top-level usage
    (`mast3r-ros [-h] ... COMMAND`), not build-map's; and a usage error printed the whole
    usage block (up to 14 lines) above its one line: now the line alone, pointing at the
    subcommand's --help."""
    with pytest.raises(SystemExit) as e:
        main(["build-map", str(tmp_path), "--out", str(tmp_path / "m"), "--first-frames", "2"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.count("\n") == 1 and "usage:" not in err, err
    assert err == ("mast3r-ros build-map: error: unrecognized arguments: --first-frames 2 "
                   "(see mast3r-ros build-map --help)\n"), err
    for argv, words in ((["localize", "x", "--out", "y", "--stride", "abc"],
                         "mast3r-ros localize: error: argument --stride: invalid int value"),
                        (["pair"], "mast3r-ros pair: error: the following arguments are "
                                   "required"),
                        (["frobnicate"], "mast3r-ros: error: argument COMMAND: invalid choice")):
        with pytest.raises(SystemExit) as e:
            main(argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.count("\n") == 1 and err.startswith(words), err
    # one given before the subcommand is the top-level parser's (a regression review's find)
    with pytest.raises(SystemExit) as e:
        main(["--bogus", "build-map", str(tmp_path), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "mast3r-ros: error: unrecognized arguments: --bogus" in err, err


def test_demo_refuses_an_image_too_large_to_render(tmp_path, capsys):
    """`demo --width 100000 --height 100000` ended in numpy's _ArrayMemoryError traceback."""
    rc = main(["demo", "--out", str(tmp_path / "d"), "--width", "100000", "--height",
               "100000"])
    line = _one_line(capsys)
    assert rc == 2 and "at most" in line and "100000x100000" in line, line
    assert not (tmp_path / "d").exists()


def _retrieve(tmp_path, *images):
    return main(["retrieve", *images, "--checkpoint", "n.pth", "--retrieval-checkpoint",
                 "r.pth", "--out", str(tmp_path / "o")])


def test_retrieve_white_space_in_the_folder_part_says_use_a_relative_path(tmp_path, capsys):
    """A path with white space only in its folders was told to 'rename it': giving the names
    relative to that folder (cd there) writes pairs.txt fine."""
    rc = _retrieve(tmp_path, "/data/my photos/kitchen/a.png", "/data/my photos/kitchen/b.png")
    line = _one_line(capsys)
    assert rc == 2 and "rename" not in line, line
    assert "cd '/data/my photos'" in line and "kitchen/a.png" in line, line


def test_retrieve_white_space_in_the_file_name_says_rename(tmp_path, capsys):
    rc = _retrieve(tmp_path, "a b.png", "c.png")
    line = _one_line(capsys)
    assert rc == 2 and "'a b.png'" in line and "rename" in line, line
    assert not os.path.exists(tmp_path / "o")


def test_build_map_prints_the_map_path_as_given(tum, tmp_path, monkeypatch, capsys):
    """build-map printed `map /abs/path/maps/kitchen: ...` where the README (and merge-maps,
    check-map) show the path as given: `map maps/kitchen: ...`."""
    monkeypatch.chdir(tmp_path)
    assert main(["build-map", tum[0], "--out", "maps/k", "--matcher", "sift", "--log-level",
                 "warning"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("map maps/k: ") and out.count("\n") == 1, out


def test_an_image_folder_counts_its_colour_images_not_its_depth_pngs(tmp_path, capsys):
    """A folder of 2 colour and 2 depth PNGs was '4 here': the depth PNGs are named apart."""
    for i in range(2):
        (tmp_path / f"frame-{i:06d}.color.png").write_bytes(b"")
        (tmp_path / f"frame-{i:06d}.depth.png").write_bytes(b"")
    rc = main(["build-map", str(tmp_path), "--out", str(tmp_path / "m"), "--matcher", "sift"])
    line = _one_line(capsys)
    assert rc == 2 and "2 images and 2 depth images here, e.g. frame-000000.color.png" in line, \
        line


@pytest.mark.parametrize("option", ["--json", "--plot"])
@pytest.mark.parametrize("folder", ["existing", "slash"])
def test_check_map_refuses_a_folder_as_its_output_file(tmp_path, capsys, sift_map, option,
                                                       folder):
    """`check-map MAP --json MAP` said 'cannot use path: MAP: a folder, where a file is to be
    written (check the paths given)' after the check, naming no option; so did a name ending
    in '/' ('Not a directory')."""
    path = str(tmp_path) if folder == "existing" else str(tmp_path / "newdir") + "/"
    rc = main(["check-map", sift_map, option, path])
    line = _one_line(capsys)
    assert rc == 2 and f"{option} {path}: a folder, where a file is to be written" in line


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_check_map_refuses_a_device_or_pipe_as_its_output_file(tmp_path, capsys, sift_map,
                                                               option):
    """`check-map MAP --json /dev/full` (to see a disk-full error) exited 0, having renamed its
    file over the device node (as root): /dev/full was gone. A FIFO stands in for it here."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    rc = main(["check-map", sift_map, option, str(fifo)])
    line = _one_line(capsys)
    assert rc == 2 and f"{option} {fifo}: not a regular file" in line, line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("kind", ["missing", "folder", "subfolder", "empty"])
def test_localize_names_groundtruth_when_its_file_is_missing_or_a_folder(tmp_path, capsys,
                                                                         tum, kind):
    """`localize --groundtruth /nonexist` said 'cannot read /nonexist: No such file or
    directory', where --trajectory's twin named its option; a folder's example is a
    groundtruth.txt that exists (the folder's or its parent's), and an empty value (an unset
    shell variable) is not taken as no --groundtruth."""
    gt = {"missing": str(tmp_path / "nonexist.txt"), "folder": str(tmp_path),
          "subfolder": os.path.join(tum[1], "rgb"), "empty": ""}[kind]
    rc = main(["localize", tum[1], "--map", str(tmp_path / "m"), "--out", str(tmp_path / "r"),
               "--matcher", "sift", "--groundtruth", gt])
    line = _one_line(capsys)
    assert rc == 2 and not (tmp_path / "r").exists(), line
    expected = {
        "missing": f"--groundtruth {gt}: no such file; give the TUM trajectory file, or leave",
        "folder": f"--groundtruth {gt} is a folder, not a text file of 'timestamp tx ty tz qx "
                  "qy qz qw': give the file itself (e.g. a TUM folder's groundtruth.txt)",
        "subfolder": f"give the file itself (e.g. {os.path.join(tum[1], 'groundtruth.txt')})",
        "empty": "--groundtruth is empty (an unset shell variable?)"}[kind]
    assert expected in line, line


def _localize_failing_with(code, tmp_path, capsys, monkeypatch):
    """(exit code, the one stderr line, --out) of a localize whose command raised OSError
    ``code``."""
    from mast3r_ros.replay import cli

    def fail(args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(cli, "cmd_localize", fail)
    out = str(tmp_path / "r")
    rc = main(["localize", str(tmp_path), "--map", str(tmp_path), "--out", out])
    return rc, _one_line(capsys), out


def test_a_file_size_limit_is_named_as_such(tmp_path, capsys, monkeypatch):
    """EFBIG (a FAT32 USB stick's 4 GiB, `ulimit -f`) said 'cannot use path: File too large
    (check the paths given)' without a path (a map-keeping review's find): the line names the
    output and the two ways out."""
    import errno

    rc, line, out = _localize_failing_with(errno.EFBIG, tmp_path, capsys, monkeypatch)
    assert rc == 2 and f"a file written under {out} reached the largest file size allowed " \
        in line, line
    assert "ulimit -f" in line and "check the paths" not in line, line


def test_a_full_disk_is_named_as_such_not_as_a_path_to_check(tmp_path, capsys, monkeypatch):
    """ENOSPC said 'cannot use path: No space left on device (check the paths given)': the
    paths were right, the disk was full; the line names the output it was writing."""
    import errno

    from mast3r_ros.replay import cli

    rc, line, out = _localize_failing_with(errno.ENOSPC, tmp_path, capsys, monkeypatch)
    assert rc == 2 and f"no space left on the device holding {out} " in line, line
    assert "check the paths" not in line and "free space there" in line, line

    def full_at(args):  # a file under OUT.partial, gone by the time the line is read: --out
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), out + ".partial/000001.png")

    monkeypatch.setattr(cli, "cmd_localize", full_at)
    assert main(["localize", str(tmp_path), "--map", str(tmp_path), "--out", out]) == 2
    line = _one_line(capsys)
    assert f"holding {out} " in line and ".partial" not in line, line


def test_an_empty_colour_image_is_named_once(tmp_path):
    """'cannot read colour image X: cannot read image X: the file is empty (0 bytes)'."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.synthetic import write_demo_sequences
    from mast3r_ros.replay.tum import TumSequence

    _, query = write_demo_sequences(str(tmp_path), num_frames=4, width=64, height=48, seed=0)
    seq = TumSequence(query)
    first = sorted((tmp_path / os.path.basename(query) / "rgb").iterdir())[0]
    first.write_bytes(b"")
    with pytest.raises(InputError) as err:
        seq[0]
    assert str(err.value) == f"cannot read colour image {first}: the file is empty (0 bytes)"


def test_a_multi_line_error_is_one_line_without_runs_of_spaces(tmp_path, capsys, monkeypatch):
    """An error listing things on indented lines (a bag's topics, a YAML parser's context) was
    joined into one line with runs of spaces: `its topics are:   /camera/...`."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay import cli

    def fail(args):
        raise InputError("its topics are:\n  /camera/color (20 messages)\n  /tf (40 messages)"
                         "\nin 'my  bag'")  # a value's own spaces stay (a path as given)

    monkeypatch.setattr(cli, "cmd_merge_maps", fail)
    rc = main(["merge-maps", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
               str(tmp_path / "c")])
    assert rc == 2 and _one_line(capsys) == ("mast3r-ros merge-maps: error: its topics are: "
                                             "/camera/color (20 messages) /tf (40 messages) "
                                             "in 'my  bag'")


def test_a_demo_scene_whose_images_could_not_be_written_is_not_kept(tmp_path, capsys):
    """`ulimit -f` (or a full disk) during the demo's render: cv2.imwrite returned False, the
    scene was published without its images and every later run, --overwrite included, reused it
    and failed on 'image not found' (a fresh user's find). The write's error stops the render,
    named as what it is, and the next run renders again."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 * 1024, hard))  # Python ignores SIGXFSZ
    try:
        rc = main(["demo", "--out", str(tmp_path / "d"), "--frames", "8", "--width", "160",
                   "--height", "120", "--log-level", "warning"])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    line = _one_line(capsys)
    assert rc == 2 and "reached the largest file size allowed" in line, line
    assert not (tmp_path / "d" / "data" / "done.json").exists()


def test_localize_names_a_run_given_as_the_map_and_the_map_it_used(tum, sift_map, tmp_path,
                                                                     capsys, monkeypatch):
    """`localize QUERY --map demo_out/run` said only 'looks like a localize run folder ... pass
    the map folder', after the recording was read; a run records the map it used (metrics.json;
    a stopped run's RUN.partial: config.yaml), so the line names it, before the source is read."""
    from mast3r_ros.core.localizer import Localizer

    run, stopped = tmp_path / "run", tmp_path / "stopped"
    base = ["localize", tum[1], "--matcher", "sift", "--max-frames", "2", "--log-level",
            "warning"]
    assert main([*base, "--map", sift_map, "--out", str(run)]) == 0
    assert main([*base, "--map", sift_map, "--out", str(stopped)]) == 0
    (stopped / "metrics.json").unlink()  # as RUN.partial: results.jsonl and config.yaml
    capsys.readouterr()

    def no_source(*a, **k):
        raise AssertionError("the source was opened before the map was refused")

    monkeypatch.setattr(Localizer, "from_config", no_source)
    monkeypatch.setattr("mast3r_ros.replay.cli._open", no_source)
    for given in (run, stopped):
        assert main([*base, "--map", str(given), "--out", str(tmp_path / "r2")]) == 2
        assert _one_line(capsys) == (
            f"mast3r-ros localize: error: {given} is a localize run's output, not a map; it "
            f"was localized against {sift_map}: pass --map {sift_map}")
    assert not (tmp_path / "r2").exists()


def test_a_run_or_pair_output_opened_as_a_map_is_named(tmp_path, sift_map):
    """The map's own open (the node's map_path, check-map, merge-maps) names them too: a run
    with the map it used (gone since: said so), a run recording none, a `pair` output."""
    import json

    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.keyframes import KeyframeMap

    def said(folder):
        with pytest.raises(MapFormatError) as e:
            KeyframeMap.load(str(folder))
        return str(e.value)

    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text("")
    (run / "metrics.json").write_text(json.dumps({"map": sift_map}))
    assert said(run) == (f"{run} is a localize run's output, not a map; it was localized "
                         f"against {sift_map}: pass that folder")
    (run / "metrics.json").write_text(json.dumps({"map": str(tmp_path / "gone")}))
    assert said(run) == (f"{run} is a localize run's output, not a map; it was localized "
                         f"against {tmp_path / 'gone'} (not there now): pass the keyframe map "
                         "folder (build-map --out)")
    (run / "metrics.json").write_text("[]")
    assert said(run) == (f"{run} is a localize run's output (it has results.jsonl), not a "
                         "map, and it records no map: pass the keyframe map folder "
                         "(build-map --out)")
    pair = tmp_path / "pair"
    pair.mkdir()
    (pair / "pair.npz").write_bytes(b"")
    assert said(pair) == (f"{pair} is a `mast3r-ros pair` output (it has pair.npz), not a "
                          "map: pass the keyframe map folder (build-map --out)")


def test_a_run_kept_inside_a_map_names_the_map_it_used_else_the_map_it_is_in(
        tum, sift_map, tmp_path, capsys):
    """`--map M/run1`: the map the run records when it is there; a run recording none (or one
    gone since) is named by the map it is kept in, as before the run's own line existed (the
    early check said "records no map" and never reached it)."""
    import json
    import shutil

    m = tmp_path / "m"
    shutil.copytree(sift_map, m)
    run = m / "run1"
    run.mkdir()
    (run / "results.jsonl").write_text("")
    argv = ["localize", tum[1], "--matcher", "sift", "--map", str(run), "--out",
            str(tmp_path / "r"), "--log-level", "warning"]
    for recorded in ({}, {"map": str(tmp_path / "gone")}):
        (run / "metrics.json").write_text(json.dumps(recorded))
        assert main(argv) == 2
        assert _one_line(capsys) == (f"mast3r-ros localize: error: {run} is inside the keyframe "
                                     f"map {m}: pass that folder")
    (run / "metrics.json").write_text(json.dumps({"map": sift_map}))
    assert main(argv) == 2
    assert _one_line(capsys) == (f"mast3r-ros localize: error: {run} is a localize run's output, "
                                 f"not a map; it was localized against {sift_map}: pass --map "
                                 f"{sift_map}")


@pytest.mark.parametrize("matcher", ["sift", "mast3r"])
def test_build_map_refuses_a_retrieval_checkpoint_it_cannot_use_before_the_source(
        tmp_path, capsys, matcher):
    """`build-map REC --matcher sift --retrieval-checkpoint R` read the whole recording and
    checked its keyframes (minutes on a large bag) before saying that the ASMK index needs the
    mast3r matcher and a checkpoint. Here the source does not exist: the option is refused
    first."""
    import numpy as np
    from retrieval_test_utils import write_codebook, write_retrieval_checkpoint

    head = tmp_path / "M_retrieval_trainingfree.pth"
    write_retrieval_checkpoint(str(head), 32, nclusters=16)
    write_codebook(str(tmp_path / "M_retrieval_codebook.pkl"),
                   np.random.default_rng(0).standard_normal((16, 32)))
    rc = main(["build-map", str(tmp_path / "no_source"), "--out", str(tmp_path / "m"),
               "--matcher", matcher, "--retrieval-checkpoint", str(head)])
    line = _one_line(capsys)
    assert rc == 2 and "--retrieval-checkpoint needs the mast3r matcher and --checkpoint" \
        in line, line
    why = "--matcher sift computes none" if matcher == "sift" else "no --checkpoint is configured"
    assert why in line, line
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("given", ["codebook", "retrieval head"])
def test_build_map_names_another_checkpoint_kind_before_the_source(tmp_path, capsys, given):
    """`build-map REC --checkpoint X_retrieval_codebook.pkl` (or the *_retrieval_trainingfree.pth)
    read the recording and checked its keyframes (minutes on a large bag) before loading the
    file said what it is. Here the source does not exist: the checkpoint is named first."""
    import numpy as np
    from retrieval_test_utils import write_codebook, write_retrieval_checkpoint

    path = tmp_path / ("cb.pkl" if given == "codebook" else "r_retrieval_trainingfree.pth")
    if given == "codebook":
        write_codebook(str(path), np.random.default_rng(0).standard_normal((16, 32)))
    else:
        write_retrieval_checkpoint(str(path), 32, nclusters=16)
    rc = main(["build-map", str(tmp_path / "no_source"), "--out", str(tmp_path / "m"),
               "--checkpoint", str(path)])
    line = _one_line(capsys)
    words = ("this is an ASMK codebook (a plain pickle), not a PyTorch checkpoint: pass it as "
             "--codebook" if given == "codebook" else
             "is a MASt3R retrieval checkpoint, not the network: pass it as "
             "--retrieval-checkpoint")
    assert rc == 2 and str(path) in line and words in line, line
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("kind", ["empty", "colmap", "hloc", "export", "other_manifest"])
def test_a_folder_of_another_tool_given_as_the_map_is_said_to_be_one(tmp_path, capsys, kind):
    """`check-map FOLDER` on an empty folder or another tool's map (COLMAP's sparse model, a
    Nav2 map.yaml) said 'not a complete keyframe map (an interrupted build?)', which a build
    never leaves; an hloc folder with its pairs.txt was called 'a `mast3r-ros retrieve`
    output'; an `export` folder's manifest was 'not a mast3r_ros.keyframe_map manifest'."""
    folder = tmp_path / kind
    folder.mkdir()
    files = {"empty": [], "colmap": ["cameras.bin", "images.bin", "points3D.bin"],
             "hloc": ["feats-superpoint.h5", "pairs.txt"], "export": [],
             "other_manifest": []}[kind]
    for name in files:
        (folder / name).write_bytes(b"")
    if kind == "export":
        (folder / "manifest.json").write_text('{"format": "mast3r_ros-onnx"}')
        (folder / "encoder.onnx").write_bytes(b"")
    if kind == "other_manifest":
        (folder / "manifest.json").write_text('{"version": 1, "images": []}')
    rc = main(["check-map", str(folder)])
    line = _one_line(capsys)
    assert rc == 2 and "interrupted build" not in line and "retrieve" not in line, line
    expected = {
        "empty": f"{folder} is an empty folder, not a keyframe map (no manifest.json)",
        "colmap": f"{folder} is not a mast3r_ros keyframe map (no manifest.json; it holds "
                  "cameras.bin, images.bin, points3D.bin): pass the folder `mast3r-ros "
                  "build-map --out` wrote",
        "hloc": f"{folder} is not a mast3r_ros keyframe map (no manifest.json; it holds "
                "feats-superpoint.h5, pairs.txt)",
        "export": f"{folder} is a `mast3r-ros export` output (ONNX graphs), not a keyframe map",
        "other_manifest": f"{folder}/manifest.json: not a mast3r_ros.keyframe_map manifest (no "
                          "'format' field): another tool's folder? pass the folder `mast3r-ros "
                          "build-map --out` wrote",
    }[kind]
    assert expected in line, line


@pytest.mark.parametrize("option", ["--params", "--camera-info"])
def test_a_folder_given_as_a_yaml_file_names_the_file_to_give(tmp_path, capsys, tum, option):
    """`--params config` or `--camera-info REC` (the TUM folder, not its camera.yaml) said
    'cannot read ... : Is a directory'; now the file inside to give is named."""
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "localize.yaml").write_text("/**:\n  ros__parameters: {}\n")
    given = str(folder) if option == "--params" else tum[1]
    rc = main(["localize", tum[1], "--map", str(tmp_path / "m"), "--out", str(tmp_path / "r"),
               "--matcher", "sift", option, given])
    line = _one_line(capsys)
    expected = (f"parameter file {folder} is a folder: give the YAML file itself: "
                f"{folder / 'localize.yaml'}" if option == "--params" else
                f"camera_info YAML {given} is a folder: give the calibration file itself "
                f"({os.path.join(given, 'camera.yaml')})")
    assert rc == 2 and expected in line, line
    assert not (tmp_path / "r").exists()


_ZERO = "/dev/zero"
_needs_dev_zero = pytest.mark.skipif(
    not (os.path.exists(_ZERO) and stat.S_ISCHR(os.stat(_ZERO).st_mode)),
    reason="needs the character device /dev/zero")


@_needs_dev_zero
@pytest.mark.parametrize("option", ["--trajectory", "--camera-info", "--groundtruth",
                                    "--checkpoint", "image"])
def test_a_device_given_as_an_input_file_is_refused_before_it_is_read(tmp_path, capsys, tum,
                                                                      option):
    """`build-map --trajectory /dev/full` (also --camera-info, localize --groundtruth,
    --checkpoint, export CKPT) read the endless device whole until the kernel's OOM killer
    ended the run (22 GB in 20 s, on a machine shared with other jobs); `pair /dev/full ...`
    said 'image not found'. Each is refused in one line before anything is read."""
    out = str(tmp_path / "o")
    if option == "--groundtruth":
        argv = ["localize", tum[1], "--map", str(tmp_path / "m"), "--out", out, "--matcher",
                "sift", "--groundtruth", _ZERO]
    elif option == "image":
        argv = ["pair", _ZERO, tum[1], "--checkpoint", str(tmp_path / "c.pth"), "--out", out]
    elif option == "--checkpoint":
        argv = ["build-map", tum[0], "--out", out, "--checkpoint", _ZERO]
    else:
        argv = ["build-map", tum[0], "--out", out, "--matcher", "sift", option, _ZERO]
    rc = main(argv)
    line = _one_line(capsys)
    words = ("is not a regular file (a device, pipe or socket): give the image file itself"
             if option == "image" else "is a device, not a")
    assert rc == 2 and _ZERO in line and words in line, line
    assert not os.path.exists(out)


@_needs_dev_zero
@pytest.mark.parametrize("given", ["image", "--retrieval-checkpoint", "--codebook"])
def test_retrieve_says_a_device_is_no_file_not_that_it_is_missing(tmp_path, capsys, tum, given):
    """`retrieve /dev/zero ...` said 'image not found: /dev/zero', and so did a device as
    --retrieval-checkpoint or --codebook ('... not found. Download ...'): it is there."""
    import numpy as np
    from retrieval_test_utils import write_codebook, write_retrieval_checkpoint

    head = tmp_path / "M_retrieval_trainingfree.pth"
    write_retrieval_checkpoint(str(head), 32, nclusters=16)
    write_codebook(str(tmp_path / "M_retrieval_codebook.pkl"),
                   np.random.default_rng(0).standard_normal((16, 32)))
    rgb = sorted(os.path.join(tum[0], "rgb", n) for n in os.listdir(os.path.join(tum[0], "rgb")))
    images = [_ZERO, rgb[0]] if given == "image" else rgb[:2]
    argv = ["retrieve", *images, "--checkpoint", str(tmp_path / "c.pth"), "--out",
            str(tmp_path / "o"), "--retrieval-checkpoint",
            _ZERO if given == "--retrieval-checkpoint" else str(head)]
    if given == "--codebook":
        argv += ["--codebook", _ZERO]
    rc = main(argv)
    line = _one_line(capsys)
    assert rc == 2 and f"{_ZERO} is not a regular file (a device, pipe or socket)" in line, line
    assert "not found" not in line, line


@pytest.mark.parametrize("tail", [[], ["--device", "cpu"]])
def test_an_option_left_without_its_value_asks_about_an_unset_shell_variable(tmp_path, capsys,
                                                                            tail):
    """The README's calls read `--checkpoint $CKPT`; with CKPT never set the shell passes
    nothing (or the next option) and the line said only `expected one argument`."""
    with pytest.raises(SystemExit) as e:
        main(["build-map", str(tmp_path), "--out", str(tmp_path / "m"), "--checkpoint", *tail])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1, err
    assert "argument --checkpoint: expected one argument" in err and "$CKPT unset?" in err, err


@pytest.mark.parametrize("option", ["--max-frames", "--image-stamp", "--run"])
def test_an_option_given_an_empty_value_asks_about_an_unset_shell_variable(tmp_path, capsys,
                                                                          option):
    """``--max-frames "$N"`` with N unset was answered only "invalid int value: ''" (and
    --image-stamp "$S" "invalid choice: ''"), while --checkpoint "$CKPT" names the unset
    variable."""
    with pytest.raises(SystemExit) as e:
        main(["build-map", str(tmp_path), "--out", str(tmp_path / "m"), option, ""])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1, err
    assert f"argument {option}: invalid " in err and ": ''" in err, err
    assert "(an empty value: a shell variable such as \"$N\" unset?)" in err, err


@pytest.mark.parametrize("argv, option", [
    (["localize", "SRC", "--map", "M", "--out", "OUT"], "--depth-topic"),
    (["localize", "SRC", "--map", "M", "--out", "OUT"], "--pose-frames"),
    (["localize", "SRC", "--map", "M", "--out", "OUT"], "--image-topic"),
    (["localize", "SRC", "--map", "M"], "--out"),
    (["build-map", "SRC", "--out", "OUT"], "--pose-topic"),
    (["build-map", "SRC", "--out", "OUT"], "--device"),
])
def test_any_string_option_given_an_empty_value_asks_about_an_unset_shell_variable(
        tmp_path, capsys, argv, option):
    """``--depth-topic "$T"`` with T unset echoed '' in whatever refused it later (or was
    taken as not given), without asking whether a shell variable was unset, as --max-frames ""
    and --checkpoint "" did: every option given '' is refused in one line, exit 2."""
    names = {"SRC": str(tmp_path / "src"), "M": str(tmp_path / "m"), "OUT": str(tmp_path / "o")}
    assert main([names.get(a, a) for a in argv] + [option, ""]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"error: {option} is empty (an unset shell variable?): give " in err, err
    assert not (tmp_path / "o").exists()


def test_every_free_string_option_of_localize_refuses_an_empty_value(tmp_path, capsys):
    """The refusal is made where the options are parsed, for all of them: no option of
    localize taking a free string is left to echo ''."""
    import argparse

    from mast3r_ros.replay.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = [max(a.option_strings, key=len) for a in sub.choices["localize"]._actions
               if a.option_strings and a.nargs is None and a.type is None and a.choices is None
               and a.default != "" and a.dest not in ("help",)]
    assert len(options) > 10, options
    given = {"--map": str(tmp_path / "m"), "--out": str(tmp_path / "o")}
    for option in options:
        others = [w for k, v in given.items() if k != option for w in (k, v)]
        for empty in ("", " ", "\t"):  # "$T" with T unset, or set to white space
            assert main(["localize", str(tmp_path / "src"), *others, option, empty]) == 2, option
            assert f"{option} is empty (an unset shell variable?)" in capsys.readouterr().err, (
                option, empty)
    from mast3r_ros.replay.cli_options import refuse_empty_options  # '' is a value there

    built = parser.parse_args(["build-map", "SRC", "--out", "O", "--retrieval-checkpoint", ""])
    refuse_empty_options(parser, built)


@pytest.mark.parametrize("argv, option, ending", [
    (["localize", "SRC", "--map", "M", "--out", "OUT"], "--camera-info",
     "to take the source's camera (a TUM folder's camera.yaml, a rosbag2's CameraInfo)"),
    (["localize", "SRC", "--map", "M", "--out", "OUT"], "--groundtruth",
     "to take the source's ground truth"),
    (["build-map", "SRC", "--out", "OUT"], "--trajectory", "to take the source's poses"),
    (["build-map", "SRC", "--out", "OUT"], "--params", "for the defaults"),
    (["build-map", "SRC", "--out", "OUT"], "--checkpoint",
     "to take the 'checkpoint' of --params"),
    (["localize", "SRC", "--out", "OUT"], "--map", "to take map_path from --params"),
    (["export", "--out", "OUT"], "--checkpoint", "and give CKPT"),
])
def test_an_empty_option_says_what_leaving_it_out_does(tmp_path, capsys, argv, option, ending):
    """The general refusal of '' replaced the specific ones, which said what leaving the option
    out does ('--camera-info ... to take the source's camera'): it ended '..., or leave
    --camera-info out'. It says it again, from the one table (`LEFT_OUT`), for '' and blank."""
    names = {"SRC": str(tmp_path / "src"), "M": str(tmp_path / "m"), "OUT": str(tmp_path / "o")}
    for empty in ("", " "):
        assert main([names.get(a, a) for a in argv] + [option, empty]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert f"error: {option} is empty (an unset shell variable?): give " in err, err
        assert err.rstrip().endswith(f", or leave {option} out {ending}"), err


@pytest.mark.parametrize("command", ["build-map", "localize"])
def test_a_missing_camera_info_file_names_the_option_and_the_way_out(tmp_path, capsys, tum,
                                                                     command):
    """`--camera-info /nope.yaml` said 'cannot read camera_info YAML /nope.yaml: No such file
    or directory', naming neither the option nor what to do, where --trajectory's and
    --groundtruth's twins name both."""
    cam = str(tmp_path / "nope.yaml")
    extra = ["--map", str(tmp_path / "m")] if command == "localize" else []
    rc = main([command, tum[0], "--out", str(tmp_path / "o"), "--matcher", "sift",
               "--camera-info", cam] + extra)
    line = _one_line(capsys)
    assert rc == 2 and not (tmp_path / "o").exists(), line
    assert line.endswith(f"error: --camera-info {cam}: no such file; give the camera calibration "
                         "file, or leave --camera-info out to take the source's camera (a TUM "
                         "folder's camera.yaml, a rosbag2's CameraInfo)"), line


@pytest.mark.parametrize("what", ["source", "--map", "--checkpoint", "--params", "--camera-info"])
def test_a_path_pasted_with_a_space_at_its_end_says_so(tmp_path, capsys, tum, sift_map, what):
    """A path copied with the blank after it (`--checkpoint "$HOME/m.pth "`, a line pasted from
    a table) read 'checkpoint not found: /x/m.pth . Download ...': the space cannot be seen in
    the line, and the file is there. Each 'not found' now says the path ends with white space
    and that it exists without it."""
    shutil.copy(os.path.join(tum[0], "camera.yaml"), tmp_path / "cam.yaml")
    (tmp_path / "p.yaml").write_text("mast3r_localizer:\n  ros__parameters:\n    matcher: sift\n")
    (tmp_path / "c.pth").write_bytes(b"never read")
    given = {"source": tum[1], "--map": sift_map, "--checkpoint": str(tmp_path / "c.pth"),
             "--params": str(tmp_path / "p.yaml"), "--camera-info": str(tmp_path / "cam.yaml")}
    pasted = given[what] + " "
    argv = ["localize", pasted if what == "source" else tum[1], "--map",
            pasted if what == "--map" else sift_map, "--out", str(tmp_path / "r")]
    argv += ["--matcher", "sift"] if what != "--checkpoint" else []
    argv += [what, pasted] if what.startswith("--") and what != "--map" else []
    rc = main(argv)
    line = _one_line(capsys)
    assert rc == 2 and not (tmp_path / "r").exists(), line
    assert f"{pasted}" in line and " (the path ends with white space, which this line cannot " \
           f"show: {given[what]!r} exists without it; remove the space)" in line, line


@pytest.mark.parametrize("command", ["build-map", "localize"])
def test_an_out_with_a_pasted_blank_is_refused_until_made(tmp_path, capsys, tum, sift_map,
                                                          command):
    """`--out "maps/site "` (a variable holding a pasted blank) made a folder 'site ' in
    silence; the next command's `--map maps/site` then found nothing. A new --out that begins
    or ends with white space is refused, naming the folder without it; one made beforehand
    (`mkdir`) is written into as any empty folder is."""
    out = str(tmp_path / "o") + " "
    argv = ([command, tum[0] if command == "build-map" else tum[1], "--out", out, "--matcher",
             "sift", "--max-frames", "2"] + (["--map", sift_map] if command == "localize"
                                             else []))
    assert main(argv) == 2
    line = _one_line(capsys)
    assert line.endswith(
        f"error: --out {out!r} ends with white space (a pasted blank?): the folder would be "
        "named with it, which later commands given the path without it do not find; give "
        f"--out {out.strip()!r}, or make the folder first (mkdir {out!r}) to keep the name"), line
    assert not os.path.lexists(out) and not os.path.lexists(out.strip())
    os.mkdir(out)
    assert main(argv) == 0 and os.listdir(out)


@pytest.mark.parametrize("code, failed, given, where", [
    # a file no option gave (a cache, a temporary folder): named itself, --out not
    ("ENOSPC", "/var/tmp/cache/k.bin", {"out": "maps/M"}, "holding /var/tmp/cache/k.bin"),
    # an atomic write's temporary beside --json: the option and its path
    ("ENOSPC", "reports/.tmp-ab12", {"json": "reports/c.json", "plot": "p/c.png"},
     "holding reports/c.json (--json)"),
    ("EROFS", "p/.c.png.x1.tmp", {"json": "reports/c.json", "plot": "p/c.png"},
     "holding p/c.png (--plot)"),
    # a file in the checkpoint's folder written by its own name, with --out given too
    ("EROFS", "models/ck.pth.lock", {"out": "maps/M", "checkpoint": "models/ck.pth"},
     "holding models/ck.pth (--checkpoint)"),
    ("ENOSPC", "maps/M.partial/keyframes.png", {"out": "maps/M"}, "holding maps/M (--out)"),
    ("EFBIG", "/scratch/x.npy", {"out": "maps/M"}, "a file written, /scratch/x.npy, reached"),
])
def test_a_full_or_read_only_disk_names_the_file_failed_and_the_option_that_gave_it(
        code, failed, given, where):
    """ENOSPC / EROFS / EFBIG named --out's folder whatever the file was: a temporary
    elsewhere, a --json or --plot file, the checkpoint's folder (on another device)."""
    import argparse
    import errno

    from mast3r_ros.replay.os_error_words import os_error_text

    num = getattr(errno, code)
    line = os_error_text(OSError(num, os.strerror(num), failed), argparse.Namespace(**given))
    assert where in line, line
    others = [v for v in given.values() if v not in where]
    assert not any(v in line for v in others), line


def test_the_build_kept_line_names_out_and_its_option_at_a_full_disk():
    import argparse
    import errno

    from mast3r_ros.replay.map_build import kept_build_error
    from mast3r_ros.replay.os_error_words import os_error_text

    e = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "maps/M.partial/encodings/x/pooled")
    told = kept_build_error(e, "maps/M", 2, "maps/M.partial", "rerun with --resume")
    line = os_error_text(told, argparse.Namespace(out="maps/M", checkpoint="/ckpt/m.pth"))
    assert line.startswith("no space left on the device holding maps/M (--out) (No space left "
                           "on device; the build is kept in maps/M.partial (rerun with --resume "
                           "to finish it)): free space there"), line
