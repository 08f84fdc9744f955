"""Pins on check-map's manifest notes (frames_not_read, a merged source changed since) that
test_check_map_changed_source.py and test_check_map_notes.py left free: each failed on a hand
mutant of check_map.py."""

from __future__ import annotations

from mast3r_ros.replay.check_map import changed_source_notes, skipped_frames


def test_frames_not_read_is_a_record_only_when_some_were_not_read():
    not_read = {"count": 3, "of_frames": 10, "reason": "not keyframe candidates"}
    assert skipped_frames({"frames_not_read": not_read}) == {"frames_not_read": not_read}
    assert skipped_frames({"frames_not_read": {"count": 0, "of_frames": 10}}) == {}


def test_a_source_path_that_is_no_folder_says_nothing(tmp_path):
    """A merged map's source path now a file (or anything that cannot hold a manifest.json:
    NotADirectoryError, not FileNotFoundError) is no source to compare: no note, no crash."""
    now_a_file = tmp_path / "a"
    now_a_file.write_text("not a map\n")
    manifest = {"merged_from": [{"map": str(now_a_file), "role": "A",
                                 "manifest_sha256": "0" * 64}]}
    assert changed_source_notes(manifest) == []
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").mkdir()  # IsADirectoryError
    manifest["merged_from"][0]["map"] = str(tmp_path / "b")
    assert changed_source_notes(manifest) == []
