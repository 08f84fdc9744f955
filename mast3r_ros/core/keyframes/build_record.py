"""The retrieval index settings a version-1 map was built with, as its ``build_config.yaml``
records them (`KeyframeMap.index_params` of a v1 map: its layout stores no index, so none of
its own ``index.json`` says them).

``build_config.yaml`` is the parameter file build-map writes beside the map's files (outside its
file table: not checksummed). Since the ``scale`` section (``scale.index_type``,
``approx_threshold``, ...) exists it holds them; an older one, or a v1 map written by a tool
(``MapWriter(version=1)``) without it, records none, and the caller takes the defaults. Any
map's file that cannot be read as a parameter file (not YAML, not a mapping) is warned of when
the map is opened (`warn_unreadable_build_config`), never refused: it is informational only.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, Optional, Tuple

from ..retrieval_index import IndexParams

log = logging.getLogger(__name__)

BUILD_CONFIG = "build_config.yaml"


def recorded_index_params(folder: str) -> Tuple[Optional[IndexParams], str]:
    """(`IndexParams`, '') from ``folder``'s ``build_config.yaml`` where it records any of the
    index fields (``scale.index_type``, ``scale.approx_threshold``, ...; one it lacks takes its
    default); (None, why) where it records none of them, is missing or unreadable, or holds
    a value the config refuses (why names the file and the value). Never raises."""
    path = os.path.join(folder, BUILD_CONFIG)
    try:
        import yaml

        with open(path, encoding="utf-8-sig") as fh:
            doc = yaml.safe_load(fh)
    except FileNotFoundError:
        return None, f"it has no {BUILD_CONFIG}"
    except Exception as e:  # noqa: BLE001 - unreadable, not YAML: the defaults, said so
        return None, f"its {BUILD_CONFIG} cannot be read ({type(e).__name__})"
    found = _scale_fields(doc)
    if not found:
        return None, f"its {BUILD_CONFIG} records no scale.index_type (an older build)"
    from ..config.params import validate_param
    from ..errors import ConfigError

    try:
        checked = {k: validate_param(f"scale.{k}", v, path) for k, v in found.items()}
    except ConfigError as e:
        return None, f"{e}"
    return IndexParams(**checked), ""


def _scale_fields(doc: Any) -> Dict[str, Any]:
    """The `IndexParams` fields under ``scale`` (nested or dotted) of the parameter file's
    blocks, the later block winning as rclpy merges them."""
    names = {f.name for f in dataclasses.fields(IndexParams)}
    out: Dict[str, Any] = {}
    for block in (doc.values() if isinstance(doc, dict) else ()):
        params = block.get("ros__parameters") if isinstance(block, dict) else None
        if not isinstance(params, dict):
            continue
        nested = params.get("scale")
        for k, v in (nested.items() if isinstance(nested, dict) else ()):
            if k in names:
                out[k] = v
        for k, v in params.items():
            if isinstance(k, str) and k.startswith("scale.") and k[6:] in names:
                out[k[6:]] = v
    return out


def build_config_problem(folder: str) -> str:
    """Why ``folder``'s ``build_config.yaml`` is no parameter file (not UTF-8, not YAML, empty,
    not a mapping, unreadable): a line naming the file, saying the map is still usable and
    what to do; '' when it reads as a mapping or is absent (a map a tool wrote). Never
    raises."""
    path = os.path.join(folder, BUILD_CONFIG)
    try:
        import yaml

        with open(path, encoding="utf-8-sig") as fh:
            doc = yaml.safe_load(fh)
    except FileNotFoundError:
        return ""
    except UnicodeDecodeError:
        what = "is not UTF-8 text"
    except Exception as e:  # noqa: BLE001 - a YAML error, a folder, no permission: said
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = (f"is not YAML ({type(e).__name__}{where})" if "yaml" in type(e).__module__
                else f"cannot be read ({type(e).__name__})")
    else:
        if isinstance(doc, dict):
            return ""
        what = "is empty" if doc is None else f"holds {_yaml_kind(doc)}, not a mapping"
    return (f"{path} {what}: it is informational only (the settings the map was built with, "
            "a parameter file of node blocks), so the map is still usable; restore the file "
            "from a copy of the map, or delete it to silence this")


def _yaml_kind(doc: Any) -> str:
    """What a YAML document that is no mapping is, for "holds ...": 'a list', 'a date', ..."""
    import datetime

    if isinstance(doc, bool):
        return "a boolean"
    if isinstance(doc, (int, float)):
        return "a number"
    if isinstance(doc, datetime.datetime):  # before date: a datetime is a date too
        return "a date and time"
    if isinstance(doc, datetime.date):
        return "a date"
    return {list: "a list", str: "a string", bytes: "binary data"}.get(
        type(doc), f"a {type(doc).__name__}")


def warn_unreadable_build_config(folder: str) -> None:
    """Warn (the log) of ``folder``'s ``build_config.yaml`` where `build_config_problem` finds
    one; the map is opened all the same."""
    problem = build_config_problem(folder)
    if problem:
        log.warning(problem)
