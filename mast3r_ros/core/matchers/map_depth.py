"""The matchers' need of keyframe depth (`require_map_depth`), one rule for the matchers, which
refuse a map without it when the localizer is built (the node's configure), and for
``check-params``, which tells the same refusal offline from the map its ``map_path`` names."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, InputError


def require_map_depth(kf_map: Any, matcher: str, points_source: str = "pointmap") -> None:
    """Refuse a map whose keyframes do not all have a stored depth image (`has_depth`) where the
    matcher takes its 3-D points from that depth: the sift matcher always (`InputError`), the
    mast3r matcher with ``points_source`` 'depth' (`ConfigError`). ``kf_map``: a `KeyframeMap`
    (a lazily opened one does: the keyframe table says which keyframes have depth)."""
    if matcher == "sift" and not kf_map.has_depth():
        raise InputError(
            f"map {kf_map.path}: the sift matcher takes its 3-D points from keyframe depth, "
            "but the map has keyframes without depth; rebuild it from a source with depth "
            "or use the mast3r matcher")
    if matcher == "mast3r" and points_source == "depth" and not kf_map.has_depth():
        raise ConfigError(f"points_source is 'depth' but map {kf_map.path} has keyframes "
                          "without depth; use points_source 'pointmap'")


__all__ = ["require_map_depth"]
