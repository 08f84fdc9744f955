"""Aggregation of an image's local features into its ASMK vector: the features' nearest
words (`Codebook.quantize`), the per-word residual sums (`residual_sums`) and their binarised
signs (`codes.binarize`), as `AsmkVector`; database images assign each feature to 1 word,
queries to 5 (`aggregate_database`, `aggregate_query`).
"""

from __future__ import annotations

import dataclasses
from typing import List, Sequence, Tuple

import numpy as np
import torch

from .codebook import Codebook
from .codes import binarize

MULTIPLE_ASSIGNMENT_DB = 1
MULTIPLE_ASSIGNMENT_QUERY = 5


@dataclasses.dataclass
class AsmkVector:
    """ASMK representation of one image: ``words`` (U,) int64 ascending, ``codes`` (U, B/8)
    uint8 packed sign bits of the residual sums (see the package docstring)."""

    words: np.ndarray
    codes: np.ndarray

    @property
    def num_words(self) -> int:
        """U, the number of distinct visual words the image's features were assigned to."""
        return int(len(self.words))



def residual_sums(feats: np.ndarray, assign: np.ndarray, centroids: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """(words (U,) ascending, sums (U, D) float32) of ``feats - c_w`` over assigned features.

    Sums are float32, added in feature order as the reference does (``index_add_`` on the
    CPU accumulates sequentially); only their signs are used, and near zero they depend on it.
    """
    m = assign.shape[1]
    flat = assign.reshape(-1)
    words, inverse = np.unique(flat, return_inverse=True)
    res = np.repeat(np.asarray(feats, np.float32), m, axis=0) - centroids[flat]
    sums = torch.zeros(len(words), centroids.shape[1], dtype=torch.float32)
    sums.index_add_(0, torch.from_numpy(inverse.reshape(-1).astype(np.int64)),
                    torch.from_numpy(res))
    return words.astype(np.int64), sums.numpy()


def aggregate(feats: np.ndarray, codebook: Codebook, multiple: int) -> AsmkVector:
    """ASMK representation of one image's local features (k, D) float32: each feature
    assigned to its ``multiple`` nearest words (`MULTIPLE_ASSIGNMENT_DB` 1 for a database
    image, `MULTIPLE_ASSIGNMENT_QUERY` 5 for a query, the reference's values), the residuals
    summed per word and binarised (`residual_sums`, `binarize`)."""
    assign = codebook.quantize(feats, multiple)
    words, sums = residual_sums(feats, assign, codebook.centroids)
    return AsmkVector(words, binarize(sums))


def aggregate_many(feats: Sequence[np.ndarray], codebook: Codebook, multiple: int
                   ) -> List[AsmkVector]:
    """`aggregate` of several images with one codebook search over all their features (a
    GPU's matmuls stay large); the same vectors as one call per image (the search is exact
    per row, see `Codebook.quantize`)."""
    feats = [np.asarray(f, np.float32) for f in feats]
    if not feats:
        return []
    assign = codebook.quantize(np.concatenate(feats), multiple)
    cuts = np.cumsum([len(f) for f in feats])[:-1]
    out = []
    for f, a in zip(feats, np.split(assign, cuts)):
        words, sums = residual_sums(f, a, codebook.centroids)
        out.append(AsmkVector(words, binarize(sums)))
    return out


def aggregate_database(feats: np.ndarray, codebook: Codebook) -> AsmkVector:
    """Database side: every feature to its single nearest word."""
    return aggregate(feats, codebook, MULTIPLE_ASSIGNMENT_DB)


def aggregate_query(feats: np.ndarray, codebook: Codebook) -> AsmkVector:
    """Query side: every feature to its 5 nearest words."""
    return aggregate(feats, codebook, MULTIPLE_ASSIGNMENT_QUERY)

