"""No option is taken by a prefix of its name: argparse's default (allow_abbrev) read
`build-map ... --max-frame 3` as --max-frames 3 and `--over` as --overwrite (which empties the
output folder): a typo or an option of another version silently became another option. Now an
abbreviation is argparse's 'unrecognized arguments', the CLI's one line with exit 2, naming the
option it begins."""

from __future__ import annotations

import argparse

import pytest

from mast3r_ros.replay.cli import build_parser, main


def _error_line(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1, err
    return err.strip()


def test_every_parser_refuses_abbreviations():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert parser.allow_abbrev is False
    for name, subparser in sub.choices.items():
        assert subparser.allow_abbrev is False, name


def test_build_map_max_frame_is_not_max_frames(tmp_path, capsys):
    line = _error_line(capsys, ["build-map", str(tmp_path), "--out", str(tmp_path / "m"),
                                "--max-frame", "3"])
    assert line == ("mast3r-ros build-map: error: unrecognized arguments: --max-frame 3 "
                    "(did you mean --max-frames?) (see mast3r-ros build-map --help)"), line
    assert not (tmp_path / "m").exists()


def test_over_is_not_overwrite_and_the_output_is_left_alone(tmp_path, capsys):
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    line = _error_line(capsys, ["build-map", str(tmp_path / "src"), "--out", str(out),
                                "--over"])
    assert "unrecognized arguments: --over (did you mean --overwrite?)" in line, line
    assert (out / "keep.txt").read_text() == "mine"


def test_an_abbreviation_of_several_options_names_them_all(tmp_path, capsys):
    line = _error_line(capsys, ["localize", str(tmp_path), "--out", str(tmp_path / "o"),
                                "--camera-=x.yaml"])
    assert "unrecognized arguments: --camera-=x.yaml (did you mean --camera-info or " \
           "--camera-info-topic?)" in line, line


def test_top_level_abbreviation_and_a_plain_typo(tmp_path, capsys):
    line = _error_line(capsys, ["--vers", "build-map", str(tmp_path), "--out",
                                str(tmp_path / "m")])
    assert line.startswith("mast3r-ros: error: unrecognized arguments: --vers (did you mean "
                           "--version?)"), line
    # a typo close to one option (difflib) is named too; one close to none keeps argparse's words
    line = _error_line(capsys, ["build-map", str(tmp_path), "--out", str(tmp_path / "m"),
                                "--overwirte"])
    assert "--overwirte (did you mean --overwrite?)" in line, line
    line = _error_line(capsys, ["build-map", str(tmp_path), "--out", str(tmp_path / "m"),
                                "--bogus"])
    assert "did you mean" not in line, line
