"""The metrics table's focal row of a run whose camera changed fx mid-way (a bag switching from
640x480 to 320x240 with its CameraInfo). A fresh user's find: the row read 'fx 292.4 px fits,
the camera's is 292.5 (25 frames; 50 passed the per-frame gate)': the evidence is the last
fx's 25 frames, the passed count every camera's. Both count the last fx's frames now, and the
row says how many earlier frames were under another fx."""

from __future__ import annotations

from mast3r_ros.core.focal_evidence import FocalFit
from mast3r_ros.core.types import LocalizationResult
from mast3r_ros.replay.metrics import camera_focal
from mast3r_ros.replay.metrics_table import _camera_focal_row


def test_the_focal_row_counts_the_last_cameras_frames_and_names_the_earlier_ones():
    results = ([LocalizationResult(True, i, focal_fit=FocalFit(1.0, 0.002, 585.0))
                for i in range(6)]
               + [LocalizationResult(True, 6 + i, focal_fit=FocalFit(1.0, 0.002, 292.5))
                  for i in range(5)])
    cf = camera_focal(results)
    assert cf["fx_px"] == 292.5 and cf["frames_used"] == 5 and cf["frames_passed"] == 5, cf
    row = _camera_focal_row(cf)
    assert "(5 frames; 5 passed the per-frame gate; 6 earlier under another fx not combined)" \
        in row, row
