"""The pair matcher a `LocalizerConfig` names (``matcher``: ``sift`` or ``mast3r``), built over
the map with the config's matching and covariance settings, and the network input size it
runs at (`_image_size`).

The matcher modules are imported only when chosen: the MASt3R one pulls in torch, the SIFT one
does not.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..config import LocalizerConfig
from ..errors import ConfigError
from ..keyframes import KeyframeMap
from ..matchers.base import PairMatcher, sift_alternative
from ..model.given_as import given_here, GivenAs
from ..model.preprocess import SIZES


def _make_matcher(kf_map: KeyframeMap, config: LocalizerConfig, engine: Any, image_size: int,
                  recompute_encodings: bool, seed: int, device_cache_mb: float,
                  given: Optional[GivenAs] = None) -> PairMatcher:
    given = given_here(given)
    m, cv = config.matching, config.covariance
    if config.matcher == "sift":
        from ..matchers.sift import SiftMatcher

        return SiftMatcher(kf_map, m.sift_ratio, m.sift_max_features,
                           depth_sigma_k=cv.depth_sigma_k,
                           pixel_sigma_px=cv.keyframe_pixel_sigma_px)
    if config.matcher == "mast3r":
        if engine is None:
            # only a Localizer made in Python gets here (from_config loads the checkpoint)
            raise ConfigError("matcher 'mast3r' needs a network: pass the engine, "
                              "Localizer(kf_map, config, Mast3rEngine.from_checkpoint(path)), "
                              "or use Localizer.from_config with a 'checkpoint'"
                              + sift_alternative(kf_map))
        from ..matchers.mast3r import Mast3rMatcher

        return Mast3rMatcher(kf_map, engine, m, image_size, config.points_source,
                             config.max_scale_error, recompute_encodings, seed,
                             depth_sigma_k=cv.depth_sigma_k,
                             pixel_sigma_px=cv.keyframe_pixel_sigma_px,
                             conf_alpha=cv.pointmap_conf_alpha,
                             device_cache_mb=device_cache_mb, given=given)
    raise ConfigError(f"matcher must be 'mast3r' or 'sift', got {config.matcher!r}")


def _image_size(image_size: Any, engine: Any) -> int:
    """`Localizer`'s network input size: ``image_size``, else the engine's configured one,
    else 512; `ConfigError` for a size not in SIZES or not the engine's (its compiled graphs or
    TensorRT engines are for that size, and the map's encodings are cached per size)."""
    configured = getattr(engine, "image_size", None)
    if image_size is None:
        image_size = configured if configured is not None else 512
    if (isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer))
            or image_size not in SIZES):
        raise ConfigError(f"image_size must be one of {SIZES} (the network's input sizes), "
                          f"got {image_size!r}")
    if configured is not None and int(image_size) != int(configured):
        raise ConfigError(f"Localizer: image_size {image_size} but the engine was configured "
                          f"for {configured} (model.image_size; its compiled graphs or "
                          "TensorRT engines are for that size): leave image_size out to use "
                          f"{configured}, or build the engine with model.image_size "
                          f"{image_size}")
    return int(image_size)
