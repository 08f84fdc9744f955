"""``PYTHONIOENCODING=ascii mast3r-ros ...`` (a C locale, a CI runner, a cron job) with a path
outside ASCII: the error lines were escaped (stderr's backslashreplace) but a command's summary
on stdout ("map MÄP: 12 keyframes ...") raised UnicodeEncodeError after the work was done, a
traceback and exit 1. stdout now escapes what its encoding cannot hold (`escaping_stdout`)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

from mast3r_ros.replay.cli import main


def test_a_summary_naming_a_non_ascii_path_is_escaped_on_an_ascii_stdout(sift_map, tmp_path,
                                                                        monkeypatch, capsys):
    folder = str(tmp_path / "kärte")
    shutil.copytree(sift_map, folder)
    raw = io.BytesIO()
    ascii_out = io.TextIOWrapper(raw, encoding="ascii", errors="strict", write_through=True)
    monkeypatch.setattr(sys, "stdout", ascii_out)
    assert main(["check-map", folder, "--log-level", "error"]) == 0
    out = raw.getvalue().decode("ascii")
    assert out.startswith(folder.replace("ä", "\\xe4") + ": map consistent"), out
    assert ascii_out.errors == "strict"  # the stream's own handler restored after the command
    assert capsys.readouterr().err == ""


def test_the_console_script_under_pythonioencoding_ascii(sift_map, tmp_path):
    folder = str(tmp_path / "kärte")
    shutil.copytree(sift_map, folder)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               PYTHONIOENCODING="ascii")
    for argv, rc in ((["check-map", folder], 0), (["check-map", folder + "-nö"], 2)):
        proc = subprocess.run([sys.executable, "-m", "mast3r_ros.replay.cli", *argv,
                               "--log-level", "error"], env=env, capture_output=True,
                              timeout=120)
        out, err = proc.stdout.decode("ascii"), proc.stderr.decode("ascii")
        assert proc.returncode == rc and "Traceback" not in err, err
        lines = (out if rc == 0 else err).strip().splitlines()
        assert len(lines) == 1 and "k\\xe4rte" in lines[0], (out, err)
