"""Pins on `errors.after_publishing` that test_interrupt_at_publish.py (through the CLI) left
free: each failed on a hand mutant of errors.py."""

from __future__ import annotations

import pytest

from mast3r_ros.core.errors import after_publishing, mark_published, published_note


def test_a_stop_noted_already_keeps_its_first_note():
    """A stop noted inside (the innermost output published, or a caller's own note) is not
    renamed by an outer block: the last line names what the stop came after."""
    with pytest.raises(KeyboardInterrupt) as err:
        with after_publishing("the map", "/out/map"):
            with after_publishing("the run", "/out/run"):
                raise KeyboardInterrupt
    assert published_note(err.value) == " after the run was published: /out/run is complete"
    stop = KeyboardInterrupt()
    mark_published(stop, "the map", "/a")
    with pytest.raises(KeyboardInterrupt) as err:
        with after_publishing("the run", "/b"):
            raise stop
    assert err.value.published == ("the map", "/a")


def test_other_errors_pass_unnoted():
    with pytest.raises(RuntimeError) as err:
        with after_publishing("the map", "/out/map"):
            raise RuntimeError("disk full")
    assert published_note(err.value) == ""
