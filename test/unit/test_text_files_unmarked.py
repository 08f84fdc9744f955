"""A YAML file (camera.yaml, --params) or TUM list in UTF-16 or UTF-32 without a byte-order
mark (``iconv -t UTF-16LE``, .NET's Encoding.Unicode bytes) was refused with YAML's "unacceptable
character #x0000"; it is now told by its zeros and read as what it is
(`text_files.unmarked_encoding`); UTF-8, binaries and Latin-1 are read as before."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from mast3r_ros.core import text_files
from mast3r_ros.replay.cli import main

TEXT = "# comment: J\u00f6rg's camera\nimage_width: 640\ncamera_name: c\u00e4m\n"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_unmarked_utf16_and_utf32_are_told_by_their_zeros(codec):
    data = TEXT.encode(codec)
    assert text_files.unmarked_encoding(data) == codec
    assert text_files.decode_text(data) == TEXT
    assert text_files.encoding_name(data) == codec.upper()[:-3] + " " + codec[-2:].upper()


def test_utf8_a_binary_and_latin1_are_not_taken_for_utf16(tmp_path):
    assert text_files.unmarked_encoding(TEXT.encode("utf-8")) is None
    assert text_files.unmarked_encoding(TEXT.encode("latin-1")) is None
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(tmp_path / "a.png")
    assert text_files.unmarked_encoding((tmp_path / "a.png").read_bytes()) is None
    assert text_files.unmarked_encoding(b"a\0\0\0b\0c\0") is None  # a NUL character: no text
    assert text_files.encoding_name(TEXT.encode("utf-8")) == "UTF-8"
    assert text_files.encoding_name(b"\xff\xfe" + TEXT.encode("utf-16-le")) == "UTF-16"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_camera_yaml_and_params_in_unmarked_utf16_are_read(tum, sift_map, tmp_path, capsys,
                                                              codec):
    """End to end: the query folder's camera.yaml and --params re-encoded as ``iconv -f UTF-8
    -t UTF-16LE`` writes them; the run goes through (exit 0), as from the UTF-8 files."""
    folder = tmp_path / "query"
    shutil.copytree(tum[1], folder)
    cam = folder / "camera.yaml"
    cam.write_bytes(cam.read_text(encoding="utf-8").encode(codec))
    params = tmp_path / "localize.yaml"
    params.write_bytes("mast3r_localizer:\n  ros__parameters:\n    matcher: sift\n"
                       .encode(codec))
    rc = main(["localize", str(folder), "--map", sift_map, "--out", str(tmp_path / "run"),
               "--params", str(params), "--max-frames", "2", "--log-level", "error"])
    assert rc == 0, capsys.readouterr().err


def test_an_unmarked_utf16_file_cut_at_an_odd_byte_names_its_encoding(tmp_path):
    from mast3r_ros.core.config import load_config_yaml
    from mast3r_ros.core.errors import ConfigError

    p = tmp_path / "localize.yaml"
    p.write_bytes("mast3r_localizer:\n  ros__parameters: {}\n".encode("utf-16-le")[:-1])
    with pytest.raises(ConfigError, match=r"localize.yaml is not a UTF-16 LE text file \(byte "):
        load_config_yaml(str(p))


# a camera.yaml whose comments and name are Japanese: most of its UTF-16 units beyond Latin-1
CJK = ("# 東京の研究室のカメラ一号機、校正は二〇二六年十二月に実施した結果です。"
       "焦点距離と主点は画素単位、歪みは無し。\n"
       "# 一号機の画像は六四〇かける四八〇画素、校正板は九かける六の市松模様を使用した。\n"
       "camera_name: 研究室一号\nimage_width: 640\nimage_height: 480\n"
       "camera_matrix: {rows: 3, cols: 3, data: [500, 0, 320, 0, 500, 240, 0, 0, 1]}\n"
       "distortion_model: plumb_bob\n"
       "distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_unmarked_text_mostly_in_another_script_is_told_by_where_its_zeros_fall(codec,
                                                                               tmp_path):
    """Over a quarter of the code units beyond Latin-1 (CJK) was taken for a binary and read as
    UTF-8: YAML said "unacceptable character #x0000". Its zeros fall only on characters' high
    bytes (U+4E00, 一, has a zero low byte: allowed as rare) and it decodes cleanly: read."""
    from mast3r_ros.core.image_codec.camera_info_yaml import load_camera_info_yaml

    data = CJK.encode(codec)
    units = len(CJK)
    assert sum(1 for c in CJK if ord(c) > 0xFF) > units / 4  # over the share rule
    assert text_files.unmarked_encoding(data) == codec
    path = tmp_path / "camera.yaml"
    path.write_bytes(data)
    cam = load_camera_info_yaml(path)
    assert (cam.width, cam.height) == (640, 480) and cam.K[0, 2] == 320


def test_cjk_in_utf8_latin1_and_binaries_with_one_sided_zeros_are_not_taken_for_utf16():
    assert text_files.unmarked_encoding(CJK.encode("utf-8")) is None
    assert text_files.unmarked_encoding(TEXT.encode("latin-1")) is None
    rng = np.random.default_rng(3)
    noise = rng.integers(1, 256, 4096, dtype=np.uint8)
    noise[1::2][rng.random(2048) < 0.3] = 0  # zeros only at odd offsets, as UTF-16 LE's are
    assert text_files.unmarked_encoding(noise.tobytes()) is None


@pytest.mark.parametrize("lead", ["", "#"])  # the NUL at an odd offset, then an even one
def test_utf8_with_a_stray_nul_is_not_taken_for_cjk_utf16(lead):
    """A UTF-8 file with one NUL byte (a C string's terminator written with it, a padded
    buffer) decodes as UTF-16 to CJK-looking text without control characters, its one zero on
    a high byte: it was read as that text (YAML then parsed garbage). Too few zeros for UTF-16
    text, which has an ASCII character every few dozen: read as UTF-8 (YAML then names the
    NUL, #x0000)."""
    for text in (lead + TEXT, lead + CJK, lead + "camera: fx 5000"):
        data = text.encode("utf-8") + b"\0"
        assert text_files.unmarked_encoding(data) is None, text[:20]
        assert text_files.text_encoding(data) == "utf-8-sig"


def test_cjk_utf16_with_crlf_or_cut_inside_a_surrogate_pair_is_still_told():
    """CJK text in UTF-16 with Windows line ends (CR is no stray control character), and one
    whose 4096-byte sample ends between the two halves of a surrogate pair (the sample is
    decoded without its last code unit): read as UTF-16."""
    for codec in ("utf-16-le", "utf-16-be"):
        assert text_files.unmarked_encoding(CJK.replace("\n", "\r\n").encode(codec)) == codec
        line = "校正の結果: 二三四五\n"
        text = line * (2047 // len(line))
        text += "東" * (2047 - len(text)) + "\U0001F600" + line
        assert len(text[:2047].encode(codec)) == 4094  # the pair spans bytes 4094 .. 4097
        assert text_files.unmarked_encoding(text.encode(codec)) == codec, codec


def test_zeros_on_low_bytes_as_often_as_high_ones_or_a_utf32_unit_beyond_unicode_say_no():
    """UTF-16 whose units have a zero low byte (U+xx00, such as 一) as often as a zero high
    byte is not told as text (the other byte order is as likely); fewer is (ordinary CJK YAML:
    `校正の結果: 一二三四` has one 一 to three ASCII characters, which the earlier rule of "at
    most a quarter as often" refused, the field tester's and mutaudit4's find); nor UTF-32 whose
    last unit is beyond U+10FFFF (0x110000: the sample is decoded without its last unit, which
    the byte check refuses)."""
    wide = "A" * 8 + "\u4e00" * 8 + "\u4e8c" * 20
    assert text_files.unmarked_encoding(wide.encode("utf-16-le")) is None
    assert text_files.unmarked_encoding(wide.replace("A" * 8, "A" * 9).encode("utf-16-le")) \
        == "utf-16-le"
    yaml_line = "校正の結果: 一二三四\n" * 20
    for name in ("utf-16-le", "utf-16-be"):
        assert text_files.unmarked_encoding(yaml_line.encode(name)) == name
        assert text_files.decode_text(yaml_line.encode(name)) == yaml_line
    text = ("東京" * 10 + "a: 1\n").encode("utf-32-le")
    assert text_files.unmarked_encoding(text) == "utf-32-le"
    assert text_files.unmarked_encoding(text + (0x110000).to_bytes(4, "little")) is None


def test_a_long_utf8_file_with_two_stray_nuls_is_not_taken_for_utf16():
    """Two NULs on the same byte parity in 680 bytes of ASCII (two C strings written with their
    terminators): zeros in 2 of 341 code units, where UTF-16 text has one in every few dozen."""
    for lead in ("", "#"):
        data = (lead + "image_width: 640\n" * 40).encode() + b"\0a\0"
        assert text_files.unmarked_encoding(data) is None, lead
