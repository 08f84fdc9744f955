"""No Jetson figure in the user docs reads as measured: nothing of this package has run on a
Jetson yet (docs/gpu.md, Jetson), so a time given for an Orin (the robot_localization snippet's
inference time, docs/ros_node.md) must say, in its own sentence, that it is not measured here.
A user sizing robot_localization's history or a control loop on it should know it is a
figure published for other MASt3R-based localization, not one of ours."""

from __future__ import annotations

import re

from user_docs import user_docs_text

# a sentence (or a code comment running into the next sentence) that names an Orin
_ORIN_SENTENCE = re.compile(r"[^.]*\bOrin\b[^.]*\.")
# a time or rate figure: "1 s", "~1 s", "1 Hz", "40 ms"
_FIGURE = re.compile(r"~?\b\d+(?:\.\d+)?\s*(?:ms|s|Hz)\b")
_UNMEASURED = re.compile(r"not measured|unmeasured")


def test_orin_time_figures_say_they_are_not_measured():
    text = " ".join(user_docs_text().split())
    sentences = [m.group(0) for m in _ORIN_SENTENCE.finditer(text)
                 if _FIGURE.search(m.group(0))]
    assert sentences, "no Orin time figure found: update this test's patterns"
    bare = [s.strip()[:200] for s in sentences if not _UNMEASURED.search(s)]
    assert not bare, f"Orin figures given as if measured: {bare}"
