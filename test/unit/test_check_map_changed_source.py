"""check-map on a merged map never compared its sources' recorded ``manifest_sha256`` with the
maps at their recorded paths: a source rebuilt since the merge went unsaid. It is now a note
(exit 0: a rebuild may be on purpose, and the merged map holds the source as it was); a source
gone from its path (deleted, or the merged map copied to a robot) says nothing
(`check_map.changed_source_notes`)."""

from __future__ import annotations

import os
import shutil

from mast3r_ros.replay.cli import main


def _check(capsys, path):
    rc = main(["check-map", path, "--log-level", "error"])
    out, err = capsys.readouterr()
    return rc, [ln for ln in out.splitlines() if ln.startswith("note: ")], err


def test_a_source_rebuilt_since_the_merge_is_a_note_and_a_gone_one_says_nothing(
        sift_map, tmp_path, capsys):
    a, b, c = (str(tmp_path / n) for n in "abc")
    shutil.copytree(sift_map, a)
    shutil.copytree(sift_map, b)
    assert main(["merge-maps", a, b, "--out", c, "--log-level", "error"]) == 0
    capsys.readouterr()
    assert _check(capsys, c) == (0, [], "")  # both sources as merged
    with open(os.path.join(a, "manifest.json"), "a", encoding="utf-8") as fh:
        fh.write("\n")  # another manifest.json: the map at a is not the one merged
    rc, notes, err = _check(capsys, c)
    assert rc == 0 and err == "", err
    assert notes == [f"note: {c}: map A ({a}) has changed since it was merged (its "
                     "manifest.json is not the one merged: rebuilt or replaced?): this map "
                     "holds it as it was; merge-maps again to take the new one"], notes
    shutil.rmtree(a)
    shutil.rmtree(b)
    assert _check(capsys, c) == (0, [], "")  # the sources gone: the merged map needs none


def test_records_without_a_path_or_hash_and_maps_of_no_merge_are_no_note(tmp_path):
    from mast3r_ros.replay.check_map import changed_source_notes

    assert changed_source_notes({}) == []
    (tmp_path / "manifest.json").write_text("{}")
    assert changed_source_notes({"merged_from": [
        {"role": "A", "map": str(tmp_path)},  # an older record: no hash to compare
        {"role": "B", "manifest_sha256": "0" * 64}, "x"]}) == []
    assert len(changed_source_notes({"merged_from": [
        {"role": "A", "map": str(tmp_path), "manifest_sha256": "0" * 64}]})) == 1
