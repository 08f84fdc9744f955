#!/usr/bin/env python3
"""Write .ci/compat-deselect.txt: the tests CI's compat leg (`.ci/compat`) leaves out.

Why: the whole suite runs twice in CI (newest stack, then the oldest supported one), which took
CI past its time budget. On the oldest stack it is enough to run every cheap test and, of the
heavier ones, a set that together executes every product line the whole suite executes there;
test/ci_subset.py says how they are chosen.

How (on a machine with Python 3.10; about one and a half times the compat leg's time):

    bash .ci/compat                      # builds .venv-compat (then stop it, or let it finish)
    . .venv-compat/bin/activate
    pip install "pytest-cov==4.1.0" "coverage==7.4.4"     # only for this measurement
    COVERAGE_FILE=/tmp/compat.cov python -m pytest -q -p no:cacheprovider -n 2 \\
        --dist loadfile --basetemp=/tmp/compat_bt -o timeout=3000 --cov=mast3r_ros \\
        --cov-context=test --cov-report= --junitxml=/tmp/compat_junit.xml
    python .ci/select_compat_subset.py /tmp/compat.cov /tmp/compat_junit.xml

with MAST3R_ROS_DESELECT unset, so that every test is measured (--basetemp: other pytest runs
on the machine remove all but the newest three default temporary folders, a long run's among
them). Tests that error under coverage are kept; if many did (a data file broken mid-run),
rerun just those the same way into a second file pair and give both pairs, the rerun last.
Commit the list it writes.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "test"))

from ci_subset import deselected, greedy_cover, still_exists  # noqa: E402

from mast3r_ros.core.fileio import atomic_write_text  # noqa: E402

# tests that lower RLIMIT_FSIZE: coverage's data file cannot grow meanwhile, and the worker's
# data file stays broken for the rest of the run, so they are neither measured nor deselected
UNMEASURABLE = (
    "test/unit/test_map_upkeep.py::"
    "test_an_array_written_past_a_full_disk_fails_with_the_os_error",
    "test/unit/test_cli_fresh_user_messages.py::test_a_file_size_limit_is_named_as_such",
)

HEADER = """\
# Tests CI's compat leg (.ci/compat, the oldest supported stack) deselects: written by
# .ci/select_compat_subset.py from a coverage run of the whole suite on that stack; see
# test/ci_subset.py for how. Kept there: every test under {keep:g} s and the heavier tests that
# together execute every product line the suite executes during its tests ({lines} lines).
# Measured: {n_all} tests, {s_all:.0f} s; kept {n_kept} tests, {s_kept:.0f} s.
# A test not listed here (e.g. one added since) runs on both stacks.
"""


def junit_costs(path: Path) -> tuple:
    """(node id -> seconds (setup + call + teardown), the node ids that failed or errored)
    from a pytest junit xml."""
    out = {}
    bad = set()
    for case in ET.parse(path).getroot().iter("testcase"):
        if not case.get("classname"):  # a module skipped at collection: nothing to deselect
            continue
        parts = case.get("classname", "").split(".")
        for k in range(1, len(parts) + 1):
            f = "/".join(parts[:k]) + ".py"
            if (ROOT / f).is_file():
                nodeid = "::".join([f, *parts[k:], case.get("name", "")])
                out[nodeid] = out.get(nodeid, 0.0) + float(case.get("time", 0) or 0)
                if case.find("failure") is not None or case.find("error") is not None:
                    bad.add(nodeid)
                break
        else:  # e.g. xdist's "pytest.internal" entry for a worker's internal error
            print(f"{path}: skipped entry {case.get('classname')}.{case.get('name')} (no test "
                  "file)", file=sys.stderr)
    return out, bad


def coverage_lines(paths: list) -> dict:
    """node id -> set of interned (file path, line) ids, over the coverage data files
    ``paths`` (a test measured in several: the union)."""
    from coverage.numbits import numbits_to_nums

    intern: dict = {}
    per_test: dict = {}
    for path in paths:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        contexts = dict(db.execute("select id, context from context"))
        files = dict(db.execute("select id, path from file"))
        for file_id, ctx_id, bits in db.execute(
                "select file_id, context_id, numbits from line_bits"):
            ctx = contexts[ctx_id]
            if not ctx:  # collection-time imports: every run, the subset too, repeats them
                continue
            key = files[file_id]
            ids = {intern.setdefault((key, n), len(intern)) for n in numbits_to_nums(bits)}
            per_test.setdefault(ctx.rsplit("|", 1)[0], set()).update(ids)
        db.close()
    return per_test


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, metavar="COVERAGE_FILE JUNIT_XML",
                    help="pairs: coverage data with test contexts, then the junit xml of the "
                         "same run; a later pair (e.g. a rerun of the tests that errored) "
                         "overrides an earlier one's durations and outcomes")
    ap.add_argument("--keep-under", type=float, default=0.5,
                    help="tests under this many seconds are always kept (default 0.5)")
    ap.add_argument("--keep", action="append", default=list(UNMEASURABLE), metavar="NODEID",
                    help="a test that cannot be measured under coverage, kept whatever it "
                         "costs (besides UNMEASURABLE's)")
    ap.add_argument("--out", type=Path, default=ROOT / ".ci" / "compat-deselect.txt")
    a = ap.parse_args(argv)
    if len(a.runs) % 2:
        ap.error("give coverage file / junit xml pairs")
    cost, bad = {}, set()
    for junit in a.runs[1::2]:
        c, b = junit_costs(junit)
        cost.update(c)
        bad = (bad - set(c)) | b
    lines = coverage_lines(a.runs[0::2])
    unknown = sorted(set(lines) - set(cost))
    if unknown:
        raise SystemExit(f"{len(unknown)} covered tests are in no junit xml, e.g. "
                         f"{unknown[0]}: give the junit xml of each run")
    # a test that failed under coverage did not execute all its lines: kept, whatever it cost
    kept = greedy_cover(lines, cost, a.keep_under)
    kept += sorted((bad | set(a.keep)) - set(kept))
    # ids of tests renamed or merged since the measured run are left out (nothing to deselect)
    drop = [t for t in deselected(cost, kept) if still_exists(t, ROOT)]
    every = set().union(*lines.values()) if lines else set()
    s_kept = sum(cost.get(t, 0.0) for t in kept)
    text = HEADER.format(keep=a.keep_under, lines=len(every), n_all=len(cost),
                         s_all=sum(cost.values()), n_kept=len(kept), s_kept=s_kept)
    text += "".join(t + "\n" for t in drop)
    atomic_write_text(str(a.out), text)
    print(f"{len(cost)} tests, {sum(cost.values()):.0f} s: keep {len(kept)} ({s_kept:.0f} s; "
          f"{len(bad)} failed under coverage), deselect {len(drop)}; {len(every)} product "
          f"lines executed in tests -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
