"""What the old-versus-new read benches share (bench_ros1_chunks, bench_ros1_reads,
bench_db3_unindexed, bench_localize_stride_reads): their common options, the work folder, the
repeats alternating between the packages, and each pass's least-CPU figures with the verdict
on the digests that must agree."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple


def add_repeats_and_old_rev(ap: argparse.ArgumentParser, old_rev: str,
                            measures: str = "change") -> None:
    """--repeats (default 2) and --old-rev (default ``old_rev``, the parent of the
    ``measures`` the bench measures)."""
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--old-rev", default=old_rev,
                    help="git revision of the package before (default: the parent of the "
                         f"{measures} this bench measures)")


def parse_with_work(ap: argparse.ArgumentParser, prefix: str,
                    bags: str = "bags") -> Tuple[argparse.Namespace, Path]:
    """Add --tmp (the folder for the ``bags``) and --json (the rows), parse, and make the
    work folder (``prefix``, in --tmp; the caller removes it) -> (args, work folder)."""
    ap.add_argument("--tmp", help=f"folder for the {bags} (default: the system's temporary one)")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    return args, Path(tempfile.mkdtemp(prefix=prefix, dir=args.tmp))


def alternate(args: Dict[str, Any], repeats: int,
              run: Callable[[Any], Any]) -> Dict[str, List[Any]]:
    """``run(args[label])`` for each label in turn (old, new, ...), ``repeats`` times ->
    {label: [its results, one a repeat]}."""
    runs: Dict[str, List[Any]] = {label: [] for label in args}
    for _ in range(repeats):
        for label, arg in args.items():
            runs[label].append(run(arg))
    return runs


def old_new(runs: Dict[str, Sequence[Sequence[Any]]]) -> Tuple[Any, Any, bool, str]:
    """``runs["old"]`` and ``runs["new"]``, each repeat's figures (wall s, CPU s, ...,
    digest last) -> (old's least-CPU figures, new's, whether every digest agrees, "same" or
    "DIFFERENT [the digests]")."""
    best = {label: min(found, key=lambda x: x[1]) for label, found in runs.items()}
    digests = {r[-1] for found in runs.values() for r in found}
    same = len(digests) == 1
    return best["old"], best["new"], same, "same" if same else f"DIFFERENT {sorted(digests)}"


def passes(runs: Dict[str, List[Dict[str, Sequence[Any]]]], figures: int
           ) -> Iterator[Tuple[str, Any, Any, str, Dict[str, Any]]]:
    """The passes of ``runs`` (`alternate`'s of children whose rows are {pass name: figures,
    digest last}), in the children's order -> (name, old's least-CPU figures, new's, "same" or
    "DIFFERENT ...", the table row's entries for the pass: "pass", every repeat's first
    ``figures`` figures under "old" and "new", "same" (bool) and new's "digest")."""
    for name in runs["old"][0]:
        found = {label: [r[name] for r in repeats] for label, repeats in runs.items()}
        old, new, agree, same = old_new(found)
        yield name, old, new, same, {"pass": name,
                                     "old": [r[:figures] for r in found["old"]],
                                     "new": [r[:figures] for r in found["new"]],
                                     "same": agree, "digest": new[-1]}


def write_rows(path: Any, table: List[Dict[str, Any]]) -> None:
    """The rows as JSON to ``path`` (None: not written)."""
    if path:
        Path(path).write_text(json.dumps(table, indent=1))
