"""The SIFT baseline on real RGB-D data (7-Scenes redkitchen, evaluation only, never bundled).

Map from ``redkitchen_a_map`` (keyframes chosen by the default travel/rotation thresholds),
localize every frame of ``redkitchen_a_query`` with no ground-truth prior: candidates come from the
localizer's own retrieval and tracking. Must reach: >= 95 % localized, median error <= 2 cm and
<= 1 deg, no success more than 0.5 m off. Skips when the data folder is absent.
"""

import dataclasses
import os
from pathlib import Path

import pytest

from mast3r_ros.core.config import Config
from mast3r_ros.replay.localize_run import run_localization
from mast3r_ros.replay.pipeline import build_map
from mast3r_ros.replay.tum import TumSequence

DATA = Path(os.environ.get("MAST3R_ROS_DATA",
                           Path(__file__).resolve().parents[3] / "shared" / "data"))
MAP_SEQ, QUERY_SEQ = DATA / "redkitchen_a_map", DATA / "redkitchen_a_query"

pytestmark = pytest.mark.skipif(not (MAP_SEQ.is_dir() and QUERY_SEQ.is_dir()),
                                reason=f"evaluation data not found under {DATA}")


def test_sift_baseline_on_redkitchen(tmp_path):
    cfg = dataclasses.replace(Config(), localizer=dataclasses.replace(Config().localizer,
                                                                      matcher="sift"))
    n_kf, map_path = build_map(TumSequence(MAP_SEQ), str(tmp_path / "map"), cfg)
    m = run_localization(TumSequence(QUERY_SEQ), map_path, str(tmp_path / "run"), cfg)
    assert m["frames"] == 50 and m["evaluated"] == m["localized"]
    assert m["localized_fraction"] >= 0.95, m
    assert m["translation_error_m"]["median"] <= 0.02, m
    assert m["rotation_error_deg"]["median"] <= 1.0, m
    assert m["gross_errors"] == 0 and m["translation_error_m"]["max"] <= 0.5, m
