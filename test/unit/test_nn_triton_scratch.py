"""`nn_triton._scratch_buffers`: a walk's work buffers are kept per direction and reused only
when shape, dtype and device all fit (mutation audit of the Triton walk's scratch buffers)."""

from __future__ import annotations

import pytest
import torch

from mast3r_test_utils import TRITON_TEST_MIN

pytest.importorskip("triton", minversion=TRITON_TEST_MIN)

from mast3r_ros.core.nn_triton import _scratch_buffers  # noqa: E402

CPU = torch.device("cpu")


def test_scratch_buffers_are_kept_and_reused_when_they_fit():
    scratch: dict = {}
    empty = _scratch_buffers(scratch, CPU)
    a = empty("pval", (2, 3, 4), torch.float32)
    assert a.shape == (2, 3, 4) and a.dtype == torch.float32 and scratch["pval"] is a
    assert empty("pval", (2, 3, 4), torch.float32) is a
    assert _scratch_buffers(scratch, CPU)("pval", (2, 3, 4), torch.float32) is a


@pytest.mark.parametrize("shape, dtype, device", [
    ((2, 3, 5), torch.float32, CPU),       # another query count
    ((2, 3, 4), torch.int32, CPU),         # another dtype under the same name
    ((2, 3, 4), torch.float32, "meta"),    # held on another device
])
def test_scratch_buffer_that_does_not_fit_is_replaced(shape, dtype, device):
    old = torch.empty((2, 3, 4), dtype=torch.float32, device=device)
    scratch = {"pidx": old}
    t = _scratch_buffers(scratch, CPU)("pidx", shape, dtype)
    assert t is not old and scratch["pidx"] is t
    assert tuple(t.shape) == shape and t.dtype == dtype and t.device == CPU


def test_without_scratch_every_call_allocates():
    empty = _scratch_buffers(None, CPU)
    a, b = empty("lb", (1, 2, 3), torch.float32), empty("lb", (1, 2, 3), torch.float32)
    assert a is not b and a.shape == (1, 2, 3)
