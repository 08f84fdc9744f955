"""What a file given where a TUM trajectory goes is when it is a run's or a map's output
(`misfiled`), and a bad line quoted short (`clip`), for `tum_trajectory`'s reader.

A localize run's results.jsonl given as ``--groundtruth`` was refused with its whole first
record quoted (2039 characters) and blamed for its commas.
"""

from __future__ import annotations

import re

QUOTE_MAX = 80  # characters of a bad line (or token) a refusal quotes

_PARAMS_KEY = re.compile(r"^\s*(/\*\*/)?\S*(mast3r_localizer|ros__parameters)\s*:", re.MULTILINE)


def clip(text: str, limit: int = QUOTE_MAX) -> str:
    """``repr(text)``, of its first ``limit`` characters and '...' when it is longer."""
    return repr(text) if len(text) <= limit else repr(text[:limit - 3] + "...")


def misfiled(text: str, option: str = "") -> str:
    """Why ``text`` (a whole file that did not read as a trajectory) is none: a JSON file (a
    localize run's results.jsonl or metrics.json, a map's manifest.json) or a node parameters
    YAML (a run's config.yaml), and what to give instead (``option``: the one it was given
    with, '--groundtruth'); '' for other files."""
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head in ("{", "["):
        what = ("a JSON file (a localize run's results.jsonl or metrics.json, or a map's "
                "manifest.json)")
    elif _PARAMS_KEY.search(text):
        what = "a node parameters YAML (a run's config.yaml, --params)"
    else:
        return ""
    takes = f"{option} takes" if option else "give"
    return (f"this is {what}, not a TUM trajectory; {takes} the recording's groundtruth.txt "
            "('timestamp tx ty tz qx qy qz qw' lines)")
