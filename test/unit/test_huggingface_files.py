"""Which files a Hugging Face checkpoint is read from (`core.model.huggingface`), and the
byte-order-mark decoding of text files (`core.text_files`): the rules pinned on small files."""

from __future__ import annotations

import json
import struct

from mast3r_ros.core.model.huggingface import (folder_weights, huggingface_files,
                                               is_safetensors_file)
from mast3r_ros.core.text_files import decode_text, encoding_name


def _safetensors(path, header=b'{"w": {}}', extra=b""):
    path.write_bytes(struct.pack("<Q", len(header)) + header + extra)
    return path


def test_a_safetensors_file_is_a_header_length_then_that_much_json(tmp_path):
    assert is_safetensors_file(_safetensors(tmp_path / "a"))
    assert is_safetensors_file(_safetensors(tmp_path / "b", b"{}"))              # shortest
    assert not is_safetensors_file(_safetensors(tmp_path / "c", b"[1, 2, 3]"))   # no object
    too_long = tmp_path / "d"
    too_long.write_bytes(struct.pack("<Q", 20) + b'{"w": {}}')  # 20 bytes said, 9 there
    assert not is_safetensors_file(too_long)
    too_long.write_bytes(struct.pack("<Q", 12) + b'{"w": {}}')  # 12 said: within the file
    assert not is_safetensors_file(too_long)                     # only with its 8-byte length
    just = tmp_path / "e"
    just.write_bytes(struct.pack("<Q", 9) + b'{"w": {}}')  # exactly the file's rest
    assert is_safetensors_file(just)
    short = tmp_path / "f"
    short.write_bytes(struct.pack("<Q", 1))  # 8 bytes: a length, no header
    assert not is_safetensors_file(short)
    assert not is_safetensors_file(tmp_path / "missing")


def test_a_huggingface_folder_needs_its_config_and_prefers_safetensors(tmp_path):
    folder = tmp_path / "hf"
    folder.mkdir()
    assert folder_weights(str(folder)) is None and huggingface_files(str(folder)) is None
    (folder / "pytorch_model.bin").write_bytes(b"x")
    assert huggingface_files(str(folder)) is None  # weights without config.json
    (folder / "config.json").write_text(json.dumps({}))
    assert huggingface_files(str(folder)) == (str(folder / "config.json"),
                                              str(folder / "pytorch_model.bin"))
    _safetensors(folder / "model.safetensors")
    assert folder_weights(str(folder)) == str(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").mkdir()  # a folder of that name is no weights file
    assert folder_weights(str(folder)) == str(folder / "pytorch_model.bin")


def test_a_weights_file_given_itself_is_read_with_the_config_beside_it(tmp_path):
    weights = _safetensors(tmp_path / "weights.safetensors")
    pth = tmp_path / "MASt3R.pth"
    pth.write_bytes(b"PK\x03\x04 a torch zip")
    assert huggingface_files(str(weights)) is None  # no config.json beside it
    (tmp_path / "config.json").write_text("{}")
    config = str(tmp_path / "config.json")
    assert huggingface_files(str(weights)) == (config, str(weights))
    assert huggingface_files(str(pth)) is None  # an official checkpoint, config.json or not
    bin_ = tmp_path / "pytorch_model.bin"
    bin_.write_bytes(b"PK\x03\x04 a torch zip")
    assert huggingface_files(str(bin_)) == (config, str(bin_))


def test_text_is_decoded_by_its_byte_order_mark():
    text = "1.0 rgb/1.png\r\n"
    for encoding, bom in (("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"),
                          ("utf-16-be", b"\xfe\xff"), ("utf-32-le", b"\xff\xfe\x00\x00"),
                          ("utf-32-be", b"\x00\x00\xfe\xff")):
        data = bom + text.encode(encoding)
        assert decode_text(data) == text, encoding
        assert encoding_name(data) == encoding[:6].upper(), encoding
    assert decode_text(text.encode()) == text and encoding_name(b"") == "UTF-8"
