"""A folder named in another encoding than UTF-8 (a Latin-1 'Kärte' copied from an old disk or
a Windows share: its name holds the byte 0xe4, which Python shows as the surrogate '\\udce4'):
OpenCV 5's imread crashed the process on such a path (exit 139, "Segmentation fault", nothing
written to say why), so build-map and localize died at their first image. Now exit 2 with one
line that names the image and says to rename the folder. The commands run in a child process:
before the fix the crash would have taken the test run with it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32" or sys.getfilesystemencoding() != "utf-8",
                                reason="POSIX bytes file names under a UTF-8 locale")


def _run(*argv, cwd):
    return subprocess.run([sys.executable, "-m", "mast3r_ros.replay.cli", *argv,
                           "--log-level", "error"], cwd=cwd, capture_output=True, timeout=300)


@pytest.mark.parametrize("command", ["build-map", "localize"])
def test_a_source_under_a_non_utf8_folder_is_refused_in_one_line(command, tum, sift_map,
                                                                  tmp_path):
    folder = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"K\xe4rte"))
    shutil.copytree(tum[1], folder)
    extra = ["--map", sift_map] if command == "localize" else []
    r = _run(command, folder, "--out", str(tmp_path / "out"), "--matcher", "sift",
             "--max-frames", "2", *extra, cwd=str(tmp_path))
    err = r.stderr.decode("utf-8", "replace").strip().splitlines()
    assert r.returncode == 2 and len(err) == 1, (r.returncode, err)
    assert "not UTF-8" in err[0] and "rename" in err[0], err
    assert not (tmp_path / "out").exists()


def test_a_mast3r_map_is_built_into_a_non_utf8_out(tum, tiny_ckpt, tmp_path):
    """The map's own keyframe PNGs are read back (to encode them) from --out's unfinished
    folder: a non-UTF-8 --out crashed build-map there too. They are read from their bytes now,
    so such an --out is written as any other."""
    out = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"m\xe4p"))
    params = tmp_path / "p.yaml"
    params.write_text("/**/mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n")
    r = _run("build-map", tum[0], "--out", out, "--checkpoint", tiny_ckpt, "--params",
             str(params), "--device", "cpu", "--max-frames", "4", cwd=str(tmp_path))
    assert r.returncode == 0, (r.returncode, r.stderr.decode("utf-8", "replace"))
    assert os.path.isfile(os.path.join(out, "manifest.json"))
