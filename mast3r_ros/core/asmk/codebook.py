"""The ASMK codebook: visual words (K, D) float32 and their exact nearest-word search
(`Codebook.quantize`, torch matmuls on the codebook's device, float64 re-ranking), read from
the asmk ``*_codebook.pkl`` by `load_codebook` (safely, see `unpickle`), and the cluster-count
spellings of its size (`parse_cluster_count`).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Optional, Tuple, Union

import numpy as np
import torch

from ..devices import resolve_device
from ..errors import CheckpointError, InputError, not_regular_file
from ..model.given_as import given_here, GivenAs
from .unpickle import safe_unpickle

log = logging.getLogger(__name__)


class Codebook:
    """Visual words: ``centroids`` (K, D) float32, C-contiguous; ``size`` as stored.

    The nearest-word search runs in torch on ``device`` ('cpu' by default; `to` moves a copy
    of the centroids to a GPU, 256 MiB for the official codebook); the float64 re-ranking of
    the shortlist stays on the CPU copy.
    """

    def __init__(self, centroids: np.ndarray, size: Any = None, device: str = "cpu"):
        self.centroids = centroids
        self.size = size
        self._device = resolve_device(device)
        self._t: Optional[torch.Tensor] = None
        self._t_sqnorm: Optional[torch.Tensor] = None

    @property
    def num_words(self) -> int:
        """K, the number of visual words (65 536 for the official codebook)."""
        return int(self.centroids.shape[0])

    @property
    def dim(self) -> int:
        """D, the local features' dimension (the retrieval head's output)."""
        return int(self.centroids.shape[1])

    def to(self, device: Union[str, torch.device]) -> Codebook:
        """Search on ``device`` from now on (returns self)."""
        self._device = resolve_device(device)
        self._t = self._t_sqnorm = None
        return self

    def _torch(self) -> Tuple[torch.Tensor, torch.Tensor]:
        if self._t is None:
            with warnings.catch_warnings():  # read-only buffer: torch only reads it
                warnings.simplefilter("ignore", UserWarning)
                t = torch.from_numpy(self.centroids)
            self._t = t.to(self._device)
            sq = np.einsum("kd,kd->k", self.centroids, self.centroids)  # no (K, D) temporary
            self._t_sqnorm = torch.from_numpy(sq).to(self._device)
        return self._t, self._t_sqnorm

    def quantize(self, feats: np.ndarray, multiple: int, batch: Optional[int] = None,
                 chunk: Optional[int] = None) -> np.ndarray:
        """Exact ``multiple`` nearest centroids of each row of ``feats`` (n, D).

        Returns (n, min(multiple, K)) int64 by increasing distance, exact ties by the lower
        word id. Candidates come from float32
        ``|c|^2 - 2 x.c`` (torch matmuls on the codebook's device), a shortlist of
        ``multiple + 4`` per row is re-ranked with float64 distances (on the same device),
        so near-ties resolve like an exact computation. All rows of a ``batch`` go through
        one matmul per ``chunk`` centroids (CPU default 8192: the distance block stays
        small and is reused; GPU default: the whole codebook at once); each chunk keeps its
        shortlist, merged at the end (the union of per-chunk shortlists holds the overall
        one). Working memory: ``batch * chunk * 4`` bytes (defaults: 16 MB on the CPU; 512
        rows at once on a GPU, 128 MB for the official 65 536 words). On the official sizes
        (300 x 1024 features, 65 536 words) this is ~40 GFLOP per query image: 0.5-1.5 s on
        one CPU core, ~2 ms on an H200 (bench_retrieval) -- keep the codebook on the
        engine's device.
        """
        feats = np.ascontiguousarray(feats, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise InputError(f"features {feats.shape} do not match the codebook's dimension "
                             f"{self.dim}: the codebook belongs to another retrieval model")
        m = min(multiple, self.num_words)
        n, k_all = len(feats), self.num_words
        if n == 0:
            return np.zeros((0, m), np.int64)
        cent, sqnorm = self._torch()
        short = min(k_all, m + 4)
        cpu = self._device.type == "cpu"
        chunk = max(short, min(k_all, chunk or (8192 if cpu else k_all)))
        batch = min(n, batch or (max(1, (1 << 22) // chunk) if cpu else 512))
        out = np.empty((n, m), np.int64)
        with torch.inference_mode():
            xt = torch.from_numpy(feats).to(self._device)
            dist = torch.empty(batch * chunk, dtype=torch.float32, device=self._device)
            for s in range(0, n, batch):
                xb = xt[s:s + batch]
                vals, cands = [], []
                for c0 in range(0, k_all, chunk):
                    c1 = min(k_all, c0 + chunk)
                    d = dist[:len(xb) * (c1 - c0)].view(len(xb), c1 - c0)
                    torch.addmm(sqnorm[c0:c1], xb, cent[c0:c1].T, beta=1.0, alpha=-2.0, out=d)
                    v, i = torch.topk(d, min(short, c1 - c0), dim=1, largest=False,
                                      sorted=False)
                    vals.append(v)
                    cands.append(i + c0)
                cand = cands[0]
                if len(cands) > 1:
                    sel = torch.topk(torch.cat(vals, 1), short, dim=1, largest=False,
                                     sorted=False).indices
                    cand = torch.gather(torch.cat(cands, 1), 1, sel)
                # float64 distances of the shortlist, on the device (64 rows at a time on
                # the CPU to keep the temporaries small), ordered on the CPU
                exact = torch.empty(cand.shape, dtype=torch.float64, device=self._device)
                step = 64 if cpu else len(xb)
                for r in range(0, len(xb), step):
                    diff = xb[r:r + step, None, :].double() - cent[cand[r:r + step]].double()
                    torch.sum(diff * diff, dim=2, out=exact[r:r + step])
                cand_np, exact_np = cand.cpu().numpy(), exact.cpu().numpy()
                order = np.lexsort((cand_np, exact_np), axis=1)[:, :m]
                out[s:s + batch] = np.take_along_axis(cand_np, order, axis=1)
        return out


def load_codebook(path: str, expected_size: Any = None, device: str = "cpu") -> Codebook:
    """Read an ASMK ``*_codebook.pkl`` safely.

    The file is ``{'type': 'Codebook', 'params': {'size': K}, 'state': {'centroids': (K, D)
    float32}}`` pickled by asmk. ``expected_size`` (the retrieval checkpoint's ``nclusters``)
    must equal the stored size and be of its type (65536.0 or ``'64k'`` for a stored 65536 is
    refused; stricter than the reference's dict ``==``, which takes 65536.0; real files write
    both from the same ``nclusters``). Raises CheckpointError (`check_codebook_file`'s, and
    for a file that is not an ASMK codebook).
    """
    check_codebook_file(path)
    with open(path, "rb") as fh:  # streamed: the 268 MB official file is not held twice
        obj = safe_unpickle(fh, path)
    try:
        if obj["type"] != "Codebook":
            raise KeyError("type")
        size = obj["params"]["size"]
        centroids = obj["state"]["centroids"]
    except (KeyError, TypeError, IndexError):
        raise CheckpointError(f"{path}: expected {{'type': 'Codebook', 'params': {{'size'}}, "
                              "'state': {'centroids'}}: not an ASMK codebook") from None
    if not isinstance(centroids, np.ndarray) or centroids.ndim != 2 \
            or centroids.dtype != np.float32:
        raise CheckpointError(f"{path}: centroids must be a 2-D float32 array, got "
                              f"{getattr(centroids, 'dtype', type(centroids).__name__)} "
                              f"{getattr(centroids, 'shape', '')}")
    if parse_cluster_count(size) != centroids.shape[0]:
        raise CheckpointError(f"{path}: stored size {size!r} but {centroids.shape[0]} centroids")
    if expected_size is not None and not (type(expected_size) is type(size)
                                          and expected_size == size):
        raise CheckpointError(f"{path}: codebook size {size!r} differs from the retrieval "
                              f"checkpoint's nclusters={expected_size!r}: the two files do not "
                              "belong together")
    log.info("loaded codebook %s (%d words x %d)", path, *centroids.shape)
    return Codebook(np.ascontiguousarray(centroids), size, device)


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive (a zip); a codebook is a plain pickle


def check_codebook_file(path: str, given: Optional[GivenAs] = None) -> None:
    """Raises CheckpointError, naming ``path`` and the fix, when it cannot be a codebook file:
    not found, a folder, a PyTorch checkpoint (a ``torch.save`` zip archive: the network or
    the retrieval head, given where the ``*_retrieval_codebook.pkl`` pickle belongs), or a
    binary pickle cut short (an interrupted download: its last byte is no STOP opcode), found
    from its first and last bytes, before minutes of other work. ``given``: how the user gives
    the codebook (`given_as`; default: the commands' flags)."""
    given = given_here(given)
    ways = given.codebook
    if os.path.isdir(path):
        raise CheckpointError(
            f"codebook {path} is a folder, not a file: pass the *_retrieval_codebook.pkl file "
            f"({ways})")
    special = not_regular_file(path, "the *_retrieval_codebook.pkl file")  # /dev/zero
    if special:
        raise CheckpointError(f"codebook {special}")
    if not os.path.isfile(path):
        from ..path_expand import unset_variable_note

        unset = unset_variable_note(path)
        if unset:  # '$MODELS/c.pkl' with MODELS unset
            raise CheckpointError(f"codebook not found: {path}: {unset}")
        raise CheckpointError(
            f"codebook not found: {path}. Download "
            "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric_retrieval_codebook.pkl beside the "
            f"retrieval checkpoint, or pass it ({ways})")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_ZIP_MAGIC))
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 1))
            last = fh.read(1)
    except OSError as e:
        raise CheckpointError(f"codebook {path}: cannot be read ({e})") from None
    if head[:1] == b"\x80" and last != b".":  # every pickle ends with its STOP opcode '.'
        raise CheckpointError(f"{path}: not a readable pickle (it stops before the pickle's "
                              "end: cut short); the file is truncated or corrupt: download it "
                              "again (NAVER's download page)")
    if not head:
        raise CheckpointError(f"codebook {path}: empty file (0 bytes): the download was "
                              "interrupted or the file is not a codebook: download it again")
    from ..model.plain_pickle import describe_text_file  # the checkpoints' wording

    text = describe_text_file(path, "codebook", "not the ASMK codebook "
                              "(*_retrieval_codebook.pkl, a pickle): pass the codebook file "
                              f"({ways})")
    if text is not None:  # a Git LFS pointer, a saved web page, a YAML given by mistake
        raise CheckpointError(f"codebook {path}: {text}")
    if head == _ZIP_MAGIC:
        raise CheckpointError(
            f"codebook {path} is a PyTorch checkpoint (.pth, a zip archive), not the ASMK "
            f"codebook (*_retrieval_codebook.pkl, a pickle): pass the codebook file ({ways})")


def parse_cluster_count(value: Any) -> int:
    """``65536``, ``'64k'`` (x1024) or ``'1M'`` (x1024^2) -> int; CheckpointError otherwise."""
    if isinstance(value, bool):
        raise CheckpointError(f"codebook size {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value:
        mult = {"k": 1024, "M": 1024 ** 2}.get(value[-1], 1)
        try:
            return int(value[:-1] if mult > 1 else value) * mult
        except ValueError:
            pass
    raise CheckpointError(f"codebook size {value!r} is not an int or a string like '64k'")
