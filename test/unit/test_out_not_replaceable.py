"""An existing --out the publishing rename cannot replace (``mkdir ro; chattr +i ro``): a
localize run to it localized every frame, then said "cannot use path: .../ro.tmp-m3r-X:
Operation not permitted" and kept nothing. Now refused before any work (one line, exit 2), and a
rename that fails anyway keeps the complete output as ``OUT.kept-X``, named in the error."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import tempfile

import pytest

from mast3r_ros.core import publish
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.fileio import atomic_folder, check_output_folder


@contextlib.contextmanager
def _immutable(folder):
    """``folder`` made immutable (chattr +i) for the block; skips where that cannot be done
    (not root, no chattr, a file system without the flag)."""
    if shutil.which("chattr") is None or os.geteuid() != 0:
        pytest.skip("chattr +i needs root and e2fsprogs")
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("this file system does not take chattr +i")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def _refusing_rename_of(monkeypatch, folder):
    """os.rename of ``folder`` (from or to it) fails with EPERM, as for an immutable folder."""
    real = os.rename

    def rename(src, dst, *a, **k):
        if str(folder) in (os.fspath(src), os.fspath(dst)):
            raise PermissionError(errno.EPERM, "Operation not permitted", os.fspath(src))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(publish.os, "rename", rename)
    monkeypatch.setattr(publish.os, "replace", rename)


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_out_that_cannot_be_renamed_onto_is_refused_before_any_work(tmp_path, overwrite):
    out = tmp_path / "ro"
    out.mkdir()
    if overwrite:
        (out / "results.jsonl").write_text("{}\n")
    with _immutable(out):
        with pytest.raises(InputError, match=r"--out .*ro: the output is built beside this "
                           r"folder and renamed onto it, which the OS refuses \(Operation not "
                           r"permitted.*chattr -i.*choose another --out"):
            check_output_folder(str(out), overwrite, ("results.jsonl",))
    # probed and put back: the folder as it was, nothing left beside it
    assert sorted(os.listdir(tmp_path)) == ["ro"]
    assert os.listdir(out) == (["results.jsonl"] if overwrite else [])


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_probe_refuses_a_rename_failing_and_leaves_the_folder(tmp_path, monkeypatch,
                                                                  overwrite):
    """The same without root: the probe's rename fails as chattr +i makes it."""
    out = tmp_path / "ro"
    out.mkdir()
    if overwrite:
        (out / "results.jsonl").write_text("{}\n")
    _refusing_rename_of(monkeypatch, out)
    with pytest.raises(InputError, match="renamed onto it, which the OS refuses"):
        check_output_folder(str(out), overwrite, ("results.jsonl",))
    assert sorted(os.listdir(tmp_path)) == ["ro"]
    assert os.listdir(out) == (["results.jsonl"] if overwrite else [])


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_replaceable_out_is_probed_and_left_as_it_was(tmp_path, overwrite):
    out = tmp_path / "run"
    out.mkdir()
    if overwrite:
        (out / "results.jsonl").write_text("old\n")
    ino = os.stat(out).st_ino
    check_output_folder(str(out), overwrite, ("results.jsonl",))
    assert sorted(os.listdir(tmp_path)) == ["run"] and os.stat(out).st_ino == ino
    assert os.listdir(out) == (["results.jsonl"] if overwrite else [])


def test_a_publish_rename_failing_anyway_keeps_the_complete_output(tmp_path, monkeypatch):
    out = tmp_path / "ro"
    out.mkdir()
    real = publish.rename_onto_empty

    def failing(src, dst):
        if dst == str(out):
            raise PermissionError(errno.EPERM, "Operation not permitted", src)
        return real(src, dst)

    monkeypatch.setattr(publish, "rename_onto_empty", failing)
    with pytest.raises(InputError, match=r"--out .*ro: the run is complete but could not be "
                       r"renamed into place \(Operation not permitted\): it is kept in "
                       r".*ro\.kept-\w+; move it there yourself") as e:
        with atomic_folder(str(out), what="the run") as tmp:
            with open(os.path.join(tmp, "results.jsonl"), "w") as fh:
                fh.write("{}\n")
    kept = str(e.value).split("kept in ", 1)[1].split(";")[0]
    assert os.listdir(kept) == ["results.jsonl"] and os.listdir(out) == []


def test_localize_to_an_immutable_out_is_one_line_before_any_frame(tum, sift_map, tmp_path,
                                                                    capsys, monkeypatch):
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.replay.cli import main

    out = tmp_path / "ro"
    out.mkdir()

    def no_frame(*a, **k):
        raise AssertionError("a frame was localized")

    monkeypatch.setattr(Localizer, "localize", no_frame)
    with _immutable(out):
        code = main(["localize", tum[1], "--map", sift_map, "--out", str(out), "--matcher",
                     "sift", "--max-frames", "2", "--log-level", "warning"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "renamed onto it" in err[0], err
    assert sorted(os.listdir(tmp_path)) == ["ro"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_ctrl_c_between_the_probes_renames_puts_the_folder_back(tmp_path, monkeypatch,
                                                                overwrite):
    """Ctrl-C (SIGINT's KeyboardInterrupt, SIGTERM's exception) landing just after the probe
    moved ``--out`` aside: the folder is put back before the exception goes on, not left in
    ``OUT.old-X`` (with --overwrite: a non-empty output the user sees gone)."""
    out = tmp_path / "run"
    out.mkdir()
    if overwrite:
        (out / "results.jsonl").write_text("old\n")
    real, calls = os.rename, []

    def rename_then_interrupt(src, dst, *a, **k):
        real(src, dst, *a, **k)
        calls.append(src)
        if len(calls) == 1:  # the signal arrives once the first rename is done
            raise KeyboardInterrupt

    monkeypatch.setattr(publish.os, "rename", rename_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        check_output_folder(str(out), overwrite, ("results.jsonl",))
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert os.listdir(out) == (["results.jsonl"] if overwrite else [])


@pytest.mark.parametrize("why", ["immutable", "read-only parent"])
def test_an_out_overwrite_could_not_replace_is_not_sent_to_overwrite(tmp_path, monkeypatch,
                                                                     why):
    """A run folder that is immutable (or in a folder that takes no new entries), run to
    without --overwrite, was told "pass --overwrite to replace it"; the rerun with it was then
    refused for the real reason. Said the first time now."""
    out = tmp_path / "ro"
    out.mkdir()
    (out / "results.jsonl").write_text("{}\n")
    if why == "immutable":
        said = r"--overwrite would not replace it: it is immutable .*chattr -i"
    else:
        real = tempfile.mkstemp

        def mkstemp(*a, dir=None, **k):
            if dir is not None and os.path.samefile(dir, tmp_path):
                raise PermissionError(errno.EACCES, "Permission denied", dir)
            return real(*a, dir=dir, **k)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        said = r"cannot write in the folder .*\(Permission denied\)"
    with contextlib.ExitStack() as stack:
        if why == "immutable":
            stack.enter_context(_immutable(out))
        with pytest.raises(InputError, match=said) as refused:
            check_output_folder(str(out), False, ("results.jsonl",))
    assert "pass --overwrite" not in str(refused.value)
    assert sorted(os.listdir(tmp_path)) == ["ro"]


def test_a_refusal_without_overwrite_never_moves_the_folder(tmp_path, monkeypatch):
    """Without --overwrite the refusal is worded from what can be read: the existing folder
    (a map a running node may be reading) is not moved aside and back to probe it."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.jsonl").write_text("{}\n")
    moved = []
    real = os.rename

    def rename(src, dst, *a, **k):
        moved.append(os.fspath(src))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(publish.os, "rename", rename)
    with pytest.raises(InputError, match="pass --overwrite"):
        check_output_folder(str(out), False, ("results.jsonl",))
    assert moved == []
