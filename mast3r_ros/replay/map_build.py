"""build-map's encoding steps for map format v2 (issues 11 and 12), kept out of `pipeline.py`.

After the keyframes are chosen and their images are in the map's build folder:

1. `encode_map_keyframes`: every keyframe encoded by `parallel_build.build_encodings` (local
   processes with ``workers``, or Ray actors with ``ray_address``), written as encoding-store
   chunks into the build folder, one shard = one chunk of ``scale.chunk_size`` keyframes, so the
   map's content and layout do not depend on the worker count; ``resume`` keeps the shards a
   killed build finished. Workers read the keyframe PNGs from the build folder (a Ray cluster
   needs that folder on a shared file system) and build their engine lazily with
   `Mast3rEngine.from_config`.
2. `add_asmk_index`: with a retrieval checkpoint, the ASMK inverted file of every keyframe,
   computed from the stored encoder output (no second network pass).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import sys
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from ..core.config import Config, ModelConfig
from ..core.encoding_store import EncodingStore, StoreTable
from ..core.errors import InputError
from ..core.fileio import OutputBusyError, atomic_write_json, check_output_folder, output_path
from ..core.keyframes import MapWriter
from ..core.keyframes.writer import UnfinishedBuildError
from ..core.retrieval_index import IndexParams
from ..core.keyframes.layout import MANIFEST, encoding_folder
from .parallel_build import build_encodings, clear_markers, resume_mismatch

log = logging.getLogger(__name__)

_BUILD_INFO = "build.json"  # in the staging folder while a build runs: what it is encoding


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """How build-map encodes: ``workers`` processes (or Ray actors at ``ray_address``),
    ``resume`` a killed build, ASMK with ``retrieval_checkpoint`` (+ ``codebook``)."""

    workers: int = 1
    ray_address: Optional[str] = None
    resume: bool = False
    restart: bool = False  # discard an unfinished build's encoded shards and start over
    retrieval_checkpoint: Optional[str] = None
    codebook: Optional[str] = None
    threads: Optional[int] = None
    pin: Optional[bool] = None  # pin local workers to their own cores (None: where it applies)


class KeyframeImageEncoder:
    """Picklable ``encode(index) -> arrays`` for `build_encodings`: reads keyframe ``index``'s
    PNG and returns ``feats`` (N, C) float16, ``true_shape`` (2,) int64, ``to_orig`` (3, 3)
    float64 and ``global`` (C,) float32 (`matchers.mast3r.encode_keyframe`). The engine is built
    on the first call in each process (`Mast3rEngine.from_config`), never pickled."""

    def __init__(self, model: ModelConfig, image_size: int, image_paths: List[str]):
        self.model = model
        self.image_size = int(image_size)
        self.image_paths = list(image_paths)
        self._engine = None

    def __getstate__(self) -> Dict:
        state = dict(self.__dict__)
        state["_engine"] = None
        return state

    def __call__(self, index: int) -> Dict[str, np.ndarray]:
        from ..core.matchers.mast3r import encode_keyframe
        from ..core.model.engine import Mast3rEngine

        if self._engine is None:
            self._engine = Mast3rEngine.from_config(self.model)
        bgr = cv2.imread(self.image_paths[index], cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read keyframe image {self.image_paths[index]}")
        e = encode_keyframe(self._engine, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.image_size)
        return {**e.arrays, "to_orig": e.to_orig, "global": e.global_desc}


def refuse_other_unfinished_builds(encodings_dir: str, this: str, resume: bool,
                                   identity: str = "", image_size: int = 0) -> None:
    """With ``resume``, refuse a build folder whose encodings were made for another checkpoint
    or image size (another folder of ``encodings_dir`` than ``this``, its shards unfinished or
    all written -- a build killed after encoding, e.g. during its ASMK index): a build-map run
    encodes one (checkpoint, size), so resuming with other settings would re-encode everything
    and leave that folder in the map as dead data. Raises InputError naming the folder and, as
    the load log does, the checkpoint ids (``identity``/``image_size``: this run's; the other
    build's when its build.json still says)."""
    if not resume or not os.path.isdir(encodings_dir):
        return
    for name in sorted(os.listdir(encodings_dir)):
        if name != this and os.path.isdir(os.path.join(encodings_dir, name)):
            info = os.path.join(encodings_dir, name, _BUILD_INFO)
            state, other = "done encoding", ""
            size = name.rsplit("_", 1)[-1]  # the store's folder is <checkpoint id>_<size>
            if os.path.exists(info):
                state = "encoding"
                try:
                    with open(info, encoding="utf-8") as fh:
                        old = json.load(fh)
                    other = f" (checkpoint id {old['identity']} at {old['image_size']})"
                    size = str(old["image_size"])
                except (OSError, ValueError, KeyError, TypeError):
                    pass
            mine = (f"this run's checkpoint id {identity} at {image_size}" if identity
                    else "this run's checkpoint and size")
            what = (f"another checkpoint or image size than {mine} ({this})" if this else
                    "but this run encodes nothing (--matcher sift, or no --checkpoint), so "
                    "the map would hold encodings no manifest lists")
            # build-map has no --size: the size is the image_size parameter
            setting = (f"'image_size: {size}' in --params" if size.isdigit()
                       else "image_size in --params")
            raise InputError(
                f"--resume: the unfinished build in {os.path.dirname(encodings_dir)} was "
                f"{state} {name}{other}, {what}; resume with that checkpoint (--checkpoint) "
                f"and image size ({setting}), or rerun with --restart instead of --resume to "
                "delete it and start over")  # --overwrite never deletes a MAP.partial's shards


def _check_staging(staging: str, info: Dict, resume: bool) -> None:
    path = os.path.join(staging, _BUILD_INFO)
    if resume and os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                old = json.load(fh)
        except (OSError, ValueError):
            old = None
        if old != info:
            raise InputError(resume_mismatch(os.path.dirname(staging), old, info))
    atomic_write_json(path, info)


def global_descriptors(staging: str, table: StoreTable) -> np.ndarray:
    """(K, C) float32 pooled descriptors read from the chunks' ``global`` field only."""
    out = []
    for c in table.chunks:
        mm = np.load(os.path.join(staging, c.file), mmap_mode="r", allow_pickle=False)
        out.append(np.array(mm["global"], dtype=np.float32))
        del mm
    return np.concatenate(out)


def open_map_writer(out: str, overwrite: bool, resume: bool, index_params: IndexParams,
                    map_frame: str, restart: bool = False) -> MapWriter:
    """build-map's resumable `MapWriter` for ``out``, its refusals in the command line's words:
    `OutputBusyError` (another writer holds ``out``'s lock; naming --out) and `InputError` for
    an ``OUT.partial`` holding encoded shards without ``resume`` or ``restart`` (naming --resume
    and --restart; ``overwrite`` only replaces a map at ``out``, so that rerunning an
    interrupted ``--overwrite`` build, as typed, never discards its shards)."""
    partial = output_path(out) + ".partial"  # `MapWriter`'s build folder: made by it
    fresh = resume and not os.path.lexists(partial)
    try:
        w = MapWriter(out, overwrite=overwrite, resumable=True, resume=resume,
                      index_params=index_params, map_frame=map_frame, restart=restart)
    except OutputBusyError as e:
        raise e.worded("--out") from None
    except UnfinishedBuildError as e:
        again = " --overwrite" if overwrite else ""
        raise InputError(f"{e.partial} holds an unfinished build of {out} with {e.shards} "
                         f"encoded shard(s): rerun with --resume{again} to continue it, or with "
                         f"--restart{again} to delete it and start over") from None
    if fresh:  # as localize --resume (run_resume.start_from_partial)
        log.info("--resume: no unfinished build of %s (no %s), so the build starts from the "
                 "first frame", out, partial)
    return w


def build_retrieval(cfg: Config, checkpoint: Optional[str], codebook: Optional[str]
                    ) -> Tuple[Config, Optional[str], Optional[str]]:
    """(``cfg`` with the ASMK files the build uses, retrieval checkpoint, codebook) for
    build-map: --retrieval-checkpoint / --codebook (``checkpoint``, ``codebook``), else
    ``retrieval.checkpoint`` / ``codebook`` of --params when the build encodes (the mast3r
    matcher with a checkpoint), so that a map's build_config.yaml given back as --params builds
    the same ASMK index; a --codebook given applies to the checkpoint of --params too. An
    empty ``checkpoint`` ('' : --retrieval-checkpoint '') builds no ASMK index whatever
    --params says. The config records the codebook as resolved (beside the checkpoint when
    none is given); the codebook returned stays as given, for `check_retrieval_files`.

    Raises `CheckpointError` when the retrieval checkpoint of --params is not a file (a
    robot's parameter file on another machine), naming it and both ways on."""
    if checkpoint == "":
        return (dataclasses.replace(cfg, retrieval=dataclasses.replace(
            cfg.retrieval, checkpoint="", codebook="")), None, None)
    if not checkpoint:
        r = cfg.retrieval
        if not (r.checkpoint and cfg.localizer.matcher == "mast3r" and cfg.model.checkpoint):
            return cfg, None, None
        checkpoint, codebook = r.checkpoint, codebook or r.codebook or None
        if not os.path.isfile(os.path.expanduser(checkpoint)):
            from ..core.errors import CheckpointError

            raise CheckpointError(
                f"retrieval checkpoint not found: {checkpoint} (retrieval.checkpoint of "
                "--params); pass --retrieval-checkpoint PATH, or --retrieval-checkpoint '' to "
                "build the map without an ASMK index")
    from ..core.retrieval_model import default_codebook_path

    resolved = codebook or default_codebook_path(checkpoint)
    return (dataclasses.replace(cfg, retrieval=dataclasses.replace(
        cfg.retrieval, checkpoint=checkpoint, codebook=resolved)), checkpoint, codebook)


def check_build_files(cfg: Config, opts: BuildOptions) -> None:
    """Fail fast, before a source is read or a keyframe checked (minutes on a large bag): the
    checkpoint the encodings need (mast3r matcher with a checkpoint configured), and the
    retrieval checkpoint and codebook of ``opts``, exist. Raises `CheckpointError` naming the
    missing file and how to pass it."""
    if cfg.localizer.matcher == "mast3r" and cfg.model.checkpoint:
        from ..core.model.checkpoint import require_checkpoint, resolve_checkpoint

        require_checkpoint(resolve_checkpoint(cfg.model.checkpoint))
    if opts.retrieval_checkpoint:
        from ..core.retrieval_model import check_retrieval_files

        check_retrieval_files(opts.retrieval_checkpoint, opts.codebook)


def connect_build_workers(cfg: Config, opts: BuildOptions) -> None:
    """Before any work (the source read, a keyframe chosen): connect to Ray for
    ``opts.ray_address`` (`ray_connect.connect_ray`: a failure is an `InputError` naming
    --ray-address and the fix). Refused, also with an `InputError`, when the run encodes no
    keyframe (--matcher sift, or no checkpoint): nothing would run on Ray, and an address
    that is silently ignored hides a wrong matcher or a wrong address alike."""
    if not opts.ray_address:
        return
    if cfg.localizer.matcher != "mast3r" or not cfg.model.checkpoint:
        why = (f"--matcher {cfg.localizer.matcher} uses no network encodings"
               if cfg.localizer.matcher != "mast3r" else "no checkpoint is configured")
        raise InputError(f"--ray-address {opts.ray_address}: this build encodes no keyframes "
                         f"({why}), so nothing would run on Ray; drop --ray-address, or build "
                         "with --matcher mast3r and a --checkpoint to encode on Ray")
    from .ray_connect import connect_ray

    connect_ray(opts.ray_address)


def encode_map_keyframes(w: MapWriter, cfg: Config, opts: BuildOptions) -> Optional[str]:
    """Encode the writer's keyframes into its build folder; returns the checkpoint identity,
    or None when the map gets no encodings (sift, or no checkpoint; with ``opts.resume``,
    `InputError` when the build folder holds encodings: they would be published unlisted)."""
    if cfg.localizer.matcher != "mast3r" or not cfg.model.checkpoint:
        refuse_other_unfinished_builds(os.path.join(w.tmp, "encodings"), "", opts.resume)
    if cfg.localizer.matcher != "mast3r":
        return None
    if not cfg.model.checkpoint:
        log.info("no checkpoint configured: the map gets no cached encodings (they are "
                 "computed when the map is first used with a checkpoint)")
        return None
    from ..core.model.engine import Mast3rEngine

    engine = Mast3rEngine.from_config(cfg.model)
    identity, size = engine.identity, cfg.model.image_size
    n = len(w.records)
    # checked before the store folder is made, so a refusal leaves the build folder as it was
    folder = os.path.join(w.tmp, encoding_folder(identity, size))
    refuse_other_unfinished_builds(os.path.dirname(folder), os.path.basename(folder), opts.resume,
                                   identity, size)
    staging = w.encoding_dir(identity, size)
    images = [w.files[r["image"]]["sha256"] for r in w.records]
    _check_staging(staging, {"identity": identity, "image_size": size, "images": images},
                   opts.resume)
    encoder = KeyframeImageEncoder(cfg.model, size, [w.image_path(i) for i in range(n)])
    local = opts.workers == 1 and not opts.ray_address
    if local:
        encoder._engine = engine  # in-process: reuse the engine loaded for the identity
    else:
        engine.close()
    try:
        table = build_encodings(n, encoder, staging, workers=opts.workers,
                                shard_size=cfg.scale.chunk_size, resume=opts.resume,
                                cast={"feats": np.float16}, ray_address=opts.ray_address,
                                threads=opts.threads, progress=sys.stderr.isatty(),
                                pin=opts.pin)
    finally:
        if local:
            engine.close()
    # the shard markers and build.json stay until `finish_encodings` (just before the commit):
    # a build interrupted after encoding (ASMK index, plot, manifest) resumes without
    # re-encoding, and --resume still refuses a build folder made for other keyframes
    w.add_encoding_store(identity, size, table, global_descriptors(staging, table))
    return identity


def finish_encodings(w: MapWriter) -> None:
    """Delete the resume bookkeeping (shard markers, ``build.json``) from the writer's encoding
    stores, so what is published is exactly the stores their tables describe. Call it right
    before `MapWriter.commit`: until then a killed build resumes from the finished shards."""
    for entry in w.encodings:
        staging = os.path.join(w.tmp, entry["store"])
        if not os.path.isdir(staging):
            continue
        clear_markers(staging)
        info = os.path.join(staging, _BUILD_INFO)
        if os.path.exists(info):
            os.unlink(info)


def add_asmk_index(w: MapWriter, identity: str, image_size: int, retrieval_checkpoint: str,
                   codebook: Optional[str] = None, device: str = "cpu", batch: int = 64) -> str:
    """Store the ASMK inverted file of the writer's keyframes (after `encode_map_keyframes`);
    returns the retrieval model's identity. The head and the codebook search run on ``device``
    (the engine's: the search is ~40 GFLOP per official-size keyframe, 0.5-1.5 s on a CPU
    core, ~2 ms on a GPU), ``batch`` keyframes per search; the index does not depend on
    either (`AsmkRetriever.database_vectors`)."""
    from ..core.asmk import AsmkIndex
    from ..core.retrieval_model import AsmkRetriever

    entry = next(e for e in w.encodings
                 if (e["identity"], e["image_size"]) == (identity, int(image_size)))
    table = w.store_tables[(identity, int(image_size))]
    store = EncodingStore(os.path.join(w.tmp, entry["store"]), table, cache_mb=0)
    enc_dim = int(store.get(0)["feats"].shape[1])
    retriever = AsmkRetriever.from_files(retrieval_checkpoint, codebook, enc_dim=enc_dim,
                                         device=device)
    vecs = retriever.database_vectors(
        (store.get(i)["feats"].astype(np.float32) for i in range(len(store))), batch)
    w.add_asmk(AsmkIndex.build(vecs, retriever.codebook.num_words, retriever.codebook.dim,
                               retriever.identity), identity, image_size)
    log.info("ASMK index of %d keyframes for %s", len(vecs), retriever.identity)
    return retriever.identity


def merge_maps(a: str, b: str, out: str, overwrite: bool = False,
               keep_duplicates: bool = False, force: bool = False) -> int:
    """Join two v1/v2/v3 maps in the same ``map_frame`` into a v3 map at ``out``: A's
    keyframes, then B's (ids renumbered 0..), the encodings of every (checkpoint, size) that
    each map giving keyframes caches (records concatenated, pooled index rebuilt), the ASMK
    indexes each such map holds (inverted files concatenated), and the thumbnail index rebuilt;
    a store or index the merged map cannot have (one map lacks it) is logged as a warning.
    Returns the keyframe count.

    A keyframe whose stamp and image pixels equal those of an earlier keyframe (A's, in
    practice: two maps built from one recording with different settings share frames) is the
    same camera frame twice: it is dropped with its encodings and ASMK entries, unless
    ``keep_duplicates``, and the count is logged. Copies whose poses disagree (more than 1 mm
    or 0.01 degree) are logged as a warning: the maps are then not in one frame after all.
    When B shares no frame with A and their keyframes disagree where the poses make them
    overlap (`_check_overlap`), nothing is written unless ``force`` (then a warning), as
    build-map refuses an inconsistent map. Raises InputError for that, when the frames
    differ, or (before reading A and B) when A and B are one folder or ``out`` exists and
    ``overwrite`` is off; `OutputBusyError` (an InputError) when
    another writer holds ``out``'s lock (`MapWriter`)."""
    from ..core.encoding_store import EncodingStoreWriter
    from ..core.keyframes import KeyframeMap
    from .pipeline import progress  # bars: 44 s for 2x5000 keyframes, minutes at 10^4 each

    check_output_folder(out, overwrite, (MANIFEST,))
    for name, src in (("A", a), ("B", b)):
        if os.path.realpath(out) == os.path.realpath(src):
            raise InputError(f"--out {out} is map {name}: the merge would replace an input it "
                             "reads (and lose its build_config.yaml and keyframes.png); write "
                             "the merged map to a new folder")
    if os.path.realpath(a) == os.path.realpath(b):
        raise InputError(f"A and B are the same map ({a}): merging it with itself would "
                         "duplicate every keyframe")
    maps = [KeyframeMap.load(a), KeyframeMap.load(b)]
    if maps[0].map_frame != maps[1].map_frame:
        raise InputError(f"maps {a} ({maps[0].map_frame!r}) and {b} ({maps[1].map_frame!r}) "
                         "are in different frames; only maps in one frame can be merged")
    keep = _unique_keyframes(maps, (a, b), keep_duplicates)
    if keep[1].all():  # B's copies of A's frames, if any, showed whether they share a frame
        _check_overlap(maps, (a, b), force)
    # a store or index is merged when every map that gives keyframes holds it (B's copy of
    # A's frames only: A's all); the others are dropped, and said so
    used = [i for i, k in enumerate(keep) if k.any()]
    common = _held_by(used, [m.encoding_keys() for m in maps], (a, b), "cached encodings",
                      "the localizer computes them at first use")
    asmk = _held_by(used, [m.asmk_keys() for m in maps], (a, b), "ASMK retrieval index",
                    "rebuild the map with build-map --retrieval-checkpoint to have one", "is")
    try:
        w = MapWriter(out, overwrite=overwrite, index_params=IndexParams(),
                      map_frame=maps[0].map_frame)
    except OutputBusyError as e:  # in the command line's words
        raise e.worded("--out") from None
    with w:
        for m, kept in zip(maps, keep):
            for i in progress(np.flatnonzero(kept), int(kept.sum()), "merge-maps: writing"):
                kf = m.keyframes[i]
                w.add_keyframe(np.ascontiguousarray(m.image(i)), kf.intrinsics,
                               kf.map_from_cam, kf.stamp_ns, m.depth(i))
        for identity, size in common:
            sw = EncodingStoreWriter(w.encoding_dir(identity, size))
            glob = []
            for m, kept in ((maps[i], keep[i]) for i in used):
                enc = m.load_encodings(identity, size)
                for i in np.flatnonzero(kept):
                    sw.append({**enc.per_keyframe[i], "to_orig": enc.to_orig[i],
                               "global": enc.global_desc[i]})
                    glob.append(np.asarray(enc.global_desc[i], np.float32))
            w.add_encoding_store(identity, size, sw.close(), np.stack(glob))
        for rid, eid, size in asmk:
            w.add_asmk(_concat_asmk([maps[i].load_asmk(rid, eid, size) for i in used],
                                    [keep[i] for i in used]), eid, size)
        w.commit()
    return int(sum(k.sum() for k in keep))


def _check_overlap(maps, names: Tuple[str, str], force: bool) -> None:
    """InputError (a warning with ``force``) when B's keyframes disagree with A's where the
    poses make them overlap (`check_across`: the map check's measurements on the nearest cross
    pairs), which the map check of the merged map, comparing neighbours in recording order,
    would not see; a warning when none overlap. Run when B shares no frame with A (a copy's
    pose already shows whether they share a frame)."""
    from ..core.config import MapCheckConfig
    from ..core.map_check import MapRecords
    from ..core.map_check.overlap import APART, DISAGREE, NO_DEPTH, check_across

    rep = check_across(MapRecords(maps[0]), MapRecords(maps[1]), MapCheckConfig())
    a, b = names
    if rep.verdict == NO_DEPTH:
        log.info("merge-maps: neither map has depth, so whether %s and %s agree where they "
                 "overlap is not checked", a, b)
    if rep.verdict == DISAGREE:
        why = (f"merge-maps: where the poses make keyframes of {a} and {b} overlap, only "
               f"{rep.agreeing} of {rep.judged} pairs agree (e.g. {rep.first_disagreement()}): "
               "the maps are not in one frame, or not of one place, and the merged map would "
               "localize frames in the wrong one; check that both were built with poses in one "
               "map frame")
        if not force:
            raise InputError(f"{why} (nothing written; --force writes it anyway)")
        log.warning("%s (written: --force)", why)
    elif rep.verdict == APART:
        log.warning("merge-maps: no keyframe of %s overlaps one of %s where the poses put them "
                    "(no cameras within %.1f m of each other, or their views share no depth or "
                    "features): fine for maps of different places in one frame; maps of one "
                    "place are then not in one frame", b, a, 2 * rep.look_m)


def _held_by(used: List[int], keys: List[list], names: Tuple[str, str], what: str,
             then: str, verb: str = "are") -> list:
    """The keys (in the first holder's order) that every map in ``used`` holds; a warning for
    each key some map holds that the merged map will lack (which map lacks it, and ``then``;
    ``verb``: 'are' for a plural ``what``, 'is' for a singular one)."""
    held = [k for k in dict.fromkeys(k for ks in keys for k in ks)
            if all(k in keys[i] for i in used)]
    for k in dict.fromkeys(k for ks in keys for k in ks):
        if k not in held:
            lacking = [names[i] for i in used if k not in keys[i]]
            log.warning("merge-maps: %s %s of %s %s not in %s, so the merged map has none; "
                        "%s", what, "/".join(str(x) for x in k),
                        " and ".join(names[i] for i, ks in enumerate(keys) if k in ks), verb,
                        " and ".join(lacking), then)
    return held


def _unique_keyframes(maps, names, keep_duplicates: bool) -> List[np.ndarray]:
    """Per map, a bool mask of the keyframes to merge: False for a keyframe whose stamp and
    image equal an earlier one's (all True with ``keep_duplicates``). Logs the drop count and
    warns when two copies of one frame have different poses, or depths at another scale (the
    maps were built with different depth units: one of them is wrong)."""
    from .pipeline import progress

    seen: Dict[tuple, tuple] = {}
    keep, dropped, worst, ratios = [], 0, (0.0, 0.0), []
    for mi, m in enumerate(maps):
        mask = np.ones(len(m), bool)
        for i, kf in enumerate(progress(m.keyframes, len(m), f"merge-maps: reading {names[mi]}")):
            img = m.image(i)
            key = (int(kf.stamp_ns), img.shape, hashlib.sha256(img.tobytes()).digest())
            first = seen.get(key)
            if first is None:
                seen[key] = (mi, i, kf.map_from_cam)
                continue
            dropped += 1
            mask[i] = keep_duplicates
            gap = _pose_gap(first[2], kf.map_from_cam)  # each figure at its worst copy
            worst = (max(worst[0], gap[0]), max(worst[1], gap[1]))
            ratio = _depth_ratio(maps[first[0]].depth(first[1]), m.depth(i))
            if ratio is not None and abs(math.log(ratio)) > math.log1p(DEPTH_RATIO_TOLERANCE):
                ratios.append(ratio)
        keep.append(mask)
    if dropped:
        log.info("%d keyframe(s) of %s are frames %s already holds (same stamp and image): %s",
                 dropped, names[1], names[0], "kept (--keep-duplicates)" if keep_duplicates
                 else "dropped (--keep-duplicates keeps them)")
    if worst[0] > 1e-3 or worst[1] > 1e-2:
        log.warning("the same frame has poses %.3g m / %.3g deg apart in %s and %s: the maps "
                    "are not in one frame (built from different pose sources?)",
                    worst[0], worst[1], *names)
    if ratios:
        a, b = names
        what = ("both copies are kept (--keep-duplicates), so the merged map holds both depths"
                if keep_duplicates else f"the merged map keeps {a}'s depth and drops {b}'s")
        spread = (f" (median; {min(ratios):.3g} to {max(ratios):.3g})"
                  if max(ratios) - min(ratios) > 1e-3 * max(ratios) else "")
        log.warning("%d keyframe(s) of %s are frames %s holds too, but with depth %.3g times "
                    "theirs%s: the maps were built with different depth scales (build-map "
                    "--depth-scale, or the sensor's depth unit); %s. Check each map's depth "
                    "(mast3r-ros check-map) and rebuild the wrong one",
                    len(ratios), b, a, float(np.median(ratios)), spread, what)
    return keep


# copies of one frame whose median depth ratio is further from 1 than this differ in scale (the
# 16-bit depth format's rounding, 1 cm at 100 units/m, stays well under it at indoor depths)
DEPTH_RATIO_TOLERANCE = 0.02
_MIN_DEPTH_PIXELS = 16  # pixels with depth in both copies needed to judge a ratio


def _depth_ratio(kept: Optional[np.ndarray], other: Optional[np.ndarray]) -> Optional[float]:
    """Median of ``other / kept`` over the pixels with depth in both; None when too few."""
    if kept is None or other is None or kept.shape != other.shape:
        return None
    both = np.isfinite(kept) & (kept > 0) & np.isfinite(other) & (other > 0)
    if int(both.sum()) < _MIN_DEPTH_PIXELS:
        return None
    return float(np.median(other[both] / kept[both]))


def _pose_gap(a_from_x: np.ndarray, a_from_y: np.ndarray) -> tuple:
    """(translation m, rotation deg) between two poses of one frame."""
    d = np.linalg.inv(a_from_x) @ a_from_y
    cos = np.clip((np.trace(d[:3, :3]) - 1.0) / 2.0, -1.0, 1.0)
    return float(np.linalg.norm(d[:3, 3])), float(np.degrees(np.arccos(cos)))


def _concat_asmk(parts, keep):
    """One `AsmkIndex` of the images of ``parts`` in order, only those whose ``keep`` (one bool
    mask per part) is True (what building it from their vectors would give: entries of a word
    stay in image order)."""
    from ..core.asmk import AsmkIndex

    words, ids, codes, counts, base = [], [], [], [], 0
    for p, kept in zip(parts, keep):
        new_id = np.cumsum(kept) - 1 + base  # renumbered ids of the kept images
        entry = kept[p.image_ids]
        words.append(np.repeat(np.arange(p.num_words), np.diff(p.offsets))[entry])
        ids.append(new_id[p.image_ids[entry]])
        codes.append(p.codes[entry])
        counts.append(p.words_per_image[kept])
        base += int(kept.sum())
    words, ids, codes = np.concatenate(words), np.concatenate(ids), np.concatenate(codes)
    order = np.lexsort((ids, words))
    offsets = np.zeros(parts[0].num_words + 1, np.int64)
    np.cumsum(np.bincount(words, minlength=parts[0].num_words), out=offsets[1:])
    return AsmkIndex(offsets, ids[order].astype(np.int32), np.ascontiguousarray(codes[order]),
                     np.concatenate(counts).astype(np.int32), parts[0].dim, parts[0].identity)
