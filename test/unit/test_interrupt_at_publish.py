"""A Ctrl-C or SIGTERM as an output is published (a fresh user's find, about 0.5 s of a 4 s
build): build-map said 'build interrupted: finished shards are kept in MAP.partial; rerun with
--resume' of a map that was complete (and the rerun was refused), or failed with 'Bad file
descriptor' (the output lock released twice); an `--overwrite` whose old folder's deletion was
cut short left a full copy of the old output in OUT.old-XXXXXXXX for good."""

from __future__ import annotations

import os
import shutil

import pytest

from mast3r_ros.core import fileio
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.replay.cli import main


class CutSummary:
    """A stdout on which a Ctrl-C lands as the summary is written."""

    def write(self, text):
        raise KeyboardInterrupt

    def flush(self):
        pass


def test_a_lock_release_cut_short_is_not_released_twice(tmp_path, monkeypatch):
    lock = fileio.acquire_output_lock(str(tmp_path / "out"))
    real_close = os.close

    def interrupted(fd):  # the Ctrl-C lands just after the fd is closed
        real_close(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(fileio.os, "close", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lock.release()
    monkeypatch.undo()
    lock.release()  # the cleanup the interrupt triggers: no EBADF, nothing to do
    assert not lock.held
    fileio.acquire_output_lock(str(tmp_path / "out")).release()  # the fd was closed: free


def _cut_old_deletion(monkeypatch):
    """shutil.rmtree of a replaced output (``X.old-``) interrupted, as by a Ctrl-C."""
    real = shutil.rmtree

    def rmtree(path, *a, **k):
        if ".old-" in os.path.basename(str(path)):
            raise KeyboardInterrupt
        return real(path, *a, **k)

    monkeypatch.setattr(shutil, "rmtree", rmtree)


def test_build_map_interrupted_as_its_map_is_published(tum, tmp_path, monkeypatch, capsys,
                                                       caplog):
    out = str(tmp_path / "map")
    # 4 of the 12 frames: where the interrupt lands does not depend on how many (cheaper)
    argv = ["build-map", tum[0], "--out", out, "--matcher", "sift", "--max-frames", "4",
            "--log-level", "warning"]
    assert main(argv) == 0
    first = KeyframeMap.load(out).manifest
    capsys.readouterr()
    _cut_old_deletion(monkeypatch)
    assert main(argv + ["--overwrite"]) == 130
    stdout, err = capsys.readouterr()
    assert err.endswith(f"build-map: interrupted after the map was published: {out} is "
                        "complete\n"), err
    assert stdout.startswith(f"map {out}: "), stdout  # the summary of the map it wrote
    assert "--resume" not in err and "Bad file descriptor" not in err
    assert not os.path.exists(out + ".partial")
    assert KeyframeMap.load(out).manifest["files"] == first["files"]  # the same frames, rebuilt
    left = [n for n in os.listdir(tmp_path) if n.startswith("map.old-")]
    # renamed from ``folder`` as its deletion began: never put back as OUT
    assert len(left) == 1 and os.listdir(tmp_path / left[0]) == ["gone"]
    monkeypatch.undo()
    # the next writer of OUT removes the leftover, with a warning; a user's map.old-backup stays
    os.makedirs(tmp_path / "map.old-backup")
    caplog.clear()
    fileio.acquire_output_lock(out).release()
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("map.")) == ["map.old-backup"]
    # main() gave the root logger's handlers back (caplog's): the warning is logged there
    assert [(r.levelname, r.name, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "mast3r_ros.core.fileio", f"removed {tmp_path / left[0]}: the output {out} "
         "replaced, left when its deletion was interrupted")]


def test_build_map_interrupted_after_its_map_is_published_says_it_is_complete(
        tum, tmp_path, monkeypatch, capsys):
    """A Ctrl-C in build-map's last warnings or its summary line, the map already published,
    ended 'build-map: interrupted' (exit 130) with no summary: a complete map looked lost. The
    summary is written and the line says the map is complete; exit 130 still (a shell's loop
    of commands stops at Ctrl-C), and no map is called complete before its rename."""
    import sys

    from mast3r_ros.replay import pipeline

    out = str(tmp_path / "map")
    # 4 of the 12 frames: where the interrupt lands does not depend on how many (cheaper)
    argv = ["build-map", tum[0], "--out", out, "--matcher", "sift", "--max-frames", "4",
            "--log-level", "error"]

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "_warn_one_keyframe", interrupted)  # after the commit
    assert main(argv) == 130
    stdout, err = capsys.readouterr()
    assert err == f"mast3r-ros build-map: interrupted after the map was published: {out} is " \
        "complete\n", err
    n = len(KeyframeMap.load(out))
    assert stdout == (f"map {out}: {n} keyframes from 4 frames (the first of 12: --max-frames)"
                      "; map check: consistent\n"), stdout
    monkeypatch.undo()

    monkeypatch.setattr(sys, "stdout", CutSummary())
    assert main(argv + ["--overwrite"]) == 130
    monkeypatch.undo()
    assert capsys.readouterr().err == (f"mast3r-ros build-map: interrupted after the map was "
                                       f"published: {out} is complete\n")
    # SIGTERM (raised as cli.Terminated) says so too, with its own code
    from mast3r_ros.replay.cli import Terminated

    def terminated(*a, **k):
        raise Terminated

    monkeypatch.setattr(pipeline, "_warn_one_keyframe", terminated)
    assert main(argv + ["--overwrite"]) == 143
    assert capsys.readouterr().err == (f"mast3r-ros build-map: terminated (SIGTERM) after the "
                                       f"map was published: {out} is complete\n")
    monkeypatch.undo()
    # before the rename: not complete, and not said to be
    monkeypatch.setattr(pipeline, "plot_keyframes", interrupted)
    assert main(argv + ["--overwrite"]) == 130
    err = capsys.readouterr().err
    assert "complete" not in err and err.endswith("build-map: interrupted\n"), err


def test_merge_maps_interrupted_as_its_map_is_published_says_it_is_complete(
        sift_map, tmp_path, monkeypatch, capsys):
    """merge-maps cut by a Ctrl-C after the merged map's rename (its --overwrite's deletion of
    the old one) said only 'interrupted', of a complete map."""
    from mast3r_ros.replay.map_merge import merge_maps

    a, b, out = tmp_path / "a", tmp_path / "b", str(tmp_path / "c")
    shutil.copytree(sift_map, a)
    shutil.copytree(sift_map, b)
    merge_maps(str(a), str(b), out)
    _cut_old_deletion(monkeypatch)
    capsys.readouterr()
    assert main(["merge-maps", str(a), str(b), "--out", out, "--overwrite", "--log-level",
                 "error"]) == 130
    err = capsys.readouterr().err
    assert err == (f"mast3r-ros merge-maps: interrupted after the map was published: {out} is "
                   "complete\n"), err
    monkeypatch.undo()
    assert len(KeyframeMap.load(out)) == len(KeyframeMap.load(sift_map))


def test_localize_interrupted_after_its_run_is_published_says_it_is_complete(
        tum, sift_map, tmp_path, monkeypatch, capsys):
    """A Ctrl-C or SIGTERM once localize's run was renamed into place (the old run's deletion
    with --overwrite, a superseded RUN.partial's removal, the summary table) ended a bare
    'localize: interrupted' (exit 130) of a complete run; it now says the run is complete, as
    build-map and merge-maps do (`errors.after_publishing`), exit 130 or 143 still. A stop
    before the rename says nothing of the kind."""
    import sys

    from mast3r_ros.replay import localize_run
    from mast3r_ros.replay.cli import Terminated

    out = str(tmp_path / "run")
    argv = ["localize", tum[1], "--map", sift_map, "--out", out, "--matcher", "sift",
            "--max-frames", "2", "--log-level", "error"]
    assert main(argv) == 0
    capsys.readouterr()
    complete = f"after the run was published: {out} is complete\n"
    _cut_old_deletion(monkeypatch)  # --overwrite's deletion of the old run cut short
    assert main(argv + ["--overwrite"]) == 130
    assert capsys.readouterr().err == f"mast3r-ros localize: interrupted {complete}"
    monkeypatch.undo()
    assert os.path.isfile(os.path.join(out, "metrics.json"))  # the new run is complete
    assert [n for n in os.listdir(tmp_path) if n.startswith("run.old-")]  # the cut deletion's

    monkeypatch.setattr(sys, "stdout", CutSummary())
    assert main(argv + ["--overwrite"]) == 130
    monkeypatch.undo()
    assert capsys.readouterr().err == f"mast3r-ros localize: interrupted {complete}"
    # the next writer of OUT removed the old run the cut deletion left (RUN.old-XXXXXXXX kept
    # a full copy of it for good), and deleted the run it replaced itself
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("run")) == ["run"]

    def terminated(*a, **k):  # SIGTERM as a superseded RUN.partial is removed
        raise Terminated
    os.makedirs(out + ".partial")
    monkeypatch.setattr(localize_run, "partial_of", terminated)
    assert main(argv + ["--overwrite"]) == 143
    assert capsys.readouterr().err == f"mast3r-ros localize: terminated (SIGTERM) {complete}"
    monkeypatch.undo()
    assert os.path.isfile(os.path.join(out, "metrics.json"))
    shutil.rmtree(out + ".partial")

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(localize_run, "write_run", interrupted)  # before the rename
    assert main(argv + ["--overwrite"]) == 130
    err = capsys.readouterr().err
    assert "complete" not in err and err.endswith("localize: interrupted\n"), err
