"""An rgb.txt with no image line (a list written before the images were copied, a script that
failed) was refused as "rgb.txt lists no images": what, where, but no word of what a line is."""

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.tum import TumSequence

CAMERA = ("image_width: 64\nimage_height: 48\ncamera_name: c\ncamera_matrix:\n  rows: 3\n"
          "  cols: 3\n  data: [50, 0, 32, 0, 50, 24, 0, 0, 1]\ndistortion_model: plumb_bob\n"
          "distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [0, 0, 0, 0, 0]\n")


def test_an_rgb_txt_without_images_says_what_a_line_is(tmp_path):
    (tmp_path / "camera.yaml").write_text(CAMERA)
    (tmp_path / "rgb.txt").write_text("# timestamp filename\n")
    with pytest.raises(InputError) as err:
        TumSequence(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'rgb.txt'} lists no images: write one 'timestamp filename' line per "
        "image (e.g. '1305031102.175304 rgb/1305031102.175304.png', the stamp in seconds)")
