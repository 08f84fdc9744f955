"""Writers of retrieval-model files in the official layouts (tests and benchmarks only)."""

from __future__ import annotations

import argparse
import io
import pickle
from collections import OrderedDict
from typing import Any, Dict, Optional

import numpy as np
import torch


def head_state_dict(enc_dim: int, hdims: str = "", prewhiten: bool = True,
                    postwhiten: bool = False, seed: int = 0) -> OrderedDict[str, torch.Tensor]:
    """Random head weights with the official key names (whitening tensors float64)."""
    g = torch.Generator().manual_seed(seed)
    sd: Dict[str, torch.Tensor] = OrderedDict()
    if prewhiten:
        sd["prewhiten.m"] = torch.randn(1, enc_dim, generator=g, dtype=torch.float64)
        sd["prewhiten.p"] = torch.randn(enc_dim, enc_dim, generator=g,
                                        dtype=torch.float64) / enc_dim ** 0.5
    widths = [int(h) for h in hdims.split("_")] if hdims else []
    prev = enc_dim
    for i, h in enumerate(widths):
        sd[f"projector.{3 * i}.weight"] = torch.randn(h, prev, generator=g) / prev ** 0.5
        sd[f"projector.{3 * i}.bias"] = 0.02 * torch.randn(h, generator=g)
        if i < len(widths) - 1:
            sd[f"projector.{3 * i + 1}.weight"] = 1 + 0.1 * torch.randn(h, generator=g)
            sd[f"projector.{3 * i + 1}.bias"] = 0.02 * torch.randn(h, generator=g)
        prev = h
    if postwhiten:
        sd["postwhiten.m"] = torch.randn(1, prev, generator=g, dtype=torch.float64)
        sd["postwhiten.p"] = torch.randn(prev, prev, generator=g,
                                         dtype=torch.float64) / prev ** 0.5
    return sd


def write_retrieval_checkpoint(path: str, enc_dim: int, *, hdims: str = "",
                               prewhiten: Optional[int] = 0, postwhiten: Optional[int] = None,
                               residual: bool = False, nfeat: Any = 300, nclusters: Any = 64,
                               seed: int = 0, extra_args: Optional[Dict[str, Any]] = None,
                               sd: Optional[Dict[str, torch.Tensor]] = None) -> str:
    """``{'model': head state dict, 'args': Namespace}`` as the official trainingfree file."""
    if sd is None:
        sd = head_state_dict(enc_dim, hdims, prewhiten is not None, postwhiten is not None, seed)
    fields = dict(pretrained="backbone.pth", freeze_backbone=1, prewhiten=prewhiten, hdims=hdims,
                  residual=residual, postwhiten=postwhiten, featweights="l2norm", nfeat=nfeat,
                  imsize=512, nclusters=nclusters)
    fields.update(extra_args or {})
    args = argparse.Namespace(**fields)
    torch.save({"model": sd, "args": args}, path)
    return path


def write_codebook(path: str, centroids: np.ndarray, size: Any = None, protocol: int = 4) -> str:
    """asmk's codebook pickle: {'type': 'Codebook', 'params': {'size'}, 'state': {...}}."""
    obj = {"type": "Codebook", "params": {"size": len(centroids) if size is None else size},
           "state": {"centroids": np.ascontiguousarray(centroids, np.float32)}}
    buf = io.BytesIO()
    pickle.dump(obj, buf, protocol=protocol)
    with open(path, "wb") as fh:
        fh.write(buf.getvalue())
    return path
