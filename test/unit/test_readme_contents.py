"""The README's contents line (what a new user reads first to find the quick start, the install
for ROS or pip, the node's topics, parameters and TF, and the command line): every link in it
(and any other ``[...](#anchor)`` of the README or docs/ros_node.md) leads to a heading that
exists, under the anchor GitHub gives it, and every top-level section of the README is listed.
A heading renamed, or a section added, without its line in the contents fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = {"README.md": ROOT / "README.md", "docs/ros_node.md": ROOT / "docs" / "ros_node.md"}


def _headings(text: str):
    """Markdown headings outside fenced code blocks: (level, title)."""
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            m = re.match(r"(#{1,6}) (.*)$", line)
            if m:
                yield len(m.group(1)), m.group(2).strip()


def github_anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation and symbols (backquotes, `:`,
    `(`, `'`, `+`, `^`, `–`, `→`, ...) dropped, each space a hyphen; letters, digits, `_`
    and `-` kept."""
    return "".join(c for c in title.lower() if c.isalnum() or c in " -_").replace(" ", "-")


def _anchors(text: str) -> set:
    """Every heading's anchor, a repeated one with GitHub's ``-1``, ``-2`` suffixes."""
    seen: dict = {}
    out = set()
    for _, title in _headings(text):
        a = github_anchor(title)
        out.add(a if a not in seen else f"{a}-{seen[a]}")
        seen[a] = seen.get(a, 0) + 1
    return out


def _contents(readme: str) -> str:
    m = re.search(r"^\*\*Contents\.\*\*(.*?)\n\n", readme, flags=re.S | re.M)
    assert m, "the README has no '**Contents.**' paragraph before its first section"
    assert readme.index(m.group(0)) < readme.index("\n## "), "the contents come after a section"
    return m.group(1)


def test_github_anchor_matches_githubs_rule_on_this_readmes_headings():
    assert github_anchor("Large maps (10^4–10^5 keyframes)") == "large-maps-104105-keyframes"
    assert (github_anchor("Image retrieval: `mast3r-ros retrieve` (MASt3R's retrieval model + "
                          "ASMK)") == "image-retrieval-mast3r-ros-retrieve-mast3rs-retrieval-"
            "model--asmk")
    assert github_anchor("4b. With robot_localization") == "4b-with-robot_localization"


def test_every_anchor_link_in_the_docs_leads_to_a_heading():
    texts = {name: path.read_text(encoding="utf-8") for name, path in DOCS.items()}
    anchors = {name: _anchors(text) for name, text in texts.items()}
    checked, broken = 0, []
    for name, text in texts.items():
        for target, anchor in re.findall(r"\]\(((?:docs/ros_node\.md|README\.md|\.\./README\.md)?)"
                                         r"#([^)\s]+)\)", text):
            doc = {"": name, "../README.md": "README.md"}.get(target, target)
            checked += 1
            if anchor not in anchors[doc]:
                broken.append(f"{name}: {target}#{anchor}")
    assert checked >= 20, checked  # the search finds the contents' links, not nothing
    assert not broken, f"links to headings that do not exist: {broken}"


def test_the_contents_list_every_section_of_the_readme():
    readme = DOCS["README.md"].read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(#([^)\s]+)\)", _contents(readme)))
    sections = [t for level, t in _headings(readme) if level == 2]
    missing = [t for t in sections if github_anchor(t) not in linked]
    assert len(sections) >= 10, sections
    assert not missing, f"README sections missing from its contents line: {missing}"


def test_the_contents_lead_to_what_a_new_user_looks_for():
    """Install for ROS (rosdep, colcon) and pip, the node's topics, parameters and TF, and the
    command line: named in the contents, so none is 1000 lines down unannounced."""
    contents = " ".join(_contents(DOCS["README.md"].read_text(encoding="utf-8")).split())
    for words in ("Quick start", "Install", "pip", "rosdep", "colcon", "ROS 2 node", "topics",
                  "parameters", "TF frames", "command line"):
        assert words in contents, f"the README's contents do not name {words!r}"


def test_the_bench_output_index_names_every_folder_and_file_filed():
    """docs/bench/README.md is where a reader of the README's figures finds what each raw output
    is; an entry filed under docs/bench/ without its row there (six were) is a figure with no
    date, machine or command. A row may name several entries with a glob (`retrieval_*`)."""
    import fnmatch

    bench = ROOT / "docs" / "bench"
    index = (bench / "README.md").read_text(encoding="utf-8")
    table = [line for line in index.splitlines() if line.startswith("| `")]
    named = set()
    for row in table:
        first_cell = row.split("|")[1]
        named |= {n.rstrip("/") for n in re.findall(r"`([^`]+)`", first_cell)}
    entries = sorted(p.name for p in bench.iterdir() if p.name != "README.md")
    assert len(entries) >= 20, entries
    unindexed = [e for e in entries if not any(fnmatch.fnmatch(e, n) for n in named)]
    assert not unindexed, f"docs/bench/ entries without a row in docs/bench/README.md: {unindexed}"


def test_every_repository_file_docs_ros_node_md_and_the_bench_index_name_exists():
    """test_readme_commands checks the README's paths; docs/ros_node.md and docs/bench/README.md
    name modules, tests and scripts too (`ros/odometry_gate.py`, `test/unit/test_ros_outage_sim.py`,
    `bench/precision_fp16.py`): a file renamed or removed leaves them pointing at nothing."""
    checked, missing = 0, []
    for doc in ("docs/ros_node.md", "docs/bench/README.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        for path in sorted(set(re.findall(r"(?<![\w/.])((?:bench|test|docs|config|launch|\.ci|"
                                           r"mast3r_ros|core|replay|ros)/[\w.\-/]*[\w])", text))):
            checked += 1
            here = [ROOT / path, ROOT / "mast3r_ros" / path]
            if not any(p.exists() or list(p.parent.glob(p.name + "*")) for p in here):
                missing.append(f"{doc}: {path}")
    assert checked >= 15, checked
    assert not missing, f"files the docs name that the repository lacks: {missing}"


def test_the_commands_at_a_glance_table_has_a_row_for_every_subcommand():
    import argparse

    from mast3r_ros.replay.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    readme = DOCS["README.md"].read_text(encoding="utf-8")
    table = readme[readme.index("## The commands at a glance"):readme.index("## Model weights")]
    rows = {m for m in re.findall(r"^\| `([\w-]+)` \|", table, flags=re.M)}
    assert rows == set(sub.choices), (sorted(rows), sorted(sub.choices))
