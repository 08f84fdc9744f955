import argparse
import dataclasses
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from mast3r_ros.core.config import Config, load_config_yaml, param_specs
from mast3r_ros.replay.cli import build_parser, main
from mast3r_ros.replay.tum import read_tum_trajectory

REPO = Path(__file__).resolve().parents[2]



pytestmark = pytest.mark.usefixtures("one_torch_thread")

def test_config_yaml_is_complete_and_equals_the_defaults():
    path = REPO / "config" / "localize.yaml"
    assert load_config_yaml(str(path)) == Config()
    doc = yaml.safe_load(path.read_text())["/**/mast3r_localizer"]["ros__parameters"]

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, prefix + k + ".")
            else:
                yield prefix + k, v

    values = dict(flat(doc))
    assert set(values) == {s.name for s in param_specs()}
    for s in param_specs():
        assert type(values[s.name]) is s.type, s.name  # floats written as floats


def test_parser_has_one_function_per_subcommand():
    p = build_parser()
    assert "pair" in p.format_help()
    for cmd in ("build-map", "localize", "demo"):
        args = p.parse_args([cmd, "x", "--map", "m", "--out", "o"] if cmd == "localize" else
                            [cmd, "x", "--out", "o"] if cmd == "build-map" else [cmd])
        assert callable(args.func)


def _png_shape(path: str) -> tuple:
    """(height, width, channels) of the picture at ``path``, decoded in full: a PNG, complete."""
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "PNG", (path, im.format)
        im.load()  # a truncated or corrupt file raises here
        return np.asarray(im).shape


def test_build_map_writes_a_map_and_a_plot(sift_map, capsys):
    from mast3r_ros.core.keyframes import KeyframeMap

    m = KeyframeMap.load(sift_map)
    assert 2 <= len(m) <= 12 and m.has_depth()
    assert os.path.getsize(os.path.join(sift_map, "keyframes.png")) > 1000
    assert _png_shape(os.path.join(sift_map, "keyframes.png"))[1] > 1000  # both panels


def test_localize_writes_every_output(tum, sift_map, tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["localize", tum[1], "--map", sift_map, "--out", run, "--matcher", "sift"]) == 0
    out = capsys.readouterr().out
    assert "localized" in out and "translation error" in out
    for name in ("trajectory.tum", "results.jsonl", "metrics.json", "trajectory.png",
                 "errors.png", "calibration.png", "config.yaml"):
        assert os.path.getsize(os.path.join(run, name)) > 0, name
    for name in ("trajectory.png", "errors.png", "calibration.png"):
        assert min(_png_shape(os.path.join(run, name))[:2]) > 300, name
    lines = [json.loads(s) for s in open(os.path.join(run, "results.jsonl"))]
    assert len(lines) == 12
    assert {"stamp_ns", "success", "reason", "inliers", "timings_s"} <= set(lines[0])
    m = json.load(open(os.path.join(run, "metrics.json")))
    assert m["localized_fraction"] >= 0.85
    assert m["translation_error_m"]["median"] < 0.02 and m["gross_errors"] == 0
    stamps, poses = read_tum_trajectory(os.path.join(run, "trajectory.tum"))
    assert len(stamps) == m["localized"] and poses.shape == (len(stamps), 4, 4)
    assert load_config_yaml(os.path.join(run, "config.yaml")).localizer.matcher == "sift"
    # an explicit ground-truth file gives the same evaluation
    run2 = str(tmp_path / "run2")
    assert main(["localize", tum[1], "--map", sift_map, "--out", run2, "--matcher", "sift",
                 "--groundtruth", os.path.join(tum[1], "groundtruth.txt"), "--stride", "2"]) == 0
    m2 = json.load(open(os.path.join(run2, "metrics.json")))
    assert m2["frames"] == 6 and m2["evaluated"] == m2["localized"] >= 5


def test_demo_runs_the_sift_baseline_with_a_note(tmp_path, capsys):
    out = str(tmp_path / "demo")
    args = ["demo", "--out", out, "--frames", "8", "--width", "160", "--height", "120"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "no checkpoint configured" in text and "SIFT" in text and "localized" in text
    assert os.path.isfile(os.path.join(out, "run", "metrics.json"))
    with open(os.path.join(out, "run", "run.json"), encoding="utf-8") as fh:
        selection = json.load(fh)["selection"]  # what it localized: the rendered query frames
    assert selection["source"] == os.path.abspath(os.path.join(out, "data", "query")), selection
    # the noise-free scene makes the covariance conservative: the table and a note say so
    assert "covariance position: chi2 95 % coverage" in text and "conservative: sigma ~" in text
    assert "note: the rendered scene is noise-free" in text and "1 cm / 1 deg" in text
    assert main(args) == 2  # an existing folder needs --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0  # rendered data is reused, the map is rebuilt
    logged = capsys.readouterr().err  # the CLI logs to stderr
    assert "reusing the synthetic scene" in logged and "rendered the synthetic" not in logged


def _error(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    errors = [e for e in err if ": error: " in e]
    return rc, errors


def test_bad_input_gives_exit_2_and_one_line(tum, sift_map, tmp_path, capsys):
    run = str(tmp_path / "run")
    bad_params = tmp_path / "bad.yaml"
    bad_params.write_text("mast3r_localizer:\n  ros__parameters:\n    gates: {min_inlier: 3}\n")
    gpu_params = tmp_path / "gpu.yaml"  # ran to the end with the sift matcher (exit 0)
    gpu_params.write_text("mast3r_localizer:\n  ros__parameters:\n    device: gpu\n")
    broken = str(tmp_path / "broken")
    shutil.copytree(sift_map, broken)
    os.remove(os.path.join(broken, "keyframes", "000000.png"))
    no_gt = str(tmp_path / "nogt")
    shutil.copytree(tum[1], no_gt)
    os.remove(os.path.join(no_gt, "groundtruth.txt"))
    wrong_size = str(tmp_path / "wrongsize")
    shutil.copytree(tum[1], wrong_size)
    cam = Path(wrong_size, "camera.yaml")
    cam.write_text(cam.read_text().replace("image_width: 320", "image_width: 640"))
    (tmp_path / "empty").mkdir()
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    empty_gt = tmp_path / "empty_gt.txt"
    empty_gt.write_text("# no poses\n")
    late_gt = tmp_path / "late_gt.txt"  # another recording's ground truth: 1000 s later
    late_gt.write_text("".join(
        f"{float(ln.split()[0]) + 1000:.6f} {' '.join(ln.split()[1:])}\n"
        for ln in Path(tum[1], "groundtruth.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")))
    cases = [
        (["localize", str(tmp_path / "nope"), "--map", sift_map, "--out", run], "not found"),
        (["localize", tum[1], "--map", str(tmp_path / "nomap"), "--out", run, "--matcher",
          "sift"], "map folder not found"),
        (["localize", tum[1], "--map", tum[0], "--out", run, "--matcher", "sift"],
         f"{tum[0]} looks like a recording (a TUM RGB-D folder: it has rgb.txt), not a keyframe "
         f"map: build a map from it with `mast3r-ros build-map {tum[0]} --out MAP`"),
        (["localize", tum[1], "--map", broken, "--out", run, "--matcher", "sift"],
         "000000.png"),
        (["localize", tum[1], "--map", sift_map, "--out", run, "--params", str(bad_params)],
         "min_inlier"),
        (["localize", tum[1], "--map", sift_map, "--out", run], "needs a checkpoint"),
        (["localize", tum[1], "--map", sift_map, "--out", run, "--matcher", "sift", "--params",
          str(gpu_params)], f"{gpu_params}: parameter 'device' must be auto, cpu, cuda or "
                            "cuda:N (N a GPU index), got 'gpu'"),
        (["localize", tum[1], "--map", sift_map, "--out", run, "--matcher", "sift", "--device",
          "gpu"], "parameter 'device' must be auto, cpu, cuda or cuda:N"),
        (["localize", tum[1], "--map", sift_map, "--out", run, "--checkpoint",
          str(tmp_path / "none.pth")], "checkpoint not found"),
        (["localize", wrong_size, "--map", sift_map, "--out", run, "--matcher", "sift"],
         "640"),
        (["localize", str(tmp_path / "empty"), "--map", sift_map, "--out", run,
          "--matcher", "sift"], ""),
        (["build-map", tum[0], "--out", sift_map], "already exists"),
        (["build-map", no_gt, "--out", str(tmp_path / "m2"), "--matcher", "sift"],
         "no frame has a pose"),
        (["demo", "--out", str(tmp_path / "d"), "--matcher", "mast3r"], "needs --checkpoint"),
        # an output path the OS refuses (here: a file where the run folder should go)
        (["localize", tum[1], "--map", sift_map, "--out", str(a_file), "--matcher", "sift"],
         "a_file"),
        # found by a fresh-user test: these ran to the end (or wrote nothing) with exit 0
        (["localize", tum[1], "--map", sift_map, "--out", run, "--matcher", "sift",
          "--groundtruth", str(empty_gt)], "holds no poses"),
        (["localize", tum[1], "--map", sift_map, "--out", run, "--matcher", "sift",
          "--groundtruth", str(late_gt)], "no pose at any frame stamp"),
        (["build-map", tum[0], "--out", str(tmp_path / "m3"), "--matcher", "sift",
          "--pose-frames", "map:camera"], "--pose-frames: options for a rosbag2"),
        (["merge-maps", sift_map, sift_map + "/", "--out", str(tmp_path / "m4")],
         "same map"),
        (["check-map", sift_map, "--json", str(tmp_path)], str(tmp_path)),
    ]
    for argv, needle in cases:
        rc, errors = _error(capsys, argv)
        assert rc == 2, argv
        assert len(errors) == 1 and errors[0].startswith(f"mast3r-ros {argv[0]}: error:"), errors
        assert needle in errors[0], (needle, errors)
    assert not os.path.exists(str(tmp_path / "m2"))
    assert not os.path.exists(run) and not os.path.exists(run + ".partial")


def test_build_map_refuses_a_missing_checkpoint_before_reading_the_source(tum, tmp_path, capsys,
                                                                          monkeypatch):
    """A fresh user's finding: the missing --checkpoint (or --retrieval-checkpoint) was named
    only after the source was read and its keyframes checked (minutes on a large bag)."""
    from mast3r_ros.core.errors import CheckpointError
    from mast3r_ros.replay import cli, pipeline
    from mast3r_ros.replay.map_build import BuildOptions

    def no_source(*a, **k):
        raise AssertionError("the source was opened before the checkpoint was checked")
    monkeypatch.setattr(cli, "_open", no_source)
    out = str(tmp_path / "m")
    for extra, needle in ((["--checkpoint", str(tmp_path / "none.pth")],
                           f"checkpoint not found: {tmp_path / 'none.pth'}"),
                          (["--matcher", "sift", "--retrieval-checkpoint",
                            str(tmp_path / "r.pth")], "retrieval checkpoint not found")):
        rc, errors = _error(capsys, ["build-map", tum[0], "--out", out] + extra)
        assert rc == 2 and len(errors) == 1 and needle in errors[0], errors
    assert not os.path.exists(out) and not os.path.exists(out + ".partial")

    class Unread:  # the Python API: refused before a frame is read
        def __len__(self):
            return 3

        def __iter__(self):
            raise AssertionError("a frame was read before the checkpoint was checked")
    monkeypatch.setattr(pipeline, "refuse_without_depth", lambda *a: None)
    import dataclasses

    cfg = Config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model,
                                                             checkpoint=str(tmp_path / "none.pth")))
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        pipeline.build_map(Unread(), out, cfg, build=BuildOptions(workers=1))
    assert not os.path.exists(out) and not os.path.exists(out + ".partial")


def test_build_map_refuses_an_unfinished_build_before_reading_the_source(
        tum, sift_map, tmp_path, capsys, monkeypatch):
    """A new user's finding: build-map refused an OUT.partial holding encoded shards only after
    reading the whole source (localize refuses its RUN.partial first)."""
    from mast3r_ros.replay import cli

    def no_source(*a, **k):
        raise AssertionError("the source was opened before the refusal")
    monkeypatch.setattr(cli, "_open", no_source)
    out = str(tmp_path / "m")
    os.makedirs(os.path.join(out + ".partial", "keyframes"))
    os.makedirs(os.path.join(out + ".partial", "encodings", "ckpt_512"))
    with open(os.path.join(out + ".partial", "encodings", "ckpt_512", "shard_000000.json"),
              "w") as fh:
        fh.write("{}")
    for extra in ([], ["--overwrite"]):
        rc, errors = _error(capsys, ["build-map", tum[0], "--out", out, "--matcher", "sift"]
                            + extra)
        again = " ".join([""] + extra)
        assert rc == 2 and len(errors) == 1, errors
        assert (f"{out}.partial holds an unfinished build of {out} with 1 encoded shard(s): "
                f"rerun with --resume{again} to continue it, or with --restart{again}"
                in errors[0]), errors
    assert os.path.isdir(out + ".partial") and not os.path.exists(out)


def test_build_map_with_a_checkpoint_caches_encodings(tum, tmp_path, tiny_ckpt):
    from mast3r_ros.core.keyframes import KeyframeMap

    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n"
                      "    device: cpu\n    map_build: {min_translation_m: 1.0}\n")
    out = str(tmp_path / "m")
    assert main(["build-map", tum[0], "--out", out, "--checkpoint", tiny_ckpt, "--params",
                 str(params), "--log-level", "warning"]) == 0
    m = KeyframeMap.load(out)
    (ident, size), = m.encoding_keys()
    assert size == 224
    enc = m.load_encodings(ident, 224)
    assert len(enc.per_keyframe) == len(m) and np.isfinite(enc.global_desc).all()
    # the full content id beside the sampled one: every byte of the weights
    from mast3r_ros.core.model.checkpoint import load_checkpoint
    from mast3r_ros.core.model.content_id import content_identity

    model, info = load_checkpoint(tiny_ckpt)
    assert enc.content_id == content_identity(model.state_dict(), info.model_string)


def _walk(parser, path):
    """(path, help) of every subcommand and every argument under ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield path + (choice.dest,), choice.help
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))
        else:
            name = action.option_strings[-1] if action.option_strings else action.dest
            yield path + (name,), action.help


def test_every_subcommand_and_option_has_help():
    entries = list(_walk(build_parser(), ("mast3r-ros",)))
    commands = {p[1] for p, _ in entries if len(p) == 2}
    assert {"build-map", "localize", "demo", "pair", "retrieve", "check-map", "export",
            "merge-maps"} <= commands
    missing = [" ".join(p) for p, h in entries if not h or h == argparse.SUPPRESS]
    # hidden on purpose: accepted with a warning, localize reads no depth
    hidden = {f"mast3r-ros localize {o}" for o in ("--depth-topic", "--sync-tolerance",
                                                   "--depth-scale")}
    assert sorted(set(missing) - hidden) == [], missing


def test_every_command_refuses_an_existing_out_folder(tum, sift_map, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("not to be lost")
    t, none = str(taken), str(tmp_path / "none.pth")
    cases = [
        ["build-map", tum[0], "--out", t, "--matcher", "sift"],
        ["localize", tum[1], "--map", sift_map, "--out", t, "--matcher", "sift"],
        ["demo", "--out", t, "--frames", "8", "--width", "160", "--height", "120"],
        ["pair", "a.png", "b.png", "--out", t, "--checkpoint", none],
        ["retrieve", "a.png", "b.png", "--checkpoint", none, "--retrieval-checkpoint", none,
         "--out", t],
        ["export", none, "--out", t],
        ["merge-maps", sift_map, sift_map, "--out", t],
    ]
    for argv in cases:
        rc, errors = _error(capsys, argv)
        assert rc == 2 and len(errors) == 1, (argv, errors)
        assert t in errors[0] and "--overwrite" in errors[0], errors
        # --overwrite never replaces a folder that is not an output of the command
        rc, errors = _error(capsys, argv + ["--overwrite"])
        assert rc == 2 and len(errors) == 1 and "not replacing it" in errors[0], (argv, errors)
        assert sorted(os.listdir(taken)) == ["mine.txt"], argv
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    rc, errors = _error(capsys, ["localize", tum[1], "--map", sift_map, "--out", str(a_file),
                                 "--matcher", "sift", "--overwrite"])
    assert rc == 2 and "not a folder" in errors[0] and a_file.read_text() == "x"
    # an empty --out would mean the current folder: refused, nothing there replaced
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "results.jsonl").write_text("mine")
    old_cwd = os.getcwd()
    os.chdir(cwd)
    try:
        for argv in (["localize", tum[1], "--map", sift_map, "--matcher", "sift"],
                     ["build-map", tum[0], "--matcher", "sift"]):
            rc, errors = _error(capsys, argv + ["--out", "", "--overwrite"])
            assert rc == 2 and "empty" in errors[0], errors
    finally:
        os.chdir(old_cwd)
    assert sorted(os.listdir(cwd)) == ["results.jsonl"]
    assert sorted(os.listdir(tmp_path)) == ["a_file", "cwd", "taken"]  # no temporary left


def test_localize_overwrite_is_atomic_and_an_interrupted_run_keeps_its_results(
        tum, sift_map, tmp_path, capsys, monkeypatch):
    from mast3r_ros.core.localizer import Localizer

    run = tmp_path / "run"
    argv = ["localize", tum[1], "--map", sift_map, "--out", str(run), "--matcher", "sift",
            "--log-level", "warning"]
    assert main(argv + ["--max-frames", "3"]) == 0
    # (a file that is not an output would make --overwrite refuse the folder: test_overwrite_rules)
    (run / "errors.png").write_text("old")
    before = (run / "results.jsonl").read_text()
    real, calls = Localizer.localize, []

    def stop_at_third(self, *a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", stop_at_third)
    assert main(argv + ["--overwrite"]) == 130
    assert (run / "errors.png").read_text() == "old"
    assert (run / "results.jsonl").read_text() == before
    partial = tmp_path / "run.partial" / "results.jsonl"
    assert len(partial.read_text().splitlines()) == 2  # the frames localized before Ctrl-C
    assert sorted(os.listdir(tmp_path)) == ["run", "run.partial"]
    monkeypatch.undo()
    # the partial is refused without --resume or --restart (test_localize_resume): resumed
    assert main(argv + ["--overwrite", "--max-frames", "4", "--resume"]) == 0
    assert (run / "errors.png").read_bytes().startswith(b"\x89PNG")
    assert len((run / "results.jsonl").read_text().splitlines()) == 4
    assert sorted(os.listdir(tmp_path)) == ["run"]  # the stopped run's partial is superseded


def test_sigterm_during_localize_is_handled_as_ctrl_c(tum, sift_map, tmp_path, capsys,
                                                      monkeypatch):
    """A fresh user's finding: `timeout` (SIGTERM, as systemd, docker stop and a launch's
    shutdown send) killed `localize` outright and left a RUN.tmp-* folder per run. SIGTERM now
    takes Ctrl-C's path: the results so far in RUN.partial, nothing else, exit 143."""
    import signal

    from mast3r_ros.core.localizer import Localizer

    run = tmp_path / "run"
    real, calls = Localizer.localize, []

    def term_at_third(self, *a, **k):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # delivered to this (main) thread
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", term_at_third)
    # a handler of the test's own outside main(): a main() that does not take SIGTERM fails
    # this test instead of killing the test process
    missed = []

    def outside(signum, frame):
        missed.append(signum)
    before = signal.signal(signal.SIGTERM, outside)
    try:
        capsys.readouterr()
        rc = main(["localize", tum[1], "--map", sift_map, "--out", str(run), "--matcher",
                   "sift", "--log-level", "warning"])
        assert signal.getsignal(signal.SIGTERM) is outside  # main() restores the handler
    finally:
        signal.signal(signal.SIGTERM, before)
    assert (rc, missed) == (143, [])
    assert capsys.readouterr().err.splitlines()[-1] == "mast3r-ros localize: terminated (SIGTERM)"
    assert sorted(os.listdir(tmp_path)) == ["run.partial"]
    assert len((tmp_path / "run.partial" / "results.jsonl").read_text().splitlines()) == 2


def test_localize_with_no_frame_localized_does_not_blame_the_ground_truth(
        tum, sift_map, tmp_path, capsys, monkeypatch):
    """A fresh user's find: every frame failed, the ground truth covered every stamp, and the
    note said 'none covers their stamps: pass --groundtruth FILE'."""
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.types import LocalizationResult

    def fail(self, frame, *a, **k):
        return LocalizationResult.failure(frame.stamp_ns, "too few matches (3 < 12)")
    monkeypatch.setattr(Localizer, "localize", fail)
    run = str(tmp_path / "run")
    assert main(["localize", tum[1], "--map", sift_map, "--out", run, "--matcher", "sift",
                 "--max-frames", "2", "--log-level", "warning"]) == 0
    note = capsys.readouterr().err.strip().splitlines()[-1]
    assert note == ("mast3r-ros localize: note: no frame localized, so none could be evaluated "
                    "(2 of 2 have ground truth); why each failed: the 'failures' row above and "
                    f"{os.path.join(run, 'results.jsonl')}"), note
    # docs/maps.md: still a run, exit 0; a script tests metrics.json's "localized" count
    with open(os.path.join(run, "metrics.json"), encoding="utf-8") as fh:
        assert json.load(fh)["localized"] == 0


def test_retrieve_device_defaults_to_auto_like_the_other_commands():
    import inspect

    from mast3r_ros.replay.retrieve import run_retrieve

    p = build_parser()
    args = p.parse_args(["retrieve", "a", "b", "--checkpoint", "c", "--retrieval-checkpoint",
                         "r", "--out", "o"])
    assert args.device is None  # --params' device, else the Config default (retrieve._settings)
    from mast3r_ros.replay.retrieve import _settings

    assert _settings(args)[1] == "auto" == Config().model.device
    assert inspect.signature(run_retrieve).parameters["device"].default == "auto"


def test_ctrl_c_while_the_commands_import_is_one_line(monkeypatch, capsys):
    import mast3r_ros.replay.cli as cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    try:
        rc = cli.main(["demo"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C while the parser is built escaped main() as a traceback")
    assert rc == 130
    assert capsys.readouterr().err == "mast3r-ros: interrupted\n"


def test_help_needs_no_torch():
    """--help answers without importing torch (seconds): the work modules load per command."""
    import subprocess
    import sys

    code = ("import sys; from mast3r_ros.replay.cli import build_parser; "
            "build_parser().format_help(); print(sorted({'torch', 'cv2', 'scipy'} & "
            "set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert out.stdout.strip() == "[]", out


def test_parameter_files_are_read_as_ros_reads_them(tmp_path):
    """What the CLI accepts the node accepts: an integer for a double is the float (the node
    declares its doubles with dynamic typing; statically typed, rclpy raised
    InvalidParameterTypeException at declare and both refused it), and a file keyed for a
    namespaced node (as docs/ros_node.md recommends) is read (the CLI said 'no parameters for
    node')."""
    from mast3r_ros.core.errors import ConfigError

    def params(text):
        p = tmp_path / "p.yaml"
        p.write_text(text)
        return str(p)
    body = "  ros__parameters:\n    tf_publish_rate: {}\n    max_keyframes: 3\n"
    cfg = load_config_yaml(params("mast3r_localizer:\n" + body.format(10)))
    assert cfg.node.tf_publish_rate == 10.0 and isinstance(cfg.node.tf_publish_rate, float)
    cfg = load_config_yaml(params("mast3r_localizer:\n" + body.format(10.0)))
    assert cfg.node.tf_publish_rate == 10.0 and cfg.localizer.max_keyframes == 3
    for key in ("/robot1/mast3r_localizer", "/*/mast3r_localizer", "/a/b/mast3r_localizer"):
        cfg = load_config_yaml(params(f"{key}:\n" + body.format(5.0)))
        assert cfg.node.tf_publish_rate == 5.0, key
    with pytest.raises(ConfigError, match="several namespaced nodes"):
        load_config_yaml(params("/robot1/mast3r_localizer:\n" + body.format(5.0)
                                + "/robot2/mast3r_localizer:\n" + body.format(6.0)))
    with pytest.raises(ConfigError, match="no parameters for node"):
        load_config_yaml(params("/robot1/other_node:\n" + body.format(5.0)))


def test_parameter_files_as_nav2_writes_them(tmp_path):
    """Forms ROS reads and the CLI refused (a fresh user's finds): a nested namespace (Nav2's
    RewrittenYaml root_key), 'robot1/name' without the leading slash, rclpy's own
    use_sim_time and qos_overrides, and 1e-2 (a double for ROS's YAML reader, a string for
    PyYAML)."""
    from mast3r_ros.core.errors import ConfigError

    def load(text):
        p = tmp_path / "p.yaml"
        p.write_text(text)
        return load_config_yaml(str(p))
    params = ("ros__parameters:\n  use_sim_time: true\n  tf_publish_rate: 5.0\n"
              "  covariance: {map_pose_sigma_m: 1e-2}\n"
              "  qos_overrides: {/tf: {publisher: {depth: 10}}}\n")

    def indent(text, n):
        return "".join(" " * n + line + "\n" for line in text.splitlines())
    nested = "robot1:\n  mast3r_localizer:\n" + indent(params, 4)
    slashed = "robot1/mast3r_localizer:\n" + indent(params, 2)
    for text in (nested, slashed):
        cfg = load(text)
        assert cfg.node.tf_publish_rate == 5.0, text
        assert cfg.localizer.covariance.map_pose_sigma_m == 0.01
    with pytest.raises(ConfigError, match="no parameters for node"):
        load("robot1:\n  other_node:\n" + indent(params, 4))
    with pytest.raises(ConfigError, match=r"parameter file .* is a folder: give the YAML file"):
        load_config_yaml(str(tmp_path))
    with pytest.raises(ConfigError, match="must be float"):
        load("mast3r_localizer:\n  ros__parameters:\n    tf_publish_rate: fast\n")


def test_a_missing_library_is_one_line_naming_how_to_install_it(monkeypatch, capsys):
    """A plain `pip install -e .` has no OpenCV (an extra: ROS machines use the system's), and
    every command that reads images ended in a ModuleNotFoundError traceback."""
    import mast3r_ros.replay.cli as cli
    import mast3r_ros.replay.cli_demo as cli_demo

    def needs(name):
        def cmd(args):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return cmd
    for name, words in (("cv2", "pip install opencv-python-headless"), ("cv2", "python3-opencv"),
                        ("faiss", "pip install faiss-cpu"), ("shapely", "'shapely' is not")):
        monkeypatch.setattr(cli_demo, "cmd_demo", needs(name))
        assert cli.main(["demo", "--out", "x"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    monkeypatch.setattr(cli_demo, "cmd_demo", needs("mast3r_ros.core.gone"))
    with pytest.raises(ModuleNotFoundError):  # our own module missing: a broken checkout
        cli.main(["demo", "--out", "x"])


def test_type_errors_in_parameter_files_say_the_fix(tmp_path):
    from mast3r_ros.core.errors import ConfigError

    for line, words in (('two_d_mode: "true"', "write true without quotes"),
                        ("max_keyframes: 2.0", "write 2 "), ("map_frame: 12", "quote it ('12')")):
        p = tmp_path / "p.yaml"
        p.write_text(f"mast3r_localizer:\n  ros__parameters:\n    {line}\n")
        with pytest.raises(ConfigError, match=re.escape(words)):
            load_config_yaml(str(p))


def test_a_wildcard_block_may_hold_other_nodes_parameters(tmp_path):
    """'/**' applies to every node of a Nav2 bringup: another node's key there is not ours to
    refuse (rclpy ignores it); in the node's own block an unknown key stays a typo."""
    from mast3r_ros.core.errors import ConfigError

    p = tmp_path / "p.yaml"
    p.write_text("/**:\n  ros__parameters:\n    robot_base_frame: base_link\n"
                 "    tf_publish_rate: 7.0\n")
    assert load_config_yaml(str(p)).node.tf_publish_rate == 7.0
    p.write_text("mast3r_localizer:\n  ros__parameters:\n    robot_base_frame: base_link\n")
    with pytest.raises(ConfigError, match="unknown parameter 'robot_base_frame'"):
        load_config_yaml(str(p))


# ------------------------------------------------------------ a fresh user's findings (2) ---

def test_a_run_records_the_absolute_map_it_used(tum, sift_map, tmp_path, monkeypatch, capsys):
    """run/config.yaml had map_path '' with --map, and the relative map_path as written with
    --params; metrics.json had no map: both say the absolute map folder now."""
    monkeypatch.chdir(os.path.dirname(sift_map))
    rel = os.path.basename(sift_map)
    params = tmp_path / "p.yaml"
    params.write_text(f"mast3r_localizer:\n  ros__parameters:\n    map_path: {rel}\n"
                      "    matcher: sift\n")
    for i, argv in enumerate((["--map", rel, "--matcher", "sift"], ["--params", str(params)])):
        run = str(tmp_path / f"run{i}")
        assert main(["localize", tum[1], "--out", run, "--max-frames", "2", *argv]) == 0, argv
        assert load_config_yaml(os.path.join(run, "config.yaml")).node.map_path == sift_map
        assert json.load(open(os.path.join(run, "metrics.json")))["map"] == sift_map


def test_a_run_records_its_checkpoint_as_an_absolute_path(tum, sift_map, tmp_path,
                                                          monkeypatch):
    """config.yaml kept 'checkpoint: tiny.pth' as typed while map_path was absolute: given back
    as --params from another folder it named another file of that name (a fresh user's find)."""
    from mast3r_ros.replay.pipeline import recorded_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.pth").write_bytes(b"")
    run = str(tmp_path / "run")
    assert main(["localize", tum[1], "--out", run, "--max-frames", "1", "--map", sift_map,
                 "--matcher", "sift", "--checkpoint", "net.pth"]) == 0
    got = load_config_yaml(os.path.join(run, "config.yaml"))
    assert got.model.checkpoint == str(tmp_path / "net.pth")
    cfg = Config()
    cfg = dataclasses.replace(cfg, retrieval=dataclasses.replace(
        cfg.retrieval, checkpoint="r/ret.pth", codebook="~/cb.pkl"))
    rec = recorded_config(cfg).retrieval
    assert rec.checkpoint == str(tmp_path / "r" / "ret.pth")
    assert rec.codebook == os.path.join(os.path.expanduser("~"), "cb.pkl")
    assert recorded_config(Config()).model.checkpoint == ""  # none stays none


def test_an_empty_map_or_a_missing_params_map_is_one_line_naming_where_it_came_from(
        tum, sift_map, tmp_path, capsys):
    params = tmp_path / "robot.yaml"  # --map "$MAP" with MAP unset fell back to this map_path
    params.write_text(f"mast3r_localizer:\n  ros__parameters:\n    map_path: {sift_map}\n")
    run = str(tmp_path / "run")
    rc, errors = _error(capsys, ["localize", tum[1], "--map", "", "--params", str(params),
                                 "--out", run, "--matcher", "sift"])
    assert rc == 2 and len(errors) == 1 and "--map is empty" in errors[0], errors
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    map_path: maps/nope\n")
    rc, errors = _error(capsys, ["localize", tum[1], "--params", str(params), "--out", run,
                                 "--matcher", "sift"])
    assert rc == 2 and len(errors) == 1, errors
    assert "map_path 'maps/nope'" in errors[0] and str(params) in errors[0], errors
    assert not os.path.exists(run)


def test_output_errors_name_the_path_given_not_our_temporary_file(tmp_path):
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.fileio import atomic_write_bytes, check_output_folder

    dest = str(tmp_path / "nodir" / "cm.png")
    with pytest.raises(OSError) as e:
        atomic_write_bytes(dest, b"x")
    assert e.value.filename == dest
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        check_output_folder(str(tmp_path / "a_file" / "run"), False)
    if os.path.isdir("/proc/self"):  # a pseudo file system: nothing can be created there
        with pytest.raises(InputError, match=r"^--out /proc/e10: cannot write in the folder "
                                             r"/proc \("):
            check_output_folder("/proc/e10", False)
    check_output_folder(str(tmp_path / "new" / "deeper" / "run"), False)  # parents are made


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="Linux /proc needed")
def test_an_out_under_proc_says_it_is_the_kernels_file_system_not_that_proc_is_missing(
        capsys):
    """`--out /proc/x` said "cannot write in the folder /proc (No such file or directory)",
    although /proc is there: it is said to be there and to take no files, the OS's words kept."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.core.fileio import atomic_write_bytes, check_output_folder

    with pytest.raises(InputError) as e:
        check_output_folder("/proc/x", False)
    assert str(e.value) == ("--out /proc/x: cannot write in the folder /proc (the folder "
                            "exists but takes no new files: a kernel or special file system "
                            "such as /proc? The OS said: No such file or directory); choose "
                            "another --out on a file system you can write to")
    assert main(["check-map", "/nonexistent-map", "--json", "/proc/x.json"]) == 2
    assert "/proc (the folder exists but takes no new files" in capsys.readouterr().err
    with pytest.raises(OSError) as err:  # an atomic write there (no check before it)
        atomic_write_bytes("/proc/x.bin", b"x")
    assert err.value.filename == "/proc/x.bin" and "exists but takes no new" in str(err.value)


def test_a_folder_that_refuses_new_files_is_not_said_to_be_missing(tmp_path, monkeypatch):
    """A folder that is there but whose file system answers "No such file or directory" to a
    new file (a special file system) is not called missing."""
    import tempfile

    from mast3r_ros.core import fileio
    from mast3r_ros.core.errors import InputError

    def enoent(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(tempfile, "mkstemp", enoent)
    with pytest.raises(InputError, match=r"cannot write in the folder .* \(the folder exists but "
                                         r"takes no new files: a kernel or special file system "
                                         r"such as /proc\? The OS said: No such file or "
                                         r"directory\)"):
        fileio.check_can_create(str(tmp_path / "run"), "--out")


def test_help_shows_the_defaults_of_options_that_override_params(capsys):
    from mast3r_ros.replay.cli import overrides_default

    d = Config()

    def help_of(cmd):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        return " ".join(capsys.readouterr().out.split())

    for cmd in ("localize", "build-map"):
        text = help_of(cmd)
        assert f"matcher {overrides_default(d.localizer.matcher)}" in text
        assert overrides_default(d.model.device) in text
    text = help_of("pair")
    assert f"network size {overrides_default(d.model.image_size, 'image_size')}" in text
    assert f"fp32 {overrides_default(d.model.precision)}" in text
    assert "(default: --params' value, else mast3r)" in help_of("localize")
    assert "(default: mast3r with a checkpoint" in help_of("demo")


def test_sparse_groundtruth_of_the_same_recording_names_max_gap_s(tum, sift_map, tmp_path,
                                                                   capsys):
    """A fresh user's finding: a ground truth sampled wider apart than pose_at_stamp.max_gap_s
    (the same recording, its time range overlapping the frames') was called 'the ground truth
    of another recording?'; the message names its spacing and the params key instead."""
    run = str(tmp_path / "run")
    gt = os.path.join(tum[0], "groundtruth.txt")  # poses at 0.0, 0.2, ..., frames at 0.1, 0.3
    rc, errors = _error(capsys, ["localize", tum[1], "--map", sift_map, "--out", run,
                                 "--matcher", "sift", "--groundtruth", gt])
    assert rc == 2 and len(errors) == 1, errors
    assert "another recording" not in errors[0], errors
    for needle in (f"--groundtruth {gt} has no pose at any frame stamp",
                   "0.200 s apart at the median",
                   "pose_at_stamp.max_gap_s (0.100 s)", "'pose_at_stamp: max_gap_s: 0.2'",
                   "--params"):
        assert needle in errors[0], (needle, errors)
    params = tmp_path / "gap.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n"
                      "    pose_at_stamp: {max_gap_s: 0.2}\n")
    assert main(["localize", tum[1], "--map", sift_map, "--out", run, "--matcher", "sift",
                 "--groundtruth", gt, "--params", str(params), "--max-frames", "2"]) == 0


def test_camera_info_of_another_image_size_is_named_at_the_first_frame(tum, sift_map, tmp_path,
                                                                       capsys):
    """A fresh user's finding: a --camera-info YAML for 160x120 with 320x240 images stopped only
    after 10 frames, as 'a broken recording'; the option is wrong: it is named at the first."""
    cam = tmp_path / "cam.yaml"
    cam.write_text(Path(tum[1], "camera.yaml").read_text()
                   .replace("image_width: 320", "image_width: 160")
                   .replace("image_height: 240", "image_height: 120"))
    rc, errors = _error(capsys, ["localize", tum[1], "--map", sift_map, "--out",
                                 str(tmp_path / "run"), "--matcher", "sift",
                                 "--camera-info", str(cam)])
    assert rc == 2 and len(errors) == 1, errors
    assert (f"--camera-info {cam} is for 160x120 images but the frames are 320x240 (the first "
            "read, t=0.100 s): it is the calibration of another image size") in errors[0], errors
    assert "broken recording" not in errors[0], errors


def test_help_says_what_localize_and_retrieve_size_do_not_do():
    """A fresh user's finding: localize --help listed the depth options as if they were read
    (localize reads no depth), and retrieve --help called --size 224 a long side (it is a
    224x224 centre crop)."""
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices
    flat = {cmd: " ".join(sub[cmd].format_help().split()) for cmd in ("localize", "build-map",
                                                                     "retrieve")}
    for option in ("--depth-topic", "--sync-tolerance", "--depth-scale"):
        # listed 'unused here' they read as options localize needs: hidden, still accepted
        # (a warning says they have no effect)
        assert option not in flat["localize"] and option in flat["build-map"]
        (loc,) = [a.help for a in sub["localize"]._actions if option in a.option_strings]
        assert loc == argparse.SUPPRESS
    args = p.parse_args(["localize", "q", "--out", "r", "--depth-scale", "1000",
                         "--sync-tolerance", "0.1", "--depth-topic", "/d"])
    assert (args.depth_scale, args.sync_tolerance, args.depth_topic) == (1000.0, 0.1, "/d")
    assert "224 a 224x224 centre crop (the short side scaled to 224)" in flat["retrieve"]


def test_help_names_the_output_folder_as_its_text_does():
    """A fresh user's finding: pair, retrieve and export said 'Writes DIR/pair.npz' beside
    '--out OUT'; and the top-level entry for export was a three-line aside on trtexec."""
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    for cmd in ("pair", "retrieve", "export"):
        text = " ".join(sub.choices[cmd].format_help().split())
        assert "--out DIR" in text and "--out OUT" not in text and " DIR/" in text, cmd
    (export,) = [a.help for a in sub._choices_actions if a.dest == "export"]
    assert export == "export the network to ONNX (details: export --help)"
    assert "trtexec --fp16" in " ".join(sub.choices["export"].format_help().split())


def test_demo_rendering_shows_progress(tmp_path, monkeypatch):
    """A fresh user's finding: the demo rendered its scene (~30 s) in silence while build-map
    and localize show a progress bar; the rendering goes through the same helper."""
    from mast3r_ros.replay import demo

    seen = []

    def recording(it, total, desc, unit):
        seen.append((total, desc, unit))
        return it
    monkeypatch.setattr(demo, "progress", recording)
    demo.demo_data(str(tmp_path / "data"), 4, 64, 48, 0)
    assert seen == [(4, "rendering the demo scene", "frame")]
    assert len(os.listdir(tmp_path / "data" / "map" / "rgb")) == 2
