"""``localize --resume`` / ``--restart``: a second stopped run to the same --out replaced the
first one's ``RUN.partial`` whole, so the 500 frames of a long run were lost when a second run
was stopped after 10. A ``RUN.partial`` holding results is now refused unless --resume (its
frames taken as recorded, the rest localized) or --restart (deleted), as build-map refuses an
unfinished ``MAP.partial`` (`mast3r_ros.replay.run_resume`)."""

import json
import os
import shutil

import pytest

from mast3r_ros.replay.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _argv(tum, sift_map, run, *more):
    return ["localize", tum[1], "--map", sift_map, "--out", str(run), "--matcher", "sift",
            "--log-level", "warning", *more]


@pytest.fixture(scope="module")
def query_map(tum, tmp_path_factory):
    """A SIFT map of ``tum``'s query folder: another map than ``sift_map`` (other keyframes),
    built once for the tests that need one (they copy it before changing it)."""
    out = str(tmp_path_factory.mktemp("query_map") / "map")
    assert main(["build-map", tum[1], "--out", out, "--matcher", "sift", "--log-level",
                 "warning"]) == 0
    return out


def _stop_after(monkeypatch, n):
    """Ctrl-C in the frame loop after ``n`` frames are localized; returns the call list."""
    from mast3r_ros.core.localizer import Localizer

    monkeypatch.undo()  # the real localize, not an earlier stop's
    real, calls = Localizer.localize, []

    def localize(self, *a, **k):
        calls.append(1)
        if len(calls) > n:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", localize)
    return calls


def _count_calls(monkeypatch):
    return _stop_after(monkeypatch, 10 ** 6)


def _records(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def _errors(capsys):
    return [e for e in capsys.readouterr().err.splitlines() if ": error: " in e]


def test_a_second_stopped_run_does_not_lose_the_first_runs_frames(tum, sift_map, tmp_path,
                                                                   capsys, monkeypatch):
    run, partial = tmp_path / "run", tmp_path / "run.partial" / "results.jsonl"
    n = ("--max-frames", "8")  # 8 of the 12 frames: 2 left after the 6 recorded (cheaper)
    _stop_after(monkeypatch, 4)
    assert main(_argv(tum, sift_map, run, *n)) == 130
    first = _records(partial)
    assert len(first) == 4
    capsys.readouterr()
    # a second run without --resume or --restart: refused in one line, the partial untouched
    calls = _stop_after(monkeypatch, 2)
    assert main(_argv(tum, sift_map, run, *n)) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and str(tmp_path / "run.partial") in errors[0], errors
    assert "4 frame(s)" in errors[0] and "--resume" in errors[0] and "--restart" in errors[0]
    assert calls == [] and _records(partial) == first
    # --overwrite does not discard it either (as build-map's --overwrite keeps a MAP.partial)
    assert main(_argv(tum, sift_map, run, *n, "--overwrite")) == 2
    assert "--resume --overwrite" in _errors(capsys)[0] and _records(partial) == first
    # --resume stopped after 2 more frames: the partial holds all 6, none localized twice
    calls = _stop_after(monkeypatch, 2)
    assert main(_argv(tum, sift_map, run, *n, "--resume")) == 130
    union = _records(partial)
    assert union[:4] == first and len(union) == 6
    assert len({r["stamp_ns"] for r in union}) == 6
    # a resumed run to the end: every frame, the 6 recorded ones not localized again
    calls = _count_calls(monkeypatch)
    assert main(_argv(tum, sift_map, run, *n, "--resume")) == 0
    assert len(calls) == 8 - 6
    done = _records(run / "results.jsonl")
    assert len(done) == 8 and done[:6] == union
    assert sorted(os.listdir(tmp_path)) == ["run"]  # the partial, superseded, is gone


def test_resume_gives_the_results_of_one_uninterrupted_run(tum, sift_map, tmp_path, capsys,
                                                           monkeypatch):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(_argv(tum, sift_map, one, "--max-frames", "6")) == 0
    _stop_after(monkeypatch, 3)
    assert main(_argv(tum, sift_map, two, "--max-frames", "6")) == 130
    monkeypatch.undo()
    assert main(_argv(tum, sift_map, two, "--max-frames", "6", "--resume")) == 0

    def without_timings(path):
        return [{k: v for k, v in r.items() if k not in ("timings_s", "cold_start")}
                for r in _records(path)]

    a, b = without_timings(one / "results.jsonl"), without_timings(two / "results.jsonl")
    assert [r["stamp_ns"] for r in a] == [r["stamp_ns"] for r in b] and len(a) == 6
    assert sum(r["success"] for r in a) >= 4
    assert a == b  # poses (map_from_cam), covariances, inliers: as in one go
    assert (one / "trajectory.tum").read_text() == (two / "trajectory.tum").read_text()
    ma = json.loads((one / "metrics.json").read_text())
    mb = json.loads((two / "metrics.json").read_text())
    for key in ("frames", "localized", "evaluated", "translation_error_m", "recall"):
        assert ma[key] == mb[key], key
    # the latency figures cover every frame, the resumed ones' from their recorded values,
    # but the first frame of each process (no warm-up: test_resume_leaves_out_each_...)
    assert mb["latency_s"]["total"]["frames"] == ma["latency_s"]["total"]["frames"] - 1
    assert (two / "errors.png").stat().st_size > 0 and not (tmp_path / "two.partial").exists()


def test_resume_refuses_a_partial_of_another_map_settings_or_frames(tum, sift_map, tmp_path,
                                                                    capsys, monkeypatch,
                                                                    query_map):
    run, partial = tmp_path / "run", tmp_path / "run.partial"
    _stop_after(monkeypatch, 3)
    assert main(_argv(tum, sift_map, run, "--stride", "2")) == 130
    before = (partial / "results.jsonl").read_text()
    capsys.readouterr()
    calls = _stop_after(monkeypatch, 0)
    # another map at another path (a copy is the same map: test_resume_goes_on_against_a_...)
    other = query_map
    assert main(_argv(tum, other, run, "--stride", "2", "--resume")) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "localized against the map" in errors[0], errors
    assert os.path.abspath(sift_map) in errors[0] and other in errors[0], errors
    assert "keyframes differ" in errors[0] and "--restart" in errors[0], errors
    params = tmp_path / "p.yaml"
    params.write_text("/**/mast3r_localizer:\n  ros__parameters:\n    gates: "
                      "{min_inliers: 40}\n")
    assert main(_argv(tum, sift_map, run, "--stride", "2", "--resume", "--params",
                      str(params))) == 2
    errors = _errors(capsys)
    assert "gates.min_inliers 30 (now 40)" in errors[0] and "--restart" in errors[0], errors
    # the frames at stride 2 are not among those of stride 3 (another selection)
    assert main(_argv(tum, sift_map, run, "--stride", "3", "--resume")) == 2
    errors = _errors(capsys)
    assert "not among this run's frames" in errors[0] and "--stride" in errors[0], errors
    # a partial written before results.jsonl recorded poses cannot be resumed
    old = [{k: v for k, v in r.items() if k != "map_from_cam"} for r in _records(
        partial / "results.jsonl")]
    (partial / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    assert main(_argv(tum, sift_map, run, "--stride", "2", "--resume")) == 2
    errors = _errors(capsys)
    assert "line 1" in errors[0] and "older" in errors[0] and "--restart" in errors[0], errors
    assert calls == [] and not run.exists()
    (partial / "results.jsonl").write_text(before)
    # --resume and --restart together
    assert main(_argv(tum, sift_map, run, "--resume", "--restart")) == 2
    assert "give one of them" in _errors(capsys)[0]
    assert (partial / "results.jsonl").read_text() == before


def test_restart_discards_the_partial(tum, sift_map, tmp_path, capsys, monkeypatch):
    run, partial = tmp_path / "run", tmp_path / "run.partial" / "results.jsonl"
    _stop_after(monkeypatch, 3)
    assert main(_argv(tum, sift_map, run)) == 130
    first = _records(partial)
    _stop_after(monkeypatch, 1)  # restarted and stopped: its own one frame only
    assert main(_argv(tum, sift_map, run, "--restart")) == 130
    assert [r["stamp_ns"] for r in _records(partial)] == [first[0]["stamp_ns"]]
    calls = _count_calls(monkeypatch)
    assert main(_argv(tum, sift_map, run, "--restart", "--max-frames", "4")) == 0
    assert len(calls) == 4 and len(_records(run / "results.jsonl")) == 4
    assert sorted(os.listdir(tmp_path)) == ["run"]
    # --resume with no partial: a plain run
    assert main(_argv(tum, sift_map, run, "--resume", "--overwrite", "--max-frames", "2")) == 0
    assert len(_records(run / "results.jsonl")) == 2


def test_a_resumed_run_killed_outright_leaves_every_frame_in_its_temporary(
        tum, sift_map, tmp_path, monkeypatch):
    """A ``kill -9`` leaves the run's temporary folder, whose results.jsonl the next writer
    salvages as RUN.partial (test_killed_run_salvage): a resumed run's holds the partial's
    frames too, from before its first new frame, so a kill loses none of them."""
    from mast3r_ros.core.localizer import Localizer

    run, partial = tmp_path / "run", tmp_path / "run.partial" / "results.jsonl"
    _stop_after(monkeypatch, 3)
    assert main(_argv(tum, sift_map, run)) == 130
    first = (partial).read_text()
    monkeypatch.undo()
    real, seen = Localizer.localize, []

    def look(self, *a, **k):  # at the second new frame: what a kill would leave now
        if not seen:
            seen.append(None)
        else:
            tmps = [n for n in os.listdir(tmp_path) if n.startswith("run.tmp-m3r-")]
            seen.append((tmp_path / tmps[0] / "results.jsonl").read_text())
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", look)
    assert main(_argv(tum, sift_map, run, "--resume")) == 130
    assert seen[1].startswith(first) and len(seen[1].splitlines()) == 4
    assert partial.read_text() == seen[1]


def test_resume_leaves_out_each_processs_cold_first_frame_of_the_latency(
        tum, sift_map, tmp_path, capsys, monkeypatch):
    """Without a warm-up only the run's first frame was kept out of the latency statistics,
    but each resumed process's first newly localized frame pays the one-time costs too
    (redkitchen: 1.45 s against 0.34 s), so a resumed run's medians and p90 held them. Every
    process's first frame is marked in results.jsonl (``cold_start``, kept through a resume)
    and left out; metrics.json says how many and why."""
    run = tmp_path / "run"
    _stop_after(monkeypatch, 2)
    assert main(_argv(tum, sift_map, run, "--max-frames", "7")) == 130
    _stop_after(monkeypatch, 2)  # a second process: 2 more frames, then stopped again
    assert main(_argv(tum, sift_map, run, "--max-frames", "7", "--resume")) == 130
    monkeypatch.undo()
    assert main(_argv(tum, sift_map, run, "--max-frames", "7", "--resume")) == 0
    recs = _records(run / "results.jsonl")
    assert [i for i, r in enumerate(recs) if r.get("cold_start")] == [0, 2, 4]
    m = json.loads((run / "metrics.json").read_text())
    assert m["latency_s"]["total"]["frames"] == 7 - 3
    assert m["latency_left_out"]["frames"] == 3 and "3 processes" in m["latency_left_out"]["why"]
    assert m["latency_first_frame_s"]["total"] == recs[0]["timings_s"]["total"]
    assert "(3 frames left out)" in capsys.readouterr().out
    # a run in one go: its first frame alone, as before
    assert main(_argv(tum, sift_map, tmp_path / "one", "--max-frames", "3")) == 0
    assert [r.get("cold_start", False) for r in _records(tmp_path / "one" / "results.jsonl")
            ] == [True, False, False]
    m = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert m["latency_left_out"]["frames"] == 1 and m["latency_s"]["total"]["frames"] == 2


def test_resume_refuses_a_partial_of_another_global_only(tum, sift_map, tmp_path, capsys,
                                                          monkeypatch):
    """--global-only was not recorded (it is no config.yaml setting), so a run stopped with it
    and resumed without it silently mixed frames localized with and without the tracker's
    prior. It is in the run's run.json now; a resume with the other value is refused in one
    line naming the option and --restart, as is a partial without run.json."""
    run, partial = tmp_path / "run", tmp_path / "run.partial"
    _stop_after(monkeypatch, 2)
    assert main(_argv(tum, sift_map, run, "--global-only", "--max-frames", "4")) == 130
    assert json.loads((partial / "run.json").read_text())["global_only"] is True
    capsys.readouterr()
    calls = _stop_after(monkeypatch, 0)
    assert main(_argv(tum, sift_map, run, "--max-frames", "4", "--resume")) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "with --global-only, this run without" in errors[0], errors
    assert str(partial) in errors[0] and "--restart" in errors[0] and calls == []
    calls = _count_calls(monkeypatch)
    assert main(_argv(tum, sift_map, run, "--global-only", "--max-frames", "4",
                      "--resume")) == 0
    assert len(calls) == 2 and json.loads((run / "run.json").read_text())["global_only"]
    # the other way round, and a partial written before run.json was recorded
    _stop_after(monkeypatch, 2)
    assert main(_argv(tum, sift_map, run, "--overwrite", "--max-frames", "4")) == 130
    capsys.readouterr()
    assert main(_argv(tum, sift_map, run, "--overwrite", "--max-frames", "4", "--resume",
                      "--global-only")) == 2
    assert "without --global-only, this run with" in _errors(capsys)[0]
    (partial / "run.json").unlink()
    assert main(_argv(tum, sift_map, run, "--overwrite", "--max-frames", "4", "--resume")) == 2
    errors = _errors(capsys)
    assert "has no run.json" in errors[0] and "--restart" in errors[0], errors
    # --overwrite replaces a complete run holding run.json (RUN_OUTPUTS)
    monkeypatch.undo()
    assert main(_argv(tum, sift_map, run, "--overwrite", "--max-frames", "2",
                      "--restart")) == 0


def test_resume_refuses_a_map_rebuilt_at_the_same_path(tum, sift_map, tmp_path, capsys,
                                                       monkeypatch, query_map):
    """Only config.yaml's map_path was compared, so a partial localized against a map that was
    rebuilt at the same path since (other keyframes, other poses) was resumed against the new
    one, mixing frames of two maps. run.json records the map's content digest (its keyframe
    table, not the encodings `localize` caches into it): a rebuilt map is refused in one line,
    a map that only gained cached encodings is not."""
    import numpy as np

    from mast3r_ros.core.keyframes import EncodingSet, KeyframeMap

    the_map, run = str(tmp_path / "map"), tmp_path / "run"
    shutil.copytree(sift_map, the_map)
    _stop_after(monkeypatch, 2)
    assert main(_argv(tum, the_map, run, "--max-frames", "6")) == 130
    digest = json.loads((tmp_path / "run.partial" / "run.json").read_text())["map_digest"]
    assert isinstance(digest, str) and len(digest) == 64
    # encodings cached into the map (as localize with the mast3r matcher does): the same map
    m = KeyframeMap.load(the_map)
    n, rng = len(m), np.random.default_rng(0)
    m.save_encodings(EncodingSet(
        "ckptA", 224, [{"feats": rng.normal(size=(196, 8)).astype(np.float16),
                        "true_shape": np.array([224, 224])} for _ in range(n)],
        np.tile(np.eye(3), (n, 1, 1)), rng.normal(size=(n, 8)).astype(np.float32)))
    assert KeyframeMap.load(the_map).encoding_keys() == [("ckptA", 224)]
    _stop_after(monkeypatch, 1)
    assert main(_argv(tum, the_map, run, "--max-frames", "6", "--resume")) == 130
    assert len(_records(tmp_path / "run.partial" / "results.jsonl")) == 3
    capsys.readouterr()
    # the map rebuilt at the same path from other frames (`query_map`, a build of the query
    # folder, put where the map was, as a build-map --overwrite of it there leaves it):
    # refused, nothing localized
    shutil.rmtree(the_map)
    shutil.copytree(query_map, the_map)
    calls = _stop_after(monkeypatch, 0)
    assert main(_argv(tum, the_map, run, "--max-frames", "6", "--resume")) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "against another map than the one now at" in errors[0], errors
    assert the_map in errors[0] and "--restart" in errors[0] and calls == []
    assert len(_records(tmp_path / "run.partial" / "results.jsonl")) == 3


def test_resume_goes_on_against_a_copy_of_the_map_at_another_path(tum, sift_map, tmp_path,
                                                                  capsys, monkeypatch):
    """config.yaml's map_path was compared before the map's content digest, so a partial was
    refused when the map folder had been copied or moved elsewhere (a faster disk, another
    mount) though its keyframes were the same. The content decides now: the run goes on against
    the copy, with an info line naming both paths, and records the path it used."""
    the_map, copy, run = str(tmp_path / "map"), str(tmp_path / "fast" / "map"), tmp_path / "run"
    shutil.copytree(sift_map, the_map)
    _stop_after(monkeypatch, 2)
    assert main(_argv(tum, the_map, run, "--max-frames", "5")) == 130
    shutil.copytree(the_map, copy)
    shutil.rmtree(the_map)  # moved
    capsys.readouterr()
    calls = _count_calls(monkeypatch)
    assert main(_argv(tum, copy, run, "--max-frames", "5", "--resume", "--log-level",
                      "info")) == 0
    err = capsys.readouterr().err
    assert ": error: " not in err and len(calls) == 3, err
    said = [e for e in err.splitlines() if "has the same keyframes" in e]
    assert len(said) == 1 and the_map in said[0] and copy in said[0], err
    assert len(_records(run / "results.jsonl")) == 5
    assert f"map_path: {copy}\n" in (run / "config.yaml").read_text()
    assert json.loads((run / "metrics.json").read_text())["map"] == copy


def test_resume_without_a_partial_says_there_is_none(tum, sift_map, tmp_path, capsys):
    """--resume where no run was stopped logged 'OUT.partial holds no results', naming a folder
    that does not exist (build-map --resume said nothing). Both say now that there is no
    OUT.partial; the old line is kept for a partial without results."""
    run, built = tmp_path / "run", tmp_path / "built"
    assert main(_argv(tum, sift_map, run, "--max-frames", "2", "--resume", "--log-level",
                      "info")) == 0
    err = capsys.readouterr().err
    assert f"--resume: no stopped run of {run} (no {run}.partial), so the run starts from the " \
           "first frame" in err and "holds no results" not in err, err
    (tmp_path / "again.partial").mkdir()  # a partial without results: the line as it was
    assert main(_argv(tum, sift_map, tmp_path / "again", "--max-frames", "2", "--resume",
                      "--log-level", "info")) == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'again'}.partial holds no results" in err and "no stopped run" not in err
    # the resume lines are said before the first frame: 4 frames of the 24 say them as well
    assert main(["build-map", tum[0], "--out", str(built), "--matcher", "sift", "--resume",
                 "--max-frames", "4"]) == 0
    err = capsys.readouterr().err
    assert f"--resume: no unfinished build of {built} (no {built}.partial), so the build " \
           "starts from the first frame" in err, err
    # a build folder holding no encoded shard (stopped before its first, or a sift build):
    # build-map --resume started it over without a word; localize says 'holds no results'
    (tmp_path / "idle.partial" / "keyframes").mkdir(parents=True)
    idle = tmp_path / "idle"
    assert main(["build-map", tum[0], "--out", str(idle), "--matcher", "sift", "--resume",
                 "--max-frames", "4"]) == 0
    err = capsys.readouterr().err
    assert f"--resume: {idle}.partial holds no encoded shard, so the build starts from the " \
           "first frame" in err and "no unfinished build" not in err, err


def test_a_sift_resume_refused_for_held_encodings_does_not_say_it_starts_over(tum, tmp_path,
                                                                             capsys, monkeypatch):
    """build-map --matcher sift --resume on an OUT.partial holding an empty encodings store
    logged '--resume: OUT.partial holds no encoded shard, so the build starts from the first
    frame' and was then refused (after the whole source was read) for holding encodings the
    run does not make. It is now refused before the source is read, and says no such thing."""
    (tmp_path / "idle.partial" / "keyframes").mkdir(parents=True)
    (tmp_path / "idle.partial" / "encodings" / "abc_512").mkdir(parents=True)
    idle = tmp_path / "idle"
    assert main(["build-map", tum[0], "--out", str(idle), "--matcher", "sift", "--resume",
                 "--log-level", "info"]) == 2
    err = capsys.readouterr().err
    assert "holds no encoded shard" not in err and "starts from the first frame" not in err, err
    assert "but this run encodes nothing (--matcher sift, or no --checkpoint)" in err, err
    assert err.count("error:") == 1 and "keyframe" not in err.split("error:")[0], err
    # refused before the source is opened (a bag's indexing pass: minutes), not after
    from mast3r_ros.replay import cli

    def opened(*args, **kwargs):
        raise AssertionError("the source was opened before the refusal")
    monkeypatch.setattr(cli, "_open", opened)
    assert main(["build-map", tum[0], "--out", str(idle), "--matcher", "sift", "--resume"]) == 2
    assert "but this run encodes nothing" in capsys.readouterr().err
    monkeypatch.undo()
    # build_map itself (the API, no CLI check before it) refuses as early, saying no such thing
    import dataclasses
    import logging

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.map_build import BuildOptions
    from mast3r_ros.replay.pipeline import build_map
    from mast3r_ros.replay.tum import TumSequence

    cfg = Config()
    cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher="sift"))
    logged = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: logged.append(record.getMessage())
    logger = logging.getLogger("mast3r_ros")
    level, logger.level = logger.level, logging.INFO  # the CLI above set its own handlers
    logger.addHandler(handler)
    try:
        with pytest.raises(InputError, match="this run encodes nothing"):
            build_map(TumSequence(tum[0]), str(idle), cfg, build=BuildOptions(resume=True))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert not [m for m in logged if "holds no encoded shard" in m or "keyframe" in m], logged


def test_a_resumed_run_does_not_decode_the_recorded_frames_images(tum, sift_map, tmp_path,
                                                                   monkeypatch):
    """A resumed run read and decoded every recorded frame's image before taking its recorded
    result (seconds on a long recording): their stamp, camera and ground truth are enough, and
    only the frames left to localize are read now."""
    from mast3r_ros.replay.tum import TumSequence

    run = tmp_path / "run"
    n = ("--max-frames", "7")  # 7 of the 12 frames: 3 left after the 4 recorded (cheaper)
    _stop_after(monkeypatch, 4)
    assert main(_argv(tum, sift_map, run, *n)) == 130
    _count_calls(monkeypatch)
    real, read = TumSequence._read_rgb, []

    def read_rgb(self, path):
        read.append(os.path.basename(path))
        return real(self, path)

    monkeypatch.setattr(TumSequence, "_read_rgb", read_rgb)
    assert main(_argv(tum, sift_map, run, *n, "--resume")) == 0
    done = _records(run / "results.jsonl")
    assert len(done) == 7 and len(read) == 7 - 4, read
    one = tmp_path / "one"  # the same metrics (ground truth of the recorded frames) as in one go
    monkeypatch.undo()
    assert main(_argv(tum, sift_map, one, *n)) == 0
    ma = json.loads((one / "metrics.json").read_text())
    mb = json.loads((run / "metrics.json").read_text())
    for key in ("frames", "localized", "evaluated", "translation_error_m", "recall"):
        assert ma[key] == mb[key], key


def test_resume_refuses_frames_that_read_now_with_another_camera(tum, sift_map, tmp_path,
                                                                 capsys, monkeypatch):
    """A run stopped, then resumed with another --camera-info (fx 262.5 -> 240), exited 0 with
    only a calibration warning: one run held frames of two calibrations. Each results.jsonl
    line records the frame's camera now; a frame that reads with another one is refused, in
    one line naming both cameras and --restart, before a frame is localized."""
    run, partial = tmp_path / "run", tmp_path / "run.partial"
    _stop_after(monkeypatch, 2)
    assert main(_argv(tum, sift_map, run, "--max-frames", "4")) == 130
    rec = _records(partial / "results.jsonl")[0]
    assert rec["camera"]["K"][0][0] == 262.5 and rec["camera"]["width"] == 320
    assert rec["camera"]["distortion_model"] == "plumb_bob" and rec["camera"]["dist"] == [0.0] * 5
    other = tmp_path / "other.yaml"
    other.write_text(open(os.path.join(tum[1], "camera.yaml")).read().replace("262.5", "240.0"))
    capsys.readouterr()
    calls = _count_calls(monkeypatch)
    assert main(_argv(tum, sift_map, run, "--max-frames", "4", "--resume", "--camera-info",
                      str(other))) == 2
    err = capsys.readouterr().err
    # no "[ERROR] run stopped after 2 frames" first: nothing ran, the refusal is the message
    assert "run stopped" not in err, err
    errors = [e for e in err.splitlines() if ": error: " in e]
    assert len(errors) == 1 and "was localized with the camera 320x240 fx 262.5" in errors[0]
    assert "reads now with 320x240 fx 240" in errors[0] and "--restart" in errors[0], errors
    assert calls == [] and len(_records(partial / "results.jsonl")) == 2  # nothing lost
    # the same camera given as a file resumes
    same = tmp_path / "same.yaml"
    shutil.copy(os.path.join(tum[1], "camera.yaml"), same)
    assert main(_argv(tum, sift_map, run, "--max-frames", "4", "--resume", "--camera-info",
                      str(same))) == 0
    assert len(calls) == 2 and len(_records(run / "results.jsonl")) == 4


def test_ctrl_c_while_the_superseded_partial_is_removed_keeps_the_complete_run(
        tum, sift_map, tmp_path, capsys, monkeypatch):
    """The superseded RUN.partial was removed inside the run's temporary folder's block, before
    the rename: a Ctrl-C there deleted the complete run (every frame, the resumed ones too)
    while the partial was already half deleted. It is removed after the run is published now,
    still under the output's lock."""
    from mast3r_ros.replay import localize_run

    run = tmp_path / "run"
    n = ("--max-frames", "6")  # 6 of the 12 frames: 2 left after the 4 recorded (cheaper)
    _stop_after(monkeypatch, 4)
    assert main(_argv(tum, sift_map, run, *n)) == 130
    _count_calls(monkeypatch)
    real = shutil.rmtree

    def rmtree(path, *a, **k):
        if str(path).endswith(".partial"):
            raise KeyboardInterrupt
        return real(path, *a, **k)

    monkeypatch.setattr(localize_run.shutil, "rmtree", rmtree)
    assert main(_argv(tum, sift_map, run, *n, "--resume")) == 130
    assert len(_records(run / "results.jsonl")) == 6
    assert (run / "trajectory.tum").is_file()


def test_resume_refuses_a_partial_of_a_coarser_stride(tum, sift_map, tmp_path, capsys,
                                                     monkeypatch):
    """A partial made with --stride 2 resumed with --stride 1 (every partial frame among this
    run's) was taken: the frames between were localized and RUN mixed frames tracked at two
    strides, unlike a run in one go (docs/maps.md: 'Building a map': another --stride is
    refused)."""
    run = tmp_path / "run"
    _stop_after(monkeypatch, 3)
    assert main(_argv(tum, sift_map, run, "--stride", "2")) == 130
    capsys.readouterr()
    calls = _count_calls(monkeypatch)
    assert main(_argv(tum, sift_map, run, "--resume")) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "--stride" in errors[0] and "--restart" in errors[0], errors
    assert calls == [] and len(_records(tmp_path / "run.partial" / "results.jsonl")) == 3
    assert main(_argv(tum, sift_map, run, "--resume", "--stride", "2")) == 0


def test_the_progress_bar_of_a_resumed_run_starts_at_its_recorded_frames(tum, sift_map, tmp_path,
                                                                         monkeypatch):
    """The recorded frames pass in no time: counted in the bar's rate they made its ETA a guess.
    The bar starts at them (``initial``) and advances once per frame localized now."""
    from mast3r_ros.replay import pipeline

    run = tmp_path / "run"
    _stop_after(monkeypatch, 4)
    assert main(_argv(tum, sift_map, run, "--max-frames", "7")) == 130
    bars = []

    class Bar:
        def __init__(self, *a, **k):
            self.initial, self.total = k.get("initial", 0), k["total"]
            self.n, self.closed = 0, False
            bars.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "progress_bar", lambda total, desc, unit, initial=0, **_: Bar(
        total=total, initial=initial))
    assert main(_argv(tum, sift_map, run, "--max-frames", "7", "--resume")) == 0
    bar, = [b for b in bars if b.total == 7]
    assert (bar.initial, bar.n, bar.closed) == (4, 3, True)


@pytest.mark.parametrize("older_run", [False, True])
def test_a_stopped_run_says_how_to_go_on_and_that_way_works(tum, sift_map, tmp_path, capsys,
                                                            monkeypatch, older_run):
    """The line of a stopped run names --resume (with --overwrite when an older RUN is there:
    without it the rerun is refused as 'already exists'), and that rerun finishes the run."""
    run = tmp_path / "run"
    more = ("--max-frames", "4")
    if older_run:
        assert main(_argv(tum, sift_map, run, *more)) == 0
        more += ("--overwrite",)
    capsys.readouterr()
    _stop_after(monkeypatch, 2)
    assert main(_argv(tum, sift_map, run, *more)) == 130
    (line,) = [e for e in capsys.readouterr().err.splitlines() if "run stopped after" in e]
    again = " --overwrite" if older_run else ""
    assert line.endswith(f"; rerun with --resume{again} to go on from them (or "
                         f"--restart{again} to start over)"), line
    calls = _count_calls(monkeypatch)
    assert main(_argv(tum, sift_map, run, "--max-frames", "4", "--resume", *again.split())) == 0
    assert len(calls) == 2 and len(_records(run / "results.jsonl")) == 4


def _stamped_zero(folder, q):
    """A copy ``q`` of the TUM folder whose rgb.txt stamps every image 0."""
    shutil.copytree(folder, q)
    lines = (q / "rgb.txt").read_text().splitlines()
    (q / "rgb.txt").write_text("".join(
        line + "\n" if line.startswith("#") else "0.000000 " + line.split()[1] + "\n"
        for line in lines))
    return q


@pytest.fixture(scope="module")
def stamped_zero_run(tum, sift_map, tmp_path_factory):
    """One run of 4 frames of a copy of the query folder whose rgb.txt stamps every image 0
    (no groundtruth.txt: its stamps are not those of the images now), shared by the two tests
    below, which read its results and its stderr: (query folder, run folder, stderr)."""
    import contextlib
    import io

    d = tmp_path_factory.mktemp("stamped_zero")
    q = _stamped_zero(tum[1], d / "q")
    (q / "groundtruth.txt").unlink()
    run, err = d / "run", io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["localize", str(q), "--map", sift_map, "--out", str(run), "--matcher",
                     "sift", "--log-level", "error", "--max-frames", "4"]) == 0
    return q, run, err.getvalue()


def test_frames_sharing_the_cold_frames_stamp_are_not_left_out_of_the_latency(stamped_zero_run):
    """The cold first frame was found by its stamp, so a camera that stamps every image 0 (or
    repeats stamps) had every frame left out of the latency statistics: all medians n/a and
    metrics.json's latency_left_out saying '4 processes of a resumed run' of a run in one go.
    Only the frame this process localized first is left out."""
    _, run, _ = stamped_zero_run
    recs = _records(run / "results.jsonl")
    assert [r.get("cold_start", False) for r in recs] == [True, False, False, False]
    m = json.loads((run / "metrics.json").read_text())
    assert m["latency_left_out"]["frames"] == 1, m["latency_left_out"]
    assert "resumed" not in m["latency_left_out"]["why"]
    assert m["latency_s"]["total"]["frames"] == 3


def test_a_tum_folder_stamped_0_is_told_to_fix_rgb_txt_not_a_camera_driver(stamped_zero_run):
    """A TUM folder whose rgb.txt stamps every image 0 was told 'every image has header stamp
    0 ...; fix the camera driver's header.stamp': there is no driver, the stamps are rgb.txt's."""
    q, _, err = stamped_zero_run
    notes = [e for e in err.splitlines() if ": note: " in e]
    assert len(notes) == 1 and f"stamped 0 in {q / 'rgb.txt'}" in notes[0], notes
    assert "driver" not in notes[0] and "header" not in notes[0]


def test_a_run_stopped_by_a_damaged_map_says_fix_the_map_before_resuming(tum, sift_map, tmp_path,
                                                                          capsys, monkeypatch):
    """A map file found damaged partway (a lazily verified file's checksum): the stop line said
    'rerun with --resume' while the error said 'rebuild the map', and a --resume against the
    damaged map fails the same way. The stop line now says to fix the map first, then resume."""
    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.localizer import Localizer

    run = tmp_path / "run"
    real, calls = Localizer.localize, []

    def localize(self, *a, **k):
        calls.append(1)
        if len(calls) > 2:
            raise MapFormatError("map file corrupt (checksum mismatch): m/enc.npy; rebuild the "
                                 "map or re-copy the file")
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", localize)
    assert main(_argv(tum, sift_map, run, "--max-frames", "4")) == 2
    err = capsys.readouterr().err.splitlines()
    (line,) = [e for e in err if "run stopped after 2 frames" in e]
    assert line.endswith("; the map is damaged: fix it first as the error says, then rerun with "
                         "--resume to go on from them (refused if the fixed map's keyframes "
                         "differ: then --restart)"), line
    assert any("rebuild the map or re-copy the file" in e for e in err), err
    calls = _count_calls(monkeypatch)  # the map fixed (here: never damaged): --resume goes on
    assert main(_argv(tum, sift_map, run, "--max-frames", "4", "--resume")) == 0
    assert len(calls) == 2 and len(_records(run / "results.jsonl")) == 4


def test_a_run_stopped_by_a_map_file_it_may_not_read_is_not_called_damaged(tum, sift_map, tmp_path,
                                                                           capsys, monkeypatch):
    """A map file this user may not read (`map_file_unreadable`: 'check the map's
    permissions', the file whole) stopped the run with 'the map is damaged' beside it."""
    from mast3r_ros.core.errors import map_file_unreadable
    from mast3r_ros.core.localizer import Localizer

    real, calls = Localizer.localize, []

    def localize(self, *a, **k):
        calls.append(1)
        if len(calls) > 2:
            raise map_file_unreadable("m/enc.npy", PermissionError(13, "Permission denied"))
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", localize)
    assert main(_argv(tum, sift_map, tmp_path / "run", "--max-frames", "4")) == 2
    (line,) = [e for e in capsys.readouterr().err.splitlines() if "run stopped after 2" in e]
    assert "; the map is not readable by this user: fix it first as the error says" in line
    assert "damaged" not in line


def test_a_resume_at_another_image_size_is_refused_before_the_source_is_read(tum, tmp_path,
                                                                             capsys, monkeypatch,
                                                                             tiny_ckpt):
    """build-map --resume of a build encoding at image_size 224, run with the default 512 (the
    --params that set 224 left out), read the whole source, chose its keyframes and checked
    the map (minutes on a bag) before refusing the size. The size is known from the
    parameters: it is refused before the source is opened; the checkpoint itself, known once
    it is loaded, is compared where it was."""
    from mast3r_ros.replay import cli

    (tmp_path / "b.partial" / "keyframes").mkdir(parents=True)
    (tmp_path / "b.partial" / "encodings" / "d695f1400de6d672_224").mkdir(parents=True)
    ckpt = tmp_path / "c.pth"
    import torch

    torch.save({"w": torch.zeros(1)}, ckpt)  # a torch.save file, its weights not read

    class Opened(Exception):
        pass

    def opened(*args, **kwargs):
        raise Opened
    monkeypatch.setattr(cli, "_open", opened)
    argv = ["build-map", tum[0], "--out", str(tmp_path / "b"), "--checkpoint", str(ckpt),
            "--resume"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and (
        f"error: --resume: the unfinished build in {tmp_path / 'b.partial'} was done encoding "
        "d695f1400de6d672_224, another image size than this run's 512; resume with that "
        "checkpoint (--checkpoint) and image size ('image_size: 224' in --params), or rerun "
        "with --restart instead of --resume to delete it and start over") in err, err
    # the same size goes on to the source (its checkpoint is compared once loaded); a network
    # now, since build-map loads it before the read and refuses a file that is no model there
    os.rename(tmp_path / "b.partial" / "encodings" / "d695f1400de6d672_224",
              tmp_path / "b.partial" / "encodings" / "d695f1400de6d672_512")
    with pytest.raises(Opened):
        main(argv[:5] + [tiny_ckpt] + argv[6:])


def test_resume_of_a_run_from_before_hint_max_age_s_goes_on_without_the_limit(
        tum, sift_map, tmp_path, capsys, monkeypatch):
    """A stopped run of an older mast3r_ros has no hint_max_age_s in its config.yaml (it used
    the tracking hint at any age); was, it loaded as the default 1.0, --resume passed and the
    run mixed frames localized without the limit and with it. Now the run goes on with 0 (no
    limit), and its config.yaml says so; another value given is refused in one line."""
    run, partial = tmp_path / "run", tmp_path / "run.partial"
    _stop_after(monkeypatch, 3)
    assert main(_argv(tum, sift_map, run, "--max-frames", "6")) == 130
    monkeypatch.undo()
    saved = (partial / "config.yaml").read_text()
    assert "hint_max_age_s: 1.0\n" in saved
    older = "".join(line for line in saved.splitlines(True) if "hint_max_age_s" not in line)
    (partial / "config.yaml").write_text(older)
    params = tmp_path / "p.yaml"
    params.write_text("/**/mast3r_localizer:\n  ros__parameters:\n    hint_max_age_s: 0.5\n")
    capsys.readouterr()
    assert main(_argv(tum, sift_map, run, "--max-frames", "6", "--resume", "--params",
                      str(params))) == 2
    errors = _errors(capsys)
    # said as it is: the run's config.yaml has no such key (it said "hint_max_age_s 0.0")
    assert len(errors) == 1 and ("the run was made before hint_max_age_s existed (no age "
                                 "limit: hint_max_age_s 0; now 0.5)") in errors[0], errors
    assert "--restart" in errors[0]
    assert main(_argv(tum, sift_map, run, "--max-frames", "6", "--resume")) == 0
    assert "hint_max_age_s: 0.0\n" in (run / "config.yaml").read_text()
    assert len(_records(run / "results.jsonl")) == 6


def test_a_last_line_cut_by_a_hard_stop_is_dropped_and_its_frame_localized_again(
        tum, sift_map, tmp_path, capsys, monkeypatch):
    """A ``kill -9`` or a power loss can leave results.jsonl's last line incomplete: the resume
    refused every frame of the partial; now it drops that line (one warning naming the file
    and the frames kept) and localizes its frame again."""
    run, partial = tmp_path / "run", tmp_path / "run.partial" / "results.jsonl"
    n = ("--max-frames", "4")
    _stop_after(monkeypatch, 3)
    assert main(_argv(tum, sift_map, run, *n)) == 130
    whole = partial.read_bytes()
    partial.write_bytes(whole[:-40])  # the third line cut in its middle, no newline
    capsys.readouterr()
    calls = _count_calls(monkeypatch)
    assert main(_argv(tum, sift_map, run, *n, "--resume")) == 0
    warned = [e for e in capsys.readouterr().err.splitlines() if "cut short" in e]
    assert len(warned) == 1 and str(partial) in warned[0] and "2 frame(s) kept" in warned[0]
    assert len(calls) == 4 - 2
    assert len(_records(run / "results.jsonl")) == 4


def test_a_bad_line_that_is_not_a_cut_last_line_is_still_refused(tmp_path):
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.run_resume import _read_results, partial_frames, result_lines

    good = json.dumps({"success": False, "stamp_ns": 1, "inliers": 0, "matches": 0,
                       "inlier_ratio": 0.0, "reproj_rms_px": None, "keyframe_ids": [],
                       "reason": "x", "timings_s": {}})
    assert result_lines(f"{good}\n{good[:9]}".encode()) == ([(1, good)], True)
    assert result_lines(f"{good}\n{good[:9]}\n\n".encode())[1]  # invalid JSON at the end
    assert result_lines(f"{good}\n\0\0\0".encode())[1]  # a zero-filled tail
    (tmp_path / "results.jsonl").write_text(f"{good}\n{good[:9]}")
    assert partial_frames(str(tmp_path)) == 1 and len(_read_results(str(tmp_path))) == 1
    for text, line in ((f"{good}\n{good[:9]}\n{good}\n", 2),  # not the last line
                       (f"{good}\n{{\"success\": true}}", 2)):  # complete JSON, no result
        (tmp_path / "results.jsonl").write_text(text)
        with pytest.raises(InputError, match=f"line {line} is not a localize result"):
            _read_results(str(tmp_path))


def test_a_run_stopped_by_its_map_replaced_is_not_called_damaged(tum, sift_map, tmp_path,
                                                                  capsys, monkeypatch):
    """A map replaced under the run (build-map --overwrite while it ran: `replaced_error`, the
    new map whole) stopped it with 'the map is damaged: fix it first as the error says' beside
    an error saying the map was replaced; the line now says so, and that --resume goes on
    against the new map."""
    from mast3r_ros.core.errors import MapFormatError
    from mast3r_ros.core.localizer import Localizer

    real, calls = Localizer.localize, []

    def localize(self, *a, **k):
        calls.append(1)
        if len(calls) > 2:
            raise MapFormatError("map m was replaced after this localizer opened it (a "
                                 "build-map ...); restart the localizer to use the new map")
        return real(self, *a, **k)

    monkeypatch.setattr(Localizer, "localize", localize)
    assert main(_argv(tum, sift_map, tmp_path / "run", "--max-frames", "4")) == 2
    (line,) = [e for e in capsys.readouterr().err.splitlines() if "run stopped after 2" in e]
    assert line.endswith("; the map was replaced while the run read it: rerun with --resume to "
                         "go on from them (refused if the new map's keyframes differ: then "
                         "--restart)"), line
    assert "damaged" not in line and "fix it" not in line
