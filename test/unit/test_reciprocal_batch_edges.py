"""`fast_reciprocal_matches_batch`'s edges that need no descriptor maps: an empty list of pairs
and a list whose items are not (desc1, desc2) pairs."""

from __future__ import annotations

import pytest
import torch

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.matching import fast_reciprocal_matches_batch


def test_no_pairs_give_no_results():
    assert fast_reciprocal_matches_batch([]) == []


@pytest.mark.parametrize("pairs", [
    [(torch.zeros(2, 2, 3), torch.zeros(2, 2, 3), torch.zeros(2, 2, 3))],   # a triple
    [(torch.zeros(2, 2, 3),)],
    torch.zeros(2, 2, 2, 3),
])
def test_items_that_are_not_pairs_are_refused(pairs):
    with pytest.raises(InputError, match=r"takes a list of \(desc1, desc2\) pairs"):
        fast_reciprocal_matches_batch(pairs)
