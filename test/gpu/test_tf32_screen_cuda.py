"""The TF32 screen of the Triton search on real tensor cores (`core.nn_triton`): its error bound
holds on the GPU's own MMA arithmetic, so screened and plain IEEE searches return the same
indices on full-size maps (skipped without CUDA and Triton; the CPU tests run the interpreter,
whose dot is exact float32)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
pytest.importorskip("triton", minversion="3.0")

from mast3r_test_utils import warped_descriptor_pair  # noqa: E402

from mast3r_ros.core import nn_triton  # noqa: E402
from mast3r_ros.core.matching import fast_reciprocal_matches  # noqa: E402


def _both(fn, monkeypatch):
    monkeypatch.setattr(nn_triton, "USE_DOT", True)
    monkeypatch.setattr(nn_triton, "TF32_SCREEN", True)
    screened = fn()
    # a screen that failed to compile falls back to the IEEE kernel: this test would then
    # compare the IEEE kernel with itself
    assert nn_triton._SCREEN_BROKEN is None, nn_triton._SCREEN_BROKEN
    monkeypatch.setattr(nn_triton, "TF32_SCREEN", False)
    return screened, fn()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_screened_walk_equals_ieee_walk_at_512(seed, monkeypatch):
    p = warped_descriptor_pair(384, 512, seed=seed, angle_deg=(-4.0, 3.0, 6.0)[seed])
    d1, d2 = p.desc1.cuda(), p.desc2.cuda()
    got, want = _both(lambda: fast_reciprocal_matches(d1, d2, subsample=8,
                                                      nn_backend="triton"), monkeypatch)
    assert len(want[0]) > 1000
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def test_screen_on_dense_near_ties_and_large_norms(monkeypatch):
    """Thousands of targets within 1e-5 of each other, and non-unit rows (norms up to 1e3: the
    bound scales with |q||t|)."""
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(4096, 24, generator=g), dim=1)
    t = torch.nn.functional.normalize(torch.randn(60000, 24, generator=g), dim=1)
    pick = torch.randint(0, 4096, (20000,), generator=g)
    t[::3][:20000] = torch.nn.functional.normalize(
        q[pick] + 1e-5 * torch.randn(20000, 24, generator=g), dim=1)
    scale = torch.from_numpy(np.exp(np.random.default_rng(0).uniform(0, 7, (60000, 1))))
    for tt in (t, t * scale.float()):
        qc, tc = q.cuda(), tt.cuda()
        got, want = _both(lambda qc=qc, tc=tc: nn_triton.nearest(qc, tc), monkeypatch)
        assert torch.equal(got, want)
