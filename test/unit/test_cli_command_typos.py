"""A command name typed as the Python function or in British spelling (`build_map`,
`localise`, `checkmap`): argparse listed the eight commands, leaving the user to spot the one
meant. The closest is named now, as for a mistyped option."""

from __future__ import annotations

import pytest

from mast3r_ros.replay.cli import main


@pytest.mark.parametrize("typed, meant", [("build_map", "build-map"), ("localise", "localize"),
                                          ("checkmap", "check-map"), ("merge", "merge-maps")])
def test_a_mistyped_command_names_the_closest(typed, meant, capsys):
    with pytest.raises(SystemExit) as e:
        main([typed, "x"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"did you mean {meant}?" in err[0], err


def test_a_command_like_none_gets_no_guess(capsys):
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    assert "did you mean" not in capsys.readouterr().err
