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


def test_build_map_interrupted_as_its_map_is_published(tum, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "map")
    argv = ["build-map", tum[0], "--out", out, "--matcher", "sift", "--log-level", "warning"]
    assert main(argv) == 0
    first = KeyframeMap.load(out).manifest
    capsys.readouterr()
    _cut_old_deletion(monkeypatch)
    assert main(argv + ["--overwrite"]) == 130
    err = capsys.readouterr().err
    assert f"interrupted after the map was published: {out} is complete" in err
    assert "--resume" not in err and "Bad file descriptor" not in err
    assert not os.path.exists(out + ".partial")
    assert KeyframeMap.load(out).manifest["files"] == first["files"]  # the same frames, rebuilt
    left = [n for n in os.listdir(tmp_path) if n.startswith("map.old-")]
    assert len(left) == 1 and os.listdir(tmp_path / left[0]) == ["folder"]
    monkeypatch.undo()
    # the next writer of OUT removes the leftover, with a warning; a user's map.old-backup stays
    os.makedirs(tmp_path / "map.old-backup")
    fileio.acquire_output_lock(out).release()
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("map.")) == ["map.old-backup"]
    assert capsys.readouterr().err == (  # the CLI's log handler, still installed
        f"[WARNING] mast3r_ros.core.fileio: removed {tmp_path / left[0]}: the output {out} "
        "replaced, left when its deletion was interrupted\n")


def test_localize_overwrite_interrupted_while_deleting_the_old_run(tum, sift_map, tmp_path,
                                                                   monkeypatch):
    out = str(tmp_path / "run")
    argv = ["localize", tum[1], "--map", sift_map, "--out", out, "--matcher", "sift",
            "--max-frames", "2", "--log-level", "error"]
    assert main(argv) == 0
    _cut_old_deletion(monkeypatch)
    assert main(argv + ["--overwrite"]) == 130
    monkeypatch.undo()
    assert os.path.isfile(os.path.join(out, "metrics.json"))  # the new run is complete
    assert main(argv + ["--overwrite"]) == 0
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("run")) == ["run"]
