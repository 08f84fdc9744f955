"""The user docs the doc tests read: README.md and the pages beside it in docs/ (docs/*.md;
docs/bench/ holds raw bench outputs, not user docs). The README's long sections moved to
docs/*.md pages; a test that checks a sentence, a command or a path of the docs reads them all,
so a sentence moved between the README and a page is still checked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def user_doc_paths() -> list:
    """README.md first, then docs/*.md in name order (docs/bench/ not included)."""
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def user_docs() -> dict:
    """{path relative to the repository root ("README.md", "docs/maps.md"): text}."""
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
            for p in user_doc_paths()}


def user_docs_text() -> str:
    """Every user doc's text, one after the other (a blank line between two files)."""
    return "\n\n".join(user_docs().values())


def without_link_targets(text: str) -> str:
    """``text`` with each markdown link's ``(target)`` dropped (its words kept): a target is
    relative to its page's folder (``../bench/x`` from docs/), not a repository path as the
    prose's are; the links are checked in test_readme_contents."""
    return re.sub(r"\]\([^)\s]*\)", "]", text)
