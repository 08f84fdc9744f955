#!/usr/bin/env python3
"""Write .ci/compat-deselect.txt: the tests CI's compat leg (`.ci/compat`) leaves out.

Why: the whole suite runs twice in CI (newest stack, then the oldest supported one), which took
CI past its time budget. On the oldest stack it is enough to run every cheap test and, of the
heavier ones, a set that together executes every product line the whole suite executes there;
test/ci_subset.py says how they are chosen.

How (on a machine with Python 3.10; about twice the compat leg's time):

    bash .ci/compat                      # builds .venv-compat (then stop it, or let it finish)
    . .venv-compat/bin/activate
    pip install "pytest-cov==4.1.0" "coverage==7.4.4"     # only for this measurement
    COVERAGE_FILE=/tmp/compat.cov python -m pytest -q -p no:cacheprovider -n 2 \\
        --dist loadfile --cov=mast3r_ros --cov-context=test --cov-report= \\
        --junitxml=/tmp/compat_junit.xml
    python .ci/select_compat_subset.py /tmp/compat.cov /tmp/compat_junit.xml

(with MAST3R_ROS_DESELECT unset, so that every test is measured). Commit the list it writes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "test"))

from ci_subset import deselected, greedy_cover, still_exists  # noqa: E402

HEADER = """\
# Tests CI's compat leg (.ci/compat, the oldest supported stack) deselects: written by
# .ci/select_compat_subset.py from a coverage run of the whole suite on that stack; see
# test/ci_subset.py for how. Kept there: every test under {keep:g} s and the heavier tests that
# together execute every product line the suite executes in-process ({lines} lines).
# Measured: {n_all} tests, {s_all:.0f} s; kept {n_kept} tests, {s_kept:.0f} s.
# A test not listed here (e.g. one added since) runs on both stacks.
"""


def junit_costs(path: Path) -> tuple:
    """(node id -> seconds (setup + call + teardown), the node ids that failed or errored)
    from a pytest junit xml."""
    out = {}
    bad = set()
    for case in ET.parse(path).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        for k in range(1, len(parts) + 1):
            f = "/".join(parts[:k]) + ".py"
            if (ROOT / f).is_file():
                nodeid = "::".join([f, *parts[k:], case.get("name", "")])
                out[nodeid] = out.get(nodeid, 0.0) + float(case.get("time", 0) or 0)
                if case.find("failure") is not None or case.find("error") is not None:
                    bad.add(nodeid)
                break
        else:
            raise SystemExit(f"{path}: no test file for classname {case.get('classname')!r}")
    return out, bad


def coverage_lines(path: Path) -> tuple:
    """(node id -> set of interned (file, line) ids, lines seen outside any test context)."""
    from coverage.numbits import numbits_to_nums

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    contexts = dict(db.execute("select id, context from context"))
    intern: dict = {}
    per_test: dict = {}
    outside: set = set()
    for file_id, ctx_id, bits in db.execute("select file_id, context_id, numbits from line_bits"):
        ctx = contexts[ctx_id]
        ids = {intern.setdefault((file_id, n), len(intern)) for n in numbits_to_nums(bits)}
        if not ctx:
            outside |= ids
            continue
        nodeid = ctx.rsplit("|", 1)[0]
        per_test.setdefault(nodeid, set()).update(ids)
    return per_test, outside


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("coverage_file", type=Path, help="coverage data with test contexts")
    ap.add_argument("junit_xml", type=Path, help="pytest --junitxml of the same run")
    ap.add_argument("--keep-under", type=float, default=0.5,
                    help="tests under this many seconds are always kept (default 0.5)")
    ap.add_argument("--out", type=Path, default=ROOT / ".ci" / "compat-deselect.txt")
    a = ap.parse_args(argv)
    cost, bad = junit_costs(a.junit_xml)
    lines, outside = coverage_lines(a.coverage_file)
    unknown = sorted(set(lines) - set(cost))
    if unknown:
        raise SystemExit(f"{len(unknown)} covered tests are not in {a.junit_xml}, e.g. "
                         f"{unknown[0]}: give the junit xml of the same run")
    # a test that failed under coverage did not execute all its lines: kept, whatever it cost
    kept = greedy_cover(lines, cost, a.keep_under)
    kept += sorted(bad - set(kept))
    # ids of tests renamed or merged since the measured run are left out (nothing to deselect)
    drop = [t for t in deselected(cost, kept) if still_exists(t, ROOT)]
    every = set().union(*lines.values()) if lines else set()
    s_kept = sum(cost.get(t, 0.0) for t in kept)
    text = HEADER.format(keep=a.keep_under, lines=len(every), n_all=len(cost),
                         s_all=sum(cost.values()), n_kept=len(kept), s_kept=s_kept)
    text += "".join(t + "\n" for t in drop)
    fd, tmp = tempfile.mkstemp(dir=a.out.parent, prefix=a.out.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, a.out)
    print(f"{len(cost)} tests, {sum(cost.values()):.0f} s: keep {len(kept)} ({s_kept:.0f} s; "
          f"{len(bad)} of them failed under coverage), deselect {len(drop)}; {len(every)} "
          f"product lines executed in tests, {len(outside - every)} more only outside any "
          f"test (collection-time imports, which the subset repeats) -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
