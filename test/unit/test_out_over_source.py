"""build-map and localize refuse an --out inside the recording read (or the recording itself, or
one holding it): ``localize SEQ --out SEQ/run`` wrote the run into the dataset folder, and
``build-map SEQ --out SEQ/map`` a map there (both accepted). One line, exit 2, naming both paths
and an --out outside, before the source is read; both commands use one helper."""

from __future__ import annotations

import os
import shutil

import pytest

from mast3r_ros.replay.cli import main


@pytest.fixture
def seq(tum, tmp_path):
    """A copy of the synthetic query TUM folder (nothing may be written into the shared one)."""
    path = str(tmp_path / "data" / "seq")
    shutil.copytree(tum[1], path)
    return path


def _argv(command, seq, out, sift_map):
    head = ["localize", seq, "--map", sift_map] if command == "localize" else ["build-map", seq]
    return [*head, "--out", out, "--matcher", "sift", "--log-level", "error"]


def _line(capsys):
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


@pytest.mark.parametrize("command,suffix", [("localize", "_run"), ("build-map", "_map")])
@pytest.mark.parametrize("where", ["inside", "itself", "above"])
def test_out_over_the_source_is_refused_naming_both(command, suffix, where, seq, sift_map,
                                                     capsys):
    before = sorted(os.listdir(seq))
    out = {"inside": os.path.join(seq, "out"), "itself": seq,
           "above": os.path.dirname(seq)}[where]
    assert main(_argv(command, seq, out, sift_map)) == 2
    line = _line(capsys)
    assert line.startswith(f"mast3r-ros {command}: error: "), line
    assert f"--out {out} " in line and seq in line, line
    assert "choose an --out " in line, line
    if where != "above":
        assert f"(e.g. --out {os.path.realpath(seq)}{suffix})" in line, line
    assert sorted(os.listdir(seq)) == before  # nothing written into the recording


def test_a_link_into_the_source_is_seen_through(seq, sift_map, tmp_path, capsys):
    os.symlink(seq, str(tmp_path / "link"))
    assert main(_argv("localize", seq, str(tmp_path / "link" / "run"), sift_map)) == 2
    assert "lies inside SOURCE" in _line(capsys)


def test_an_out_beside_the_source_is_accepted(seq, sift_map, tmp_path):
    assert main([*_argv("localize", seq, str(tmp_path / "data" / "seq_run"), sift_map),
                 "--max-frames", "1"]) == 0


def test_a_run_inside_its_map_is_written_with_a_warning_naming_an_out_beside_it(
        seq, sift_map, tmp_path, capsys):
    """``localize ... --out MAP/run1`` was accepted without a word; the map could then not be
    rebuilt with --overwrite ("the map also holds run1/"), found much later. Kept (docs/maps.md
    allows runs inside a map), said at WARNING with an --out beside the map."""
    the_map = str(tmp_path / "map")
    shutil.copytree(sift_map, the_map)
    out = os.path.join(the_map, "run1")
    argv = ["localize", seq, "--map", the_map, "--out", out, "--matcher", "sift",
            "--max-frames", "2", "--log-level", "warning"]
    assert main(argv) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "inside the map" in line]
    assert len(said) == 1 and f"--out {out} lies inside the map folder {the_map}" in said[0]
    assert f"(e.g. --out {os.path.realpath(the_map)}_run)" in said[0], said
    assert os.path.isfile(os.path.join(out, "metrics.json"))
    assert main([*argv[:4], "--out", str(tmp_path / "map_run"), *argv[6:]]) == 0
    assert "inside the map" not in capsys.readouterr().err


def test_a_map_built_inside_another_map_is_warned_about(tmp_path, caplog):
    """``build-map SEQ --out maps/site/v2`` was accepted without a word, as a run inside its map
    once was; the outer map could then not be rebuilt with --overwrite ("the map also holds
    v2/"). Said at WARNING with an --out beside it; a folder whose manifest.json is not a
    keyframe map's (a dataset's, an ONNX export's) is no map."""
    import json

    from mast3r_ros.replay.out_source import warn_map_inside_map

    site = tmp_path / "maps" / "site"
    site.mkdir(parents=True)
    (site / "manifest.json").write_text(json.dumps({"format": "mast3r_ros.keyframe_map"}))
    other = tmp_path / "export"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"format": "onnx_export"}))
    with caplog.at_level("WARNING", logger="mast3r_ros"):
        assert warn_map_inside_map(str(site / "v2" / "deeper"))
        assert not warn_map_inside_map(str(tmp_path / "maps" / "v2"))
        assert not warn_map_inside_map(str(other / "v2"))
    (said,) = [r.getMessage() for r in caplog.records]
    assert f"lies inside the keyframe map {os.path.realpath(site)}" in said, said
    assert f"(e.g. --out {os.path.realpath(tmp_path / 'maps' / 'deeper')})" in said, said


def test_build_map_into_a_maps_folder_says_so(seq, sift_map, tmp_path, capsys):
    """The build-map command itself warns (the helper above is wired in), and builds."""
    the_map = str(tmp_path / "map")
    shutil.copytree(sift_map, the_map)
    out = os.path.join(the_map, "v2")
    assert main(["build-map", seq, "--out", out, "--matcher", "sift", "--log-level",
                 "warning"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "inside the keyframe" in line]
    assert len(said) == 1 and f"--out {out} lies inside the keyframe map" in said[0], said


def test_resume_of_a_finished_output_says_it_is_complete(tmp_path):
    """`localize ... --resume` run again from the shell history after the resumed run finished
    said 'output folder already exists (pass --overwrite to replace it ...)': --overwrite does
    every frame again. It now says the run (or map) is complete and there is nothing to resume;
    with an OUT.partial beside it, or no finished output, the resume goes on as before."""
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.out_source import refuse_resume_of_finished

    run = tmp_path / "r1"
    run.mkdir()
    (run / "metrics.json").write_text("{}")
    with pytest.raises(InputError, match=r"--resume: .*r1 is a finished run \(it has "
                                         r"metrics\.json, and no r1\.partial .*nothing to resume"):
        refuse_resume_of_finished(str(run), "metrics.json", "run")
    (tmp_path / "r1.partial").mkdir()
    refuse_resume_of_finished(str(run), "metrics.json", "run")  # a stopped rerun: resumable
    refuse_resume_of_finished(str(tmp_path / "new"), "metrics.json", "run")  # nothing there


def test_localize_resume_of_a_finished_run_is_refused_as_complete(seq, sift_map, tmp_path,
                                                                  capsys):
    out = str(tmp_path / "run")
    argv = ["localize", seq, "--map", sift_map, "--out", out, "--matcher", "sift",
            "--max-frames", "1", "--log-level", "error", "--resume"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "is a finished run" in line and "nothing to resume" in line, line


def test_resume_with_restart_of_a_finished_run_gets_the_conflict_first(seq, sift_map, tmp_path,
                                                                       capsys):
    """`localize --resume --restart` on a finished run said 'is a finished run ... nothing to
    resume', where the same flags with an OUT.partial say they conflict: the conflict first."""
    out = str(tmp_path / "run")
    argv = ["localize", seq, "--map", sift_map, "--out", out, "--matcher", "sift",
            "--max-frames", "1", "--log-level", "error"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv + ["--resume", "--restart"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert ("--resume continues a stopped run and --restart deletes it: give one of them"
            in line and "finished" not in line), line


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_localize_out_a_map_is_said_to_be_a_map(seq, sift_map, tmp_path, capsys, overwrite):
    """`localize --out MAP --overwrite`, MAP a keyframe map, listed the run files MAP lacks
    (results.jsonl, metrics.json, ...); it is said to be a map now."""
    out = str(tmp_path / "kitchen")
    shutil.copytree(sift_map, out)
    assert main(_argv("localize", seq, out, sift_map) + overwrite) == 2
    assert _line(capsys).endswith(
        f"error: --out {out} is a keyframe map (it holds manifest.json and keyframes/), not a "
        f"run folder; choose another --out (e.g. --out {out}_run)")
    assert os.path.isfile(os.path.join(out, "manifest.json"))
