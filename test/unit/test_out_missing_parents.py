"""`--out /nonexist/a/map` created the missing parent folders without a word, so a mistyped
path (`/data/mpas/site`) left a new tree behind unnoticed. They are still created (the README's
own `--out maps/site`, `--out runs/r1` rely on it, as on a fresh checkout), through the one
`fileio.make_parent_folders` every command's output lock takes, and now said at INFO."""

from __future__ import annotations

import logging

from mast3r_ros.core.fileio import acquire_output_lock
from mast3r_ros.replay.cli import main


def test_the_output_lock_says_which_folders_it_created(tmp_path, caplog):
    out = tmp_path / "nonexist" / "a" / "map"
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        lock = acquire_output_lock(str(out))
    try:
        said = [r.getMessage() for r in caplog.records]
        assert (f"created the missing folder {tmp_path / 'nonexist'}, and the folders below it "
                f"up to {out.parent}, for the output {out}") in said, said
        assert out.parent.is_dir()
    finally:
        lock.release()


def test_build_map_says_it_created_the_missing_folder_once(tum, tmp_path, capsys):
    out = tmp_path / "maps" / "site"
    assert main(["build-map", tum[0], "--out", str(out), "--matcher", "sift"]) == 0
    err = capsys.readouterr().err
    line = f"created the missing folder {tmp_path / 'maps'} for the output {out}\n"
    assert err.count(line) == 1, err
    assert (out / "manifest.json").is_file()


def test_an_existing_parent_is_not_said_to_be_created(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="mast3r_ros"):
        acquire_output_lock(str(tmp_path / "map")).release()
    assert not any("created" in r.getMessage() for r in caplog.records)


def test_localize_says_it_created_the_missing_folder(tum, sift_map, tmp_path, capsys):
    out = tmp_path / "runs" / "r1"
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher",
                 "sift"]) == 0
    err = capsys.readouterr().err
    assert err.count(f"created the missing folder {tmp_path / 'runs'} for the output "
                     f"{out}\n") == 1, err
