"""The map check's match reprojection on low-texture images: ORB (FAST threshold 20) finds no
corners on a faint texture, SIFT (contrast threshold 0.02) does, so the pairs are judged by their
matches instead of by depth alone, every neighbouring pair (not only consecutive ones), and a
pose error the depth cannot see (sideways over a wall facing the camera) is refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.core.geometry import make_pose
from mast3r_ros.core.map_check import CONSISTENT, INCONSISTENT, KeyframeRecord, check_keyframes
from mast3r_ros.core.map_check.measure import _prepare
from mast3r_ros.core.types import CameraIntrinsics

CFG = Config().map_check
W, H, F, Z = 320, 240, 300.0, 2.0  # px, px, px, m: a wall 2 m ahead, facing the camera
CAM = CameraIntrinsics(W, H, np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1.0]]))


def _texture() -> np.ndarray:
    """A faint texture (grey 128 +- 6, blurred noise): no FAST corner passes ORB's threshold."""
    noise = np.random.default_rng(0).normal(0, 1, (600, 800)).astype(np.float32)
    tex = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return np.clip(128 + 6 * tex / tex.std(), 0, 255).astype(np.float32)


def _view(tex: np.ndarray, tx: float) -> np.ndarray:
    """(H, W, 3) uint8 image of the wall from a camera at x = ``tx`` m (200 texels per m)."""
    u, v = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    mx = ((u - W / 2) / F * Z + tx) * 200 + 400
    my = (v - H / 2) / F * Z * 200 + 300
    grey = cv2.remap(tex, mx, my, cv2.INTER_LINEAR).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


@pytest.fixture(scope="module")
def walls():
    tex = _texture()
    return [(_view(tex, tx), tx) for tx in (0.0, 0.15, 0.3)]


def _records(walls, said=None):
    """Keyframes of ``walls``; ``said``: the x positions the poses say (default: the true)."""
    said = [tx for _, tx in walls] if said is None else said
    return [KeyframeRecord(rgb, np.full((H, W), Z, np.float32), CAM,
                           make_pose(np.eye(3), [x, 0.0, 0.0]), i * 10 ** 8)
            for i, ((rgb, _), x) in enumerate(zip(walls, said))]


def test_orb_finds_no_features_on_the_faint_wall(walls):
    """The premise: ORB alone leaves these pairs unjudged by matches."""
    orb = cv2.ORB_create(nfeatures=CFG.max_features)
    views = [_prepare(r, i, CFG, orb) for i, r in enumerate(_records(walls))]
    assert all(len(v.kp) < 8 for v in views)


def test_low_texture_pairs_are_judged_by_sift_matches(walls):
    r = check_keyframes(_records(walls), CFG)
    assert r.verdict == CONSISTENT, r.message
    assert [(p.a, p.b) for p in r.pairs] == [(0, 1), (0, 2), (1, 2)]
    # every pair, the one two keyframes apart too, has matches and a reprojection figure
    assert all(p.matches >= CFG.min_matches and p.reproj_px < 1.0 for p in r.pairs), r.pairs
    assert "match reprojection" in r.summary() and " over " not in r.summary()


def test_a_sideways_pose_error_the_depth_cannot_see_is_refused(walls):
    """Keyframes 1 and 2 said 3x further sideways than they are: the wall's depth agrees (a
    fronto-parallel plane keeps its depth), only the matches (45-90 px off) show it."""
    r = check_keyframes(_records(walls, said=[0.0, 0.45, 0.9]), CFG)
    assert r.verdict == INCONSISTENT, r.summary()
    assert all(p.depth_residual < 0.01 for p in r.pairs)
    limit = r.thresholds["max_reproj_px"]
    assert all(p.reproj_px > limit for p in r.pairs), [p.reproj_px for p in r.pairs]


def test_the_sift_fallback_can_be_turned_off(walls, monkeypatch):
    """`map_check.sift_fallback: false` (a large map where SIFT costs time): no SIFT is
    computed, the faint wall's pairs are judged by depth alone, and the summary says why they
    have no match figure. The sideways error only the matches show then passes."""
    from mast3r_ros.core.config import config_from_params
    from mast3r_ros.core.map_check import measure

    cfg = config_from_params({"map_check": {"sift_fallback": False}}).map_check
    assert cfg.sift_fallback is False and CFG.sift_fallback is True  # on by default

    def no_sift(*a, **k):
        raise AssertionError("SIFT computed with map_check.sift_fallback off")

    monkeypatch.setattr(measure, "extract_sift", no_sift)
    r = check_keyframes(_records(walls), cfg)
    assert r.verdict == CONSISTENT and all(p.matches == 0 for p in r.pairs), r.pairs
    assert ("no pair had enough ORB matches (map_check.sift_fallback off) to judge"
            in r.summary()), r.summary()
    assert check_keyframes(_records(walls, said=[0.0, 0.45, 0.9]), cfg).verdict == CONSISTENT
