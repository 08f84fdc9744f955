"""check-map's notes of the frames a map's build(s) skipped as unreadable, from the manifest
records alone (replay/check_map.py: `unreadable_notes`, `skipped_frames`): the end-to-end test
(test_build_map_unreadable.py) builds one map with a run of two and one merge of it."""

from __future__ import annotations

from mast3r_ros.replay.check_map import skipped_frames, unreadable_notes

S = 1_000_000_000


def _record(count, of, run, first, last):
    return {"count": count, "of_frames": of, "stamps_ns": [], "first": {"stamp_ns": first,
            "reason": "x"}, "longest_run": {"frames": run, "first_ns": first, "last_ns": last}}


def test_a_single_skipped_frame_is_named_with_its_stamp():
    notes = unreadable_notes({"unreadable_frames": _record(1, 20, 1, 1200 * S // 1000,
                                                           1200 * S // 1000)})
    assert notes == ["built with 1 of 20 frames unreadable and skipped (the longest run 1 "
                     "frame, at t=1.200000 s): the map may lack keyframes there (all their "
                     "stamps in the manifest's unreadable_frames)"]


def test_a_record_without_its_frame_count_or_with_none_skipped():
    """A record missing ``of_frames`` says the count alone; a count of 0 (nothing skipped) is
    no note, in the map's own record or a source's."""
    record = _record(2, None, 2, S, 2 * S)
    del record["of_frames"]
    assert unreadable_notes({"unreadable_frames": record})[0].startswith(
        "built with 2 frames unreadable and skipped (the longest run 2 frames in a row, at "
        "t=1.000..2.000 s)")
    assert unreadable_notes({"unreadable_frames": _record(0, 20, 0, 0, 0)}) == []
    zero = {"merged_from": [{"role": "A", "map": "a", "keyframes": 3,
                             "unreadable_frames": _record(0, 20, 0, 0, 0)}]}
    assert unreadable_notes(zero) == [] and skipped_frames(zero) == {}


def test_a_merge_of_maps_that_skipped_nothing_adds_nothing_to_the_json():
    """check-map --json carries ``merged_from`` only when a source skipped frames: a merge
    of two clean maps reads as a clean map does."""
    clean = {"merged_from": [{"role": "A", "map": "a", "keyframes": 3},
                             {"role": "B", "map": "b", "keyframes": 4}]}
    assert skipped_frames(clean) == {} and unreadable_notes(clean) == []
    nested = {"merged_from": [{"role": "A", "map": "a", "keyframes": 3},
                              {"role": "B", "map": "c", "keyframes": 4, "merged_from": [
                                  {"role": "A", "map": "d", "keyframes": 2,
                                   "unreadable_frames": _record(1, 5, 1, S, S)}]}]}
    assert skipped_frames(nested) == {"merged_from": nested["merged_from"]}
    assert unreadable_notes(nested) == [
        "map B (c) > map A (d) was built with 1 of 5 frames unreadable and skipped (the longest "
        "run 1 frame, at t=1.000000 s): the map may lack keyframes there (all their stamps in "
        "the manifest's unreadable_frames)"]



def test_large_maps_doc_says_when_the_json_carries_merged_from():
    """docs/large_maps.md read as if check-map's --json always carried ``merged_from``: it
    does only when a source skipped frames (the test above). Every sentence there naming both
    says so."""
    import re
    from pathlib import Path

    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "large_maps.md")
                    .read_text(encoding="utf-8").split())
    sentences = [s for s in re.split(r"(?<=[.)])\s+(?=[A-Z`])", text)
                 if "`merged_from`" in s and "`--json`" in s]
    assert sentences, "docs/large_maps.md no longer says what check-map --json carries"
    for s in sentences:
        assert "only when a source skipped frames" in s, s

def test_json_and_plot_naming_one_file_are_refused_before_the_check(sift_map, tmp_path,
                                                                      capsys):
    """`check-map MAP --json report --plot report` (no extension: a png) wrote the JSON, then
    the picture over it, exit 0: the report was lost without a word."""
    import os

    from mast3r_ros.replay.cli import main

    same = str(tmp_path / "report")
    twin = os.path.join(str(tmp_path), ".", "report")  # the same file, spelled otherwise
    assert main(["check-map", sift_map, "--json", same, "--plot", twin]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "name the same file" in err[0], err
    assert not os.path.exists(same)


def test_plot_dash_is_refused_not_written_as_a_file_named_dash(sift_map, tmp_path, capsys,
                                                              monkeypatch):
    """`--json -` is stdout, so a user writes `--plot -` too: it wrote a PNG into a file named
    '-' in the current folder, exit 0."""
    import os

    from mast3r_ros.replay.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["check-map", sift_map, "--json", "-", "--plot", "-"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--plot -" in err[0] and "stdout" in err[0], err
    assert not os.path.exists(tmp_path / "-")


def test_json_given_a_picture_name_is_refused_not_written_over_it(sift_map, tmp_path, capsys):
    """`--json check.png` (meant: --plot) wrote the JSON report over the picture an earlier
    `--plot check.png` had made, exit 0: a picture's name is refused for the JSON report."""
    from mast3r_ros.replay.cli import main

    pic = tmp_path / "check.png"
    pic.write_bytes(b"\x89PNG\r\n\x1a\n picture")
    assert main(["check-map", sift_map, "--json", str(pic)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--json" in err[0] and "--plot" in err[0], err
    assert pic.read_bytes() == b"\x89PNG\r\n\x1a\n picture"
