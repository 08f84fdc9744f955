"""Pins from the mutation audit docs/bench/mutation_cpu_2026-12-06w of `text_files.not_text_fix`:
a zip archive is named a PyTorch checkpoint only when its first entry's name (within the first
512 bytes) holds 'data.pkl'; another zip (a zipped YAML given as --params) gets the plain
advice."""

from __future__ import annotations

import io
import zipfile

from mast3r_ros.core.text_files import not_text_fix

FIX = "save it as UTF-8"
CKPT = "it is a PyTorch checkpoint (torch.save): a checkpoint goes in --checkpoint"


def test_a_zip_that_is_no_checkpoint_gets_the_plain_advice():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("params.yaml", "a: 1\n")
    assert not_text_fix(buf.getvalue(), FIX) == FIX
    assert not_text_fix(b"xx data.pkl" + bytes(20), FIX) == FIX  # the name, no zip


def test_data_pkl_is_looked_for_in_the_first_512_bytes():
    def data(end):  # a zip signature, 'data.pkl' ending at byte ``end``
        head = b"PK\x03\x04" + b"\x01" * (end - 4 - len(b"data.pkl")) + b"data.pkl"
        return head + b"\x01" * 64

    assert not_text_fix(data(512), FIX) == CKPT
    assert not_text_fix(data(513), FIX) == FIX
