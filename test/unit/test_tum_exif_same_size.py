"""A TUM folder's JPEGs whose EXIF orientation turns them without changing their size.

A fresh user's find: colour frames saved with EXIF orientation 3 (turned 180 deg: a camera or
phone mounted upside down) were read turned, silently, though camera.yaml, the depth PNGs and
the poses are of the pixels as stored: `localize` published 40 of 50 redkitchen frames each
179.9 deg off about the optical axis, and `build-map` refused the map blaming inverted poses.
A square frame with orientation 6 (a quarter turn) went the same way (90.0 deg off, recall 0).
Only a quarter turn of a non-square frame, which camera.yaml's size tells, was handled
(`test_tum.py`). Such frames are now read as stored, with one warning."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mast3r_ros.replay.tum import TumSequence

from test_tum import CAMERA_YAML, H, W, make_folder


def _camera_yaml(folder, width, height):
    """Write ``folder``'s camera.yaml as test_tum's, for ``width`` x ``height`` frames."""
    (folder / "camera.yaml").write_text(CAMERA_YAML.replace(f"image_width: {W}\n",
                                                            f"image_width: {width}\n")
                                        .replace(f"image_height: {H}\n",
                                                 f"image_height: {height}\n"))


def _colour_as_jpegs(folder, orientation=None, turn=None):
    """Save ``folder``'s colour PNGs as JPEGs (quality 100) listed in its rgb.txt: each first
    transposed by ``turn`` (a PIL transpose) where given, with the EXIF ``orientation`` tag
    where given (else with no EXIF)."""
    from PIL import Image

    for png in (folder / "rgb").glob("*.png"):
        im = Image.open(png).convert("RGB")
        if turn is not None:
            im = im.transpose(turn)
        if orientation is None:
            im.save(png.with_suffix(".jpg"), quality=100)
            continue
        exif = im.getexif()
        exif[0x0112] = orientation
        im.save(png.with_suffix(".jpg"), exif=exif, quality=100)
    (folder / "rgb.txt").write_text((folder / "rgb.txt").read_text().replace(".png", ".jpg"))


@pytest.mark.parametrize("orientation, square", [(3, False), (2, False), (6, True)],
                         ids=["turned-180", "mirrored", "square-quarter-turn"])
def test_jpegs_whose_exif_turn_keeps_their_size_are_read_as_stored(tmp_path, caplog,
                                                                    orientation, square):
    from PIL import Image

    folder = make_folder(tmp_path / "seq")
    if square:
        _camera_yaml(folder, H, H)
    lines, stored = [], []
    for line in (folder / "rgb.txt").read_text().splitlines()[1:]:
        stamp, png = line.split()
        im = Image.open(folder / png).convert("RGB")
        if square:
            im = im.crop((0, 0, H, H))
        exif = im.getexif()
        exif[0x0112] = orientation
        jpg = png.replace(".png", ".jpg")
        im.save(folder / jpg, exif=exif, quality=100)
        stored.append(np.asarray(Image.open(folder / jpg).convert("RGB")))  # PIL: no turn
        lines.append(f"{stamp} {jpg}\n")
    (folder / "rgb.txt").write_text("".join(lines))
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.tum"):
        frames = TumSequence(folder, read_depth=False)[:]
    for frame, pixels in zip(frames, stored):
        assert frame.rgb.shape == pixels.shape
        assert np.abs(frame.rgb.astype(int) - pixels).mean() < 2  # as stored, not turned
    said = [r.getMessage() for r in caplog.records if "EXIF" in r.getMessage()]
    assert len(said) == 1 and f"orientation tag ({orientation}" in said[0], said
    assert "read as stored" in said[0] and "keeps their" in said[0]


def test_a_jpeg_without_an_orientation_tag_is_read_without_a_word(tmp_path, caplog):
    folder = make_folder(tmp_path / "seq")
    _colour_as_jpegs(folder)
    with caplog.at_level(logging.WARNING, logger="mast3r_ros.replay.tum"):
        assert len(TumSequence(folder, read_depth=False)[:]) == 3
    assert not [r for r in caplog.records if "EXIF" in r.getMessage()]


def test_depth_beside_colour_turned_by_exif_to_fit_camera_yaml_names_the_turn(tmp_path):
    """Colour JPEGs stored 32x24 with orientation 6 and a camera.yaml for the turned 24x32 (the
    colour then read turned) beside 32x24 depth PNGs: the refusal said 'register depth to the
    colour image first', a wrong lead; it names the EXIF turn and the two fixes now."""
    from mast3r_ros.core.errors import ImageSizeError

    folder = make_folder(tmp_path / "seq")
    _camera_yaml(folder, H, W)  # for the turned (portrait) frames
    _colour_as_jpegs(folder, 6)
    with pytest.raises(ImageSizeError) as e:
        TumSequence(folder)[0]
    said = str(e.value)
    assert "register depth" not in said and "EXIF orientation tag (6: turned a quarter" in said
    assert f"give the calibration of the pixels as stored ({W}x{H}" in said, said


def test_depth_beside_colour_whose_exif_turn_keeps_its_size_is_not_blamed_on_the_turn(tmp_path):
    """Portrait colour stored 24x32 with orientation 3 (180 deg: the size kept, read as stored)
    and a camera.yaml for it, beside 32x24 depth PNGs: the depth is not registered to the colour,
    and the refusal said 'the colour image is stored 32x24, the depth's size, and turned to 24x32
    by its EXIF orientation tag (3: turned 180 deg)', false of a tag that turns nothing a quarter;
    only a quarter turn (5-8) swaps width and height."""
    from PIL import Image

    from mast3r_ros.core.errors import ImageSizeError

    folder = make_folder(tmp_path / "seq")
    _camera_yaml(folder, H, W)  # for the turned (portrait) frames
    _colour_as_jpegs(folder, 3, Image.TRANSPOSE)  # stored 24x32
    with pytest.raises(ImageSizeError) as e:
        TumSequence(folder)[0]
    said = str(e.value)
    assert "register depth to the colour image first" in said and "EXIF" not in said, said
