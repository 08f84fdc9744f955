"""check-map on a merged map never compared its sources' recorded ``manifest_sha256`` with the
maps at their recorded paths: a source rebuilt since the merge went unsaid. It is now a note
(exit 0: a rebuild may be on purpose, and the merged map holds the source as it was); a source
gone from its path (deleted, or the merged map copied to a robot) says nothing
(`check_map.changed_source_notes`)."""

from __future__ import annotations

import json
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
        fh.write("\n")  # another manifest.json, the same map: no note
    assert _check(capsys, c) == (0, [], "")
    _edit_manifest(a, lambda m: m.update(map_frame="world"))  # another map at a
    rc, notes, err = _check(capsys, c)
    assert rc == 0 and err == "", err
    assert notes == [f"note: {c}: map A ({a}) has changed since it was merged (rebuilt or "
                     "replaced: its map frame differs): this map holds it as it was; "
                     "merge-maps again to take the new one"], notes
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


def _merged(sift_map, tmp_path, capsys):
    a, b, c = (str(tmp_path / n) for n in "abc")
    shutil.copytree(sift_map, a)
    shutil.copytree(sift_map, b)
    assert main(["merge-maps", a, b, "--out", c, "--log-level", "error"]) == 0
    capsys.readouterr()
    return a, b, c


def _edit_manifest(folder, edit):
    import json

    path = os.path.join(folder, "manifest.json")
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    edit(manifest)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)


def test_a_source_rebuilt_with_the_same_content_is_no_note(sift_map, tum, tmp_path, capsys):
    """The note fired for a rebuild whose manifest differs only in the map check's timings
    (``elapsed_s``, the message's 'in 0.17 s'), or that localize gave a cached encoding:
    neither is another map. A rebuild from other frames names what changed."""
    a, b, c = _merged(sift_map, tmp_path, capsys)
    assert main(["build-map", tum[0], "--out", a, "--overwrite", "--matcher", "sift",
                 "--log-level", "error"]) == 0

    def timings(m):
        m["consistency"]["elapsed_s"] += 1.25
        m["consistency"]["message"] = m["consistency"]["message"].rsplit(" in ", 1)[0] + \
            " in 9.99 s"
    _edit_manifest(a, timings)

    def cached(m):  # what localize with a MASt3R checkpoint adds to the map
        m["encodings"].append({"identity": "ckpt", "image_size": 512, "folder": "encodings/x"})
        m["files"]["encodings/x/chunks.bin"] = {"sha256": "1" * 64, "bytes": 3}
    _edit_manifest(b, cached)
    capsys.readouterr()
    assert _check(capsys, c) == (0, [], "")
    assert main(["build-map", tum[1], "--out", a, "--overwrite", "--matcher", "sift",
                 "--log-level", "error"]) == 0
    _edit_manifest(b, lambda m: m.update(map_frame="world"))
    rc, notes, err = _check(capsys, c)
    assert rc == 0 and err == "", err
    assert notes == [
        f"note: {c}: map A ({a}) has changed since it was merged (rebuilt or replaced: its "
        "keyframes and retrieval index differ): this map holds it as it was; merge-maps again "
        "to take the new one",
        f"note: {c}: map B ({b}) has changed since it was merged (rebuilt or replaced: its map "
        "frame differs): this map holds it as it was; merge-maps again to take the new one"], notes


def test_content_digests_leave_out_timings_caches_and_how_the_build_read(tmp_path):
    from mast3r_ros.replay.map_content import changed_parts, content_digests

    base = {"format": "mast3r_ros.keyframe_map", "version": 3, "map_frame": "map",
            "keyframe_table": {"file": "keyframe_table.npy", "num_keyframes": 2},
            "retrieval": {"index": "retrieval/thumbnail"}, "encodings": [], "asmk": [],
            "files": {"keyframe_table.npy": {"sha256": "a" * 64},
                      "retrieval/thumbnail/descs.npy": {"sha256": "b" * 64}},
            "consistency": {"elapsed_s": 0.1}, "frames_not_read": {"count": 3},
            "merged_from": [{"role": "A", "map": "/m", "manifest_sha256": "c" * 64}]}
    rec = content_digests(base)
    same = {**base, "consistency": {"elapsed_s": 7.0}, "frames_not_read": {"count": 4},
            "asmk": [{"file": "retrieval/asmk_1.npz"}],
            "files": {**base["files"], "retrieval/asmk_1.npz": {"sha256": "d" * 64},
                      "encodings/e/t.bin": {"sha256": "e" * 64}},
            "merged_from": [{"role": "A", "map": "/m", "manifest_sha256": "f" * 64}]}
    assert changed_parts(rec, same) == []
    other = {**base, "version": 2, "unreadable_frames": {"count": 1},
             "files": {**base["files"], "keyframes/000000.png": {"sha256": "0" * 64},
                       "retrieval/thumbnail/descs.npy": {"sha256": "1" * 64}},
             "merged_from": [{"role": "B", "map": "/m"}]}
    assert changed_parts(rec, other) == ["map format version", "keyframes", "retrieval index",
                                         "record of unreadable frames", "own sources"]
    assert changed_parts({"keyframes": rec["keyframes"]}, other) == ["keyframes"]
    for damaged in (None, [], {"keyframes": 3}):
        try:
            changed_parts(damaged, base)
        except ValueError:
            continue
        raise AssertionError(damaged)


def test_a_damaged_content_record_or_manifest_gets_the_note_without_what_changed(tmp_path):
    from mast3r_ros.replay.check_map import changed_source_notes

    (tmp_path / "manifest.json").write_text("{not json")
    plain = ("has changed since it was merged (its manifest.json is not the one merged: "
             "rebuilt or replaced?)")
    for record in ({"content_sha256": {"keyframes": "0" * 64}}, {"content_sha256": 5}):
        notes = changed_source_notes({"merged_from": [
            {"role": "A", "map": str(tmp_path), "manifest_sha256": "0" * 64, **record}]})
        assert len(notes) == 1 and plain in notes[0], notes
    (tmp_path / "manifest.json").write_text("{}")
    notes = changed_source_notes({"merged_from": [
        {"role": "A", "map": str(tmp_path), "manifest_sha256": "0" * 64,
         "content_sha256": {"keyframes": "0" * 64}}]})
    assert len(notes) == 1 and "(rebuilt or replaced: its keyframes differ)" in notes[0], notes


def test_a_report_path_inside_the_map_is_refused_before_the_check(sift_map, tmp_path, capsys):
    """`check-map MAP --json MAP/manifest.json` replaced the map's manifest with the report
    (exit 0, the map unreadable after); a new file there blocks --overwrite."""
    m = str(tmp_path / "m")
    shutil.copytree(sift_map, m)
    with open(os.path.join(m, "manifest.json"), "rb") as fh:
        before = fh.read()
    for option, rel, said in (("--json", "manifest.json", "replace the map's own manifest.json, "
                               "leaving no readable map"),
                              ("--plot", "keyframes.png", "replace the map's own keyframes.png"),
                              ("--json", "keyframes/r.json", "add a file the map does not list")):
        rc = main(["check-map", m, option, os.path.join(m, rel), "--log-level", "error"])
        out, err = capsys.readouterr()
        assert rc == 2 and out == "" and len(err.splitlines()) == 1, (out, err)
        assert f"lies inside the map folder {m}: writing it would {said}" in err, err
    with open(os.path.join(m, "manifest.json"), "rb") as fh:
        assert fh.read() == before
    assert not os.path.exists(os.path.join(m, "keyframes", "r.json"))
    assert main(["check-map", m, "--json", str(tmp_path / "r.json"), "--log-level",
                 "error"]) == 0


def test_a_report_path_that_is_the_map_folder_itself_is_named_so(sift_map, tmp_path, capsys):
    """`check-map MAP --json MAP` (or --plot MAP/) said "writing it would replace the map's own
    ."; it is the map folder itself, not a file in it."""
    m = str(tmp_path / "m")
    shutil.copytree(sift_map, m)
    for option, given in (("--json", m), ("--plot", m + os.sep)):
        rc = main(["check-map", m, option, given, "--log-level", "error"])
        out, err = capsys.readouterr()
        assert rc == 2 and out == "" and len(err.splitlines()) == 1, (out, err)
        assert f"{option} {given} is the map folder {m} itself" in err, err
        assert "own ." not in err, err
    assert sorted(os.listdir(m)) == sorted(os.listdir(sift_map))


def test_a_report_path_inside_a_run_or_another_map_is_refused(sift_map, tmp_path, capsys):
    """`check-map MAP --plot runs/rk/trajectory.png` (or --json onto its metrics.json) silently
    replaced a localize run's own file; refused as inside the map checked is, naming the run
    folder and a path beside it."""
    run, other = tmp_path / "runs" / "rk", tmp_path / "other_map"
    run.mkdir(parents=True)
    other.mkdir()
    for name in ("results.jsonl", "metrics.json", "trajectory.png"):
        (run / name).write_text("mine")
    (other / "manifest.json").write_text('{"format": "mast3r_ros.keyframe_map"}')
    shown = os.path.join(str(tmp_path), "runs", "rk")
    for option, given, said in (
            ("--plot", os.path.join(shown, "trajectory.png"),
             f"lies inside the localize run folder {shown}: writing it would replace the "
             f"localize run's own trajectory.png; write it beside the localize run (e.g. "
             f"--plot {shown}_check.png)"),
            ("--json", os.path.join(shown, "metrics.json"), "run's own metrics.json"),
            ("--json", os.path.join(shown, "new.json"), "add a file the localize run does not"),
            ("--plot", str(other / "check.png"), f"inside the map folder {other}")):
        rc = main(["check-map", sift_map, option, given, "--log-level", "error"])
        out, err = capsys.readouterr()
        assert rc == 2 and out == "" and len(err.splitlines()) == 1, (out, err)
        assert said in err, err
    assert all((run / n).read_text() == "mine" for n in ("metrics.json", "trajectory.png"))
    assert sorted(os.listdir(run)) == ["metrics.json", "results.jsonl", "trajectory.png"]


def test_a_report_path_under_a_folder_with_another_manifest_is_written(sift_map, tmp_path):
    """A manifest.json that is no keyframe map's (a dataset's, a web project's, an ONNX
    export's) does not make the folders below it a map: the report is written there."""
    project = tmp_path / "project"
    (project / "reports").mkdir(parents=True)
    (project / "manifest.json").write_text('{"format": "mast3r_ros-onnx"}')
    report = project / "reports" / "check.json"
    assert main(["check-map", sift_map, "--json", str(report), "--log-level", "error"]) == 0
    assert json.loads(report.read_text())


def test_content_digests_ignore_a_nested_sources_manifest_hash_but_not_v2_keyframes():
    """A source that is itself a merge: its own record of its sources' manifest_sha256 (which
    a rebuild with the same content changes) is left out at every depth. A v1/v2 manifest's
    keyframe records are the keyframes part."""
    from mast3r_ros.replay.map_content import changed_parts, content_digests

    def merged(h):
        return {"merged_from": [{"path": "a", "manifest_sha256": "x",
                                 "merged_from": [{"path": "b", "manifest_sha256": h}]}]}
    assert content_digests(merged("1")) == content_digests(merged("2"))
    v2 = {"format": "mast3r_ros.keyframe_map", "version": 2, "keyframes": [{"id": 0}]}
    recorded = content_digests(v2)
    assert changed_parts(recorded, dict(v2, keyframes=[{"id": 1}])) == ["keyframes"]
