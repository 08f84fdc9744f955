"""localize --help showed `--stride STRIDE` and `--max-frames MAX_FRAMES` where build-map shows
`--max-frames N`: the counts read N in both now."""

from __future__ import annotations

import pytest

from mast3r_ros.replay.cli import build_parser


@pytest.mark.parametrize("option", ["--stride", "--max-frames"])
def test_localize_counts_show_n_as_build_map_does(option):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    text = sub.choices["localize"].format_help()
    assert f"{option} N" in text and f"{option} {option[2:].upper().replace('-', '_')}" \
        not in text, text
    assert "--max-frames N" in sub.choices["build-map"].format_help()
