"""`mast3r-ros export`'s argument checks (`replay/export.py`), stopped before any ONNX export:
the camera size, the checkpoint given once, the keyframe batch range (fast: no network)."""

from __future__ import annotations

import argparse
import os

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay import export


class Reached(Exception):
    """The command got past its argument checks (to the output-folder check)."""


def _args(**kw):
    base = dict(ckpt="tiny.pth", checkpoint=None, out="x", overwrite=False, size=224,
                keyframe_batch=2, camera_size=(640, 480), exporter="auto", log_level="info")
    base.update(kw)
    return argparse.Namespace(**base)


def test_camera_size_is_width_by_height():
    assert export._camera_size("640x480") == (640, 480)            # width first
    assert export._camera_size(" 1280 X 720 ") == (1280, 720)
    for bad in ("640*480", "640x", "x480", "640x480x3", "-640x480"):
        with pytest.raises(argparse.ArgumentTypeError, match="WIDTHxHEIGHT"):
            export._camera_size(bad)


@pytest.mark.parametrize("size, zero", [("0x480", "width is"), ("640x0", "height is"),
                                        ("0x0", "width and height are")])
def test_a_zero_camera_size_names_the_side_and_the_option(size, zero, capsys):
    """`export CK --out o --camera-size 0x480` said "--camera-size 0x480: image must be
    non-empty, got 0x480": it names the zero side now, and what to give."""
    from mast3r_ros.replay.cli import main

    assert main(["export", "CK", "--out", "o", "--camera-size", size]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(
        f"--camera-size {size}: the {zero} 0; give the camera's resolution in pixels, "
        "WIDTHxHEIGHT (e.g. 640x480)"), err


def test_keyframe_batch_accepts_exactly_the_max_keyframes_range(monkeypatch):
    """The range is max_keyframes' (1..32): both ends pass, one past either end is refused."""
    def reached(*a, **k):
        raise Reached
    monkeypatch.setattr(export, "check_output_folder", reached)
    lo, hi = export.KEYFRAME_BATCH_RANGE
    assert (lo, hi) == (1, 32) and lo <= export.KEYFRAME_BATCH_DEFAULT <= hi
    for k in (lo, hi):
        with pytest.raises(Reached):
            export._cmd_export(_args(keyframe_batch=k))
    for k in (lo - 1, hi + 1):
        with pytest.raises(InputError, match=f"must be in {lo}..{hi}"):
            export._cmd_export(_args(keyframe_batch=k))


def test_checkpoint_given_once_either_way(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert export.checkpoint_of(_args(ckpt="a.pth"))[0] == "a.pth"
    assert export.checkpoint_of(_args(ckpt=None, checkpoint="b.pth")) == \
        ("b.pth", "with --checkpoint CKPT")
    assert "as CKPT" in export.checkpoint_of(_args(ckpt="a.pth", checkpoint="a.pth"))[1]
    with pytest.raises(InputError, match="no checkpoint given"):
        export.checkpoint_of(_args(ckpt=None, checkpoint=None))
    with pytest.raises(InputError, match="two checkpoints given"):
        export.checkpoint_of(_args(ckpt="a.pth", checkpoint="b.pth"))   # neither exists


def test_an_empty_checkpoint_is_said_to_be_empty_not_missing(tmp_path, monkeypatch):
    """``export "$CKPT" --out DIR`` or ``--checkpoint "$CKPT"`` with CKPT unset was answered "no
    checkpoint given: pass it as ...", though the user did pass it (docs/maps.md:
    'Keyframe selection': an empty --checkpoint is an error on every command, named as such);
    and an empty CKPT beside a real --checkpoint was silently ignored."""
    monkeypatch.chdir(tmp_path)
    for ckpt, checkpoint, named in (("", None, "CKPT"), (None, "", "--checkpoint"),
                                    (" ", None, "CKPT"), ("", "b.pth", "CKPT")):
        with pytest.raises(InputError, match=rf"^{named} is empty \(an unset shell variable\?\): "
                                             r"give the MASt3R checkpoint file"):
            export.checkpoint_of(_args(ckpt=ckpt, checkpoint=checkpoint))


def test_same_file_expands_home_and_follows_links(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "w.pth").write_bytes(b"x")
    os.symlink(tmp_path / "w.pth", tmp_path / "link.pth")
    assert export._same_file("~/w.pth", str(tmp_path / "w.pth"))
    assert export._same_file(str(tmp_path / "link.pth"), str(tmp_path / "w.pth"))
    os.symlink(tmp_path / "gone.pth", tmp_path / "dangling.pth")     # neither exists
    assert export._same_file(str(tmp_path / "dangling.pth"), str(tmp_path / "gone.pth"))
    assert export._same_file("~/gone.pth", str(tmp_path / "gone.pth"))
    assert not export._same_file(str(tmp_path / "w.pth"), str(tmp_path / "gone.pth"))
    os.link(tmp_path / "w.pth", tmp_path / "hard.pth")     # a hard link: one file, two paths
    assert export._same_file(str(tmp_path / "hard.pth"), str(tmp_path / "w.pth"))


@pytest.mark.parametrize("level, expected", [("info", "WARNING"), ("debug", "NOTSET")])
def test_the_onnx_exporters_chatter_is_kept_at_warning_unless_debug(monkeypatch, tmp_path,
                                                                    level, expected):
    """The ONNX exporter's passes log ~1 400 INFO lines for the tiny network."""
    import logging

    from mast3r_ros.core.model import checkpoint, export as model_export

    def reached(*a, **k):
        raise Reached
    monkeypatch.setattr(model_export, "require_onnx", lambda exporter: None)
    monkeypatch.setattr(checkpoint, "load_checkpoint", reached)
    names = ("onnx_ir", "onnxscript", "torch.onnx", "onnx")
    saved = {n: logging.getLogger(n).level for n in names}
    try:
        for n in names:
            logging.getLogger(n).setLevel(logging.NOTSET)
        with pytest.raises(Reached):
            export._cmd_export(_args(out=str(tmp_path / "out"), log_level=level))
        assert {logging.getLevelName(logging.getLogger(n).level) for n in names} == {expected}
    finally:
        for n, lvl in saved.items():
            logging.getLogger(n).setLevel(lvl)


def test_overwrite_refuses_an_export_folder_holding_the_users_files(tmp_path, capsys,
                                                                     monkeypatch):
    """`export --overwrite` deleted a notes.txt the user had put in the export folder: as every
    other command, --overwrite replaces only a folder holding nothing but its own output."""
    from mast3r_ros.core.model import checkpoint
    from mast3r_ros.core.model.export import check_export_target
    from mast3r_ros.replay.cli import main

    read = []
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda *a, **k: read.append(a))
    out = tmp_path / "onnx"
    out.mkdir()
    (out / "manifest.json").write_text('{"format": "mast3r_ros-onnx"}')
    for name in ("encoder.onnx", "decoder.onnx", "decoder.onnx.data"):  # external weights too
        (out / name).write_bytes(b"")
    check_export_target(str(out))  # an export alone may be replaced
    (out / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match=r"onnx holds notes.txt, which an export does not "
                                         r"write"):
        check_export_target(str(out))
    rc = main(["export", str(tmp_path / "none.pth"), "--out", str(out), "--overwrite"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "notes.txt" in err[0], err
    assert (out / "notes.txt").read_text() == "precious" and not read


def test_the_export_is_made_with_the_given_size_batch_camera_and_exporter(monkeypatch, tmp_path,
                                                                          capsys):
    """What the command hands the exporter is what was asked for (a --keyframe-batch 3
    exported the default batch and said 3), the network shape from --size and --camera-size."""
    from mast3r_ros.core.model import checkpoint, engine, export as model_export

    seen = {}

    def export_onnx(model, out_dir, **kw):
        seen.update(kw, model=model, out_dir=out_dir)
        return model_export.ExportResult(out_dir, {"exporter": "torchscript", "opset": 17})

    monkeypatch.setattr(model_export, "require_onnx", lambda exporter: None)
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda *a, **k: ("net", "info"))
    monkeypatch.setattr(model_export, "export_onnx", export_onnx)
    out = str(tmp_path / "out")
    assert export._cmd_export(_args(out=out, size=224, keyframe_batch=3, camera_size=(480, 640),
                                    exporter="torchscript")) == 0
    assert seen == dict(model="net", out_dir=out, size=224, keyframe_batch=3, info="info",
                        net_shape=engine.network_shape(224, (480, 640)), exporter="torchscript",
                        progress=False)
    assert "keyframe batch 3, torchscript exporter (opset 17)" in capsys.readouterr().out


def test_the_size_default_is_the_localizers_image_size(tmp_path):
    """--size's help says it is the config's image_size: its default is that parameter's."""
    from mast3r_ros.core.config import LocalizerConfig, ModelConfig
    from mast3r_ros.replay.cli import build_parser

    args = build_parser().parse_args(["export", "tiny.pth", "--out", str(tmp_path / "o")])
    assert args.size == ModelConfig().image_size == 512
    assert args.keyframe_batch == LocalizerConfig().max_keyframes
    assert args.camera_size == (640, 480) and args.exporter == "auto"


def test_an_export_finished_while_this_one_waited_for_the_lock_is_not_overwritten(monkeypatch,
                                                                                  tmp_path):
    """The output folder is checked again once the lock is held: another export of the same
    --out that ended meanwhile is refused as an existing one, not replaced without
    --overwrite."""
    import contextlib

    out = tmp_path / "out"

    @contextlib.contextmanager
    def lock_after_another_export(path):
        out.mkdir()
        (out / "manifest.json").write_text("{}")
        yield

    monkeypatch.setattr(export, "output_lock", lock_after_another_export)
    monkeypatch.setattr(export, "_export_locked", lambda *a: pytest.fail("exported over it"))
    with pytest.raises(InputError, match="--overwrite"):
        export._cmd_export(_args(out=str(out)))


def test_export_help_shows_each_default_once(capsys):
    """Its parser is a subcommand's like any other: argparse's '(default: X)' where the help
    does not say it in words (--keyframe-batch, --camera-size, --exporter do)."""
    from mast3r_ros.replay.cli import main

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 512)" in out and "(default: info)" in out
    assert "(default: 2)" not in out and out.count("640x480") == 1
