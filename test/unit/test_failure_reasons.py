"""A failed frame's reason says why it failed: a query image with no features (a lens cap,
lights off, a blank wall, overexposed) read 'too few correspondences (0 < 6)', as a frame of a
place the map does not hold does; an operator could not tell a camera problem from a
localization one (a robustness review's find: 50 frames at 4 % brightness of the redkitchen
query, 0 SIFT keypoints each)."""

from __future__ import annotations

import dataclasses

import numpy as np

from mast3r_ros.core.config import config_from_params
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.replay.metrics import summarize
from mast3r_ros.replay.tum import TumSequence


def test_a_query_image_without_features_is_named_as_such(tum, sift_map):
    cfg = config_from_params({"matcher": "sift"})
    frame = TumSequence(tum[1])[0]
    dark = dataclasses.replace(frame, rgb=(frame.rgb // 25).astype(np.uint8))
    blank = dataclasses.replace(frame, rgb=np.full_like(frame.rgb, 128))
    noise = dataclasses.replace(frame, rgb=np.random.default_rng(0).integers(
        0, 256, frame.rgb.shape, dtype=np.uint8))
    with Localizer(KeyframeMap.load(sift_map), cfg.localizer, retrieval=cfg.retrieval) as loc:
        assert len(loc.matcher.query_state(dark)) < 6
        n = len(loc.matcher.query_state(noise))
        results = [loc.localize(f) for f in (dark, blank, noise)]
        assert loc.localize(frame).success   # the frame itself localizes
    for r in results[:2]:
        assert not r.success
        assert r.reason.startswith("too few features in the query image (")
        assert r.reason.endswith(" < 6 sift keypoints: dark, overexposed, blank or out of "
                                 "focus?)"), r.reason
    # an image with features that match nothing keeps its reason and says it had features
    assert not results[2].success and "too few features" not in results[2].reason
    assert results[2].reason.endswith(f"; the query image has {n} sift keypoints"), \
        results[2].reason
    # metrics.json's failure_reasons tell the two apart
    reasons = summarize(results)["failure_reasons"]
    assert reasons["too few features in the query image"] == 2, reasons
    assert sum(reasons.values()) == 3
