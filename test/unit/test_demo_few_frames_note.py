"""The demo's note when it localizes few of its held-out frames at a non-default scene.

A fresh user's find: `mast3r-ros demo --frames 8` (accepted: at least 4, now 5) localized 2 of 4
frames, `--frames 4 --width 128 --height 96` none, with no word why; the defaults localize all.
Fewer frames put the rendered views farther apart around the loop, smaller images give SIFT
fewer features: the note says so and names the defaults.
"""

from types import SimpleNamespace as NS

from mast3r_ros.replay.cli_demo import _demo_recall_note

DEFAULTS = dict(frames=60, width=640, height=480)


def test_few_frames_localized_with_few_frames_rendered_are_explained():
    note = _demo_recall_note(NS(**dict(DEFAULTS, frames=8)), {"frames": 4, "localized": 2})
    assert "2 of 4" in note and "--frames 8" in note and "--frames 60" in note, note


def test_small_images_are_named():
    note = _demo_recall_note(NS(frames=16, width=128, height=96), {"frames": 8, "localized": 5})
    assert "128x96" in note and "640x480" in note, note


def test_no_note_when_nearly_all_localize_or_at_the_defaults():
    assert _demo_recall_note(NS(**dict(DEFAULTS, frames=16)), {"frames": 8, "localized": 8}) == ""
    # at the defaults a low recall is no scene-size matter (a checkpoint's, a bug's): not blamed
    assert _demo_recall_note(NS(**DEFAULTS), {"frames": 30, "localized": 3}) == ""


def test_with_the_mast3r_matcher_the_note_names_the_weights_not_sift():
    """`demo --checkpoint tiny.pth --frames 10 --width 320 --height 240` (the README's tiny
    checkpoint) localized none and the note blamed SIFT's features and promised the defaults
    would localize them all: with random weights no size does, and SIFT did not run."""
    note = _demo_recall_note(NS(frames=10, width=320, height=240), {"frames": 5, "localized": 0},
                             "mast3r")
    assert "SIFT finds" not in note and "checkpoint's weights decide" in note, note
    assert "--frames 10" in note and note.startswith("note: 0 of 5"), note
