"""pyproject's ``tmp_path_retention_policy = "failed"`` also holds on pytest < 7.3, which does
not know the key (Humble's `colcon test` runs apt's pytest 6.2.5): a passed test's ``tmp_path``
goes, a failed one's stays for the post-mortem, and a wholly passed run leaves no base folder
(`test/tmp_retention.py`). Each check runs a two-test session of the installed pytest."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

TEST_DIR = Path(__file__).resolve().parents[1]

INNER = '''
def test_passes(tmp_path):
    (tmp_path / "kept_only_if_failed").write_bytes(b"x")


def test_fails(tmp_path):
    (tmp_path / "kept_only_if_failed").write_bytes(b"x")
    assert OK
'''


def _inner_run(tmp_path: Path, fail: bool, *args: str) -> subprocess.CompletedProcess:
    src = tmp_path / "inner"
    src.mkdir()
    (tmp_path / "root").mkdir()
    (src / "pytest.ini").write_text(
        "[pytest]\ntmp_path_retention_policy = failed\nfilterwarnings =\n"
        "    ignore:Unknown config option\n", encoding="utf-8")
    (src / "test_inner.py").write_text(f"OK = {not fail}\n" + INNER, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TEST_DIR), os.environ.get(
        "PYTHONPATH", "")]), PYTEST_DEBUG_TEMPROOT=str(tmp_path / "root"))
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-p", "tmp_retention", *args], cwd=src, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_passed_tests_tmp_path_goes_and_a_failed_ones_stays(tmp_path):
    base = tmp_path / "base"
    run = _inner_run(tmp_path, True, f"--basetemp={base}")
    assert run.returncode == 1, run.stdout + run.stderr  # one failed, as written
    left = sorted(p.parent.name for p in base.rglob("kept_only_if_failed"))
    assert left == ["test_fails0"], run.stdout + run.stderr
    dangling = [p.name for p in base.iterdir() if p.is_symlink() and not p.exists()]
    assert not dangling  # pytest 6's "<test>current" link to the removed folder


def test_a_passed_run_leaves_no_base_folder(tmp_path):
    run = _inner_run(tmp_path, False)
    assert run.returncode == 0, run.stdout + run.stderr
    user_root = tmp_path / "root" / f"pytest-of-{getpass.getuser()}"
    assert user_root.is_dir()  # the run did use this temp root
    assert not list(user_root.rglob("kept_only_if_failed")), run.stdout + run.stderr
