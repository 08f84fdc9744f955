"""`mast3r-ros demo` stopped (Ctrl-C: KeyboardInterrupt raised where it is) in each of its steps:
exit 130, a line that says what to do, nothing half-written under DIR, and the rerun it names
works."""

from __future__ import annotations

import os

import pytest

from mast3r_ros.replay.cli import main

SMALL = ["--frames", "8", "--width", "128", "--height", "96"]


def _demo(out, *extra):
    return main(["demo", "--out", str(out), *SMALL, "--log-level", "warning", *extra])


def _stop_at(monkeypatch, step):
    """Ctrl-C in ``step``: writing the rendered scene (after its map half), building the map
    (its plot, the build's last step), localizing (the third query frame)."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    if step == "render":
        from mast3r_ros.replay import synthetic

        real = synthetic.write_tum_sequence
        calls = []

        def write(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:  # the query half: the map half is on disk
                raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(synthetic, "write_tum_sequence", write)
    elif step == "build":
        from mast3r_ros.replay import pipeline

        monkeypatch.setattr(pipeline, "plot_keyframes", interrupted)
    else:
        from mast3r_ros.core.localizer import Localizer

        real = Localizer.localize
        calls = []

        def localize(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Localizer, "localize", localize)


@pytest.mark.parametrize("step", ["render", "build", "localize"])
def test_a_demo_stopped_in_each_step_leaves_nothing_half_written_and_names_the_rerun(
        step, tmp_path, monkeypatch, capsys):
    out = tmp_path / "D"
    _stop_at(monkeypatch, step)
    assert _demo(out) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "mast3r-ros demo: interrupted", err
    left = sorted(os.listdir(out)) if out.exists() else []
    assert left == {"render": [], "build": ["data"],
                    "localize": ["data", "map", "run.partial"]}[step], left
    assert sorted(os.listdir(tmp_path)) == (["D"] if out.exists() else []), \
        os.listdir(tmp_path)
    # what the lines say to do is what works (the same command is refused: DIR exists)
    assert all("rerun the same command" not in line for line in err), err
    if step in ("build", "localize"):  # localize: not localize's --resume (demo has none)
        assert "rerun the demo with --overwrite" in err[0], err
    monkeypatch.undo()
    assert _demo(out, "--overwrite") == 0
    assert sorted(os.listdir(out)) == ["data", "map", "run"]


def test_a_demo_stopped_while_rendering_into_a_new_folder_reruns_as_it_was_given(
        tmp_path, monkeypatch, capsys):
    """Ctrl-C while the scene renders (the longest step at --frames 200) left the empty DIR
    the demo had made, and the same command was then refused: 'output folder already exists:
    DIR (pass --overwrite ...)' for a folder the user never had. Nothing is kept, so DIR goes
    too; a DIR that existed before the demo is left."""
    out = tmp_path / "D"
    _stop_at(monkeypatch, "render")
    assert _demo(out) == 130
    assert not out.exists() and os.listdir(tmp_path) == [], os.listdir(tmp_path)
    capsys.readouterr()
    monkeypatch.undo()
    assert _demo(out) == 0, capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["data", "map", "run"]
    given = tmp_path / "E"
    given.mkdir()
    _stop_at(monkeypatch, "render")
    assert _demo(given, "--overwrite") == 130
    assert given.is_dir()


def test_a_full_disk_after_encoding_says_the_rerun_starts_the_map_over(
        tiny_ckpt, tmp_path, monkeypatch, capsys):
    """ENOSPC at the pooled index (every keyframe encoded: the shards are kept) said 'the build
    is kept in D/map.partial (rerun the demo with --overwrite ...)', but that rerun restarts
    the build and deletes it: the line now says so, and how to free its space first."""
    import errno

    from mast3r_ros.core.keyframes.writer import MapWriter
    from mast3r_ros.replay import demo

    real = MapWriter._save_index

    def full(self, name, *a, **k):
        if name.endswith("/pooled"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.path.join(self.tmp, name))
        return real(self, name, *a, **k)

    out = tmp_path / "D"
    with monkeypatch.context() as m:
        m.setattr(MapWriter, "_save_index", full)
        assert main(["demo", "--out", str(out), "--checkpoint", tiny_ckpt, "--frames", "5",
                     "--width", "128", "--height", "96", "--log-level", "error"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    partial = f"{out}{os.sep}map.partial"
    assert os.path.isdir(partial)
    assert f"the build is kept in {partial} (rerun the demo with --overwrite: it reuses the " \
           f"scene and builds the map from the start, deleting any {partial} (delete it " \
           "first to free its space))" in line, line

    # what the rerun does: the build started over (restart), so the line's words hold
    told = []

    def build_map(*a, build, **k):
        told.append(build.restart)
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "build_map", build_map)
    assert main(["demo", "--out", str(out), "--checkpoint", tiny_ckpt, "--frames", "5",
                 "--width", "128", "--height", "96", "--overwrite"]) == 130
    assert told == [True]
