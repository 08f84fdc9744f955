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
        assert r.reason.endswith(" < 30 sift keypoints, gates.min_inliers: dark, overexposed, "
                                 "blank or out of focus?)"), r.reason
    # an image with features that match nothing keeps its reason and says it had features
    assert not results[2].success and "too few features" not in results[2].reason
    assert results[2].reason.endswith(f"; the query image has {n} sift keypoints"), \
        results[2].reason
    # metrics.json's failure_reasons tell the two apart
    reasons = summarize(results)["failure_reasons"]
    assert reasons["too few features in the query image"] == 2, reasons
    assert sum(reasons.values()) == 3


def test_a_near_blank_query_image_with_fewer_keypoints_than_min_inliers_is_named(tum, sift_map):
    """A grey image with three black squares has 15 SIFT keypoints: at least PnP's 6, so it
    read 'too few correspondences ...; the query image has 15 sift keypoints' (or 'too few
    inliers'), though no pose of fewer than gates.min_inliers (30) points can pass. Too few
    features; with min_inliers 10, 15 are enough to try, and the reason is the matcher's."""
    import cv2

    frame = TumSequence(tum[1])[0]
    img = np.full_like(frame.rgb, 128)
    for i in range(3):
        cv2.rectangle(img, (30 + 60 * i, 40), (42 + 60 * i, 52), (0, 0, 0), -1)
    near_blank = dataclasses.replace(frame, rgb=img)
    for min_inliers, named in ((30, True), (10, False)):
        cfg = config_from_params({"matcher": "sift", "gates.min_inliers": min_inliers})
        with Localizer(KeyframeMap.load(sift_map), cfg.localizer,
                       retrieval=cfg.retrieval) as loc:
            n = len(loc.matcher.query_state(near_blank))
            r = loc.localize(near_blank)
        assert 6 <= n < 10 * 3 and not r.success
        if named:
            assert r.reason == (f"too few features in the query image ({n} < 30 sift keypoints, "
                                "gates.min_inliers: dark, overexposed, blank or out of focus?)")
        else:
            assert "too few features" not in r.reason, r.reason
