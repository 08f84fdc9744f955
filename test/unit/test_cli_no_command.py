"""`mast3r-ros` with no arguments said one line, "the following arguments are required: COMMAND",
leaving a first-time user to guess the commands. It prints the usage with the list of commands
now (still exit 2, on stderr); a subcommand's own missing argument stays one line."""

from __future__ import annotations

import pytest

from mast3r_ros.replay.cli import main


def test_no_command_prints_the_usage_with_the_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("usage: mast3r-ros"), out.err
    for command in ("build-map", "localize", "demo", "pair", "check-map", "merge-maps"):
        assert command in out.err, command
    last = out.err.strip().splitlines()[-1]
    assert last.startswith("mast3r-ros: error:") and "COMMAND" in last, last


def test_a_subcommands_missing_argument_stays_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["localize", "src"])  # --out missing
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0], err


def test_the_readme_says_no_command_prints_the_usage():
    """The README said every command "exits 2 with one line on bad input", while `mast3r-ros`
    alone prints the whole usage above its line."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "`mast3r-ros` alone prints the usage with the list of commands above that line" \
        in readme
    assert "the closest, `(did you mean build-map?)`" in readme
