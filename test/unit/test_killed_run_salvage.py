"""A localize run killed outright (``kill -9``, the kernel's OOM killer) lost the frames it had
finished: they were in its ``RUN.tmp-m3r-XXXXXXXX`` folder, which the next writer of RUN
deleted (a known gap of an earlier stop). The next writer now keeps them as ``RUN.partial``,
as a Ctrl-C'd run keeps them (`fileio.remove_stale_temporaries` with ``salvage``)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from mast3r_ros.core.fileio import make_temporary_sibling, remove_stale_temporaries
from mast3r_ros.replay.cli import main


def _stale(tmp_path, name, text, mtime):
    """A killed writer's temporary of ``tmp_path/run`` named ``run.tmp-m3r-NAME`` holding
    results.jsonl ``text`` (None: no such file), its mtime ``mtime``."""
    d = tmp_path / f"run.tmp-m3r-{name}"
    os.makedirs(d)
    (d / "config.yaml").write_text("x: 1\n")
    if text is not None:
        (d / "results.jsonl").write_bytes(text)
        os.utime(d / "results.jsonl", (mtime, mtime))
    return d


def test_the_newest_killed_runs_finished_lines_are_kept_as_partial(tmp_path, caplog):
    """Three killed runs: the newest with finished lines wins (its cut last line dropped, its
    mtime kept), the older ones and the one without a finished line are deleted; each move and
    the deletions are WARNINGs naming the folders."""
    old = _stale(tmp_path, "aaaaaaaa", b'{"i": 0}\n', 1000)
    new = _stale(tmp_path, "bbbbbbbb", b'{"i": 0}\n{"i": 1}\n{"i": 2, "cut', 2000)
    empty = _stale(tmp_path, "cccccccc", b'{"cut', 3000)  # newest, but no finished line
    none = _stale(tmp_path, "dddddddd", None, 0)
    out = str(tmp_path / "run")
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        got = remove_stale_temporaries(out, "results.jsonl")
    assert sorted(got) == sorted(str(d) for d in (old, new, empty, none))
    assert sorted(os.listdir(tmp_path)) == ["run.partial"]
    part = tmp_path / "run.partial"
    assert (part / "results.jsonl").read_bytes() == b'{"i": 0}\n{"i": 1}\n'
    assert os.stat(part / "results.jsonl").st_mtime == 2000
    assert (part / "config.yaml").read_text() == "x: 1\n"
    msgs = [r.getMessage() for r in caplog.records]
    # what localize then enforces (run_resume.check_partial), not "a complete run to it
    # replaces them", which the next line's refusal of a plain rerun contradicted
    then = ("; a rerun to it is refused without --resume (to go on from them) or --restart "
            "(to delete them and start over)")
    assert msgs.count(f"a writer of {out} killed without cleaning up left 2 finished line(s) "
                      f"of results.jsonl in {new}: kept as {part}{then}") == 1
    assert (f"a writer of {out} killed without cleaning up left 1 finished line(s) of "
            f"results.jsonl in {old}: kept as {part}{then}") in msgs  # then superseded
    assert msgs[-1] == (f"removed 2 temporary folder(s) that a killed writer of {out} left: "
                        f"{empty}, {none}")


def test_a_newer_partial_is_kept_and_a_build_partial_never_replaced(tmp_path):
    """A RUN.partial of a later stopped run outranks an older killed run's lines; a RUN.partial
    that is no run (a resumable build) is never replaced: the lines go to RUN.kept-X."""
    os.makedirs(tmp_path / "run.partial")
    (tmp_path / "run.partial" / "results.jsonl").write_text('{"later": 1}\n')
    os.utime(tmp_path / "run.partial" / "results.jsonl", (5000, 5000))
    _stale(tmp_path, "aaaaaaaa", b'{"i": 0}\n', 1000)
    remove_stale_temporaries(str(tmp_path / "run"), "results.jsonl")
    assert sorted(os.listdir(tmp_path)) == ["run.partial"]
    assert (tmp_path / "run.partial" / "results.jsonl").read_text() == '{"later": 1}\n'

    build = tmp_path / "b"
    os.makedirs(build)
    os.makedirs(build / "run.partial" / "encodings")
    _stale(build, "aaaaaaaa", b'{"i": 0}\n', 1000)
    remove_stale_temporaries(str(build / "run"), "results.jsonl")
    assert sorted(os.listdir(build)) == ["run.kept-aaaaaaaa", "run.partial"]
    assert os.listdir(build / "run.partial") == ["encodings"]
    assert (build / "run.kept-aaaaaaaa" / "results.jsonl").read_text() == '{"i": 0}\n'


def test_without_salvage_a_killed_writers_lines_are_deleted(tmp_path):
    """Other outputs (maps, exports) name no line file: their temporaries are deleted whole."""
    d = _stale(tmp_path, "aaaaaaaa", b'{"i": 0}\n', 1000)
    assert remove_stale_temporaries(str(tmp_path / "run")) == [str(d)]
    assert os.listdir(tmp_path) == []


# a localize that stops forever after writing its second result line, as a run does when the
# OOM killer is about to take it
HANG_AFTER_TWO = """
import sys, time
import mast3r_ros.replay.localize_run as p
real, n = p.result_record, [0]
def record(r):
    n[0] += 1
    if n[0] == 3:
        time.sleep(600)
    return real(r)
p.result_record = record
from mast3r_ros.replay.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_localize_killed_with_sigkill_keeps_its_frames_in_partial(tum, sift_map, tmp_path,
                                                                  capsys):
    """End to end: SIGKILL after two frames; the next localize into the same --out, which
    fails (a missing map), leaves those two frames in RUN.partial; a complete run then
    supersedes them (with --restart: without it or --resume they are refused,
    test_localize_resume)."""
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-c", HANG_AFTER_TWO, "localize", tum[1], "--map",
                             sift_map, "--out", str(out), "--matcher", "sift", "--log-level",
                             "error"], env=env)
    try:
        deadline = time.monotonic() + 240
        lines = []
        while time.monotonic() < deadline and proc.poll() is None:
            tmps = [n for n in os.listdir(tmp_path) if n.startswith("run.tmp-m3r-")]
            results = tmp_path / tmps[0] / "results.jsonl" if tmps else None
            if results is not None and results.is_file():  # written after config.yaml
                lines = results.read_bytes().splitlines()
                if len(lines) >= 2:
                    break
            time.sleep(0.1)
        assert len(lines) >= 2, f"the run did not write 2 results (exit {proc.poll()})"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out),
                 "--matcher", "sift"]) == 2
    err = capsys.readouterr().err
    assert "killed without cleaning up left 2 finished line(s) of results.jsonl" in err
    assert not out.exists()
    assert len((tmp_path / "run.partial" / "results.jsonl").read_text().splitlines()) == 2
    assert not [n for n in os.listdir(tmp_path) if ".tmp-m3r-" in n]
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher", "sift",
                 "--max-frames", "3", "--log-level", "warning", "--restart"]) == 0
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("run")) == ["run"]


def test_a_temporary_made_by_the_writers_is_salvageable(tmp_path):
    """The salvage rule applies to the temporaries the writers really make."""
    made = make_temporary_sibling(str(tmp_path / "run"))
    with open(os.path.join(made, "results.jsonl"), "w") as fh:
        fh.write("{}\n")
    assert remove_stale_temporaries(str(tmp_path / "run"), "results.jsonl") == [made]
    assert os.listdir(tmp_path) == ["run.partial"]


def test_a_partial_that_cannot_be_replaced_keeps_the_lines_as_kept(tmp_path, monkeypatch):
    """An older RUN.partial that cannot be deleted (another user's file in it) made the sweep
    delete the newer killed run's lines (a regression review's find): they go to RUN.kept-X,
    and where even that rename fails, they stay where they are."""
    import shutil

    from mast3r_ros.core import fileio

    os.makedirs(tmp_path / "run.partial")
    (tmp_path / "run.partial" / "results.jsonl").write_text('{"old": 1}\n')
    os.utime(tmp_path / "run.partial" / "results.jsonl", (1000, 1000))
    _stale(tmp_path, "aaaaaaaa", b'{"i": 0}\n{"i": 1}\n', 2000)
    real = shutil.rmtree

    def busy(path, *a, **k):
        if str(path).endswith("run.partial"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(fileio.shutil, "rmtree", busy)
    remove_stale_temporaries(str(tmp_path / "run"), "results.jsonl")
    assert sorted(os.listdir(tmp_path)) == ["run.kept-aaaaaaaa", "run.partial"]
    assert (tmp_path / "run.kept-aaaaaaaa" / "results.jsonl").read_text().count("\n") == 2
    # the rename to run.kept- fails too (a run.kept-bbbbbbbb of that name exists): left in place
    _stale(tmp_path, "bbbbbbbb", b'{"i": 0}\n', 3000)
    os.makedirs(tmp_path / "run.kept-bbbbbbbb")
    remove_stale_temporaries(str(tmp_path / "run"), "results.jsonl")
    assert (tmp_path / "run.tmp-m3r-bbbbbbbb" / "results.jsonl").is_file()


def test_a_symlinked_out_has_one_partial_beside_its_target(tum, sift_map, tmp_path,
                                                           monkeypatch):
    """With --out a link, the killed run's lines went to TARGET.partial, a Ctrl-C'd run's to
    LINK.partial, and a complete run removed only the latter (a regression review's find).
    Both runs pass --restart: the killed run's salvaged lines, then the stopped run's, are
    refused without it (or --resume, test_localize_resume)."""
    from mast3r_ros.replay import localize_run

    os.makedirs(tmp_path / "data" / "r1")
    os.symlink(tmp_path / "data" / "r1", tmp_path / "run")
    d = tmp_path / "data" / "r1.tmp-m3r-aaaaaaaa"
    os.makedirs(d)
    (d / "results.jsonl").write_text("{}\n")
    argv = ["localize", tum[1], "--map", sift_map, "--out", str(tmp_path / "run"), "--matcher",
            "sift", "--max-frames", "2", "--log-level", "error", "--overwrite", "--restart"]
    real = localize_run._localize_run

    def stopped(source, map_path, out, *a, **k):
        with open(os.path.join(out, "results.jsonl"), "w") as fh:
            fh.write("{}\n{}\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(localize_run, "_localize_run", stopped)
    assert main(argv) == 130
    assert sorted(os.listdir(tmp_path)) == ["data", "run"]
    assert sorted(os.listdir(tmp_path / "data")) == ["r1", "r1.partial"]
    assert (tmp_path / "data" / "r1.partial" / "results.jsonl").read_text() == "{}\n{}\n"
    monkeypatch.setattr(localize_run, "_localize_run", real)
    assert main(argv) == 0
    assert sorted(os.listdir(tmp_path / "data")) == ["r1"]
    assert os.path.islink(tmp_path / "run")


def test_a_resumed_run_killed_while_copying_the_partials_lines_leaves_the_partial(tmp_path):
    """localize --resume first copies RUN.partial's lines into its temporary; killed (kill -9)
    during that copy, its temporary holds a newer prefix of them, which replaced the partial:
    the other frames were lost. A partial holding more finished lines is kept."""
    os.makedirs(tmp_path / "run.partial")
    full = b"".join(b'{"i": %d}\n' % i for i in range(5))
    (tmp_path / "run.partial" / "results.jsonl").write_bytes(full)
    os.utime(tmp_path / "run.partial" / "results.jsonl", (1000, 1000))
    _stale(tmp_path, "aaaaaaaa", full[:20], 2000)  # 2 lines and a cut one, newer
    remove_stale_temporaries(str(tmp_path / "run"), "results.jsonl")
    assert sorted(os.listdir(tmp_path)) == ["run.partial"]
    assert (tmp_path / "run.partial" / "results.jsonl").read_bytes() == full
