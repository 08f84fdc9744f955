"""Global retrieval: the candidate keyframes of a frame without a pose guess (`GlobalRetrieval`,
``retrieval.method``: asmk, pooled or thumbnail descriptors), searched through the map's indexes.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np

from ..config import RetrievalConfig
from ..keyframes import KeyframeMap
from ..keyframes.encodings import content_id_of, same_weights
from ..matchers.base import PairMatcher
from ..retrieval import thumbnail_descriptor
from ..retrieval_index import RetrievalIndex
from ..types import Frame

log = logging.getLogger(__name__)


class GlobalRetrieval:
    """Candidate keyframes without a pose guess, by one of ``retrieval.method``'s descriptors.

    * ``asmk``: MASt3R's retrieval model (`retrieval_model.AsmkRetriever`) on the query's
      encoder output, scored against the map's ASMK inverted file for that model and checkpoint;
    * ``pooled``: the matcher's pooled encoder tokens through the map's pooled `RetrievalIndex`;
    * ``thumbnail``: the weight-free thumbnail through the map's thumbnail `RetrievalIndex`.

    ``auto`` is asmk when a retrieval checkpoint is configured and the map has its index, else
    the matcher's own descriptor (mast3r: pooled, sift: thumbnail). A method the map or matcher
    cannot serve falls back to that default with one log line. ``rank`` returns indices,
    best first, with ties broken by index (as `retrieval.rank_by_similarity`).
    """

    def __init__(self, kf_map: KeyframeMap, matcher: PairMatcher, cfg: RetrievalConfig,
                 engine: Any = None, image_size: int = 512, retriever: Any = None):
        self.method = ""
        self.retriever = retriever
        self.asmk = None
        self.index: Optional[RetrievalIndex] = None
        self._matcher = matcher
        want = cfg.method
        own = "pooled" if getattr(matcher, "name", "") == "mast3r" else "thumbnail"
        if want in ("asmk", "auto"):
            note = self._setup_asmk(kf_map, cfg, engine, image_size)
            if not note:
                self.method = "asmk"
                return
            if want == "asmk":
                log.warning("retrieval.method 'asmk': %s; using '%s' retrieval instead", note,
                            own)
            want = own
        if want == "auto":
            want = own
        if want == "pooled" and own != "pooled":
            log.warning("retrieval.method 'pooled' needs the mast3r matcher; using 'thumbnail' "
                        "retrieval instead")
            want = "thumbnail"
        self.method = want
        if want == "thumbnail":
            self.index = kf_map.thumbnail_index()
        else:
            self.index = _pooled_index(kf_map, matcher, engine, image_size)

    def _setup_asmk(self, kf_map: KeyframeMap, cfg: RetrievalConfig, engine: Any,
                    image_size: int) -> str:
        """Load the ASMK retriever and the map's inverted file; '' or why it cannot be used."""
        if engine is None:
            return "it needs the mast3r matcher (the query's encoder output)"
        if self.retriever is None:
            if not cfg.checkpoint:
                return "no retrieval.checkpoint is configured"
            from ..retrieval_model import AsmkRetriever, check_configured_retrieval

            # the parameters' check, which check-params runs too (one rule): ~ expanded as
            # the checkpoint's, a refusal naming the parameter, not a command's flag
            checkpoint, codebook = check_configured_retrieval(cfg.checkpoint, cfg.codebook)
            self.retriever = AsmkRetriever.from_files(
                checkpoint, codebook, enc_dim=engine.model.spec.enc_embed_dim,
                device=str(engine.device))
        built_on = kf_map.asmk_content_id(self.retriever.identity, engine.identity, image_size)
        if not same_weights(built_on, lambda: content_id_of(engine)):
            return (f"map {kf_map.path}'s ASMK index for {self.retriever.identity} was built on "
                    f"encodings of other weights than checkpoint {engine.identity[:16]}'s "
                    f"(content id {built_on[:16]}, this checkpoint's "
                    f"{content_id_of(engine)[:16]}: the same sampled id) (rebuild it with "
                    "build-map --retrieval-checkpoint)")
        self.asmk = kf_map.load_asmk(self.retriever.identity, engine.identity, image_size)
        if self.asmk is None:
            return (f"map {kf_map.path} has no ASMK index for {self.retriever.identity} on "
                    f"checkpoint {engine.identity} at {image_size} (build it with build-map "
                    "--retrieval-checkpoint)")
        # retrieval.device 'auto': scored on the engine's device (on a GPU the inverted file
        # moves there at the first query, backend 'auto' -> 'torch'; AsmkIndex's docstring
        # states the memory); 'cpu': it stays in host RAM (faiss / numpy kernel)
        self.asmk.to(engine.device if cfg.device == "auto" else "cpu")
        log.info("ASMK inverted file of %d keyframes (%.0f MB) scored on %s (retrieval.device "
                 "'%s')", self.asmk.num_images, self.asmk.nbytes / 1e6, self.asmk.device,
                 cfg.device)
        return ""

    def rank(self, frame: Frame, state: Any, top_k: int) -> np.ndarray:
        """Indices (<= top_k,) int64 of the most similar keyframes, best first.

        ``state`` is the matcher's ``query_state(frame)`` (`PairMatcher`). Raises `InputError`
        when the query descriptor's dimension differs from the index's, `MapFormatError` when
        the index's descriptor file of a lazily loaded map fails verification on first use.
        """
        if self.method == "asmk":
            return self.retriever.top_k(self.asmk, state.encoding.feats.detach().float(),
                                        top_k)[0]
        if self.method == "thumbnail":
            query = (self._matcher.query_descriptor(frame, state)
                     if getattr(self._matcher, "name", "") != "mast3r"
                     else thumbnail_descriptor(frame.rgb))
        else:
            query = self._matcher.query_descriptor(frame, state)
        return self.index.search(query, top_k)


def _pooled_index(kf_map: KeyframeMap, matcher: Any, engine: Any, image_size: int
                  ) -> RetrievalIndex:
    """The map's pooled-descriptor index (v2/v3) or one built over the matcher's descriptors
    with the map's index settings (`KeyframeMap.index_params_or_defaults`)."""
    index = None
    if engine is not None and getattr(kf_map, "version", 1) >= 2 and same_weights(
            kf_map.encodings_content_id(engine.identity, image_size) or "",
            lambda: content_id_of(engine)):  # not the descriptors of other weights' encodings
        index = kf_map.pooled_index(engine.identity, image_size)
    return index if index is not None else RetrievalIndex.build(
        matcher.global_descriptors(), kf_map.index_params_or_defaults())
