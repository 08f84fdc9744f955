"""A resumed localize run judges its next frames on the run gates' evidence of the frames it
resumes from (`Localizer.recall`).

The run-level focal and principal point gates (`localizer.focal_run_gate`,
`principal_point_run_gate`) keep the fits of the frames localized so far; `localize --resume`
took the stopped run's results from results.jsonl (their fits with them) but a fresh
Localizer's gates started empty: frames the run in one go refused (a principal point 40 px
off, evidence complete by its fifth frame) were published after the resume point, until the
gate had five fits of its own again."""

from __future__ import annotations

import dataclasses

from mast3r_ros.core.camera_key import camera_key
from mast3r_ros.core.config import config_from_params
from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.localizer import pipeline as localizer_pipeline
from mast3r_ros.core.principal_point_evidence import PrincipalPointFit
from mast3r_ros.core.tracker import Tracker
from mast3r_ros.replay.localize_run import localize_frames
from mast3r_ros.replay.tum import TumSequence


def _noisy(rgb, k):
    """``rgb`` with one pixel's red changed by ``k`` grey levels: each a camera's own frame (the
    same pixels again are a frozen driver's, refused: core/repeated_image.py)."""
    out = rgb.copy()
    out[0, 0, 0] = (int(out[0, 0, 0]) + k) % 256
    return out


def test_a_resumed_run_refuses_what_the_run_in_one_go_refuses(tum, sift_map, monkeypatch):
    def stand_in(max_error, cam, *args):  # every frame fits cx 40 px left of the camera's
        return "", FocalFit(1.0, 0.002, float(cam.K[0, 0]), principal_point=PrincipalPointFit(
            -40.0, 0.0, 1.5, 1.5, float(cam.K[0, 2]), float(cam.K[1, 2])),
            camera=camera_key(cam))  # as `query_checks.focal_gate`'s (a recorded line's too)

    monkeypatch.setattr(localizer_pipeline, "focal_gate", stand_in)
    f = TumSequence(tum[1])[3]
    frames = [dataclasses.replace(f, stamp_ns=f.stamp_ns + k * 10**8, rgb=_noisy(f.rgb, k))
              for k in range(8)]
    cfg = config_from_params({"matcher": "sift"})

    def run(done=None):
        with Localizer(KeyframeMap.load(sift_map), cfg.localizer,
                       retrieval=cfg.retrieval) as loc:
            return [r for _, r in localize_frames(loc, frames, Tracker(), done=done)]

    whole = run()
    assert [r.success for r in whole] == [True] * 4 + [False] * 4
    resumed = run(dict(enumerate(whole[:6])))  # stopped after 6 frames, --resume
    assert [r.success for r in resumed] == [r.success for r in whole]
    assert all(a is b for a, b in zip(resumed[:6], whole[:6]))  # recorded ones kept as they were
