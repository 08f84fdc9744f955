"""Pin from the mutation audit docs/bench/mutation_cpu_2026-12-06w: `misspelt_node_key` calls
a top-level key misspelt from a similarity of 0.8 on (difflib's ratio), that value included."""

from __future__ import annotations

import difflib

from mast3r_ros.core.config.blocks import misspelt_node_key


def test_a_key_exactly_0_8_alike_is_named_and_one_below_is_not():
    at, below = "mast3r_localxy", "mast3r_locxyz"
    assert difflib.SequenceMatcher(None, at, "mast3r_localizer").ratio() == 0.8
    assert difflib.SequenceMatcher(None, below, "mast3r_localizer").ratio() < 0.8
    assert misspelt_node_key({at: {}}) == (at, "mast3r_localizer")
    assert misspelt_node_key({below: {}}) is None
