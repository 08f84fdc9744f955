"""Defaults the prose of the README and its docs/*.md pages (docs/ros_node.md, ...) gives in
passing: a parameter named and its value in brackets right after it
(`` `scale.chunk_size` (4) ``, `` `retrieval_top_k` (5) ``, `` `confirm_frames` (default 2 ``)
is the schema's default.
docs/ros_node.md's tables are checked in test_shipped_config; these sentences are spread over
2500 lines, and a default changed in `core/config/sections.py` left them saying the old value."""

from __future__ import annotations

import re

from mast3r_ros.core.config import param_specs
from user_docs import user_docs

SPECS = {s.name: s for s in param_specs()}

# `name` (VALUE[ unit]) or `name` (default VALUE: the value a number (a space between thousands,
# as "20 000") or true/false, then a unit, ')' or a separator. A backquoted word in brackets is
# left out: there it lists the choices (`device` (`auto`, `cpu`, ...)) or names a module; so is
# a list of numbers.
STATED = re.compile(r"`([a-z_][a-z0-9_.]*)` \((?:default:? )?"
                    r"(-?[0-9]+(?: [0-9]{3})*(?:\.[0-9]+)?(?:e-?[0-9]+)?|true|false)"
                    r"(?= ?(?:[a-zA-Z°%/]+)?[);:,])(?!, ?[0-9])")  # not a list: (512, 384, 224)


def _stated(text: str):
    """(name, value text) of every parameter default stated in brackets after its name."""
    for name, value in STATED.findall(" ".join(text.split())):
        if name in SPECS:
            yield name, value


def _equals_default(name: str, value: str) -> bool:
    default = SPECS[name].default
    if isinstance(default, bool):
        return value == str(default).lower()
    if isinstance(default, (int, float)):
        try:
            return float(value.replace(" ", "")) == float(default)
        except ValueError:
            return False
    return value == default


def test_the_finder_reads_the_forms_the_docs_use():
    found = dict(_stated("`scale.approx_threshold` (20 000) keyframes, `scale.encoding_cache_mb` "
                         "(1024 MB) on, `confirm_frames` (default 2, ...), `device` (`cpu`), "
                         "`retrieval_top_k` (5) best, `image_size` (384, 224) and `warmup` (true)"))
    assert found == {"scale.approx_threshold": "20 000", "scale.encoding_cache_mb": "1024",
                     "confirm_frames": "2", "retrieval_top_k": "5",
                     "warmup": "true"}
    assert not _equals_default("retrieval_top_k", "4") and _equals_default("retrieval_top_k", "5")
    assert not _equals_default("warmup", "false") and _equals_default("scale.chunk_size", "4")


def test_every_default_stated_in_brackets_after_a_parameter_is_the_schemas():
    checked, wrong = 0, []
    for doc, text in user_docs().items():  # README.md, docs/ros_node.md and the other pages
        for name, value in _stated(text):
            checked += 1
            if not _equals_default(name, value):
                wrong.append(f"{doc}: `{name}` ({value}), the default is {SPECS[name].default!r}")
    assert checked >= 8, checked  # the search finds the sentences, not nothing
    assert not wrong, "defaults the docs state that the schema does not have:\n" + "\n".join(wrong)
