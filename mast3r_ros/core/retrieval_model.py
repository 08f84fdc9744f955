"""MASt3R's retrieval head: local features for ASMK from the cached encoder output.

The official add-on (``*_retrieval_trainingfree.pth``) is a small head on the MASt3R encoder
tokens (after ``enc_norm``); it never touches the decoder, so a map that caches encodings gets
retrieval features for free (MASt3R-SfM: Duisterhof et al., 3DV 2025; the head follows HOW:
Tolias, Jenicek & Chum, ECCV 2020). Maths in order (reference: naver/mast3r
``mast3r/retrieval/model.py``, ``Whitener``, ``RetrievalModel.extract_features_and_attention``
and ``how_select_local``):

1. pre-whitening (optional): ``X = float32((float64(E) - m) @ P)``, float64 throughout;
2. projector (optional, ``hdims`` ``'h0_h1_..'``): Linear, then LayerNorm(eps 1e-5) + exact GELU
   after every Linear but the last; ``residual`` adds X to the output;
3. attention ``a_n = ||h_n||_2`` (before post-whitening);
4. post-whitening (optional), as 1. with its own ``m'``, ``P'``; features are *not* normalised;
5. the ``k`` tokens of largest attention, by decreasing attention (``torch.topk``), with
   ``k = min(nfeat, N)`` or ``k = int(-nfeat * N)`` for a fraction ``nfeat`` in [-1, 0).

The checkpoint is a ``torch.save`` dict ``{'model': state_dict, 'args': argparse.Namespace}``; it
is read with ``weights_only=True`` and only ``argparse.Namespace`` allow-listed (a restricted
unpickler on torch without ``safe_globals``). Unknown ``args`` fields are ignored; a wrapper's
prefix on every key (``module.``: DataParallel / DDP) is removed as for the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .asmk import (MULTIPLE_ASSIGNMENT_DB, AsmkIndex, AsmkVector, Codebook, aggregate_database,
                   aggregate_many, aggregate_query, load_codebook)
from .asmk.codebook import check_codebook_file
from .devices import resolve_device
from .errors import CheckpointError, InputError, not_regular_file
from .model.checkpoint import (CLASS_ARCH, read_torch_archive, resolve_checkpoint,
                               strip_wrapper_prefix)
from .model.finite_weights import refuse_non_finite
from .model.given_as import PARAMETERS, GivenAs, given_here
from .model.plain_pickle import (archive_args, archive_top, describe_map_folder,
                                 describe_plain_pickle, refuse_empty_or_text, where_to_download)

log = logging.getLogger(__name__)

LAYERNORM_EPS = 1e-5  # the head's LayerNorm uses the PyTorch default (the backbone uses 1e-6)


@dataclasses.dataclass(frozen=True)
class RetrievalSpec:
    """The head options read from ``args`` (everything else in the Namespace is ignored)."""

    prewhiten: bool
    hdims: Tuple[int, ...]  # projector widths; () = no projector
    residual: bool
    postwhiten: bool
    nfeat: Union[int, float]  # int k, or a fraction in [-1, 0) meaning k = int(-f * N)
    nclusters: Any  # compared with the codebook's stored 'size' (Python ==, type included)
    pretrained: Optional[str] = None

    def num_features(self, num_tokens: int) -> int:
        """Features kept for an image of ``num_tokens`` tokens."""
        if isinstance(self.nfeat, float) or self.nfeat < 0:
            return min(num_tokens, int(-float(self.nfeat) * num_tokens))
        return min(int(self.nfeat), num_tokens)


@dataclasses.dataclass
class LocalFeatures:
    """Selected local features of one image (float32, on the head's device).

    ``feats`` (k, D); ``attention`` (k,) decreasing; ``token_index`` (k,) int64 row-major token
    index ``n = y * w + x`` on the (h, w) = (H/16, W/16) token grid.
    """

    feats: torch.Tensor
    attention: torch.Tensor
    token_index: torch.Tensor


# ------------------------------------------------------------------------ loading
def _load_archive(path: str) -> Any:
    return read_torch_archive(
        path, "retrieval checkpoint", "A retrieval checkpoint holds only tensors and an "
        "argparse.Namespace; this file is not one, or it was crafted to run code")


def _parse_hdims(value: Any, where: str) -> Tuple[int, ...]:
    text = "" if value is None else str(value)
    try:
        return tuple(int(p) for p in text.split("_")) if text else ()
    except ValueError:
        raise CheckpointError(f"{where}: args.hdims={value!r} is not '' or '_'-separated "
                              "integers like '2048_1024'") from None


def spec_from_args(args: Any, where: str = "retrieval checkpoint") -> RetrievalSpec:
    """Validate the Namespace fields the head needs (those the reference's
    ``Retriever.__init__`` reads from ``ckpt['args']``, naver/mast3r
    ``mast3r/retrieval/processor.py``)."""
    get = (lambda k, d=None: args.get(k, d)) if isinstance(args, Mapping) else (
        lambda k, d=None: getattr(args, k, d))
    feat_weights = get("featweights", "l2norm")
    if feat_weights != "l2norm":
        raise CheckpointError(f"{where}: args.featweights={feat_weights!r}; only 'l2norm' "
                              "(attention = feature norm) is defined")
    imsize = get("imsize", 512)
    if imsize != 512:
        raise CheckpointError(f"{where}: args.imsize={imsize!r}; the retrieval head is "
                              "defined for the 512 network only")
    nfeat = get("nfeat", 300)
    if isinstance(nfeat, bool) or not isinstance(nfeat, (int, float)) or (
            isinstance(nfeat, float) and not -1.0 <= nfeat < 0) or (
            isinstance(nfeat, int) and (nfeat == 0 or nfeat < -1)):
        raise CheckpointError(f"{where}: args.nfeat={nfeat!r} must be a positive int or a "
                              "negative fraction in [-1, 0)")
    hdims = _parse_hdims(get("hdims", ""), where)
    postwhiten = get("postwhiten") is not None
    if postwhiten and not hdims and get("postwhiten") != -1:
        raise CheckpointError(f"{where}: post-whitening without a projector (hdims='') is "
                              "not a valid configuration")
    return RetrievalSpec(prewhiten=get("prewhiten") is not None, hdims=hdims,
                         residual=bool(get("residual", False) or False), postwhiten=postwhiten,
                         nfeat=nfeat, nclusters=get("nclusters", "64k"),
                         pretrained=get("pretrained"))


def default_codebook_path(checkpoint_path: str) -> str:
    """The reference naming rule: drop the last ``_`` piece of the file name, add
    ``_codebook.pkl`` (``X_retrieval_trainingfree.pth`` -> ``X_retrieval_codebook.pkl``)."""
    folder, name = os.path.split(checkpoint_path)
    return os.path.join(folder, "_".join(name.split("_")[:-1]) + "_codebook.pkl")


def require_retrieval_checkpoint(path: str, given: Optional[GivenAs] = None) -> None:
    """The retrieval checkpoint's cheap checks, no weights read (a folder, a special file, not
    found, empty, text, no format the loader reads: `refuse_empty_or_text`); `CheckpointError`,
    its fix in the words of ``given`` (`given_as`)."""
    given = given_here(given)
    if os.path.isdir(path):  # a folder exists: "not found" sent the user looking for it
        # a map: the retrieval checkpoint it records
        raise CheckpointError(describe_map_folder(path, retrieval=True, given=given) or (
            f"{path} is a folder, not a retrieval checkpoint: pass the "
            f"*_retrieval_trainingfree.pth file itself ({given.retrieval_ways})"))
    special = not_regular_file(path, "the *_retrieval_trainingfree.pth file")  # /dev/zero
    if special:
        raise CheckpointError(f"retrieval checkpoint {special}")
    if not os.path.isfile(path):
        from .path_expand import unset_variable_note

        unset = unset_variable_note(path)
        if unset:  # '$MODELS/r.pth' with MODELS unset
            raise CheckpointError(f"retrieval checkpoint not found: {path}: {unset}")
        raise CheckpointError(
            f"retrieval checkpoint not found: {path}. Download "
            "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric_retrieval_trainingfree.pth "
            f"({where_to_download('retrieval checkpoint')}) and pass it with "
            f"{given.retrieval}")
    # cut short: before minutes of encoding
    refuse_empty_or_text(path, "retrieval checkpoint", given)


def checkpoint_kind(path: str) -> Optional[str]:
    """What a ``torch.save`` archive holds, from its ``args`` alone: 'network' (``args.model``
    is a MASt3R / DUSt3R constructor string), 'retrieval' (the trainingfree head's args, with
    ``nclusters``), or None (anything else, an unreadable file included: the loaders word
    those). Tensors are not read, so a 2 GB network file costs little; nothing in the file is
    run (`plain_pickle.archive_args`)."""
    args = archive_args(path) if os.path.isfile(path) else None
    if _network_args(args):
        return "network"
    return "retrieval" if args is not None and hasattr(args, "nclusters") else None


def _network_args(args: Any) -> bool:
    """Whether a checkpoint's ``args`` are a network's: ``args.model`` is a MASt3R / DUSt3R
    constructor string (its class one of `checkpoint.CLASS_ARCH`)."""
    model = getattr(args, "model", None)
    return isinstance(model, str) and model.split("(", 1)[0].strip() in CLASS_ARCH


def network_given_as_retrieval(path: str, given: Optional[GivenAs] = None) -> str:
    """The one-line refusal of a network checkpoint given as the retrieval checkpoint."""
    given = given_here(given)
    return (f"{path} is a MASt3R network checkpoint, not a retrieval head: pass it as "
            f"{given.checkpoint}, and the *_retrieval_trainingfree.pth as {given.retrieval}")


def check_retrieval_files(checkpoint: str, codebook: Optional[str] = None,
                          given: Optional[GivenAs] = None) -> str:
    """Fail fast (before loading a backbone): both files exist, ``checkpoint`` is not the
    network checkpoint (`checkpoint_kind`) and the codebook is a file that is not a PyTorch
    checkpoint (`check_codebook_file`); returns the codebook path. Raises CheckpointError, its
    fix in the words of ``given`` (`given_as`: the commands' flags, or a node's parameters)."""
    given = given_here(given)
    _check_retrieval_head(checkpoint, given)
    return _check_codebook_of(checkpoint, codebook, given)


def _require_head_layout(obj: Any, path: str) -> None:
    """`CheckpointError` unless ``obj``, a torch.save file's object (its tensors may be the
    None of `archive_top`), is the head's ``{'model': state dict, 'args': Namespace}``."""
    if not (isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping)
            and obj.get("args") is not None):
        raise CheckpointError(f"{path}: expected a dict with 'model' (state dict) and 'args' "
                              "(argparse.Namespace): not a MASt3R retrieval checkpoint")


def _check_retrieval_head(checkpoint: str, given: GivenAs) -> None:
    """`require_retrieval_checkpoint`, then what `load_retrieval_head` refuses that is told
    without the tensors: the network's checkpoint, another torch.save dict (`archive_top`), a
    plain pickle such as the codebook (`describe_plain_pickle`)."""
    require_retrieval_checkpoint(checkpoint, given)
    if checkpoint_kind(checkpoint) == "network":  # before the codebook, which then is no issue
        raise CheckpointError(network_given_as_retrieval(checkpoint, given))
    top = archive_top(checkpoint)
    if top is not None:
        _require_head_layout(top, checkpoint)
        return
    plain = describe_plain_pickle(checkpoint, "retrieval checkpoint", given)
    if plain:  # the codebook given as the head: its own name passed the codebook check
        raise CheckpointError(f"{checkpoint}: {plain}")


def _check_codebook_of(checkpoint: str, codebook: Optional[str], given: GivenAs) -> str:
    cb = codebook or default_codebook_path(checkpoint)
    if not os.path.isfile(cb) and codebook is None and not os.path.basename(
            checkpoint).endswith("_retrieval_trainingfree.pth"):
        raise CheckpointError(
            f"no codebook given for {checkpoint}: it is found beside the checkpoint only "
            "for the reference names (X_retrieval_trainingfree.pth -> "
            f"X_retrieval_codebook.pkl); pass the codebook file ({given.codebook})")
    check_codebook_file(cb, given)  # not found, a folder, a .pth given as the codebook
    return cb


def check_configured_retrieval(checkpoint: str, codebook: str) -> Tuple[str, str]:
    """The node's configure check of its ``retrieval.checkpoint`` and ``retrieval.codebook``
    parameters (a `RetrievalConfig`'s ``checkpoint``, ``codebook``), which ``check-params``
    runs too: `check_retrieval_files` on the paths with ``~`` and ``$VARS`` expanded (as the
    ``checkpoint`` parameter's, `resolve_checkpoint`); an empty codebook is the one beside the
    checkpoint (`default_codebook_path`). Returns (retrieval checkpoint, codebook) paths.

    Raises CheckpointError beginning ``parameter 'retrieval.checkpoint': `` or ``parameter
    'retrieval.codebook': `` (the parameter to fix), its fix naming parameters, not flags."""
    path = resolve_checkpoint(checkpoint) or ""
    cb = resolve_checkpoint(codebook) or None
    try:
        _check_retrieval_head(path, PARAMETERS)
    except CheckpointError as e:
        raise CheckpointError(f"parameter 'retrieval.checkpoint': {e}") from None
    try:
        return path, _check_codebook_of(path, cb, PARAMETERS)
    except CheckpointError as e:
        where = ("'retrieval.codebook'" if cb else
                 "'retrieval.codebook' (empty: the codebook beside retrieval.checkpoint)")
        raise CheckpointError(f"parameter {where}: {e}") from None


class RetrievalHead(torch.nn.Module):
    """The head on encoder tokens. Whitening tensors are float64 (as stored in the file)."""

    def __init__(self, spec: RetrievalSpec, enc_dim: int):
        super().__init__()
        self.spec = spec
        self.enc_dim = enc_dim
        if spec.prewhiten:
            self.register_buffer("prewhiten_m", torch.zeros(1, enc_dim, dtype=torch.float64))
            self.register_buffer("prewhiten_p", torch.eye(enc_dim, dtype=torch.float64))
        layers: List[torch.nn.Module] = []
        width = enc_dim
        for i, h in enumerate(spec.hdims):
            layers.append(torch.nn.Linear(width, h))
            if i < len(spec.hdims) - 1:
                layers += [torch.nn.LayerNorm(h, eps=LAYERNORM_EPS), torch.nn.GELU()]
            width = h
        self.projector = torch.nn.Sequential(*layers)
        if spec.residual and width != enc_dim:
            raise CheckpointError(f"residual projector needs its last width ({width}) equal to "
                                  f"the encoder width ({enc_dim})")
        self.out_dim = width
        if spec.postwhiten:
            self.register_buffer("postwhiten_m", torch.zeros(1, width, dtype=torch.float64))
            self.register_buffer("postwhiten_p", torch.eye(width, dtype=torch.float64))

    @staticmethod
    def _whiten(x: torch.Tensor, m: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return ((x.double() - m) @ p).float()

    def all_tokens(self, enc: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """enc (N, C) float -> (features (N, D) float32, attention (N,) float32)."""
        x = enc.float()
        if self.spec.prewhiten:
            x = self._whiten(x, self.prewhiten_m, self.prewhiten_p)
        h = self.projector(x) if self.spec.hdims else x
        if self.spec.residual:
            h = h + x
        attention = torch.linalg.vector_norm(h, dim=-1)
        if self.spec.postwhiten:
            h = self._whiten(h, self.postwhiten_m, self.postwhiten_p)
        return h, attention

    @torch.inference_mode()
    def forward(self, enc: torch.Tensor) -> LocalFeatures:
        """Local features of one image: ``enc`` (N, C) = encoder output after enc_norm."""
        if enc.dim() != 2 or enc.shape[1] != self.enc_dim:
            raise InputError(f"retrieval head expects encoder tokens (N, {self.enc_dim}), got "
                             f"{tuple(enc.shape)}: the retrieval checkpoint belongs to a "
                             "different backbone")
        feats, attention = self.all_tokens(enc)
        k = self.spec.num_features(enc.shape[0])
        top, idx = torch.topk(attention, k, largest=True, sorted=True)
        return LocalFeatures(feats[idx], top, idx)

    @torch.inference_mode()
    def global_descriptor(self, enc: torch.Tensor) -> torch.Tensor:
        """(D,) attention-weighted sum over all tokens, L2-normalised (not used by ASMK)."""
        feats, attention = self.all_tokens(enc)
        return torch.nn.functional.normalize((attention[:, None] * feats).sum(0), dim=0,
                                             eps=1e-12)


def _state_dict_for_head(head: RetrievalHead, sd: Mapping[str, torch.Tensor], where: str
                         ) -> Dict[str, torch.Tensor]:
    rename = {"prewhiten.m": "prewhiten_m", "prewhiten.p": "prewhiten_p",
              "postwhiten.m": "postwhiten_m", "postwhiten.p": "postwhiten_p"}
    out = {}
    for k, v in sd.items():
        if k.startswith("backbone."):
            continue  # a non-frozen training run; the map's own backbone is used instead
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"{where}: state dict entry {k!r} is not a tensor")
        out[rename.get(k, k)] = v
    expected = head.state_dict()
    for k, v in expected.items():
        if k not in out:
            raise CheckpointError(f"{where}: missing key {k!r} (shape {tuple(v.shape)}): the "
                                  "args and the weights disagree")
        if tuple(out[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{where}: key {k!r} has shape {tuple(out[k].shape)}, "
                                  f"expected {tuple(v.shape)} for encoder width "
                                  f"{head.enc_dim}: wrong backbone or wrong file")
    extra = sorted(set(out) - set(expected))
    if extra:
        raise CheckpointError(f"{where}: unexpected key {extra[0]!r}: the file is not a "
                              "retrieval head matching its own args")
    return {k: v.to(expected[k].dtype) for k, v in out.items()}


def _identity(sd: Mapping[str, torch.Tensor], spec: RetrievalSpec) -> str:
    h = hashlib.sha256(repr(dataclasses.replace(spec, pretrained=None)).encode())
    for k in sorted(sd):
        t = sd[k].detach().reshape(-1)
        step = max(1, t.numel() // 4096)
        h.update(k.encode() + str(tuple(sd[k].shape)).encode())
        h.update(t[::step].double().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def load_retrieval_head(path: str, enc_dim: int, device: str = "cpu"
                        ) -> Tuple[RetrievalHead, str]:
    """Read ``*_retrieval_trainingfree.pth`` -> (head in eval mode on ``device``, identity).

    ``enc_dim`` is the backbone's encoder width (1024 for the ViT-L MASt3R). ``identity`` is a
    stable content id of the head (keys a map's stored ASMK representations).
    Raises CheckpointError on a missing, unsafe, malformed or mismatching file, ConfigError for
    a device this machine does not have (`devices.resolve_device`).
    """
    device = resolve_device(device)
    require_retrieval_checkpoint(path)
    obj = _load_archive(path)
    _require_head_layout(obj, path)
    if _network_args(obj["args"]):
        raise CheckpointError(network_given_as_retrieval(path))
    spec = spec_from_args(obj["args"], path)
    head = RetrievalHead(spec, enc_dim)
    # a head fine-tuned under DataParallel / DDP (or torch.compile): keys 'module.prewhiten.m'
    sd = _state_dict_for_head(head, strip_wrapper_prefix(obj["model"], path), path)
    refuse_non_finite(sd, path, "MASt3R retrieval head")  # NaN scores rank keyframes at random
    head.load_state_dict(sd, strict=True)
    identity = _identity(sd, spec)
    log.info("loaded retrieval head %s (prewhiten=%s, hdims=%s, postwhiten=%s, nfeat=%s, "
             "D=%d, id %s)", path, spec.prewhiten, spec.hdims or "none", spec.postwhiten,
             spec.nfeat, head.out_dim, identity)
    return head.eval().to(device), identity


def local_features_numpy(head: RetrievalHead, enc: Union[np.ndarray, torch.Tensor]
                         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convenience: (feats (k, D) float32, attention (k,) float32, token_index (k,) int64).

    ``enc``: one image's encoder output, (N, C) with C the head's ``enc_dim`` (numpy or torch),
    or the engine's `Encoding` itself. Raises `InputError` for anything else."""
    feats = getattr(enc, "feats", enc)  # an engine Encoding, or its (N, C) tokens
    if isinstance(feats, torch.Tensor):
        t = feats
    else:
        try:
            t = torch.from_numpy(np.asarray(feats, np.float32))
        except (TypeError, ValueError):
            raise InputError(f"retrieval takes one image's encoder output, (N, C) tokens or an "
                             f"Encoding (engine.encode), got {type(enc).__name__}") from None
    dev = next(iter(head.buffers()), torch.empty(0)).device
    out = head(t.to(dev))
    return (out.feats.cpu().numpy(), out.attention.cpu().numpy(),
            out.token_index.cpu().numpy().astype(np.int64))


class AsmkRetriever:
    """Retrieval head + codebook: encoder tokens -> ASMK vectors -> scores.

    The API the localizer / map writer call::

        r = AsmkRetriever.from_files(ckpt, codebook, enc_dim=1024)
        index = r.build_index([enc_0, enc_1, ...])   # (N_i, C) encoder outputs, one per keyframe
        index.save(path); index = AsmkIndex.load(path)
        scores = r.scores(index, enc_query)          # (num_keyframes,) float64, larger = closer
        ids, best = r.top_k(index.to(device), enc_query, 10)  # ranked on the device
    """

    def __init__(self, head: RetrievalHead, codebook: Codebook, identity: str):
        if codebook.dim != head.out_dim:
            raise CheckpointError(f"codebook dimension {codebook.dim} differs from the retrieval "
                                  f"head's output dimension {head.out_dim}: the files do not "
                                  "belong together")
        self.head = head
        self.codebook = codebook
        self.identity = identity

    @classmethod
    def from_files(cls, checkpoint: str, codebook: Optional[str] = None, enc_dim: int = 1024,
                   device: str = "cpu") -> AsmkRetriever:
        """Load both files; ``codebook`` defaults to the reference naming rule
        (`default_codebook_path`). ``identity`` combines both files' content ids. ``enc_dim``
        the encoder's token width C (1024 for ViT-L). ``device``: auto, cpu, cuda, cuda:N
        (`ConfigError` for one this machine does not have). Raises `CheckpointError` for a
        file that is missing, unsafe or malformed, the network checkpoint given as the
        retrieval one, a head whose weights do not fit ``enc_dim``, or a codebook whose size or
        dimension does not fit the head (`check_retrieval_files`, `load_retrieval_head`,
        `load_codebook`)."""
        device = resolve_device(device)
        cb_path = check_retrieval_files(checkpoint, codebook)
        head, head_id = load_retrieval_head(checkpoint, enc_dim, device)
        cb = load_codebook(cb_path, expected_size=head.spec.nclusters, device=device)
        cb_id = hashlib.sha256(cb.centroids[:: max(1, cb.num_words // 256)].tobytes()
                               + str(cb.centroids.shape).encode()).hexdigest()[:8]
        return cls(head, cb, f"asmk-{head_id}-{cb_id}")

    def local_features(self, enc: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
        """(k, D) float32 selected local features of one image's encoder output: (N, C)
        tokens (numpy or torch) or the engine's `Encoding`. Raises `InputError` for anything
        else or tokens of another width than the head's (`local_features_numpy`)."""
        return local_features_numpy(self.head, enc)[0]

    def database_vector(self, enc: Union[np.ndarray, torch.Tensor]) -> AsmkVector:
        """The `AsmkVector` of one database (keyframe) image's encoder output, as
        `local_features` takes it: each feature assigned to its nearest word
        (`aggregate_database`). Raises as `local_features`."""
        return aggregate_database(self.local_features(enc), self.codebook)

    def database_vectors(self, encodings: Iterable[Union[np.ndarray, torch.Tensor]],
                         batch: int = 64) -> List[AsmkVector]:
        """`database_vector` of each encoder output, ``batch`` images per codebook search
        (one matmul series on the codebook's device for all their features); the same
        vectors as one call per image."""
        out: List[AsmkVector] = []
        pending: List[np.ndarray] = []
        for enc in encodings:
            pending.append(self.local_features(enc))
            if len(pending) >= batch:
                out += aggregate_many(pending, self.codebook, MULTIPLE_ASSIGNMENT_DB)
                pending = []
        return out + aggregate_many(pending, self.codebook, MULTIPLE_ASSIGNMENT_DB)

    def query_vector(self, enc: Union[np.ndarray, torch.Tensor]) -> AsmkVector:
        """The `AsmkVector` of one query image's encoder output, as `local_features` takes
        it: each feature assigned to its 5 nearest words (`aggregate_query`, the reference's
        multiple assignment). Raises as `local_features`."""
        return aggregate_query(self.local_features(enc), self.codebook)

    def build_index(self, encodings: Sequence[Union[np.ndarray, torch.Tensor]]) -> AsmkIndex:
        """Inverted file of database images (image id = position in ``encodings``, each an
        encoder output as `local_features` takes it), stamped with this retriever's
        ``identity``. Raises as `local_features`."""
        vecs = self.database_vectors(encodings)
        return AsmkIndex.build(vecs, self.codebook.num_words, self.codebook.dim, self.identity)

    def scores(self, index: AsmkIndex, enc: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
        """(N,) float64 ASMK similarity (larger = closer) of one query image's encoder output
        (as `local_features` takes it) against each of the index's N images, by image id.
        Raises `InputError` for an index built with another retriever (``identity``) and as
        `local_features`."""
        if index.identity and index.identity != self.identity:
            raise InputError(f"the ASMK index was built with {index.identity}, this retriever "
                             f"is {self.identity}: rebuild the index")
        return index.query(self.query_vector(enc))

    def top_k(self, index: AsmkIndex, enc: Union[np.ndarray, torch.Tensor], k: int
              ) -> Tuple[np.ndarray, np.ndarray]:
        """(ids (min(k, N),) int64, scores (min(k, N),) float64) of the ``k`` most similar of
        the index's N images, best first, ties by the lower id (`AsmkIndex.top_k`: ranked on
        the index's device); ``k`` = 0 gives two empty arrays.

        ``enc``: (T, C) encoder tokens of the query. Raises InputError for a ``k`` that is not
        an integer >= 0 (Python or numpy; a bool or float is refused) or an index built with
        another retriever.
        """
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InputError(f"AsmkRetriever.top_k: k must be an integer >= 0 (how many images "
                             f"to return), got {k!r}")
        if index.identity and index.identity != self.identity:
            raise InputError(f"the ASMK index was built with {index.identity}, this retriever "
                             f"is {self.identity}: rebuild the index")
        return index.top_k(self.query_vector(enc), k)


__all__ = ["RetrievalSpec", "RetrievalHead", "LocalFeatures", "load_retrieval_head",
           "spec_from_args", "default_codebook_path", "local_features_numpy",
           "AsmkRetriever", "check_retrieval_files", "check_configured_retrieval",
           "checkpoint_kind"]
