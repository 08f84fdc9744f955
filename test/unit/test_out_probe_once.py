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
    aside = tmp_path / "run.old-abcd1234"
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

