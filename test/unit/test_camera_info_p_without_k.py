"""A CameraInfo whose K is all zero but whose P has a focal length (a driver that publishes only
the rectified image's projection: image_geometry projects with P) was refused as "the camera is
uncalibrated; calibrate it or pass intrinsics from a camera_info YAML", with no word of P or of
``image_rectified`` -- and so was a camera_info YAML, told to pass a camera_info YAML. The
message is now read with P when image_rectified is set (as before); read as the raw image it is
refused naming P, image_rectified and the driver's image_rect; a file (--camera-info) names how
to write P into it. K and P both zero is still the uncalibrated camera."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from mast3r_ros.core import message_fields as mf
from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import load_camera_info_yaml
from test_camera_info_formats import ECHO, K, _block

P = [28.0, 0.0, 14.5, 0.0, 0.0, 29.0, 11.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def _info(k=(0.0,) * 9, p=P):
    return NS(width=32, height=24, distortion_model="plumb_bob", d=[0.0] * 5, k=list(k),
              r=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0], p=list(p), binning_x=0, binning_y=0,
              roi=None)


def test_a_message_with_p_but_no_k_names_image_rectified_and_p():
    with pytest.raises(InputError) as e:
        mf.camera_info_to_intrinsics(_info())
    text = str(e.value)
    for said in ("K is all zeros but P is set (fx 28 fy 29 cx 14.5 cy 11)",
                 "describes only a rectified image", "image_rect / image_rect_color",
                 "set image_rectified: true", "camera_info YAML (--camera-info)"):
        assert said in text, text
    cam = mf.camera_info_to_intrinsics(_info(), rectified=True)  # what the message says works
    np.testing.assert_array_equal(cam.K, [[28, 0, 14.5], [0, 29, 11], [0, 0, 1]])
    assert mf.IntrinsicsCache()(_info(), True).K[0, 0] == 28.0
    with pytest.raises(InputError, match="P is set"):  # the cache's key holds P too
        mf.IntrinsicsCache()(_info(), False)


@pytest.mark.parametrize("p", [[0.0] * 12, P[:5] + [0.0] + P[6:], None, ["x"] * 12, P[:11]],
                         ids=["P-zero", "no-fy", "no-P", "P-not-numbers", "P-11"])
def test_no_usable_p_is_still_the_uncalibrated_camera(p):
    info = _info(p=P)
    info.p = p
    with pytest.raises(InputError) as e:
        mf.camera_info_to_intrinsics(info)
    assert "the camera is uncalibrated" in str(e.value) and "P is set" not in str(e.value)


def test_projection_without_k_only_for_a_zero_k():
    from mast3r_ros.core.image_codec import projection_without_k

    assert projection_without_k([0.0] * 9, P) == "fx 28 fy 29 cx 14.5 cy 11"
    assert projection_without_k(K, P) == ""
    assert projection_without_k([0.0] * 9, [float("nan")] + P[1:]) == ""
    assert projection_without_k([0.0] * 8, P) == ""


def test_a_camera_info_yaml_with_only_a_projection_matrix_says_how_to_write_it(tmp_path):
    def yaml(camera, projection):
        return ("image_width: 32\nimage_height: 24\ncamera_name: cam\n"
                f"camera_matrix: {{rows: 3, cols: 3, data: {camera}}}\n"
                "distortion_model: plumb_bob\n"
                "distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n"
                "rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n"
                f"projection_matrix: {{rows: 3, cols: 4, data: {projection}}}\n")
    path = tmp_path / "cam.yaml"
    path.write_text(yaml([0] * 9, P))
    with pytest.raises(InputError) as e:
        load_camera_info_yaml(str(path))
    text = str(e.value)
    assert text.startswith(f"{path}: camera_matrix is all zeros but projection_matrix is set "
                           "(fx 28 fy 29 cx 14.5 cy 11): it describes only a rectified image"), text
    assert "write P's fx, fy, cx, cy as the camera matrix" in text, text
    assert "pass intrinsics from a camera_info YAML" not in text, text
    path.write_text(yaml([0] * 9, [0] * 12))
    with pytest.raises(InputError, match="the camera is uncalibrated"):
        load_camera_info_yaml(str(path))


def test_an_echoed_message_with_only_p_says_how_to_write_it(tmp_path):
    path = tmp_path / "echo.yaml"
    path.write_text(ECHO.replace(_block("k", K), _block("k", [0.0] * 9)))
    with pytest.raises(InputError) as e:
        load_camera_info_yaml(str(path))
    text = str(e.value)
    assert text.startswith(f"{path}: K is all zeros but P is set (fx 525 fy 525 cx 319.5 cy "
                           "239.5): it describes only a rectified image"), text
    assert "set image_rectified: true (in the --params YAML)" in text, text


def test_a_file_of_p_alone_is_read_through_p_with_image_rectified(tmp_path):
    """A bag's rectified stream (image_rectified: true) with --camera-info a file of P alone
    (K all zero: a driver's rectified model, saved by ros2 topic echo or written as a
    camera_info YAML) was refused, told to write P as its camera matrix, though the same
    CameraInfo in the bag is read through P: both formats now read it as the message is."""
    from mast3r_ros.replay.sources import SourceOptions, open_source

    echo = tmp_path / "echo.yaml"
    echo.write_text(ECHO.replace(_block("k", K), _block("k", [0.0] * 9)))
    cam = load_camera_info_yaml(str(echo), rectified=True)
    np.testing.assert_array_equal(cam.K, [[525, 0, 319.5], [0, 525, 239.5], [0, 0, 1]])
    assert not np.any(cam.dist)
    layout = tmp_path / "cam.yaml"
    layout.write_text("image_width: 32\nimage_height: 24\ncamera_name: cam\n"
                      "camera_matrix: {rows: 3, cols: 3, data: [0, 0, 0, 0, 0, 0, 0, 0, 0]}\n"
                      "distortion_model: plumb_bob\n"
                      "distortion_coefficients: {rows: 1, cols: 5, data: [0.1, 0, 0, 0, 0]}\n"
                      f"projection_matrix: {{rows: 3, cols: 4, data: {P}}}\n")
    cam = load_camera_info_yaml(str(layout), rectified=True)
    np.testing.assert_array_equal(cam.K, [[28, 0, 14.5], [0, 29, 11], [0, 0, 1]])
    assert not np.any(cam.dist)  # P's model has none: D is the raw image's
    with pytest.raises(InputError, match="projection_matrix is set"):
        load_camera_info_yaml(str(layout))
    # the source's option, for a bag (not yet opened: the file is read first) ...
    options = SourceOptions(camera_info=str(layout), image_rectified=True)
    with pytest.raises(InputError, match="source not found"):
        open_source(str(tmp_path / "no_bag"), options)
    # ... but not a TUM folder's, where image_rectified does not apply
    (tmp_path / "tum").mkdir()
    (tmp_path / "tum" / "rgb.txt").write_text("")
    with pytest.raises(InputError, match="projection_matrix is set"):
        open_source(str(tmp_path / "tum"), options)


def test_a_p_with_a_non_finite_entry_is_no_projection():
    p = [28.0, 0.0, float("nan"), 0.0, 0.0, 29.0, 11.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    from mast3r_ros.core.image_codec.camera_info import projection_without_k
    assert projection_without_k((0.0,) * 9, p) == ""
