"""Error messages that send the user to a section of the user docs ("README: 'Model weights'",
"docs/pair_and_retrieve.md: 'Image retrieval'") name a section that exists on the page named: a
heading of that page that starts with the quoted words (the README keeps a short section for
each long one moved to a docs/ page, but the details are on the page). A message that promises
a download finds it there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mast3r_ros
from user_docs import user_docs, user_docs_text

ROOT = Path(mast3r_ros.__file__).parent
# a citation in a message: README: 'Install', README, 'Install', docs/maps.md: 'Frames ...'
CITATION = re.compile(r"(README|docs/\w+\.md)[:,] '([^']+)'")


def _headings(text: str) -> list:
    """(level, title, line index) of the markdown headings outside fenced code blocks."""
    out, fenced = [], False
    for i, line in enumerate(text.splitlines()):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            m = re.match(r"(#{1,6}) (.*)$", line)
            if m:
                out.append((len(m.group(1)), m.group(2).strip(), i))
    return out


def cited_section(page: str, words: str) -> str:
    """The text of the section of ``page`` ("README" or "docs/X.md") whose heading starts with
    ``words``, up to the next heading of its level or above; AssertionError when none."""
    docs = user_docs()
    name = "README.md" if page == "README" else page
    assert name in docs, f"a message cites {page}, which is no page of the user docs"
    lines = docs[name].splitlines()
    heads = _headings(docs[name])
    for k, (level, title, i) in enumerate(heads):
        if title.startswith(words):
            end = next((j for lv, _, j in heads[k + 1:] if lv <= level), len(lines))
            return "\n".join(lines[i:end])
    raise AssertionError(f"{name} has no heading starting with {words!r}")


def _missing_sections(named):
    """What `cited_section` says of each (page, words) in ``named`` that no heading holds."""
    missing = []
    for page, words in sorted(named):
        try:
            cited_section(page, words)
        except AssertionError as e:
            missing.append(str(e))
    return missing


def test_sections_named_in_messages_exist_on_the_page_named():
    named = set()
    for path in ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        named |= set(CITATION.findall(text))
        # an unquoted citation ("README: Install") is one this test cannot check
        loose = re.findall(r"README[:,] [^'\s]\w*", text)
        assert not loose, f"{path.relative_to(ROOT)}: quote the section cited: {loose}"
    assert len(named) >= 5, named  # the search finds the messages, not nothing
    assert any(page != "README" for page, _ in named), named  # and those citing a page
    missing = _missing_sections(named)
    assert not missing, f"messages name sections that do not exist: {missing}"


def test_the_section_check_looks_on_the_page_named():
    """A section moved to a page is not found in the README, nor a README one on a page."""
    assert "maps.md" in cited_section("README", "Keyframe maps")  # the short section, a link
    assert "## SOURCE" not in cited_section("README", "Keyframe maps")
    assert "## SOURCE" not in cited_section("docs/maps.md", "Frames that cannot be read")
    with pytest.raises(AssertionError, match="no heading"):
        cited_section("README", "Frames that cannot be read")
    with pytest.raises(AssertionError, match="no heading"):
        cited_section("docs/maps.md", "Model weights")


def _download_message(kind: str, tmp_path) -> str:
    from mast3r_ros.core.errors import CheckpointError

    if kind == "network, missing":
        from mast3r_ros.core.model.checkpoint import require_checkpoint as require
        path = tmp_path / "missing.pth"
    else:
        from mast3r_ros.core.retrieval_model import load_retrieval_head

        def require(p):
            load_retrieval_head(p, enc_dim=1024)
        path = tmp_path / "r_retrieval_trainingfree.pth"
        if kind == "retrieval, an image":  # the arguments swapped
            path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
        elif kind == "retrieval, a plain pickle":
            import pickle
            path.write_bytes(pickle.dumps({"a": [1, 2]}))
    with pytest.raises(CheckpointError) as e:
        require(str(path))
    return str(e.value)


@pytest.mark.parametrize("kind, download", [
    ("network, missing", "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric.pth"),
    ("retrieval, missing", "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric_retrieval_"
                           "trainingfree.pth"),
    ("retrieval, an image", "_retrieval_trainingfree.pth"),
    ("retrieval, a plain pickle", "_retrieval_trainingfree.pth"),
])
def test_a_message_naming_a_download_cites_the_section_that_gives_it(kind, download, tmp_path):
    """The retrieval head's download moved from the README to docs/pair_and_retrieve.md: its
    messages cited the README's short 'Image retrieval' section (or 'Model weights', which has
    only the network's), where no download URL is."""
    message = _download_message(kind, tmp_path)
    cited = CITATION.findall(message)
    assert len(cited) == 1, message
    section = cited_section(*cited[0])
    urls = re.findall(r"https://\S+?" + re.escape(download) + r"\b", section)
    assert urls, f"{message}\ncites {cited[0]}, which gives no download of {download}"


def test_readme_jetson_onnx_size_is_the_float32_export_of_vit_l():
    """The Jetson paragraph's disk figure for a TensorRT build ("about X GB of ONNX per size in
    the cache folder while building") is the float32 export of the full ViT-L network (every
    weight but view 2's pointmap head, which a MASt3R export leaves out): it said 1.3 GB, half
    the 2.7 GB the export writes (on the tiny network the same count gives 91 MB, and its
    export's initializers are 87 MB)."""
    import torch

    from mast3r_ros.core.model.network import AsymmetricMASt3R, ModelSpec

    readme = user_docs_text()  # the Jetson paragraph is in docs/gpu.md
    said = re.findall(r"about ([0-9.]+) GB of ONNX", readme)
    assert len(said) == 1, said
    with torch.device("meta"):  # shapes only: no 2.75 GB of weights in memory
        model = AsymmetricMASt3R(ModelSpec())
    exported = sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in model.downstream_head2.dpt.parameters())
    gb = 4 * exported / 1e9
    assert abs(float(said[0]) - gb) <= 0.15 * gb, (said[0], round(gb, 2))


def test_the_tests_cite_the_page_that_holds_the_text():
    """The tests' docstrings and comments cite the user docs as the messages do, quoted and on
    the page that now holds the text ("docs/gpu.md: 'On the CPU'"): after the README's long
    sections moved to docs/ pages they still said "README: Benchmarks", "README: cpu_threads
    in --params", "README: another --stride is refused" for text a page holds, and a reader
    looked for it in the README. A phrase quoted as the README's is in the README."""
    tests = Path(__file__).resolve().parents[1]
    named, loose, absent = set(), [], []
    readme = " ".join(user_docs()["README.md"].split())
    for path in sorted(tests.rglob("*.py")):
        if path.name == Path(__file__).name:  # the forms themselves, as examples
            continue
        text = path.read_text(encoding="utf-8")
        named |= set(CITATION.findall(text))
        loose += [f"{path.name}: {m}" for m in re.findall(r"\(?README[:,] [A-Za-z]\S*", text)
                  if m.startswith("(") or ":" in m]
        absent += [f"{path.name}: {q!r}" for q in re.findall(r"README \(?'([^']+)'", text)
                   if " ".join(q.split()) not in readme]
    assert not loose, f"cite a section quoted, on the page that holds it: {loose}"
    assert not absent, f"phrases quoted as the README's that it does not hold: {absent}"
    assert any(page != "README" for page, _ in named), named  # the search finds them
    missing = _missing_sections(named)
    assert not missing, f"the tests cite sections that do not exist: {missing}"
