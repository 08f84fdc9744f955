"""`core.model.engine_io`'s records and copies called directly: `to_device` never aliases its
array, `PreparedImage.rgb` is a host array, the `Encoding` round trip and its refusals, and
`PairPrediction.to_numpy` leaves unset fields out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.model.engine_io import Encoding, PairPrediction, PreparedImage, to_device


def test_to_device_copies_and_never_aliases_the_array():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = to_device(a, "cpu")
    t.add_(1.0)
    np.testing.assert_array_equal(a, np.arange(12, dtype=np.float32).reshape(3, 4))
    ro = np.arange(6, dtype=np.float16)
    ro.flags.writeable = False                     # an encoding-store record
    t = to_device(ro, "cpu")
    assert t.dtype == torch.float16 and not np.shares_memory(t.numpy(), ro)


def test_rgb_of_an_image_resized_on_the_device_is_a_host_array():
    img = torch.arange(2 * 3 * 3, dtype=torch.uint8).reshape(2, 3, 3)
    p = PreparedImage(torch.zeros(1, 3, 2, 3), (2, 3), np.eye(3), (3, 2), img)
    rgb = p.rgb
    assert isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, img.numpy())
    assert p.rgb is rgb                            # copied once


def _feats(h=32, w=48, c=8, dtype=np.float16):
    return np.random.default_rng(0).standard_normal(((h // 16) * (w // 16), c)).astype(dtype)


def test_an_encoding_round_trip_keeps_float16_on_the_device():
    enc = Encoding.from_numpy({"feats": _feats(), "true_shape": np.array([32, 48])}, "cpu")
    assert enc.feats.dtype == torch.float16 and enc.true_shape == (32, 48)
    back = enc.to_numpy()
    assert back["feats"].dtype == np.float16 and back["true_shape"].tolist() == [32, 48]
    enc.check(8, "keyframe 0")


@pytest.mark.parametrize("d, says", [
    ({"feats": _feats(), "true_shape": np.array([32.5, 48])}, "true_shape must be"),
    ({"feats": _feats(), "true_shape": np.array([np.inf, 48])}, "true_shape must be"),
    ({"feats": _feats(), "true_shape": np.array([np.nan, 48])}, "true_shape must be"),
    ({"feats": _feats(), "true_shape": np.array(["32", "48"])}, "true_shape must be"),
    ({"feats": _feats(), "true_shape": np.array([32, 48, 1])}, "inconsistent shape"),
    ({"feats": _feats()[:-1], "true_shape": np.array([32, 48])}, "inconsistent shape"),
    ({"feats": np.concatenate([_feats()] * 2), "true_shape": np.array([32, 48])},
     "inconsistent shape"),
    ({"feats": _feats().astype(np.int32), "true_shape": np.array([32, 48])},
     "must be floating point"),
])
def test_a_cached_encoding_that_does_not_fit_is_refused(d, says):
    with pytest.raises(InputError, match=says):
        Encoding.from_numpy(d, "cpu")


@pytest.mark.parametrize("enc, says", [
    (Encoding(torch.zeros(6, 8), (8, 48)), "true_shape must be"),
    (Encoding(torch.zeros(6, 9), (32, 48)), r"is \(6, 9\) .* \(6, 8\)"),
    (Encoding(torch.zeros(6, 8, dtype=torch.int32), (32, 48)), "floating point"),
    (Encoding(np.zeros((6, 8), np.float32), (32, 48)), "must be a torch tensor"),
])
def test_an_encoding_of_another_network_or_size_is_refused(enc, says):
    with pytest.raises(InputError, match=says):
        enc.check(8, "query")


def test_an_encoding_by_another_checkpoint_is_refused_by_identity():
    enc = Encoding(torch.zeros(6, 8), (32, 48), identity="a" * 40)
    enc.check(8, "query", identity="a" * 40)
    enc.check(8, "query", identity=None)
    with pytest.raises(InputError, match="encoded by another checkpoint"):
        enc.check(8, "query", identity="b" * 40)


def test_pair_prediction_to_numpy_leaves_unset_fields_out():
    t = torch.zeros(2, 3)
    pred = PairPrediction(t, t, None, None, None, None, None, None)
    out = pred.to_numpy()
    assert sorted(out) == ["conf_1", "pts3d_1"] and isinstance(out["conf_1"], np.ndarray)
