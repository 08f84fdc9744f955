"""Pins of `replay.cli_options` that the mutation audit 2026-12-06i found untested: the word an
empty option's refusal asks for (its metavar, else its name), and where the run's image_stamp
is said to come from (`image_stamp_said`, `image_stamp_name`) with --params beside
--image-stamp or a --params file that does not set it."""

from __future__ import annotations

import pytest

import mast3r_ros.replay.cli_options as cli_options
import mast3r_ros.replay.sources as sources
from mast3r_ros.replay.cli import build_parser, main


@pytest.mark.parametrize("option, give", [("--camera-info", "give YAML, or leave"),
                                          ("--depth-topic", "give DEPTH_TOPIC, or leave")])
def test_an_empty_option_asks_for_its_metavar_else_its_name(tmp_path, capsys, option, give):
    """--camera-info has the metavar YAML, --depth-topic none (its dest upper-cased):
    `action.metavar or action.dest.upper()` as `and` asked for CAMERA_INFO and None."""
    assert main(["localize", str(tmp_path / "src"), "--map", str(tmp_path / "m"), "--out",
                 str(tmp_path / "o"), option, ""]) == 2
    err = capsys.readouterr().err
    assert f"error: {option} is empty (an unset shell variable?): {give} {option} out" in err, err


def _source_options(tmp_path, monkeypatch, *extra):
    """The `SourceOptions` localize's `_open` hands `open_source` for ``extra`` options, with
    a --params file that does not set image_stamp."""
    params = tmp_path / "p.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    image_size: 512\n")
    seen = []
    monkeypatch.setattr(sources, "open_source",
                        lambda source, options, *rest: seen.append(options))
    args = build_parser().parse_args(["localize", str(tmp_path / "src"), "--map", "m", "--out",
                                      str(tmp_path / "o"), "--params", str(params), *extra])
    cli_options._open(args, cli_options.load_config(args))
    (options,) = seen
    return options, params


def test_image_stamp_given_beside_params_is_named_as_the_flag(tmp_path, monkeypatch):
    """--image-stamp receive with --params: the flag decides and is named (a TUM folder's
    refusal then adds no '--image-stamp header overrides --params'); --params alone names the
    file's setting (`image_stamp is None and params` -> `or` named --params' for both)."""
    options, _ = _source_options(tmp_path, monkeypatch, "--image-stamp", "receive")
    assert (options.image_stamp, options.image_stamp_name) == ("receive", "--image-stamp")
    assert options.image_stamp_said == "--image-stamp receive"
    options, _ = _source_options(tmp_path, monkeypatch)
    assert options.image_stamp_name == "--params' image_stamp"


def test_a_params_file_that_does_not_set_image_stamp_leaves_the_default_said(tmp_path,
                                                                             monkeypatch):
    """--params whose file has no image_stamp: the run's header is the default's, not
    'image_stamp: header in FILE' (`params and value != "header"` -> `or`)."""
    options, _ = _source_options(tmp_path, monkeypatch)
    assert (options.image_stamp, options.image_stamp_said) == (
        "header", "the default image_stamp header")
