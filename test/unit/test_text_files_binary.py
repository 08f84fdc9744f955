"""A binary file given where a text file goes (`printf '\\x00\\x01\\x02\\xff\\xfe' > p.yaml`, then
--params p.yaml) was said to be "not a UTF-32 BE text file": one code unit of four bytes was
taken for UTF-32 text without a byte-order mark. A file with NUL bytes that is no UTF-16/32 text
is said to be no text at all now; a real UTF-16/32 file, with or without its mark, keeps its
encoding's name."""

from __future__ import annotations

import pytest

from mast3r_ros.core.text_files import text_encoding, unmarked_encoding

BINARY = b"\x00\x01\x02\xff\xfe"


@pytest.mark.parametrize("data", [BINARY, BINARY[:4], b"\x00\x00\x01\x02\x00\x00\x03\x04"])
def test_a_few_binary_bytes_are_no_unmarked_utf32(data):
    assert unmarked_encoding(data) is None
    assert text_encoding(data) == "utf-8-sig"


def test_params_of_binary_bytes_are_said_to_be_no_text(tmp_path, capsys):
    from mast3r_ros.replay.cli import main

    p = tmp_path / "p.yaml"
    p.write_bytes(BINARY)
    assert main(["localize", str(tmp_path), "--map", str(tmp_path / "m"),
                 "--out", str(tmp_path / "o"), "--params", str(p)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert len(err) == 1 and "UTF-32" not in err[0], err
    assert "nor text in any encoding" in err[0] and "NUL bytes" in err[0], err


@pytest.mark.parametrize("loader", ["params", "camera"])
def test_a_real_utf16_or_utf32_yaml_keeps_its_name_when_cut(tmp_path, loader):
    from mast3r_ros.core.config import load_config_yaml
    from mast3r_ros.core.errors import Mast3rRosError
    from mast3r_ros.core.image_codec import load_camera_info_yaml

    load = load_config_yaml if loader == "params" else load_camera_info_yaml
    p = tmp_path / "x.yaml"
    text = "mast3r_localizer:\n  ros__parameters: {}\n"
    for data, name in ((b"\xff\xfe" + text.encode("utf-16-le") + b"\x00", "UTF-16"),
                       (text.encode("utf-32-be")[:-1], "UTF-32 BE"),
                       (text.encode("utf-16-le")[:-1], "UTF-16 LE")):
        p.write_bytes(data)
        with pytest.raises(Mast3rRosError, match=f"is not a {name} text file \\(byte "):
            load(str(p))


def test_a_utf8_file_without_nul_bytes_is_still_named_as_not_utf8(tmp_path):
    from mast3r_ros.core.config import load_config_yaml
    from mast3r_ros.core.errors import ConfigError

    p = tmp_path / "x.yaml"
    p.write_bytes(b"# J\xf6rg\nrate: 5.0\n")
    with pytest.raises(ConfigError, match=r"is not a UTF-8 text file \(byte 3: invalid") as e:
        load_config_yaml(str(p))
    assert "any encoding" not in str(e.value)


@pytest.mark.parametrize("reader", ["tum", "euroc", "kitti", "camera"])
def test_every_text_reader_says_a_binary_is_no_text(tmp_path, reader):
    from mast3r_ros.core.errors import Mast3rRosError

    p = tmp_path / "f.txt"
    p.write_bytes(BINARY)
    if reader == "tum":
        from mast3r_ros.replay.tum_trajectory import read_tum_trajectory as read
    elif reader == "euroc":
        from mast3r_ros.replay.euroc import _read_csv as read
    elif reader == "kitti":
        from mast3r_ros.replay.kitti import _lines as read
    else:
        from mast3r_ros.core.image_codec import load_camera_info_yaml as read
    with pytest.raises(Mast3rRosError, match="nor text in any encoding"):
        read(p if reader in ("euroc", "kitti") else str(p))
