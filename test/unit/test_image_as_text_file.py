"""An image given where a text file goes (--camera-info, --params, --groundtruth) is named as
one, as --checkpoint names it (one helper, `text_files.image_kind`): a JPEG as --camera-info
was 'not a UTF-8 text file, nor text in any encoding (NUL bytes ...: binary data)'."""

from __future__ import annotations

import pytest

from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.image_codec.camera_info_yaml import load_camera_info_yaml

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(64)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


@pytest.mark.parametrize("data,kind", [(JPEG, "a JPEG"), (PNG, "a PNG")], ids=["jpeg", "png"])
def test_an_image_as_camera_info_is_named_an_image(tmp_path, data, kind):
    path = tmp_path / "frame.jpg"
    path.write_bytes(data)
    with pytest.raises(InputError) as e:
        load_camera_info_yaml(path)
    assert (f"is not a UTF-8 text file (byte 0: it is {kind} image; arguments swapped?)"
            in str(e.value))
    assert "NUL bytes" not in str(e.value)


def test_an_image_as_a_parameter_file_or_trajectory_is_named_an_image(tmp_path):
    from mast3r_ros.core.config.param_file import load_config_yaml
    from mast3r_ros.replay.tum_trajectory import read_tum_trajectory

    path = tmp_path / "frame.jpg"
    path.write_bytes(JPEG)
    with pytest.raises(ConfigError, match=r"is not a UTF-8 text file \(byte 0: it is a JPEG image"):
        load_config_yaml(str(path))
    with pytest.raises(InputError, match=r"is not a UTF-8 text file \(byte 0: it is a JPEG image"):
        read_tum_trajectory(str(path))


def test_the_checkpoint_and_the_text_files_share_the_image_signatures():
    from mast3r_ros.core.model import plain_pickle
    from mast3r_ros.core.text_files import image_kind

    assert plain_pickle.image_kind is image_kind
    assert image_kind(b"RIFF\x00\x00\x00\x00WEBP") == "a WebP" and image_kind(b"{}") is None
