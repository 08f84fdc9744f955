"""Pins from a mutation audit of core.matching: behaviour the other matching tests left open."""

from __future__ import annotations

import numpy as np
import torch

from mast3r_ros.core.matching import fast_reciprocal_matches


def test_pixel_tol_measures_the_distance_in_image_1_when_widths_differ():
    """pixel_tol compares a start point with its back-projection, both image-1 pixels, so the
    flat indices are split with image 1's width W1 (MAST3R_FACTS section 6, step 5), never
    image 2's. Image 1 is 7x2 (W x H), image 2 3x1: pixels (3, 0) and (3, 1) of image 1 share
    a descriptor, so the walk from (3, 1) goes to image-2 pixel (0, 0) and back to the earlier
    (3, 0) (ties go to the earliest index): 1 pixel away, kept with pixel_tol 1.5 but not 0.5.
    Read with W2 = 3 the two points would be (1, 3) and (0, 1), sqrt(5) apart."""
    eye = torch.eye(16)
    d1 = torch.zeros(2, 7, 16)
    for y in range(2):
        for x in range(7):
            d1[y, x] = eye[y * 7 + x]
    d1[1, 3] = eye[3]  # (3, 1) looks like (3, 0)
    d2 = torch.stack([eye[3], eye[14], eye[15]]).reshape(1, 3, 16)

    def run(tol):
        xy1, xy2 = fast_reciprocal_matches(d1, d2, init_xy1=np.array([[3, 1]]), pixel_tol=tol)
        return xy1.tolist(), xy2.tolist()

    assert run(1.5) == ([[3, 1]], [[0, 0]])  # the start point is reported, with NN_2 of it
    assert run(0.5) == ([], [])
