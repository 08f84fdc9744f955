"""An empty --out folder made beforehand (``mkdir out && mast3r-ros build-map REC --out out``)
is written without --overwrite: it holds nothing to lose. A folder that is not empty is still
refused, and one written into while the output is built is never replaced."""

from __future__ import annotations

import os

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.fileio import atomic_folder, check_output_folder
from mast3r_ros.core.keyframes import MapWriter
from mast3r_ros.core.keyframes.target import check_map_out
from test_map_writer_safety import _frame


def test_an_empty_out_folder_is_written_without_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    check_output_folder(str(out), False, ("a.txt",))
    with atomic_folder(str(out), False, ("a.txt",)) as tmp:
        with open(os.path.join(tmp, "a.txt"), "w") as fh:
            fh.write("new")
    assert (out / "a.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary or lock left beside it


def test_a_folder_that_is_not_empty_is_still_refused_without_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="already exists"):
        check_output_folder(str(out), False)
    with pytest.raises(InputError, match="already exists"):
        with atomic_folder(str(out), False):
            pass
    assert (out / "notes.txt").read_text() == "mine"


def test_an_empty_folder_written_into_meanwhile_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="not replacing it without --overwrite"):
        with atomic_folder(str(out), False) as tmp:
            with open(os.path.join(tmp, "a.txt"), "w") as fh:
                fh.write("new")
            (out / "notes.txt").write_text("mine")  # another program, while this one writes
    assert os.listdir(out) == ["notes.txt"]
    kept = [n for n in os.listdir(tmp_path) if ".kept-" in n]
    assert len(kept) == 1 and os.listdir(tmp_path / kept[0]) == ["a.txt"]


def test_a_map_is_written_into_an_empty_folder_without_overwrite(tmp_path):
    out = tmp_path / "map"
    out.mkdir()
    check_map_out(str(out), False)
    with MapWriter(str(out)) as w:
        w.add_keyframe(*_frame(0))
        w.commit()
    assert (out / "manifest.json").is_file()
    with pytest.raises(InputError, match="already exists"):  # now a map: --overwrite needed
        check_map_out(str(out), False)


def test_a_map_folder_filled_while_the_map_is_built_is_not_replaced(tmp_path):
    out = tmp_path / "map"
    out.mkdir()
    with MapWriter(str(out)) as w:
        w.add_keyframe(*_frame(0))
        (out / "notes.txt").write_text("mine")
        with pytest.raises(InputError, match="already exists"):
            w.commit()
    assert os.listdir(out) == ["notes.txt"]


def test_an_empty_folder_renamed_onto_only_while_empty(tmp_path):
    from mast3r_ros.core.publish import rename_onto_empty

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.txt").write_text("new")
    dst.mkdir()
    (dst / "notes.txt").write_text("mine")
    assert not rename_onto_empty(str(src), str(dst))  # not empty: nothing moved or deleted
    assert os.listdir(dst) == ["notes.txt"] and os.listdir(src) == ["a.txt"]
    os.remove(dst / "notes.txt")
    assert rename_onto_empty(str(src), str(dst))
    assert os.listdir(dst) == ["a.txt"] and not src.exists()


def test_build_map_and_localize_write_into_empty_folders_made_first(tum, sift_map, tmp_path):
    """The user's `mkdir out && mast3r-ros build-map REC --out out`, and localize's --out."""
    from mast3r_ros.replay.cli import main

    out, run = tmp_path / "map", tmp_path / "run"
    out.mkdir()
    run.mkdir()
    assert main(["build-map", tum[0], "--out", str(out), "--matcher", "sift", "--log-level",
                 "warning"]) == 0
    assert (out / "manifest.json").is_file()
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(run), "--matcher", "sift",
                 "--max-frames", "2", "--log-level", "warning"]) == 0
    assert (run / "metrics.json").is_file()
    (run / "notes.txt").write_text("mine")  # no longer empty: refused as before
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    assert main(["build-map", tum[0], "--out", str(full), "--matcher", "sift", "--log-level",
                 "warning"]) == 2
    assert os.listdir(full) == ["notes.txt"]


def test_a_run_stopped_in_an_empty_folder_is_resumed_without_overwrite(tum, sift_map, tmp_path,
                                                                       capsys, monkeypatch):
    """The stop's hint said `--resume --overwrite` for an empty --out made first."""
    from mast3r_ros.replay.cli import main
    from test_localize_resume import _argv, _errors, _stop_after

    run = tmp_path / "run"
    run.mkdir()
    _stop_after(monkeypatch, 2)
    assert main(_argv(tum, sift_map, run, "--max-frames", "4")) == 130
    err = capsys.readouterr().err
    assert "rerun with --resume to go on" in err and "--overwrite" not in err, err
    _stop_after(monkeypatch, 10 ** 6)
    assert main(_argv(tum, sift_map, run, "--max-frames", "4", "--resume")) == 0, _errors(capsys)
    assert (run / "metrics.json").is_file() and not (tmp_path / "run.partial").exists()


def _appears_as_publishing_starts(monkeypatch, out):
    """A folder with an entry appears at ``out`` the moment the rename that publishes begins
    (whichever publish step runs: after every check of ``out`` its writer made)."""
    from mast3r_ros.core import fileio, publish
    from mast3r_ros.core.keyframes import writer

    def appearing(real):
        def step(src, dst, *args):
            if dst == str(out) and not os.path.lexists(dst):
                os.mkdir(dst)
                with open(os.path.join(dst, "theirs.txt"), "w") as fh:
                    fh.write("mine")
            return real(src, dst, *args)
        return step

    for mod in (publish, fileio, writer):
        for name in ("replace_folder", "rename_onto_empty"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, appearing(getattr(mod, name)))


def test_a_folder_appearing_as_an_output_is_published_is_not_deleted(tmp_path, monkeypatch):
    """The check that OUT is absent came before the publish step, which then moved a folder
    made there meanwhile aside and deleted it, without --overwrite."""
    out = tmp_path / "run"
    _appears_as_publishing_starts(monkeypatch, out)
    with pytest.raises(InputError, match=r"not replacing it without --overwrite.*kept in "
                       r".*run\.kept-") as e:
        with atomic_folder(str(out)) as tmp:
            with open(os.path.join(tmp, "results.jsonl"), "w") as fh:
                fh.write("{}\n")
    assert os.listdir(out) == ["theirs.txt"] and (out / "theirs.txt").read_text() == "mine"
    kept = str(e.value).rsplit("kept in ", 1)[1]
    assert os.listdir(kept) == ["results.jsonl"]


def test_a_folder_appearing_as_a_map_is_published_is_not_deleted(tmp_path, monkeypatch):
    out = tmp_path / "map"
    _appears_as_publishing_starts(monkeypatch, out)
    with MapWriter(str(out)) as w:
        w.add_keyframe(*_frame(0))
        with pytest.raises(InputError, match="not replacing it without overwrite"):
            w.commit()
    assert os.listdir(out) == ["theirs.txt"] and (out / "theirs.txt").read_text() == "mine"


def test_needs_overwrite_only_where_something_but_an_empty_folder_is(tmp_path):
    """The one test behind the rerun hints' --overwrite (localize, build-map) and the
    publish-time refusal: nothing there or an empty folder takes none."""
    from mast3r_ros.core.publish import needs_overwrite

    empty, full, file, dangling = (tmp_path / n for n in ("empty", "full", "file", "dangling"))
    empty.mkdir()
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    file.write_text("")
    dangling.symlink_to(tmp_path / "nowhere")
    assert not needs_overwrite(str(tmp_path / "absent")) and not needs_overwrite(str(empty))
    assert needs_overwrite(str(full)) and needs_overwrite(str(file))
    assert needs_overwrite(str(dangling))
