"""A checkpoint in no format the loader reads (random bytes, a zip archive of other files) is
refused from its first bytes and record names, before torch reads it and before any work, in
our words (`core.model.file_format`)."""

from __future__ import annotations

import io
import logging
import pickle
import pickletools
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


_ENFORCE_OOM = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough "
                "memory: you tried to allocate 2705326080 bytes.")


@pytest.mark.parametrize("zip_archive", [True, False])
def test_out_of_memory_on_an_intact_file_says_so_without_download_advice(tmp_path, monkeypatch,
                                                                          zip_archive):
    """torch's allocator failing on an intact file (the 2.7 GB network on a small robot
    computer) read '(2509 bytes, [enforce fail at alloc_cpu.cpp:117] data); the file is
    truncated or not a checkpoint: download or copy it again' for a zip archive, and '(1375
    bytes, a legacy torch.save file, not a zip archive, that cannot be read to its end); ...
    download or copy it again' for a legacy one: the reason lost, a wrong cure given."""
    path = tmp_path / "MASt3R.pth"
    torch.save({"w": torch.arange(256, dtype=torch.float32)}, path,
               _use_new_zipfile_serialization=zip_archive)

    _assert_out_of_memory_gives_the_reason(path, monkeypatch)


def _assert_out_of_memory_gives_the_reason(path, monkeypatch):
    """The torch reader of ``path`` fails for lack of memory: the refusal gives torch's reason
    and says the file is whole (no 'download or copy it again')."""
    def out_of_memory(*_a, **_k):
        raise RuntimeError(_ENFORCE_OOM)

    monkeypatch.setattr(checkpoint, "load_torch_file", out_of_memory)
    with pytest.raises(CheckpointError) as err:
        checkpoint.read_torch_archive(str(path), "checkpoint", "refused")
    assert str(err.value) == (
        f"{path}: cannot read the checkpoint ({path.stat().st_size} bytes): DefaultCPUAllocator: "
        "not enough memory: you tried to allocate 2705326080 bytes (the file's records are "
        "whole: copying it again will not help)")


def _legacy_file(tmp_path):
    """A legacy torch.save file of two tensors on one storage (the records' order is that of
    the storages' addresses) and where its tensor records begin."""
    path = tmp_path / "legacy.pth"
    w = torch.arange(500, dtype=torch.float32)
    torch.save({"a": w, "b": w[100:]}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    stream = io.BytesIO(data)
    for _ in range(5):  # magic, protocol, system info, the checkpoint, the storage keys
        list(pickletools.genops(stream))  # parsed up to its STOP, nothing run
    return data, stream.tell()


def test_a_legacy_file_is_called_cut_short_only_where_its_records_end_early(tmp_path):
    """Before, every reader failure of a legacy torch.save file was 'a legacy torch.save file,
    ..., that cannot be read to its end'. Now its pickles and its tensor records' lengths say
    where it is cut or damaged; whole, it is not called either (test above)."""
    data, records = _legacy_file(tmp_path)
    head = bytearray(data)
    head[records] ^= 0x01  # the first record's element count
    cases = [(data[:records - 20], "that cannot be read to its end"),  # in the keys' pickle
             (data[:-10], "cut short: it ends in tensor record 1 of 1, 10 bytes before its "
                          "end"),
             (data[:records + 4], "cut short: it ends in tensor record 1 of 1, 2004 bytes "
                                  "before its end"),
             (bytes(head), "whose tensor record 1 of 1 is damaged (it says 501 elements, the "
                           "checkpoint 500)")]
    for i, (cut, found) in enumerate(cases):
        path = tmp_path / f"cut{i}.pth"
        path.write_bytes(cut)
        with pytest.raises(CheckpointError) as err:
            checkpoint.read_torch_archive(str(path), "checkpoint", "refused")
        text = str(err.value)
        assert f"({len(cut)} bytes, a legacy torch.save file, not a zip archive, {found}" in \
            text and text.endswith("download or copy it again"), text


def test_out_of_memory_on_a_whole_plain_pickle_gives_the_reason(tmp_path, monkeypatch):
    """A legacy torch.save file of pickle protocol 4 (no zip archive, so not `_LEGACY_HEAD`)
    failing for lack of memory read '(... bytes, a pickle that cannot be read to its end, not a
    torch.save file); ... download or copy it again': every failure on a pickle was called cut
    short. Whole, the reader's reason is given; its tensor records are still walked, and a
    pickle cut short is still called so (test_reader_failures_are_told_in_our_words)."""
    path = tmp_path / "MASt3R.pth"
    torch.save({"w": torch.arange(256, dtype=torch.float32)}, path,
               _use_new_zipfile_serialization=False, pickle_protocol=4)

    _assert_out_of_memory_gives_the_reason(path, monkeypatch)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"\(1[0-9]{3} bytes, a legacy torch.save file, "
                       r"not a zip archive, cut short: it ends in tensor record 1 of 1, 10 "
                       r"bytes before its end\); .* download or copy it again$"):
        checkpoint.read_torch_archive(str(cut), "checkpoint", "refused")


def test_out_of_memory_on_an_intact_safetensors_file_gives_the_reason(tmp_path, monkeypatch):
    """safetensors' reader failing on an intact file (out of memory) read 'cannot read the
    safetensors file (DefaultCPUAllocator: ...); the file is truncated or damaged: download or
    copy it again'. The header gives each tensor's byte range: only a file that ends before
    the last one, or a header that does not add up, gets the download advice."""
    st = pytest.importorskip("safetensors.torch")
    path = tmp_path / "model.safetensors"
    st.save_file({"a": torch.zeros(4), "b": torch.ones(8, dtype=torch.float16)}, str(path))

    def out_of_memory(*_a, **_k):
        raise RuntimeError(_ENFORCE_OOM)

    monkeypatch.setattr(st, "load_file", out_of_memory)
    with pytest.raises(CheckpointError) as err:
        checkpoint._read_safetensors(str(path))
    assert str(err.value) == (
        f"{path}: cannot read the safetensors file ({path.stat().st_size} bytes): "
        "DefaultCPUAllocator: not enough memory: you tried to allocate 2705326080 bytes (the "
        "file's records are whole: copying it again will not help)")
    monkeypatch.undo()  # the real reader, on files that are damaged
    data = path.read_bytes()
    for i, (cut, found) in enumerate([
            (data[:-5], "cut short: it ends in tensor 'b' (2 of 2), 5 bytes before its end"),
            (data[:-20], "cut short: it ends in tensor 'a' (1 of 2), 20 bytes before its end"),
            (data + b"\0" * 3, "with 3 bytes past its last tensor"),
            (data[:30], "whose header cannot be read")]):
        bad = tmp_path / f"bad{i}.safetensors"
        bad.write_bytes(cut)
        with pytest.raises(CheckpointError) as err:
            checkpoint._read_safetensors(str(bad))
        assert str(err.value) == (
            f"{bad}: cannot read the safetensors file ({len(cut)} bytes, a safetensors file "
            f"{found}); the file is truncated or damaged: download or copy it again")
