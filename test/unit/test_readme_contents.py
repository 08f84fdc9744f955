"""The README's contents line (what a new user reads first to find the quick start, the install
for ROS or pip, the node's topics, parameters and TF, and the command line): every link in it
(and any other relative link of the user docs: the README and its pages in docs/, which link each
other and back) leads to a file that exists and, with ``#anchor``, to a heading of it, under the
anchor GitHub gives it; every top-level section of the README is listed, and every page is
linked from the README. A heading renamed, a page moved, or a section added, without its line in
the contents fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from user_docs import user_doc_paths

ROOT = Path(__file__).resolve().parents[2]
DOCS = {p.relative_to(ROOT).as_posix(): p for p in user_doc_paths()}


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


def _links(text: str):
    """(target, anchor) of every markdown link that is not a URL: ``("", "a")`` for ``(#a)``."""
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target):
            path, _, anchor = target.partition("#")
            yield path, anchor


def _broken_links(docs: dict, root: Path):
    """(links checked, links into another markdown file, broken ones) of ``docs`` ({name:
    path}): a link's path is relative to its page (docs/maps.md's ``../README.md#install``,
    ``large_maps.md#...``); a ``#anchor`` into a markdown file is one of its headings."""
    checked, across, broken = 0, 0, []
    for name, path in docs.items():
        for target, anchor in _links(path.read_text(encoding="utf-8")):
            file = (path.parent / target).resolve() if target else path
            checked += 1
            across += bool(target) and file.suffix == ".md" and file != path
            if not file.exists() or root not in file.parents:
                broken.append(f"{name}: {target}#{anchor} (no such file)")
            elif anchor and (file.suffix != ".md"
                             or anchor not in _anchors(file.read_text(encoding="utf-8"))):
                broken.append(f"{name}: {target}#{anchor}")
    return checked, across, broken


def test_every_link_in_the_docs_leads_to_a_file_and_heading_that_exist():
    assert len(DOCS) >= 7 and "docs/maps.md" in DOCS, sorted(DOCS)  # README + its pages
    checked, across, broken = _broken_links(DOCS, ROOT)
    assert checked >= 60 and across >= 30, (checked, across)  # the search finds the links
    assert not broken, f"links to files or headings that do not exist: {broken}"


def test_the_link_check_finds_a_broken_link_between_pages(tmp_path):
    """An anchor is looked up in the page the link names (not in the page it is on, nor the
    README), and a page path is relative to the linking page."""
    (tmp_path / "docs").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text("# R\n\n## Install\n\n[maps](docs/a.md#merging)\n")
    a, b = tmp_path / "docs" / "a.md", tmp_path / "docs" / "b.md"
    a.write_text("# A\n\n## Merging\n\n[b](b.md#merging) [back](../README.md#install) "
                 "[r](README.md#install) [same](#merging)\n")
    b.write_text("# B\n\n## Merging: `merge-maps`\n")
    docs = {"README.md": readme, "docs/a.md": a, "docs/b.md": b}
    checked, across, broken = _broken_links(docs, tmp_path)
    assert checked == 5 and across == 4, (checked, across)
    assert broken == ["docs/a.md: b.md#merging", "docs/a.md: README.md#install (no such file)"]


def test_every_docs_page_is_linked_from_the_readme_and_links_back():
    readme = DOCS["README.md"].read_text(encoding="utf-8")
    linked = {target for target, _ in _links(readme)}
    for name, path in DOCS.items():
        if name == "README.md":
            continue
        assert name in linked, f"the README does not link {name}"
        head = "\n".join(path.read_text(encoding="utf-8").splitlines()[:16])
        assert "](../README.md)" in head, f"{name} does not link back to the README at its top"


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


def test_the_quick_start_ends_with_the_next_steps_of_a_robotics_user():
    """After the demo a new user wants to map their own data and run the node: the quick start
    links the weights, the map commands (run on the demo's own recordings) and the node's
    workflow, so the next step is not 400 lines of reference away."""
    readme = DOCS["README.md"].read_text(encoding="utf-8")
    start = readme.index("## Quick start")
    quick = readme[start:readme.index("\n## ", start)]
    links = {f"{path}#{anchor}" if anchor else path for path, anchor in _links(quick)}
    for link in ("#model-weights-not-ours", "#keyframe-maps-and-offline-localization",
                 "#install", "#ros-2-node", "docs/ros_node.md#workflow-bag--map--launch--nav2"):
        assert link in links, f"the quick start does not link {link}: {sorted(links)}"
    assert "mast3r-ros build-map demo_out/data/map" in quick


def test_each_commands_at_a_glance_row_links_the_section_of_its_command():
    """A row's link lands where the command is explained: on a page whose section heading names
    the command (`Checking a map: `check-map``, `Merging: `merge-maps``), the link carries that
    section's anchor, not the page's top (check-map's and merge-maps' rows landed 600 and 130
    lines above their sections)."""
    readme = DOCS["README.md"].read_text(encoding="utf-8")
    table = readme[readme.index("## The commands at a glance"):readme.index("## Model weights")]
    checked, wrong = 0, []
    for cmd, target in re.findall(r"^\| `([\w-]+)` \|.*\]\(([^)]+)\) \|$", table, flags=re.M):
        path, _, anchor = target.partition("#")
        if not path:
            continue
        sections = [github_anchor(title) for level, title in
                    _headings(DOCS[path].read_text(encoding="utf-8"))
                    if level > 1 and re.search(rf"`(?:mast3r-ros )?{re.escape(cmd)}`", title)]
        if sections:
            checked += 1
            if anchor not in sections:
                wrong.append(f"{cmd}: {target} (its section: {path}#{sections[0]})")
    assert checked >= 4, checked  # pair, retrieve, check-map, merge-maps
    assert not wrong, f"commands-at-a-glance rows that do not link their section: {wrong}"


def _prose_sentences(section: str) -> list:
    """The sentences of a README section's prose: fenced code blocks and table rows left out,
    a paragraph or list item (``-``, ``*``, ``+`` or ``1.``, indented too) ending a sentence too;
    each one's words."""
    text = re.sub(r"```.*?```", "\n\n", section, flags=re.S)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("|"))
    out = []
    for para in re.split(r"\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)]) |#)", text):
        out += [s.split() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`\[*(])", " ".join(para.split()))]
    return [s for s in out if s]


@pytest.mark.parametrize("heading, end, words, pages", [
    ("## Quick start", "\n## ", 400, ("docs/quick_start.md", "docs/outputs.md")),
    ("## The commands at a glance", "## Model weights", 250, ("docs/cli.md",)),
])
def test_the_first_read_sections_stay_short_and_link_their_details(heading, end, words, pages):
    """A first-time user found the Quick start (1262 words of prose, a 700-word paragraph on
    covariance verdicts after the demo's output) and the commands at a glance (one sentence of
    416 words on OUT.old-X renames, chattr +i and Latin-1 folder names) unreadable: the details
    live on docs/ pages the sections link; the sections say what to type and what to expect."""
    readme = DOCS["README.md"].read_text(encoding="utf-8")
    start = readme.index(heading)
    section = readme[start:readme.index(end, start + len(heading))]
    sentences = _prose_sentences(section)
    prose = sum(len(s) for s in sentences)
    longest = max(sentences, key=len)
    assert prose <= words, f"{heading}: {prose} words of prose (at most {words})"
    assert len(longest) <= 60, f"{heading}: a {len(longest)}-word sentence: {' '.join(longest)}"
    linked = {path for path, _ in _links(section)}
    assert set(pages) <= linked, (heading, sorted(linked))


def test_every_pages_navigation_line_and_the_contents_list_the_pages():
    """A page's top line (`[README](../README.md) · ...`) is how a reader moves between pages:
    docs/quick_start.md, docs/outputs.md and docs/cli.md were reachable from no other page's
    line, nor from the README's contents, only from deep inside its sections."""
    pages = sorted(n for n in DOCS if n != "README.md")
    missing = []
    for name in pages:
        nav = next((line for line in DOCS[name].read_text(encoding="utf-8").splitlines()[:16]
                    if line.startswith("[README](../README.md)")), "")
        linked = {f"docs/{target}" for target, _ in _links(nav)}
        missing += [f"{name}: {page}" for page in pages if page not in linked]
    assert not missing, f"navigation lines that do not link a page: {missing}"
    contents = {target for target, _ in _links(_contents(DOCS["README.md"].read_text("utf-8")))}
    first_read = ("docs/quick_start.md", "docs/outputs.md", "docs/cli.md")
    assert set(first_read) <= contents, sorted(contents)


def test_the_sentence_splitter_ends_a_sentence_at_each_list_item():
    """A numbered, ``*`` or indented list's items are sentences of their own, as ``-`` items
    are: a list of twenty short items was one sentence of all their words."""
    items = ["1. the first item", "2. the second item", "* a starred item", "  - a nested item",
             "| a | table row |", "+ a plus item"]
    sentences = _prose_sentences("Intro:\n\n" + "\n".join(items) + "\n")
    assert [len(s) for s in sentences] == [1, 4, 4, 4, 4, 4], sentences


def test_no_readme_sentence_runs_past_a_hundred_words():
    """The Development section's Layout was one 571-word sentence (every module of `core` and
    its packages in one list item), and seven more sentences ran 120 to 237 words (the pip
    extras, `image_rectified`, bag reads by stride, checkpoint refusals): one item per module
    group and plain sentences now, the longest 98 words. Code and table rows are not prose."""
    sentences = _prose_sentences(DOCS["README.md"].read_text(encoding="utf-8"))
    assert len(sentences) >= 100, len(sentences)  # the splitter finds the README's sentences
    long = sorted((len(s), " ".join(s[:12])) for s in sentences if len(s) > 100)
    assert not long, f"README sentences over 100 words (words, start): {long}"


@pytest.mark.parametrize("page", sorted(n for n in DOCS if n != "README.md"))
def test_no_docs_page_sentence_runs_past_a_hundred_words(page):
    """The README's limit holds on every page of docs/ too (docs/bench/ holds raw bench output,
    not user docs): docs/maps.md had 74 sentences over 100 words, its longest 915 (what
    `localize` writes, every metrics.json key in one sentence), docs/ros_node.md 17 (593 words
    of /diagnostics values), docs/large_maps.md 9 (368), docs/gpu.md 11, docs/benchmarks.md 2;
    lists and plain sentences now. Code blocks and table rows are not prose."""
    sentences = _prose_sentences(DOCS[page].read_text(encoding="utf-8"))
    assert len(sentences) >= 20, (page, len(sentences))  # the splitter finds the page's prose
    long = sorted((len(s), " ".join(s[:12])) for s in sentences if len(s) > 100)
    assert not long, f"{page}: sentences over 100 words (words, start): {long}"
