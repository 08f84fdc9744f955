"""Image pairs for mapping / SfM: MASt3R's retrieval scene graph and DUSt3R's fixed graphs.

Strategies, as strings (the reference: naver/mast3r ``mast3r/image_pairs.py``, ``make_pairs``,
and ``mast3r/retrieval/graph.py``, ``make_pairs_fps``):

* ``retrieval-Na-k`` -- farthest-point sampling of ``Na`` key images on ``dist = 1 - sim`` (the
  first key given, or drawn at random), all key-key pairs, each other image with its nearest key,
  and every image with its ``k`` nearest images (``k - 1`` neighbours plus itself, usually);
* ``complete`` -- every unordered pair;
* ``swin-W[-noncyclic]`` -- each image with the next ``W`` (wrapping around unless noncyclic);
* ``logwin-W[-noncyclic]`` -- each image with the images ``2^0 .. 2^(W-1)`` further on;
* ``oneref-R`` -- image R with every other image.

Pairs are (i, j) index tuples into the image list. The reference builds them in a Python set
(order unspecified); `make_pairs` returns them sorted. With ``symmetrize`` every pair is followed
by its reverse, as the reference's ``make_pairs`` does for pairwise inference.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Set, Tuple

import numpy as np

from .errors import InputError

Pair = Tuple[int, int]


def farthest_point_sampling(dist: np.ndarray, start: int, num: Optional[int] = None,
                            dist_thresh: Optional[float] = None
                            ) -> Tuple[List[int], List[float]]:
    """Greedy farthest points on a (n, n) distance matrix (row = from).

    Starts at ``start``; then repeatedly takes the image whose smallest distance from the keys
    chosen so far (``dist[key, c]``) is largest (first maximum); stops after ``num`` keys
    (default n) or when that distance is below ``dist_thresh``. Chosen images are *not*
    excluded, so a key may repeat (the reference behaves so). Returns (keys, distances) with
    distance 0 for the first key.
    """
    n = len(dist)
    num = n if num is None else num
    keys, dists = [int(start)], [0.0]
    nearest = np.array(dist[start], dtype=np.float64)
    for _ in range(num - 1):
        b = int(np.argmax(nearest))
        if dist_thresh is not None and nearest[b] < dist_thresh:
            break
        keys.append(b)
        dists.append(float(nearest[b]))
        nearest = np.minimum(nearest, dist[b])
    return keys, dists


def retrieval_pairs(sim: np.ndarray, num_keys: int, num_neighbors: int, start: int = 0,
                    dist_thresh: Optional[float] = None) -> Tuple[Set[Pair], List[int]]:
    """MASt3R's ``make_pairs_fps`` on a similarity matrix (row = query) -> (pairs, keys)."""
    dist = 1.0 - np.asarray(sim, dtype=np.float64)
    n = len(dist)
    pairs: Set[Pair] = set()
    keys: List[int] = []
    if num_keys > 0:
        keys, _ = farthest_point_sampling(dist, start, num_keys, dist_thresh)
        for a in range(len(keys)):
            for b in range(a + 1, len(keys)):
                pairs.add((keys[a], keys[b]))
        key_arr = np.asarray(keys)
        for i in range(n):
            if i not in keys:
                j = int(key_arr[np.argmin(dist[i, key_arr])])
                pairs.add((min(i, j), max(i, j)))
    if num_neighbors > 0:
        for i in range(n):
            for j in np.argsort(dist[i])[:num_neighbors]:
                j = int(j)
                if j != i:
                    pairs.add((min(i, j), max(i, j)))
    return pairs, keys


def _window_offsets(n: int, kind: str, w: int, cyclic: bool) -> List[int]:
    """The offsets of ``swin-W`` (1..W) / ``logwin-W`` (2**0..2**(W-1)) that can give a pair
    of ``n`` images: the same pairs as all W offsets, at most n of them however large W is."""
    if kind == "swin":  # cyclic: offset n + d wraps to d; noncyclic: offsets >= n pair nothing
        return list(range(1, min(w, n) + 1))
    offsets: List[int] = []
    seen: Set[int] = set()
    off = 1
    for _ in range(w):
        if not cyclic and off >= n:  # 2**e >= n: beyond the last image, as all later ones
            break
        if cyclic:  # only 2**e mod n matters; once one repeats, the later ones cycle
            off %= max(n, 1)
            if off in seen:
                break
            seen.add(off)
        offsets.append(off)
        off *= 2
    return offsets


def _window_pairs(n: int, offsets: Sequence[int], cyclic: bool) -> Set[Pair]:
    pairs: Set[Pair] = set()
    for i in range(n):
        for off in offsets:
            j = i + off
            if cyclic:
                j %= n
            if j >= n or j == i:
                continue
            pairs.add((min(i, j), max(i, j)))
    return pairs


def _int_part(parts: Sequence[str], i: int, default: int, strategy: str) -> int:
    if len(parts) <= i:
        return default
    try:
        return int(parts[i])
    except ValueError:
        raise InputError(f"pairing strategy {strategy!r}: {parts[i]!r} is not an integer") \
            from None


def make_pairs(n: int, strategy: str, sim: Optional[np.ndarray] = None, start: int = 0,
               symmetrize: bool = False) -> List[Pair]:
    """Pairs of ``n`` images by ``strategy`` (see module docstring); sorted.

    ``sim`` (n, n) is needed by ``retrieval-Na-k`` only; ``start`` is its first key image.
    Counts beyond the images are clamped (as the reference does) before any loop, so a huge
    count costs no more than ``n``: the pairs are those of the unclamped count. Raises
    InputError on an unknown or malformed strategy, and on counts that give no pairs (``swin-W`` /
    ``logwin-W``: W >= 1; ``retrieval-Na-k``: Na >= 1 or k >= 2).
    """
    parts = strategy.split("-")
    kind = parts[0]
    if kind == "retrieval":
        if len(parts) != 3:
            raise InputError(f"pairing strategy {strategy!r}: expected 'retrieval-Na-k' "
                             "(e.g. retrieval-20-10)")
        if sim is None or np.shape(sim) != (n, n):
            raise InputError(f"pairing strategy {strategy!r} needs an ({n}, {n}) similarity")
        if not 0 <= start < n:
            raise InputError(f"start image {start} is not in [0, {n})")
        na, k = _int_part(parts, 1, 0, strategy), _int_part(parts, 2, 0, strategy)
        if na == 0 and k < 2:  # ('-' separates the parts: a count cannot be negative)
            raise InputError(f"pairing strategy {strategy!r} gives no pairs: NA (key images) "
                             "and K (nearest images, the image itself included) must be >= 0, "
                             "with NA >= 1 or K >= 2 (e.g. retrieval-20-10)")
        # a key drawn twice is drawn again every later step (the distances no longer change),
        # and n + 1 keys hold a repeat: more keys add no pair (the keys list only grows)
        pairs = retrieval_pairs(sim, min(na, n + 1), k, start)[0]
    elif kind == "complete" and len(parts) == 1:
        pairs = {(i, j) for i in range(n) for j in range(i + 1, n)}
    elif kind in ("swin", "logwin") and len(parts) <= 3:
        cyclic = parts[-1] != "noncyclic"
        if len(parts) == 3 and cyclic:
            raise InputError(f"pairing strategy {strategy!r}: the third part may only be "
                             "'noncyclic'")
        w = _int_part(parts, 1, 3, strategy) if len(parts) > 1 and parts[1] != "noncyclic" \
            else 3
        if w < 1:
            raise InputError(f"pairing strategy {strategy!r} gives no pairs: W (the window) "
                             f"must be >= 1, got {w} (a W beyond the images is clamped)")
        pairs = _window_pairs(n, _window_offsets(n, kind, w, cyclic), cyclic)
    elif kind == "oneref" and len(parts) <= 2:
        ref = _int_part(parts, 1, 0, strategy)
        if not 0 <= ref < n:
            raise InputError(f"pairing strategy {strategy!r}: reference {ref} not in [0, {n})")
        pairs = {(ref, j) for j in range(n) if j != ref}
    else:
        raise InputError(f"unknown pairing strategy {strategy!r}; use retrieval-Na-k, complete, "
                         "swin-W[-noncyclic], logwin-W[-noncyclic] or oneref-R")
    out = sorted(pairs)
    if symmetrize:
        out = out + [(j, i) for i, j in out]
    return out


SEED_LIMIT = 2 ** 32  # numpy's legacy generator takes seeds 0 <= seed < 2**32


def check_seed(seed: Optional[int], option: str = "--seed") -> Optional[int]:
    """``seed`` unchanged when numpy's generators take it (None, or an integer 0 <= seed <
    2**32); raises InputError naming ``option`` otherwise (checked before any work is done)."""
    if seed is not None and not 0 <= seed < SEED_LIMIT:
        raise InputError(f"{option} must be an integer from 0 to {SEED_LIMIT - 1} (2**32 - 1), "
                         f"got {seed}")
    return seed


def random_start(n: int, seed: Optional[int]) -> int:
    """The first key image as the reference draws it (``np.random.seed(seed);
    np.random.choice(n)``, legacy generator); seed None -> unseeded. Raises InputError on a
    seed outside 0 <= seed < 2**32 (`check_seed`)."""
    return int(np.random.RandomState(check_seed(seed)).choice(n))
