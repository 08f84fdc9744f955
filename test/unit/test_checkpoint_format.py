"""A checkpoint in no format the loader reads (random bytes, a zip archive of other files) is
refused from its first bytes and record names, before torch reads it and before any work, in
our words (`core.model.file_format`)."""

from __future__ import annotations

import logging
import pickle
import zipfile

import pytest
import torch

from mast3r_ros.core.errors import CheckpointError
from mast3r_ros.core.model import checkpoint
from mast3r_ros.core.model.checkpoint import load_checkpoint, require_checkpoint


def _noise(path, n=100_000):
    path.write_bytes(bytes((i * 97 + 13) % 256 for i in range(n)))
    return str(path)


def _bytes(path, data):
    path.write_bytes(data)
    return str(path)


def _zip_of(path, *names):
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, b"3\n")
    return str(path)


@pytest.mark.parametrize("make, found", [
    (lambda p: _noise(p), "(100000 bytes, not a zip archive or a pickle: its first bytes are 0d "
                          "6e cf 30 91 f2 53 b4); the file is truncated or not a checkpoint: "
                          "download or copy it again"),
    (lambda p: _zip_of(p, "a.txt"), "a zip archive holding a.txt, without the data.pkl/version "
                                    "records of a torch.save file); the file is truncated"),
    (lambda p: _zip_of(p, "archive/data.pkl"), "holding archive/data.pkl, without the "
                                               "data.pkl/version records"),
    (lambda p: _zip_of(p, "a/data.pkl", "a/version", "b/x", "c", "d"),
     "holding a/data.pkl, a/version, b/x and 2 more, without"),
])
def test_no_checkpoint_format_is_refused_before_torch_reads_it(tmp_path, monkeypatch, make,
                                                               found):
    path = make(tmp_path / "x.pth")

    def never(*_a, **_k):
        raise AssertionError("torch.load was reached")

    monkeypatch.setattr(checkpoint, "load_torch_file", never)
    for check in (require_checkpoint, load_checkpoint):
        with pytest.raises(CheckpointError) as err:
            check(path)
        text = str(err.value)
        assert "\n" not in text and text.startswith(f"{path}: cannot read the checkpoint ("), text
        assert found in text, text


def test_the_formats_the_loader_reads_pass_the_cheap_check(tmp_path):
    """A torch.save archive (this torch's records) and a legacy torch.save file are not refused
    by their first bytes."""
    new, legacy = tmp_path / "new.pth", tmp_path / "legacy.pth"
    torch.save({"w": torch.zeros(2)}, new)
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    for path in (new, legacy):
        require_checkpoint(str(path))


_LEGACY = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)  # torch.serialization.MAGIC_NUMBER


@pytest.mark.parametrize("make, found", [
    (lambda p: _noise(p), "not a zip archive or a pickle: its first bytes are 0d 6e"),
    (lambda p: _zip_of(p, "archive/data.pkl"), "a zip archive holding archive/data.pkl, without "
                                               "the data.pkl/version records"),
    (lambda p: _bytes(p, _LEGACY + b"\x80\x02}q\x00(X"),
     "a legacy torch.save file, not a zip archive, that cannot be read to its end"),
    (lambda p: _bytes(p, pickle.dumps({"w": list(range(99))}, protocol=4)[:60]),
     "a pickle that cannot be read to its end, not a torch.save file"),
])
def test_reader_failures_are_told_in_our_words(tmp_path, caplog, make, found):
    """A fresh user's find: 'cannot read the checkpoint (100000 bytes, Unsupported operand
    201)' and, for a zip file, '(122 bytes, Expected hasRecord("version") to be true, but got
    false)': torch's wording. The reader (as the retrieval head's and a Hugging Face
    pytorch_model.bin's loads call it, without the cheap check) now says what the file is;
    torch's text is at --log-level debug."""
    path = make(tmp_path / "x.pth")
    with caplog.at_level(logging.DEBUG, logger=checkpoint.__name__):
        with pytest.raises(CheckpointError) as err:
            checkpoint.read_torch_archive(path, "checkpoint", "refused")
    text = str(err.value)
    assert "\n" not in text and f"{path}: cannot read the checkpoint (" in text, text
    assert found in text and text.endswith("download or copy it again"), text
    for raw in ("operand", "hasRecord", "Pytorch", "enforce", "weights_only", "load key"):
        assert raw not in text, text
    # torch's own text (its wording differs by version: 2.13 'Unsupported operand 13', 2.1
    # 'invalid load key'), for whoever debugs it
    said = caplog.text.split(f"{path}: torch.load failed: ", 1)
    assert len(said) == 2 and said[1].strip(), caplog.text


def test_an_intact_archive_the_reader_failed_on_is_not_called_damaged(tmp_path, monkeypatch):
    """torch's reader failing on a torch.save archive intact as written (out of memory on a
    small robot computer loading the 2.7 GB network) was said to be 'a torch.save zip archive
    with a damaged record', sending the user to download it again; an intact archive now gives
    the reader's own reason, and one whose record fails its CRC is still called damaged."""
    good = tmp_path / "MASt3R.pth"
    torch.save({"w": torch.arange(256, dtype=torch.float32)}, good)

    def out_of_memory(*_a, **_k):
        raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate "
                           "2705326080 bytes")

    monkeypatch.setattr(checkpoint, "load_torch_file", out_of_memory)
    with pytest.raises(CheckpointError) as err:
        checkpoint.read_torch_archive(str(good), "checkpoint", "refused")
    assert "damaged" not in str(err.value), err.value
    assert "DefaultCPUAllocator: not enough memory: you tried to allocate" in str(err.value), \
        err.value
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:  # one byte of the tensor's record flipped
        info = next(i for i in zf.infolist() if "/data/" in i.filename)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 100] ^= 0xFF
    bad = tmp_path / "bad.pth"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="a torch.save zip archive with a damaged record"):
        checkpoint.read_torch_archive(str(bad), "checkpoint", "refused")
