"""One clear line (exit 2) for the mistakes of a fresh user's README run: binary or Latin-1
files given as YAML, a folder given as a checkpoint or as an image."""

from __future__ import annotations

import re

import numpy as np

import pytest
from PIL import Image

from mast3r_ros.core.errors import CheckpointError, ConfigError, InputError


@pytest.mark.parametrize("content", [b"\xff\xd8\xff\xe0JFIF", b"# tuned by J\xf6rg\nrate: 5.0\n"])
def test_a_file_that_is_not_utf8_is_named_as_not_utf8(tmp_path, content):
    from mast3r_ros.core.config import load_config_yaml
    from mast3r_ros.core.image_codec import load_camera_info_yaml

    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    with pytest.raises(ConfigError, match=r"parameter file .*bad.yaml is not a UTF-8 text "
                                          r"file \(byte \d+"):
        load_config_yaml(str(bad))  # was UnicodeDecodeError, a traceback and exit 1
    with pytest.raises(InputError, match="camera_info YAML .*bad.yaml is not a UTF-8 text file"):
        load_camera_info_yaml(str(bad))


def test_params_that_are_a_jpeg_exit_2_with_one_line(tmp_path, capsys, tum):
    from mast3r_ros.replay.cli import main

    jpg = tmp_path / "frame.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(jpg)
    assert main(["localize", tum[1], "--map", str(tmp_path / "m"), "--out", str(tmp_path / "o"),
                 "--params", str(jpg)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert len(err) == 1 and "is not a UTF-8 text file" in err[0], err


def test_a_folder_as_checkpoint_names_the_checkpoint_file_inside(tmp_path, tiny_ckpt):
    import shutil

    from mast3r_ros.core.model.checkpoint import load_checkpoint

    folder = tmp_path / "weights"
    folder.mkdir()
    with pytest.raises(CheckpointError, match=r"weights is a folder but not a Hugging Face "
                                              r"checkpoint .*give the checkpoint file \(.pth\)"):
        load_checkpoint(str(folder))
    shutil.copy(tiny_ckpt, folder / "mast3r.pth")
    with pytest.raises(CheckpointError, match="it holds mast3r.pth: give that file"):
        load_checkpoint(str(folder))
    # NAVER's download folder: the network and its retrieval add-ons side by side
    for name in ("a_retrieval_trainingfree.pth", "b.pt", "c.pth"):
        (folder / name).write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"it holds a_retrieval_trainingfree.pth, b.pt, "
                                              r"c.pth and 1 more: give one of these files "
                                              r"\(the MASt3R network, not the \*_retrieval_\*"):
        load_checkpoint(str(folder))


def test_a_folder_as_an_image_says_folder(tmp_path):
    from mast3r_ros.core.image_codec import read_image_file

    with pytest.raises(InputError, match="is a folder, not an image file"):
        read_image_file(str(tmp_path))


def test_a_folder_as_an_image_names_the_glob_of_its_own_images(tmp_path):
    """A folder of .jpg frames given as an image was told to use `folder/*.png`, a glob that
    matches none of its files; a TUM folder given itself, its rgb/ frames."""
    from mast3r_ros.core.image_codec import read_image_file

    frames = tmp_path / "frames"
    frames.mkdir()
    for name in ("a.jpg", "b.jpg", "notes.txt"):
        (frames / name).write_bytes(b"x")
    with pytest.raises(InputError, match=re.escape(str(frames / "*.jpg"))):
        read_image_file(str(frames))
    tum = tmp_path / "tum"
    (tum / "rgb").mkdir(parents=True)
    (tum / "rgb" / "0.0.JPG").write_bytes(b"x")
    (tum / "rgb.txt").write_text("0.0 rgb/0.0.JPG\n")
    with pytest.raises(InputError, match=re.escape(str(tum / "rgb" / "*.JPG"))):
        read_image_file(str(tum))


def test_localize_without_ground_truth_prints_where_it_could_come_from(tmp_path, tum, sift_map,
                                                                        capsys):
    import shutil

    from mast3r_ros.replay.cli import main

    query = tmp_path / "query"
    shutil.copytree(tum[1], query)
    (query / "groundtruth.txt").unlink()
    assert main(["localize", str(query), "--map", sift_map, "--matcher", "sift", "--out",
                 str(tmp_path / "run"), "--max-frames", "1", "--log-level", "warning"]) == 0
    err = capsys.readouterr().err
    assert "mast3r-ros localize: note: no frame was evaluated against ground truth" in err
    assert "--groundtruth FILE" in err


def test_localize_refuses_a_bad_out_before_reading_the_source(tmp_path, sift_map, capsys):
    """docs/maps.md: 'Output folders': an --out that cannot be created is refused before anything is
    loaded; localize read (and printed) the source first -- a rosbag's indexing pass takes
    minutes."""
    from mast3r_ros.replay.cli import main

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["localize", str(tmp_path / "no_such_source"), "--map", sift_map, "--matcher",
                 "sift", "--out", str(blocker / "run"), "--log-level", "warning"]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert "--out" in err and "no_such_source" not in err, err


def test_a_ctrl_c_while_torch_imports_shows_no_torch_info_at_exit():
    """Ctrl-C in the first seconds of a run, while torch imports, left torch's loggers at
    NOTSET (torch sets them to WARNING when its import completes), so its exit hook printed
    "[INFO] torch._subclasses.fake_tensor: FakeTensor cache stats:" and two more lines under
    "mast3r-ros localize: interrupted". The CLI's logging now starts torch at WARNING."""
    import logging

    from mast3r_ros.replay.cli import _setup_logging

    torch_log = logging.getLogger("torch")
    was = torch_log.level
    try:
        torch_log.setLevel(logging.NOTSET)  # as during torch's import
        _setup_logging("info")
        assert not logging.getLogger("torch._subclasses.fake_tensor").isEnabledFor(logging.INFO)
        assert logging.getLogger("mast3r_ros.replay").isEnabledFor(logging.INFO)
        torch_log.setLevel(logging.INFO)  # torch's own setting (TORCH_LOGS) is left as it is
        _setup_logging("info")
        assert torch_log.level == logging.INFO
    finally:
        torch_log.setLevel(was)
        _setup_logging("warning")


def test_faiss_loader_info_is_not_shown_at_info_level():
    """'[INFO] faiss.loader: Could not load library with AVX2 support ...' read like an error."""
    import logging

    from mast3r_ros.replay.cli import _setup_logging

    _setup_logging("info")
    assert not logging.getLogger("faiss.loader").isEnabledFor(logging.INFO)
    assert logging.getLogger("mast3r_ros.replay").isEnabledFor(logging.INFO)
    _setup_logging("debug")
    assert logging.getLogger("faiss.loader").isEnabledFor(logging.DEBUG)
    _setup_logging("warning")


def test_plotting_libraries_do_not_flood_debug_or_info():
    """`check-map MAP --plot c.png --log-level debug` wrote 338 lines, 337 of them
    matplotlib.font_manager's font scores and PIL.PngImagePlugin's chunks, around the one line
    of mast3r_ros; a fresh machine's first plot said '[INFO] matplotlib.font_manager: generated
    new fontManager' at the default level. Their warnings still show."""
    import logging

    from mast3r_ros.replay.cli import _setup_logging

    try:
        for level in ("debug", "info"):
            _setup_logging(level)
            for name in ("matplotlib.font_manager", "PIL.PngImagePlugin"):
                assert not logging.getLogger(name).isEnabledFor(logging.INFO), (level, name)
                assert logging.getLogger(name).isEnabledFor(logging.WARNING), (level, name)
            assert logging.getLogger("mast3r_ros.replay").isEnabledFor(getattr(logging,
                                                                               level.upper()))
    finally:
        _setup_logging("warning")


def test_a_keyframe_map_as_checkpoint_is_named_as_a_map(tmp_path, sift_map, tiny_ckpt, capsys):
    """`export M` / `--checkpoint M` with M a keyframe map said "M is a folder but not a Hugging
    Face checkpoint"; now it says M is a map, and which checkpoint its build_config.yaml
    records (or that it was built with SIFT, without the network)."""
    import shutil

    from mast3r_ros.core.model.checkpoint import load_checkpoint
    from mast3r_ros.replay.cli import main

    head = "is a keyframe map, not a checkpoint; pass the MASt3R .pth (or Hugging Face folder)"
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(sift_map)
    assert str(e.value) == (f"{sift_map} {head}; the map was built with the SIFT matcher, "
                            "without the network")
    m = tmp_path / "map"
    shutil.copytree(sift_map, m)
    cfg = (m / "build_config.yaml").read_text()
    (m / "build_config.yaml").write_text(cfg.replace("checkpoint: ''", f"checkpoint: {tiny_ckpt}",
                                                     1).replace("matcher: sift", "matcher: mast3r"))
    assert main(["export", str(m), "--out", str(tmp_path / "e")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert err == [f"mast3r-ros export: error: {m} {head} it was built with: {tiny_ckpt} (as "
                   "its build_config.yaml records)"], err
    (m / "build_config.yaml").unlink()  # nothing recorded: the plain advice
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(str(m))
    assert str(e.value) == f"{m} {head} it was built with"
    assert not (tmp_path / "e").exists()


def test_a_folder_as_retrieval_checkpoint_is_named_as_a_folder(tmp_path, sift_map, capsys):
    """--retrieval-checkpoint M with M a keyframe map (or any folder) said "retrieval
    checkpoint not found: M", though M exists; now it says what M is and which file to give."""
    from mast3r_ros.core.retrieval_model import check_retrieval_files
    from mast3r_ros.replay.cli import main

    tail = ("not a retrieval checkpoint: pass the *_retrieval_trainingfree.pth file itself "
            "(--retrieval-checkpoint, or retrieval.checkpoint in --params)")
    with pytest.raises(CheckpointError) as e:
        check_retrieval_files(str(tmp_path))
    assert str(e.value) == f"{tmp_path} is a folder, {tail}"
    imgs = [str(tmp_path / f"{i}.png") for i in range(2)]
    for i, img in enumerate(imgs):
        Image.fromarray(np.full((8, 8, 3), i, np.uint8)).save(img)
    ckpt = tmp_path / "net.pth"
    ckpt.write_bytes(b"")
    assert main(["retrieve", *imgs, "--checkpoint", str(ckpt), "--retrieval-checkpoint",
                 sift_map, "--out", str(tmp_path / "o")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert err == [f"mast3r-ros retrieve: error: {sift_map} is a keyframe map, not a retrieval "
                   "checkpoint, and it was built without one (it holds no ASMK index): pass the "
                   "*_retrieval_trainingfree.pth file itself (--retrieval-checkpoint, or "
                   "retrieval.checkpoint in --params)"], err


def test_a_map_as_retrieval_checkpoint_names_the_one_it_records(tmp_path, sift_map, tiny_ckpt,
                                                                 capsys):
    """--retrieval-checkpoint M with M a map holding an ASMK index said only "M is a keyframe
    map, not a retrieval checkpoint"; its build_config.yaml records the retrieval checkpoint it
    was built with (as --checkpoint M names the network's), which is named."""
    import json
    import shutil

    from mast3r_ros.core.retrieval_model import check_retrieval_files
    from mast3r_ros.replay.cli import main

    m = tmp_path / "asmk_map"
    shutil.copytree(sift_map, m)
    manifest = json.loads((m / "manifest.json").read_text())
    manifest["asmk"] = [{"identity": "asmk-1", "encoder_identity": "e", "image_size": 224,
                         "file": "retrieval/asmk_1.npz"}]
    (m / "manifest.json").write_text(json.dumps(manifest))
    cfg = (m / "build_config.yaml").read_text()
    assert cfg.count("      checkpoint: ''") == 1  # retrieval's (the network's is less indented)
    (m / "build_config.yaml").write_text(cfg.replace("      checkpoint: ''",
                                                     "      checkpoint: /models/r.pth"))
    ways = "(--retrieval-checkpoint, or retrieval.checkpoint in --params)"
    with pytest.raises(CheckpointError) as e:
        check_retrieval_files(str(m))
    assert str(e.value) == (f"{m} is a keyframe map, not a retrieval checkpoint; it was built "
                            "with /models/r.pth (as its build_config.yaml records): pass that "
                            f"file {ways}")
    (m / "build_config.yaml").unlink()  # an index, but nothing recorded: said so
    assert main(["build-map", sift_map, "--out", str(tmp_path / "o"), "--checkpoint", tiny_ckpt,
                 "--retrieval-checkpoint", str(m)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert err == [f"mast3r-ros build-map: error: {m} is a keyframe map, not a retrieval "
                   "checkpoint; pass the *_retrieval_trainingfree.pth it was built with (its "
                   f"build_config.yaml does not record it; {ways[1:]}"], err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", [["build-map", "SRC", "--out", "OUT"],
                                     ["localize", "SRC", "--map", "MAP", "--out", "OUT"],
                                     ["demo", "--out", "OUT"]])
def test_an_empty_checkpoint_is_refused_not_taken_as_none(tmp_path, capsys, command):
    """``--checkpoint "$CKPT"`` with CKPT unset replaced the checkpoint of --params with none:
    build-map wrote a map without MASt3R encodings and the demo ran the SIFT baseline, each
    without a word, and localize asked to set the checkpoint that --params does set. Refused
    now, in one line, before anything is read or written."""
    from mast3r_ros.replay.cli import main

    ckpt = tmp_path / "model.pth"
    ckpt.write_bytes(b"not read")
    params = tmp_path / "p.yaml"
    params.write_text(f"mast3r_localizer:\n  ros__parameters:\n    checkpoint: {ckpt}\n")
    names = {"SRC": str(tmp_path / "src"), "MAP": str(tmp_path / "map"),
             "OUT": str(tmp_path / "out")}
    argv = [names.get(a, a) for a in command]
    assert main([*argv, "--params", str(params), "--checkpoint", ""]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--checkpoint is empty (an unset shell variable?)" in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option, fell_back_to", [("--params", "the defaults"),
                                                  ("--camera-info", "camera.yaml")])
def test_an_empty_params_or_camera_info_is_refused(tmp_path, capsys, tum, sift_map, option,
                                                   fell_back_to):
    """``--params "$P"`` or ``--camera-info "$CAM"`` with the variable unset was taken as not
    given: localize ran with the defaults instead of the robot's tuned file, or with the TUM
    folder's camera.yaml instead of the calibration meant, and said nothing (an empty --map,
    --groundtruth or --trajectory was refused already). Refused now, in one line naming the
    option, before a frame is localized."""
    from mast3r_ros.replay.cli import main

    out = tmp_path / "run"
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher", "sift",
                 "--max-frames", "2", option, ""]) == 2, fell_back_to
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{option} is empty (an unset shell variable?)" in line, line
    assert not out.exists()


@pytest.mark.parametrize("argv, said", [
    (["build-map", "", "--out", "OUT", "--matcher", "sift"], "the source path is empty"),
    (["check-map", ""], "the map path is empty"),
    (["merge-maps", "", "MAP", "--out", "OUT"], "the map path is empty"),
])
def test_an_empty_source_or_map_path_is_named_as_empty(tmp_path, capsys, sift_map, argv, said):
    """``build-map "$SRC"`` or ``check-map "$MAP"`` with the variable unset read "source not
    found:  (a TUM RGB-D folder ...)", naming nothing: now the path is said to be empty, and
    why it may be."""
    from mast3r_ros.replay.cli import main

    names = {"OUT": str(tmp_path / "out"), "MAP": sift_map}
    assert main([names.get(a, a) for a in argv]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{said} (an unset shell variable?)" in line, line


def _refused(capsys, argv):
    """The one stderr line of ``mast3r-ros ARGV``, which must exit 2."""
    from mast3r_ros.replay.cli import main

    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


def _build_map_with(tmp_path, ckpt):
    """build-map of a source that does not exist: its error came first, since it was read
    before the checkpoint; now the checkpoint's must."""
    return ["build-map", str(tmp_path / "no_source"), "--out", str(tmp_path / "map"),
            "--checkpoint", str(ckpt)]


def _demo_must_not_render(monkeypatch):
    import mast3r_ros.replay.demo as demo

    def rendered(*a, **k):
        raise AssertionError("the demo scene was rendered before the checkpoint was read")

    monkeypatch.setattr(demo, "demo_data", rendered)


def test_a_git_lfs_pointer_checkpoint_is_refused_before_any_work(tmp_path, capsys,
                                                                 monkeypatch):
    """A checkpoint cloned without git-lfs is a 130-byte pointer file. build-map read every
    frame, chose and checked the keyframes (minutes on a large bag) and the demo rendered its
    scene (10 s) before reading it; both only checked that the file exists. Now an empty or
    text checkpoint is refused first, in the loader's words."""
    ckpt = tmp_path / "MASt3R.pth"
    ckpt.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64
                    + "\nsize 2754910614\n")
    line = _refused(capsys, _build_map_with(tmp_path, ckpt))
    assert "this is a Git LFS pointer" in line and "2.75 GB" in line, line

    _demo_must_not_render(monkeypatch)
    ckpt.write_bytes(b"")
    line = _refused(capsys, ["demo", "--out", str(tmp_path / "demo"), "--checkpoint", str(ckpt)])
    assert "(empty file, 0 bytes)" in line, line


def test_a_cut_short_checkpoint_or_a_plain_folder_is_refused_before_any_work(
        tmp_path, capsys, monkeypatch):
    """An interrupted download of the 2.7 GB checkpoint is a torch.save zip archive cut short,
    and `--checkpoint ~/models` a folder holding the .pth: build-map read every frame and checked
    the keyframes, and the demo rendered its scene (50 s on 2 cores) and built its map, before the
    loader refused either. Now both are refused first, in the loader's words."""
    import torch

    whole = tmp_path / "whole.pth"
    torch.save({"model": {"w": torch.zeros(4096)}}, whole)
    ckpt = tmp_path / "MASt3R.pth"
    ckpt.write_bytes(whole.read_bytes()[:-200])  # its central directory is at the end
    line = _refused(capsys, _build_map_with(tmp_path, ckpt))
    assert f"{ckpt}: cannot read the checkpoint" in line, line
    assert "its central directory, the table of contents at its end, is missing); the file is " \
        "truncated" in line, line
    assert "download or copy it again" in line, line

    folder = tmp_path / "models"
    folder.mkdir()
    whole.rename(folder / "MASt3R.pth")
    line = _refused(capsys, _build_map_with(tmp_path, folder))
    assert "not a Hugging Face checkpoint" in line and "give that file" in line, line

    _demo_must_not_render(monkeypatch)
    line = _refused(capsys, ["demo", "--out", str(tmp_path / "demo"), "--checkpoint", str(ckpt)])
    assert "a zip archive cut short: its central directory" in line, line


@pytest.mark.parametrize("command", ["pair", "retrieve"])
def test_a_shell_glob_that_matched_nothing_is_named_as_one(tmp_path, capsys, command):
    """`mast3r-ros retrieve frames/*.jpg ...` in a folder of .png files: the shell passes the
    pattern on as written and the error said 'image not found: frames/*.jpg', as if a file
    of that name were expected. Now it says the glob matched no file."""
    from mast3r_ros.replay.cli import main

    (tmp_path / "frames").mkdir()
    glob = str(tmp_path / "frames" / "*.jpg")
    extra = ["--retrieval-checkpoint", str(tmp_path / "r.pth")] if command == "retrieve" else []
    assert main([command, glob, str(tmp_path / "b.png"), "--checkpoint", str(tmp_path / "c.pth"),
                 "--out", str(tmp_path / "out"), *extra]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"image not found: {glob} (a shell glob that matched no file" in line, line
    assert not (tmp_path / "out").exists()


def test_a_cut_short_retrieval_checkpoint_is_refused_before_any_work(tmp_path, capsys):
    """An interrupted download of the retrieval head (a torch.save zip archive cut short) given
    to build-map --retrieval-checkpoint: the build read every frame, checked the keyframes and
    encoded every shard (kept in MAP.partial) before torch said '[Errno 22] Invalid argument'.
    Now it is refused first, as the network checkpoint is."""
    import torch

    from mast3r_ros.replay.cli import main

    whole = tmp_path / "whole.pth"
    torch.save({"args": {"nfeat": 300}, "model": {"w": torch.zeros(4096)}}, whole)
    head = tmp_path / "M_retrieval_trainingfree.pth"
    head.write_bytes(whole.read_bytes()[:-200])
    (tmp_path / "M_retrieval_codebook.pkl").write_bytes(b"\x80\x04N.")
    # the source does not exist: its error came first, since it was read before the head
    assert main(["build-map", str(tmp_path / "no_source"), "--out", str(tmp_path / "map"),
                 "--matcher", "sift", "--retrieval-checkpoint", str(head)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{head}: cannot read the retrieval checkpoint" in line, line
    assert "its central directory, the table of contents at its end, is missing); the file is " \
        "truncated" in line, line


@pytest.mark.parametrize("command", ["build-map", "retrieve"])
def test_a_cut_short_codebook_is_refused_before_any_work(tmp_path, capsys, command):
    """An interrupted download of the 268 MB ASMK codebook (a pickle cut short): build-map read
    every frame, checked the keyframes, loaded the network and encoded a shard (kept in
    MAP.partial) before the unpickler said 'pickle data was truncated'. Now its last byte, which
    is a pickle's STOP opcode when whole, is checked first."""
    import numpy as np
    from retrieval_test_utils import write_codebook, write_retrieval_checkpoint

    from mast3r_ros.replay.cli import main

    head = tmp_path / "M_retrieval_trainingfree.pth"
    write_retrieval_checkpoint(str(head), 32, nclusters=16)
    whole = tmp_path / "whole.pkl"
    write_codebook(str(whole), np.random.default_rng(0).standard_normal((16, 32)))
    cb = tmp_path / "M_retrieval_codebook.pkl"
    cb.write_bytes(whole.read_bytes()[:-100])
    ckpt = tmp_path / "ckpt.pth"  # not read: the codebook is refused before it
    ckpt.write_bytes(b"PK\x03\x04")
    argv = (["build-map", str(tmp_path / "no_source"), "--matcher", "sift"]
            if command == "build-map" else
            ["retrieve", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--checkpoint",
             str(ckpt)])
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"")
    assert main([*argv, "--out", str(tmp_path / "out"), "--retrieval-checkpoint",
                 str(head)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{cb}: not a readable pickle (it stops before the pickle's end: cut short)" in line, \
        line


@pytest.mark.parametrize("content, says", [
    (b"", "empty file (0 bytes)"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 268435456\n",
     "this is a Git LFS pointer, a small text file standing in for the codebook (268.4 MB)"),
    (b"<!DOCTYPE html><html><body>Forbidden</body></html>", "this is an HTML page"),
    (b"# camera\nimage_width: 640\n", "this is a text file (it begins '# camera'), not the ASMK "
     "codebook (*_retrieval_codebook.pkl, a pickle)"),
])
def test_an_empty_or_text_codebook_is_refused_before_any_work(tmp_path, capsys, content, says):
    """A codebook that is a Git LFS pointer (a clone without `git lfs pull`), a saved web page,
    an empty file or a YAML given by mistake passed the early check: build-map checked the
    keyframes, loaded the network and encoded shards (kept in MAP.partial, so the corrected
    rerun was refused until --restart) before the unpickler said "invalid load key, 'v'. ...
    truncated or corrupt". Now it is refused first and named for what it is."""
    from retrieval_test_utils import write_retrieval_checkpoint

    from mast3r_ros.replay.cli import main

    head = tmp_path / "M_retrieval_trainingfree.pth"
    write_retrieval_checkpoint(str(head), 32, nclusters=16)
    cb = tmp_path / "M_retrieval_codebook.pkl"
    cb.write_bytes(content)
    # the source does not exist: the codebook's error comes first, before any frame is read
    assert main(["build-map", str(tmp_path / "no_source"), "--matcher", "sift", "--out",
                 str(tmp_path / "out"), "--retrieval-checkpoint", str(head)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"codebook {cb}: " in line, line
    assert says in line, line
    assert "not a readable pickle" not in line, line


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_a_text_protocol_codebook_is_not_taken_for_a_text_file(tmp_path, protocol):
    """Pickle protocol 0 is ASCII: the text check above must still let such a codebook load."""
    import numpy as np
    from retrieval_test_utils import write_codebook

    from mast3r_ros.core.asmk.codebook import check_codebook_file, load_codebook

    cb = write_codebook(str(tmp_path / "m_retrieval_codebook.pkl"),
                        np.random.default_rng(0).standard_normal((16, 32)), protocol=protocol)
    check_codebook_file(cb)
    assert load_codebook(cb).num_words == 16


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_check_map_json_or_plot_of_white_space_is_one_line_in_the_shared_words(option, tmp_path,
                                                                               capsys):
    """``--json " $OUT"`` with OUT unset: '' and white space alike are refused before any
    command runs, in `cli_options.empty_value`'s words (check-map had its own copy of them)."""
    from mast3r_ros.replay.cli import main

    (tmp_path / "m").mkdir()
    assert main(["check-map", str(tmp_path / "m"), option, "  "]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    give = {"--json": "FILE", "--plot": "PNG"}[option]
    assert line.endswith(f"{option} is empty (an unset shell variable?): give {give}, or "
                         f"leave {option} out"), line
