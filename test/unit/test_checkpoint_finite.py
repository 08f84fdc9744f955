"""A checkpoint whose weights hold NaN or infinity (a bit flipped in a download, copy or disk)
is refused at load, naming the weight and, for a torch.save archive, the record failing its CRC
(`core.model.finite_weights`). Before, torch's reader loaded it without a word and `pair` wrote a
NaN pointmap and exited 0."""

from __future__ import annotations

import shutil
import struct
import zipfile

import pytest
import torch

from mast3r_ros.core.errors import CheckpointError
from mast3r_ros.core.model.checkpoint import load_checkpoint
from mast3r_ros.core.model.finite_weights import refuse_non_finite


def _flip_to_nan(path: str) -> str:
    """Overwrite the first float32 of the largest data record of the archive ``path`` with a
    NaN in place (its CRC then fails); return the record's name."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with open(path, "r+b") as fh:
        fh.seek(info.header_offset)
        head = fh.read(30)
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        fh.write(struct.pack("<f", float("nan")))
    return info.filename


def test_a_checkpoint_with_a_flipped_weight_is_refused_naming_the_record(tiny_ckpt, tmp_path):
    bad = str(tmp_path / "damaged.pth")
    shutil.copyfile(tiny_ckpt, bad)
    record = _flip_to_nan(bad)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(bad)
    msg = str(e.value)
    assert msg.startswith(f"{bad}: weight '") and "1 NaN or infinite value(s)" in msg
    assert f"its archive record '{record}' fails its CRC check" in msg
    assert msg.endswith("download or copy it again")


def test_finite_weights_pass_and_a_nan_without_archive_names_both_causes(tmp_path):
    sd = {"a": torch.zeros(3), "b": torch.full((100000,), 60000.0, dtype=torch.float16),
          "steps": torch.tensor([7])}  # an fp16 tensor whose sum overflows is finite
    refuse_non_finite(sd, str(tmp_path / "x.pth"))
    sd["a"][1] = float("inf")
    with pytest.raises(CheckpointError, match=r"weight 'a' holds 1 NaN or infinite value\(s\) "
                       r"of 3, .*or was saved from a training run that diverged"):
        refuse_non_finite(sd, str(tmp_path / "x.pth"))


def test_a_retrieval_head_with_a_nan_weight_is_refused(tmp_path):
    """The retrieval head's own loader: a NaN weight gave NaN scores, keyframes ranked at
    random, without a word."""
    from retrieval_test_utils import head_state_dict, write_retrieval_checkpoint

    from mast3r_ros.core.retrieval_model import load_retrieval_head

    sd = head_state_dict(32, "", True, False, 0)
    key = next(k for k, v in sd.items() if v.is_floating_point())
    sd[key] = sd[key].clone()
    sd[key].view(-1)[0] = float("nan")
    path = write_retrieval_checkpoint(str(tmp_path / "r_retrieval_trainingfree.pth"), 32, sd=sd)
    with pytest.raises(CheckpointError, match=rf"weight '{key}' holds 1 NaN or infinite "
                       r"value\(s\) .*which no trained MASt3R retrieval head has"):
        load_retrieval_head(path, 32, "cpu")
