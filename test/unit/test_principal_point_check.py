"""A camera_info YAML with cx = 3200 on a 640-wide image was accepted without a word (only the
'differs from the map' warning later): a principal point far outside the image is a calibration
of another resolution or in other units (a fresh-user review's find)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mast3r_ros.core.image_codec import load_camera_info_yaml
from mast3r_ros.core.types import CameraIntrinsics
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.synthetic import camera_yaml


def _yaml(tmp_path, cx, cy, w=640, h=480):
    K = np.array([[525.0, 0, cx], [0, 525.0, cy], [0, 0, 1]])
    p = tmp_path / "camera.yaml"
    p.write_text(camera_yaml(CameraIntrinsics(w, h, K, np.zeros(5))))
    return p


@pytest.mark.parametrize("cx,cy", [(3200.0, 240.0), (320.0, -300.0), (-400.0, 240.0),
                                   (320.0, 1000.0)])
def test_a_principal_point_far_outside_the_image_is_warned(tmp_path, caplog, cx, cy):
    p = _yaml(tmp_path, cx, cy)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        load_camera_info_yaml(p)
    (msg,) = [r.getMessage() for r in caplog.records]
    assert f"{cx:g}" in msg and f"{cy:g}" in msg and "640x480" in msg, msg
    assert "another resolution" in msg and str(p) in msg, msg


@pytest.mark.parametrize("cx,cy", [(320.0, 240.0), (-300.0, 700.0), (950.0, -200.0)])
def test_an_off_centre_principal_point_within_the_margin_is_not(tmp_path, caplog, cx, cy):
    p = _yaml(tmp_path, cx, cy)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        load_camera_info_yaml(p)
    assert not caplog.records


def test_an_roi_of_a_full_resolution_k_is_not_warned(tmp_path, caplog):
    """CameraInfo's K is the full sensor's with an ROI: cx 640 of 1280 with a 320x240 ROI at
    (960, 720) lies at -320 in the crop, legitimately; checked after the ROI it was warned
    about, with advice (scale K to the crop) that would break the file."""
    K = [[1000.0, 0, 640.0], [0, 1000.0, 480.0], [0, 0, 1]]
    p = tmp_path / "roi.yaml"
    p.write_text("image_width: 1280\nimage_height: 960\n"
                 f"camera_matrix: {{rows: 3, cols: 3, data: {sum(K, [])}}}\n"
                 "distortion_model: plumb_bob\ndistortion_coefficients: {rows: 1, cols: 5, "
                 "data: [0, 0, 0, 0, 0]}\n"
                 "roi: {x_offset: 960, y_offset: 720, width: 320, height: 240}\n"
                 "rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
                 "projection_matrix: {rows: 3, cols: 4, "
                 f"data: {[*K[0], 0, *K[1], 0, *K[2], 0]}}}\n")
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        cam = load_camera_info_yaml(p)
    assert (cam.width, cam.height) == (320, 240) and cam.K[0, 2] == -320.0
    assert not caplog.records, [r.getMessage() for r in caplog.records]


# the focal-length gate's Gauss-Newton fit (`pnp.focal`) diverged on these frames, into exp()
# overflow and NaN: a fit that diverges is now not judged, without a RuntimeWarning
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_localize_with_such_a_camera_info_warns_once(tmp_path, tum, sift_map, capsys):
    p = _yaml(tmp_path, 3200.0, 120.0, 320, 240)
    capsys.readouterr()
    main(["localize", tum[1], "--map", sift_map, "--out", str(tmp_path / "r"), "--matcher",
          "sift", "--camera-info", str(p), "--log-level", "warning"])
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "principal point" in ln]
    assert len(warned) == 1 and "[WARNING]" in warned[0], warned


def _camera_info(cx, cy, w=640, h=480):
    from types import SimpleNamespace

    k = [525.0, 0.0, cx, 0.0, 525.0, cy, 0.0, 0.0, 1.0]
    p = [525.0, 0.0, cx, 0.0, 0.0, 525.0, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return SimpleNamespace(width=w, height=h, k=k, d=[0.0] * 5, distortion_model="plumb_bob",
                           p=p, r=None, binning_x=0, binning_y=0, roi=None)


@pytest.mark.parametrize("rectified", [False, True])
def test_a_camera_info_message_with_a_far_principal_point_is_warned_once(caplog, rectified):
    """The node's CameraInfo path had no such check (only the YAML loader): its cache converts
    once per calibration, and warns then, not on every message."""
    from mast3r_ros.core.message_fields import IntrinsicsCache

    cache = IntrinsicsCache()
    with caplog.at_level(logging.WARNING, logger="mast3r_ros"):
        for _ in range(3):
            cache(_camera_info(320.0, 240.0), rectified=rectified)
        assert not caplog.records
        for _ in range(3):
            cache(_camera_info(3200.0, 240.0), rectified=rectified)
    (msg,) = [r.getMessage() for r in caplog.records]
    assert msg.startswith("CameraInfo (P): " if rectified else "CameraInfo: principal point")
    assert "cx 3200" in msg and "640x480" in msg and "another resolution" in msg, msg
