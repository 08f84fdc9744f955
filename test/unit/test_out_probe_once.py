"""The --out probe (`publish.check_can_replace`) moves an existing --out aside and back. It
ran at every layer that checks --out (the CLI, run_localization, atomic_folder twice): a
localize moved the user's folder aside 4 times. Now once per folder per command. A kill
(kill -9, the OOM killer) between its two renames left the folder in ``OUT.old-X`` (OUT
missing): the next writer deleted an empty one with a wrong warning ("the output OUT replaced,
left when its deletion was interrupted"), its permissions lost. Now put back, said so."""

from __future__ import annotations

import logging
import os

import pytest

from mast3r_ros.core import publish
from mast3r_ros.core.fileio import atomic_folder, check_output_folder


def _count_probes(monkeypatch, out):
    """Calls of os.rename moving ``out`` to ``OUT.old-X`` (the probe's first rename)."""
    real, moved = os.rename, []

    def rename(src, dst, *a, **k):
        if os.fspath(src) == str(out) and ".old-" in os.fspath(dst):
            moved.append(os.fspath(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(publish.os, "rename", rename)
    return moved


@pytest.mark.parametrize("overwrite", [False, True])
def test_every_layer_checking_out_probes_it_once(tmp_path, monkeypatch, overwrite):
    out = tmp_path / "run"
    out.mkdir()
    if overwrite:
        (out / "results.jsonl").write_text("old\n")
    moved = _count_probes(monkeypatch, out)
    check_output_folder(str(out), overwrite, ("results.jsonl",))  # the CLI
    check_output_folder(str(out), overwrite, ("results.jsonl",))  # run_localization
    with atomic_folder(str(out), overwrite, ("results.jsonl",)) as tmp:  # twice in there
        with open(os.path.join(tmp, "results.jsonl"), "w") as fh:
            fh.write("new\n")
    assert len(moved) == 1, moved
    assert moved[0].endswith("-empty") != overwrite  # the one leftover put back while empty
    assert (out / "results.jsonl").read_text() == "new\n"
    assert not [n for n in os.listdir(tmp_path) if ".old-" in n]


def test_a_folder_made_anew_at_out_is_probed_again(tmp_path, monkeypatch):
    """Once per folder: another folder put at the same path is not taken for the probed one."""
    out = tmp_path / "run"
    out.mkdir()
    moved = _count_probes(monkeypatch, out)
    check_output_folder(str(out), False)
    os.rename(out, tmp_path / "elsewhere")
    out.mkdir()
    check_output_folder(str(out), False)
    assert len(moved) == 2, moved


def test_localize_probes_its_out_once(tum, sift_map, tmp_path, monkeypatch):
    from mast3r_ros.replay.cli import main

    out = tmp_path / "run"
    out.mkdir()
    moved = _count_probes(monkeypatch, out)
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher", "sift",
                 "--max-frames", "2", "--log-level", "warning"]) == 0
    assert len(moved) == 1, moved
    assert os.path.isfile(out / "results.jsonl")


def test_an_empty_out_left_aside_by_a_killed_probe_is_put_back(tmp_path, caplog):
    out = tmp_path / "run"
    out.mkdir()
    os.chmod(out, 0o750)
    aside = tmp_path / "run.old-abcd1234-empty"
    os.rename(out, aside)  # as the probe moves an empty --out, then the kill
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        assert publish.remove_stale_temporaries(str(out)) == []
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert os.stat(out).st_mode & 0o777 == 0o750  # the user's folder itself, not a new one
    assert [r.getMessage() for r in caplog.records] == [
        f"restored {out}: a run killed between the two renames checking that it can be "
        f"replaced had moved it aside to {aside}"]


def test_an_overwrite_out_left_aside_by_a_killed_probe_is_put_back(tmp_path, caplog):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.jsonl").write_text("old\n")
    aside = tmp_path / "run.old-abcd1234"
    aside.mkdir()
    os.rename(out, aside / "folder")  # as the probe moves a --overwrite's --out, then the kill
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        publish.remove_stale_temporaries(str(out))
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert (out / "results.jsonl").read_text() == "old\n"
    assert [r.getMessage() for r in caplog.records] == [
        f"restored {out}: an --overwrite killed between its two renames (publishing, or "
        f"checking beforehand that it can be replaced) had moved it aside to {aside}"]



def test_an_empty_leftover_never_comes_back_as_out(tmp_path, caplog):
    """An empty ``OUT.old-X`` is what a cut `replace_folder` deletion (or a probe with
    --overwrite killed before its last rmdir) leaves: with OUT deleted since by the user, it
    was renamed to OUT, an empty folder back where the user had removed one. Removed now."""
    out = tmp_path / "run"
    (tmp_path / "run.old-abcd1234").mkdir()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        publish.remove_stale_temporaries(str(out))
    assert sorted(os.listdir(tmp_path)) == []
    assert "restored" not in caplog.text


def test_an_old_output_whose_deletion_was_cut_never_comes_back_as_out(tmp_path, monkeypatch):
    """Ctrl-C during `replace_folder`'s deletion of the output it replaced left it whole in
    ``OUT.old-X/folder``; the user then deleted OUT, and the next writer put the old output
    back as OUT. The deletion now starts by renaming it out of ``folder``."""
    src, dst = tmp_path / "new", tmp_path / "run"
    for d, text in ((src, "new\n"), (dst, "old\n")):
        d.mkdir()
        (d / "results.jsonl").write_text(text)

    def cut(path, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(publish.shutil, "rmtree", cut)
    with pytest.raises(KeyboardInterrupt):
        publish.replace_folder(str(src), str(dst))
    monkeypatch.undo()
    assert (dst / "results.jsonl").read_text() == "new\n"
    import shutil
    shutil.rmtree(dst)  # the user's own deletion
    publish.remove_stale_temporaries(str(dst))
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_put_back_by_another_writer_mid_probe_is_not_said_missing(
        tmp_path, monkeypatch, overwrite):
    """Another writer taking OUT's lock between the probe's renames puts OUT back
    (`remove_stale_temporaries`); the probe's own rename back then failed and it said OUT
    "could not be moved back: move it back yourself", OUT in place all along."""
    out = tmp_path / "run"
    out.mkdir()
    if overwrite:
        (out / "results.jsonl").write_text("old\n")
    real, first = os.rename, []

    def rename(src, dst, *a, **k):
        if os.fspath(dst) == str(out) and not first:  # the probe's rename back: another was first
            first.append(src)
            publish.remove_stale_temporaries(str(out))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(publish.os, "rename", rename)
    publish.check_can_replace(str(out), overwrite)
    assert sorted(os.listdir(tmp_path)) == ["run"]
