"""Undistorted query pixels of the network grid, looked up instead of recomputed (issue 9).

MASt3R's query pixels are not arbitrary: every match's query pixel is a network-grid pixel
(integer column, row of the ``h_net x w_net`` prediction) mapped to the captured image by the
fixed homography of the query's resize/crop (`Mast3rEngine.prepare`'s ``to_orig``). For one
camera (K, distortion) and one such mapping there are only ``h_net * w_net`` distinct pixels,
so their undistortion (`geometry.undistort_pixels`, ~0.2 ms per 1000 points on x86, several
times that on a Jetson's ARM cores) can be kept in a table.

The table is filled lazily, cell by cell: a lookup undistorts only the grid cells not seen
before, with the very same `undistort_pixels` call, and gathers the rest. OpenCV undistorts
each point on its own (no state between points), so a cell's value does not depend on which
other cells were undistorted with it: the lookup gives the same bits as calling
`undistort_pixels` on the matched pixels (test/unit/test_grid_undistort.py proves it for
plumb_bob, rational_polynomial and equidistant). Filling lazily avoids a one-off cost of
mapping and undistorting the whole grid (~40-55 ms at 512 x 384 on x86) on the first frame:
a frame costs the undistortion of its cells not seen before (a first frame what it cost
without the table) plus a gather, and the table fills as frames come.

A coarse-to-fine window (a crop of the network's size: its mapping a whole-pixel shift) has
integer captured pixels: the matcher looks them up in a table of the captured image's pixel
grid with the identity mapping (`matchers.windows.pixel_shift`). The matcher keeps tables for
plumb_bob and rational_polynomial cameras only: ``cv2.fisheye`` undistorts equidistant pixels
faster than a lookup reads them (docs/bench/undistort_windows_cpu_2026-12-05).

Tables are keyed by everything the values depend on (K, distortion coefficients and model,
``to_orig``, grid size), so a new CameraInfo (other intrinsics) or another query size gets a
new table and never reads a stale one; the last `MAX_TABLES` are kept (least recently used
dropped; 6.5 MB each at 512 x 384, a captured grid's 17 bytes a pixel: 5.2 MB at 640 x 480,
35 MB at 1920 x 1080). A lock serialises lookups: the node's worker may leave a
straggler thread in a frame while the next one starts.
"""

from __future__ import annotations

import collections
import threading
from typing import Optional, Tuple

import numpy as np

from .errors import InputError
from .geometry import apply_homography, undistort_pixels

MAX_TABLES = 4
_IDENTITY = np.eye(3)


class _Table:
    """One camera's and mapping's table: row ``c`` of ``rows`` (H*W, 4) holds grid cell ``c``'s
    captured pixel (columns 0, 1) and its undistorted pixel (2, 3) where ``done[c]``. One row
    of 32 bytes per cell: a lookup's random reads touch one cache line per match (the table,
    6 MB at 512 x 384, does not stay in cache between frames). Rows are filled lazily, so a new
    table costs nothing up front (no whole-grid mapping or undistortion on the first frame).

    With the identity mapping (``identity``: the captured image's own grid, which the
    coarse-to-fine windows read) the captured pixel is the cell's column and row themselves,
    so ``rows`` is (H*W, 2), the undistorted pixel only: 16 + 1 bytes a cell, 35 MB of
    address space at 1920 x 1080 instead of 68 MB."""

    __slots__ = ("rows", "done", "w", "identity")

    def __init__(self, hw: Tuple[int, int], identity: bool = False):
        self.identity = bool(identity)
        self.rows = np.empty((hw[0] * hw[1], 2 if identity else 4), dtype=np.float64)
        self.done = np.zeros(hw[0] * hw[1], dtype=bool)
        self.w = hw[1]

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.done.nbytes)


def _dist_key(dist: Optional[np.ndarray]) -> bytes:
    return np.ascontiguousarray(np.asarray(dist if dist is not None else [], np.float64)
                                ).tobytes()


class GridUndistortCache:
    """Undistorted captured pixels of network-grid pixels, per camera (module docstring)."""

    def __init__(self, max_tables: int = MAX_TABLES):
        self.max_tables = int(max_tables)
        self._tables: collections.OrderedDict[tuple, _Table] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._tables)

    @property
    def nbytes(self) -> int:
        """Bytes of address space the kept tables hold (rows not filled yet included: numpy
        allocates a table whole, the OS backs its pages as they are written)."""
        with self._lock:
            return sum(t.nbytes for t in self._tables.values())

    def lookup(self, xy_net: np.ndarray, to_orig: np.ndarray, grid_hw: Tuple[int, int],
               K: np.ndarray, dist: Optional[np.ndarray], model: str = "plumb_bob"
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Captured and undistorted pixels of network pixels.

        ``xy_net`` (N, 2) integer network pixels (column, row) inside ``grid_hw`` = (H, W);
        ``to_orig`` 3x3 float64 homography from network to captured pixels; ``K``, ``dist``,
        ``model`` the query camera's (`CameraIntrinsics`). Returns ``(px, und)``, both (N, 2)
        float64: ``px`` bit-identical to ``apply_homography(to_orig, xy_net)``, ``und`` to
        ``undistort_pixels(px, K, dist, model)``. Raises `InputError` for ``xy_net`` not (N, 2)
        integers inside the grid; what `undistort_pixels` raises for coefficients OpenCV
        refuses.
        """
        xy = np.asarray(xy_net)
        h, w = int(grid_hw[0]), int(grid_hw[1])
        if xy.ndim != 2 or xy.shape[1] != 2 or (len(xy) and xy.dtype.kind not in "iu"):
            raise InputError(f"GridUndistortCache.lookup: xy_net must be (N, 2) integer network "
                             f"pixels, got shape {xy.shape} dtype {xy.dtype}")
        if len(xy) and (xy.min() < 0 or xy[:, 0].max() >= w or xy[:, 1].max() >= h):
            raise InputError(f"GridUndistortCache.lookup: network pixels outside the {w}x{h} "
                             "grid")
        T = np.asarray(to_orig, np.float64)
        Kf = np.asarray(K, np.float64)
        key = (T.tobytes(), (h, w), Kf.tobytes(), _dist_key(dist), str(model))
        cell = xy[:, 1].astype(np.int64) * w + xy[:, 0]
        with self._lock:
            tab = self._tables.get(key)
            if tab is None:
                tab = self._tables[key] = _Table((h, w), np.array_equal(T, _IDENTITY))
                while len(self._tables) > self.max_tables:
                    self._tables.popitem(last=False)
            else:
                self._tables.move_to_end(key)
            todo = cell[~tab.done[cell]]
            if len(todo):
                todo = np.unique(todo)
                # the same call, on the same int64 network pixels, as the matcher's mapping
                px = apply_homography(T, np.stack([todo % w, todo // w], axis=1))
                if not tab.identity:
                    tab.rows[todo, :2] = px
                tab.rows[todo, -2:] = undistort_pixels(px, Kf, dist, model)
                tab.done[todo] = True
            got = tab.rows[cell]
        if tab.identity:  # apply_homography(identity, xy) is xy exactly: x*1 + y*0 + 0, over 1
            return xy.astype(np.float64), got
        return np.ascontiguousarray(got[:, :2]), np.ascontiguousarray(got[:, 2:])
