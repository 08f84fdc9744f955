"""What a refusal says: the words a user reads when nothing localizes, or a map is refused,
name the likely cause (a fresh user's trial: docs/bench/honesty_cpu_2026-12-07z)."""

from __future__ import annotations

from mast3r_ros.core.repeated_image import REASON_PREFIX


def test_a_run_with_no_frame_localized_says_what_its_failures_likely_mean():
    from mast3r_ros.replay.run_notes import no_frame_localized_note

    def note(reasons):
        return no_frame_localized_note({"frames": 50, "frames_with_groundtruth": 50,
                                        "failure_reasons": reasons}, "run")

    # another place than the map: kitchen frames against the demo's map
    said = note({"too few PnP inliers": 40, "too few inliers": 10})
    assert "most frames failed as their images have features but too few matches" in said
    assert "a place this map does not hold" in said and said.endswith("run/results.jsonl")
    assert "frozen camera driver" in note({REASON_PREFIX: 49, "too few inliers": 1})
    assert "lens cap" in note({"too few features in the query image": 50})
    # no known reason for at least half: the note as before
    assert "most frames" not in note({"too few matches": 30, "too few inliers": 20})


def test_an_unexplained_inconsistent_map_names_depth_out_of_sync_among_the_fixes():
    """redkitchen's map with each keyframe's depth taken 10 frames later was refused as 'no
    pose convention or depth scale explains it; fix: check the poses ... and the depth unit',
    which never named the cause (docs/bench/honesty_cpu_2026-12-07z)."""
    from mast3r_ros.core.map_check.diagnose import _discontinuity

    cause = _discontinuity([], [], None)
    assert cause.name == "unknown"
    assert "depth image is of its colour image's instant" in cause.fix
    assert "out of sync" in cause.fix and "the depth unit" in cause.fix


def test_no_frame_localized_by_the_mast3r_matcher_names_the_weights_too():
    """A tiny random-weight checkpoint's run (every frame 'too few PnP inliers') was told to
    look for another map, an unseen part or blurred images; with the mast3r matcher the weights
    are named among the causes (docs/bench/m3_user_trial_cpu_2026-12-07zj)."""
    from mast3r_ros.replay.run_notes import no_frame_localized_note

    metrics = {"frames": 10, "frames_with_groundtruth": 10,
               "failure_reasons": {"too few PnP inliers": 10}}
    said = no_frame_localized_note(metrics, "run", "mast3r")
    assert "a place this map does not hold" in said
    assert "weights other than MASt3R's trained ones" in said and "random-weight" in said
    assert said.endswith("run/results.jsonl")
    assert "weights" not in no_frame_localized_note(metrics, "run", "sift")
    lens_cap = {"frames": 5, "frames_with_groundtruth": 5,
                "failure_reasons": {"too few features in the query image": 5}}
    assert "weights" not in no_frame_localized_note(lens_cap, "run", "mast3r")
