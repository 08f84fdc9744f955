"""CI's compat leg runs a subset (test/ci_subset.py): the cover it chooses, the list it reads,
and the conftest hook that deselects the listed tests."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ci_subset

ROOT = Path(__file__).resolve().parents[2]
DESELECT = ROOT / ".ci" / "compat-deselect.txt"


def test_the_cover_keeps_cheap_tests_and_the_cheapest_tests_for_every_line():
    lines = {
        "t/a.py::cheap": {1},          # under the threshold: kept whatever it covers
        "t/a.py::big_slow": {2, 3, 4, 5},
        "t/a.py::half_fast": {2, 3},
        "t/a.py::other_half_fast": {4, 5},
        "t/a.py::redundant": {3, 4},
        "t/a.py::covers_nothing": set(),
    }
    cost = {"t/a.py::cheap": 0.1, "t/a.py::big_slow": 10.0, "t/a.py::half_fast": 1.0,
            "t/a.py::other_half_fast": 1.0, "t/a.py::redundant": 1.5,
            "t/a.py::covers_nothing": 3.0}
    kept = ci_subset.greedy_cover(lines, cost, keep_under_s=0.5)
    assert sorted(kept) == ["t/a.py::cheap", "t/a.py::half_fast", "t/a.py::other_half_fast"]
    assert set().union(*(lines[t] for t in kept)) == {1, 2, 3, 4, 5}
    assert ci_subset.deselected(cost, kept) == [
        "t/a.py::big_slow", "t/a.py::covers_nothing", "t/a.py::redundant"]


def test_the_cover_re_ranks_a_test_whose_lines_were_covered_meanwhile():
    # 'wide' looks best at first (5 lines / 1 s) but after 'a' and 'b' only line 9 is new
    lines = {"a": {1, 2, 3, 4}, "b": {5, 6, 7, 8}, "wide": {1, 2, 5, 6, 9}, "nine": {9}}
    cost = {"a": 0.6, "b": 0.6, "wide": 1.0, "nine": 0.6}
    kept = ci_subset.greedy_cover(lines, cost, keep_under_s=0.5)
    assert set().union(*(lines[t] for t in kept)) == set(range(1, 10))
    assert "nine" in kept and "wide" not in kept  # 1 new line for 0.6 s beats 1 for 1 s


def test_the_list_is_read_and_a_bad_line_or_missing_file_is_named(tmp_path):
    f = tmp_path / "deselect.txt"
    f.write_text("# comment\n\ntest/unit/test_x.py::test_a[1-2]\n  test/unit/test_x.py::T::b\n")
    assert ci_subset.read_deselect(str(f)) == {
        "test/unit/test_x.py::test_a[1-2]", "test/unit/test_x.py::T::b"}
    f.write_text("test/unit/test_x.py::test_a\ntest_b\n")
    with pytest.raises(ValueError, match=r"deselect.txt:2: 'test_b' is not a test node id"):
        ci_subset.read_deselect(str(f))
    with pytest.raises(FileNotFoundError, match="MAST3R_ROS_DESELECT=.*no such file"):
        ci_subset.read_deselect(str(tmp_path / "nope.txt"))


def test_every_listed_test_still_exists():
    """A renamed or removed test leaves a dead line: regenerate the list
    (.ci/select_compat_subset.py) or delete the line."""
    if not DESELECT.is_file():
        pytest.skip("no compat deselect list in this checkout")
    missing = [t for t in sorted(ci_subset.read_deselect(str(DESELECT)))
               if not ci_subset.still_exists(t, ROOT)]
    assert not missing, f"{len(missing)} listed tests no longer exist, e.g. {missing[:3]}"


def _collect(env_value, tmp_path):
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    env[ci_subset.ENV] = env_value
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
         "test/unit/test_ci_compat_subset.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.compat
def test_the_compat_leg_names_the_list_by_the_variable_the_hook_reads():
    """Also the probe of the hook test below: marked `compat`, it is never deselected."""
    text = (ROOT / ".ci" / "compat").read_text(encoding="utf-8")
    assert f'export {ci_subset.ENV}="$PWD/.ci/compat-deselect.txt"' in text


def test_the_conftest_hook_deselects_the_listed_tests_and_refuses_a_missing_list(tmp_path):
    f = tmp_path / "deselect.txt"
    me = "test/unit/test_ci_compat_subset.py::"
    f.write_text(f"{me}test_every_listed_test_still_exists\n"
                 f"{me}test_the_compat_leg_names_the_list_by_the_variable_the_hook_reads\n")
    run = _collect(str(f), tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "test_every_listed_test_still_exists" not in run.stdout
    assert "test_the_compat_leg_names_the_list_by_the_variable_the_hook_reads" in run.stdout
    assert "test_the_list_is_read_and_a_bad_line_or_missing_file_is_named" in run.stdout
    assert re.search(r"\b1 deselected\b", run.stdout), run.stdout
    run = _collect(str(tmp_path / "nope.txt"), tmp_path)
    assert run.returncode != 0
    assert "no such file" in run.stdout + run.stderr


def test_a_renamed_or_removed_test_is_a_dead_id(tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test_x.py").write_text(
        "class T:\n    def test_b(self):\n        pass\n\n\ndef test_a(n):\n    pass\n")
    assert ci_subset.still_exists("test/test_x.py::test_a[1-2]", tmp_path)
    assert ci_subset.still_exists("test/test_x.py::T::test_b", tmp_path)
    assert not ci_subset.still_exists("test/test_x.py::test_c", tmp_path)
    assert not ci_subset.still_exists("test/test_y.py::test_a", tmp_path)
