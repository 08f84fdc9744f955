"""The compat leg's test subset (CI's second leg, `.ci/compat`, on the oldest supported stack).

The full suite runs on the newest stack in CI's first leg. On the oldest stack (Humble / Jetson:
Python 3.10, numpy 1.21, torch 2.1, OpenCV 4.5, pytest 6.2.5) CI runs every test except those
listed in ``.ci/compat-deselect.txt``. That list is written by ``.ci/select_compat_subset.py``
from a coverage run of the whole suite *on the oldest stack*: the tests kept are every test that
took under a threshold (cheap: all of them stay) plus, by greedy weighted set cover, the
heavier tests needed so that every line of ``mast3r_ros/`` the full suite executes during a
test (in the test process or a subprocess it starts) is executed by the subset too, plus any
test that failed in that coverage run (its lines were not all measured). A test added after
the list was written is not in it, so it runs on both stacks.

This module holds the two pieces the conftest hook and the selection script share: reading
the list, and the cover itself (kept small and pure so test_ci_compat_subset.py can pin it).
"""

from __future__ import annotations

import heapq
import re
from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple

ENV = "MAST3R_ROS_DESELECT"  # the path of a deselect list; unset: every test runs


def read_deselect(path: str) -> Set[str]:
    """The pytest node ids listed in ``path`` (one per line; ``#`` comments and blank lines
    ignored).

    Raises:
        FileNotFoundError: ``path`` does not exist (the message says which variable named it).
        ValueError: a line is not a node id of a test file (``test/...py::name``).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"{ENV}={path}: no such file (the compat leg's deselect list, written by "
            f".ci/select_compat_subset.py); unset {ENV} to run every test")
    ids = set()
    for n, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head = line.split("::", 1)[0]
        if "::" not in line or not head.startswith("test/") or not head.endswith(".py"):
            raise ValueError(f"{path}:{n}: {line!r} is not a test node id "
                             "(test/<dir>/<file>.py::<test>[<params>])")
        ids.add(line)
    return ids


def still_exists(nodeid: str, root: Path) -> bool:
    """Whether ``nodeid``'s test file exists under ``root`` and still defines its function
    (parameters and class names aside): a renamed or merged test leaves a dead id."""
    path, *names = nodeid.split("::")
    src = root / path
    if not names or not src.is_file():
        return False
    name = re.sub(r"\[.*\]$", "", names[-1])
    return re.search(rf"^\s*(async )?def {re.escape(name)}\(",
                     src.read_text(encoding="utf-8"), re.M) is not None


def greedy_cover(lines: Dict[str, Set[int]], cost: Dict[str, float],
                 keep_under_s: float) -> List[str]:
    """The tests to keep, in the order chosen: first every test whose ``cost`` is under
    ``keep_under_s``, then, until the kept tests execute every line any test executes, the test
    with the most not-yet-executed lines per second of ``cost`` (greedy weighted set cover,
    Chvatal 1979: within a factor ln(n) of the cheapest cover).

    Args:
        lines: node id -> the (interned) product lines it executes.
        cost: node id -> seconds (a test absent from ``cost`` costs ``keep_under_s``).
        keep_under_s: tests under this many seconds are kept whatever they execute.
    Returns:
        node ids, each once; every line of ``lines`` is executed by one of them.
    """
    ids = sorted(set(lines) | set(cost))
    sec = {t: cost.get(t, keep_under_s) for t in ids}
    kept = [t for t in ids if sec[t] < keep_under_s]
    covered: Set[int] = set()
    for t in kept:
        covered |= lines.get(t, set())
    # lazy priority queue: a test's gain only shrinks as lines get covered
    heap: List[Tuple[float, str]] = []
    for t in ids:
        if sec[t] >= keep_under_s:
            gain = len(lines.get(t, set()) - covered)
            if gain:
                heap.append((-gain / max(sec[t], 1e-3), t))
    heapq.heapify(heap)
    while heap:
        neg, t = heapq.heappop(heap)
        gain = len(lines[t] - covered)
        if not gain:
            continue
        ratio = -gain / max(sec[t], 1e-3)
        if heap and ratio > heap[0][0]:  # stale: worse than the next best now
            heapq.heappush(heap, (ratio, t))
            continue
        kept.append(t)
        covered |= lines[t]
    return kept


def deselected(all_ids: Iterable[str], kept: Iterable[str]) -> List[str]:
    """``all_ids`` less ``kept``, sorted (the deselect list's lines)."""
    keep = set(kept)
    return sorted(t for t in set(all_ids) if t not in keep)
