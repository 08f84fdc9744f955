"""ASMK (Aggregated Selective Match Kernel) with binary residuals, as MASt3R's retriever runs it.

Pure numpy; written from the algorithm (Tolias, Avrithis, Jegou, "To aggregate or not to
aggregate: selective match kernels for image search", ICCV 2013) and the settings the MASt3R
retriever hard-codes (naver/mast3r ``mast3r/retrieval/processor.py``, ``Retriever.__init__``'s
``asmk_params``: binary kernel, no IDF, multiple assignment 1 / 5, threshold 0, alpha 3):

* visual words = exact nearest centroids (squared L2) of a codebook (K, D) float32;
  a database image assigns each local feature to 1 word, a query to its 5 nearest words;
* per word w of an image: residual sum ``r_w = sum (x - c_w)`` over the features assigned to w,
  binarised ``b_w[d] = r_w[d] > 0``; words kept in ascending order;
* similarity of query i and database image j (no IDF, threshold 0, alpha 3)::

      sim[i, j] = 1/sqrt(Q_i) * sum_{w in U_i ∩ W_j, s_w >= 0} s_w^3 / sqrt(n_j),
      s_w = 1 - 2 * Hamming(b_{i,w}, b_{j,w}) / B,   B = 32 * ceil(D / 32)

  with Q_i / n_j the number of words of the query / database image.

Bits are packed with ``np.packbits`` (component d -> byte d // 8, most significant bit first) into
``B / 8`` bytes, i.e. the reference's big-endian 32-bit words read byte by byte.

Why not the ``asmk`` package: it needs a Cython build and FAISS (no numpy-1.21 aarch64 wheel for
Humble/Jetson), keeps its inverted file as Python lists of arrays per word, and scores a query in a
Python loop over its words. Here the inverted file is a CSR layout (one contiguous code array
sorted by word); a query's posting lists are compared with ``faiss.hammings`` (faiss installed:
one fused XOR + popcount pass) or numpy (XOR + ``np.bitwise_count`` / SWAR byte counts), the
kernel is a table over the Hamming distance and the accumulation a bincount, in parallel parts
(`AsmkIndex.query`). On a GPU (``backend='torch'``, what 'auto' picks when the index is moved
to a CUDA device with `AsmkIndex.to`) the inverted file lives on the device and a query's
posting entries are gathered, compared (XOR + a SWAR popcount in torch integer ops), weighted
and summed per image there; only the top-k comes back (`AsmkIndex.top_k`). The codebook
search is torch matmuls over centroid chunks (on the GPU when the codebook is moved there, see
`Codebook.quantize`).

The codebook ``.pkl`` is a pickle: `load_codebook` reads it with a restricted unpickler that
resolves only numpy's array-reconstruction globals and refuses anything else.

Modules: `unpickle` (the restricted unpickler, `safe_unpickle`), `codebook` (`Codebook`, its
nearest-word search, `load_codebook`), `codes` (bit packing, Hamming distances on the CPU and
the torch popcount), `aggregate` (features -> `AsmkVector`), `index` (the inverted file
`AsmkIndex`: scoring, top-k, persistence). Import the public names from this package.
"""

from __future__ import annotations

from .aggregate import (MULTIPLE_ASSIGNMENT_DB, MULTIPLE_ASSIGNMENT_QUERY, AsmkVector, aggregate,
                        aggregate_database, aggregate_many, aggregate_query, residual_sums)
from .codebook import Codebook, load_codebook, parse_cluster_count
from .codes import binarize, code_bytes, codes_as_uint32, hamming_lists, popcount_rows_torch
from .index import ALPHA, INDEX_VERSION, THRESHOLD, AsmkIndex, similarity_matrix
from .unpickle import safe_unpickle

__all__ = [
    "ALPHA", "INDEX_VERSION", "MULTIPLE_ASSIGNMENT_DB", "MULTIPLE_ASSIGNMENT_QUERY", "THRESHOLD",
    "AsmkIndex", "AsmkVector", "Codebook", "aggregate", "aggregate_database", "aggregate_many",
    "aggregate_query", "binarize", "code_bytes", "codes_as_uint32", "hamming_lists",
    "load_codebook", "parse_cluster_count", "popcount_rows_torch", "residual_sums",
    "safe_unpickle", "similarity_matrix",
]
