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
import json
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from ..core.config import Config, ModelConfig
from ..core.encoding_store import EncodingStore, StoreTable
from ..core.errors import CheckpointError, InputError
from ..core.image_codec.compressed import read_own_image
from ..core.fileio import (OutputBusyError, atomic_write_json, output_path,
                           refuse_busy_output)
from ..core.keyframes import MapWriter
from ..core.keyframes.target import _check_partial, finished_shards
from ..core.keyframes.writer import UnfinishedBuildError
from ..core.retrieval_index import IndexParams
from ..core.keyframes.layout import encoding_folder
from ..core.keyframes.encodings import content_id_of
from .parallel_build import build_encodings, clear_markers, resume_mismatch

log = logging.getLogger(__name__)

_BUILD_INFO = "build.json"  # in the staging folder while a build runs: what it is encoding


# build-map with the mast3r matcher and no checkpoint (the defaults): the map is built (its
# keyframes serve both matchers) but said loudly, with what it means and both fixes: localize
# with the same defaults refuses, and the map records matcher mast3r
NO_ENCODINGS = ("matcher 'mast3r' with no checkpoint: the map gets no MASt3R encodings; "
                "localizing against it needs --checkpoint (its keyframes are then encoded on "
                "the first run) or --matcher sift: pass --checkpoint PATH to encode them now "
                "(see README: 'Model weights'), or build with --matcher sift for a SIFT map")


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
    float64 and ``global`` (C,) float32 (`matchers.map_encodings.encode_keyframe`). The engine is
    built on the first call in each process (`Mast3rEngine.from_config`), never pickled."""

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
        from ..core.matchers.map_encodings import encode_keyframe
        from ..core.model.engine import Mast3rEngine

        if self._engine is None:
            self._engine = Mast3rEngine.from_config(self.model)
        bgr = read_own_image(self.image_paths[index], cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read keyframe image {self.image_paths[index]}")
        e = encode_keyframe(self._engine, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.image_size)
        return {**e.arrays, "to_orig": e.to_orig, "global": e.global_desc}


def refuse_other_unfinished_builds(encodings_dir: str, this: str, resume: bool,
                                   identity: str = "", image_size: int = 0,
                                   size_only: bool = False) -> None:
    """With ``resume``, refuse a build folder whose encodings were made for another checkpoint
    or image size (another folder of ``encodings_dir`` than ``this``, its shards unfinished or
    all written -- a build killed after encoding, e.g. during its ASMK index): a build-map run
    encodes one (checkpoint, size), so resuming with other settings would re-encode everything
    and leave that folder in the map as dead data. Raises InputError naming the folder and, as
    the load log does, the checkpoint ids (``identity``/``image_size``: this run's; the other
    build's when its build.json still says). ``size_only``: before the checkpoint is loaded,
    only a folder of another size than ``image_size`` is refused."""
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
            if size_only and size == str(image_size):
                continue  # its checkpoint is compared once this run's is loaded
            mine = (f"this run's checkpoint id {identity} at {image_size}" if identity
                    else "this run's checkpoint and size")
            what = (f"another image size than this run's {image_size}" if size_only else
                    f"another checkpoint or image size than {mine} ({this})" if this else
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


def staging_info(identity: str, size: int, images: List[str], content_id: str) -> Dict:
    """What an encoding build records in its staging folder (``build.json``) and ``--resume``
    compares: the checkpoint's sampled ``identity`` and full ``content_id`` (when known: a
    fine-tune that keeps the sampled id does not resume shards of the earlier weights), the
    image size and the keyframe images' checksums."""
    info: Dict = {"identity": identity, "image_size": int(size), "images": list(images)}
    if content_id:
        info["content_id"] = content_id
    return info


def _check_staging(staging: str, info: Dict, resume: bool) -> None:
    path = os.path.join(staging, _BUILD_INFO)
    if resume and os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                old = json.load(fh)
        except (OSError, ValueError) as e:  # emptied or cut by a hard stop, unreadable
            raise InputError(
                f"--resume: the unfinished build in {os.path.dirname(staging)} cannot be "
                f"matched to this run: its record {path} of what it encodes is unreadable "
                f"({'empty' if os.path.getsize(path) == 0 else e}: a hard stop or a full disk "
                "while it was written?), so its shards may be of another checkpoint or other "
                "keyframes; rerun with --restart instead of --resume to delete it and start "
                "over") from None
        if isinstance(old, dict) and "content_id" not in old:  # begun before it was recorded
            info = {k: v for k, v in info.items() if k != "content_id"}
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


def _unfinished_build(partial: str, out: str, shards: int, overwrite: bool) -> str:
    again = " --overwrite" if overwrite else ""
    return (f"{partial} holds an unfinished build of {out} with {shards} encoded shard(s): "
            f"rerun with --resume{again} to continue it, or with --restart{again} to delete it "
            "and start over")


def encoded_size(cfg: Config) -> int:
    """The image size a build-map run with ``cfg`` encodes its keyframes at; 0: it encodes
    none (--matcher sift, no checkpoint)."""
    encodes = cfg.localizer.matcher == "mast3r" and bool(cfg.model.checkpoint)
    return int(cfg.model.image_size) if encodes else 0


def check_unfinished_build(out: str, overwrite: bool, resume: bool, restart: bool,
                           encodes: int) -> None:
    """build-map's refusal of ``OUT.partial`` (`open_map_writer`'s, in the same words), made
    before the source is read (seconds to minutes) as localize refuses its ``RUN.partial``:
    an ``OUT.partial`` holding encoded shards without ``resume`` or ``restart``, one that is
    no map build at all, or, with ``resume``, one holding encodings of another image size than
    ``encodes`` (the run's, `encoded_size`; 0 for a run that encodes no keyframe, --matcher
    sift or no checkpoint: any encodings) (`refuse_other_unfinished_builds`);
    `OutputBusyError` (naming --out) first when a live build holds ``out``. Raises
    `InputError`; `MapWriter` checks again under its lock."""
    refuse_busy_output(out, "--out")  # a live build's OUT.partial is no unfinished one
    partial = output_path(out) + ".partial"
    _check_partial(out, partial, resume)
    if not encodes:  # refused now, not after the source is read and its keyframes chosen
        refuse_other_unfinished_builds(os.path.join(partial, "encodings"), "", resume)
    else:  # another image size is refused now too (the checkpoint's id once it is loaded)
        refuse_other_unfinished_builds(os.path.join(partial, "encodings"), "", resume,
                                       image_size=encodes, size_only=True)
    if resume or restart or not os.path.isdir(partial):
        return
    shards = finished_shards(partial)
    if shards:
        raise InputError(_unfinished_build(partial, out, shards, overwrite))


def open_map_writer(out: str, overwrite: bool, resume: bool, index_params: IndexParams,
                    map_frame: str, restart: bool = False, encodes: bool = True) -> MapWriter:
    """build-map's resumable `MapWriter` for ``out``, its refusals in the command line's words:
    `OutputBusyError` (another writer holds ``out``'s lock; naming --out) and `InputError` for
    an ``OUT.partial`` holding encoded shards without ``resume`` or ``restart`` (naming --resume
    and --restart; ``overwrite`` only replaces a map at ``out``, so that rerunning an
    interrupted ``--overwrite`` build, as typed, never discards its shards), or, with
    ``resume`` and a run that ``encodes`` no keyframe, holding encodings
    (`refuse_other_unfinished_builds`): before '--resume: ... starts from the first frame' is
    logged, which a refused build does not."""
    partial = output_path(out) + ".partial"  # `MapWriter`'s build folder: made by it
    if not encodes:
        refuse_other_unfinished_builds(os.path.join(partial, "encodings"), "", resume)
    fresh = resume and not os.path.lexists(partial)
    # a build stopped before its first encoded shard (or a sift build): nothing to keep
    idle = resume and not fresh and os.path.isdir(partial) and not finished_shards(partial)
    try:
        w = MapWriter(out, overwrite=overwrite, resumable=True, resume=resume,
                      index_params=index_params, map_frame=map_frame, restart=restart)
    except OutputBusyError as e:
        raise e.worded("--out") from None
    except UnfinishedBuildError as e:
        raise InputError(_unfinished_build(e.partial, out, e.shards, overwrite)) from None
    if fresh:  # as localize --resume (run_resume.start_from_partial)
        log.info("--resume: no unfinished build of %s (no %s), so the build starts from the "
                 "first frame", out, partial)
    elif idle:  # as localize's '--resume: RUN.partial holds no results, so the run starts ...'
        log.info("--resume: %s holds no encoded shard, so the build starts from the first frame",
                 partial)
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
    none is given); the codebook returned stays as given, for `check_retrieval_files`. The
    files of --params have ``~`` and ``$VARS`` expanded, as the node reads them
    (`resolve_checkpoint`).

    Raises `CheckpointError` when the retrieval checkpoint of --params is not a file (a
    robot's parameter file on another machine), naming it and both ways on; `InputError` for
    a ``codebook`` given to a build that builds no ASMK index (it was dropped without a word,
    where a --retrieval-checkpoint is refused)."""
    if checkpoint == "":
        _refuse_unused_codebook(codebook, "--retrieval-checkpoint '' builds no ASMK index")
        return (dataclasses.replace(cfg, retrieval=dataclasses.replace(
            cfg.retrieval, checkpoint="", codebook="")), None, None)
    if not checkpoint:
        r = cfg.retrieval
        if not (r.checkpoint and cfg.localizer.matcher == "mast3r" and cfg.model.checkpoint):
            _refuse_unused_codebook(codebook, (
                "no --retrieval-checkpoint is given (nor retrieval.checkpoint in --params)"
                if not r.checkpoint else "this build encodes no keyframes (--matcher "
                f"{cfg.localizer.matcher}{'' if cfg.model.checkpoint else ', no --checkpoint'})"))
            return cfg, None, None
        from ..core.model.checkpoint import resolve_checkpoint

        # '~' and $VARS expanded, as the node and localize read these parameters: the
        # isfile check expanded '~', then `check_retrieval_files` refused the path unexpanded
        checkpoint = resolve_checkpoint(r.checkpoint) or ""
        codebook = codebook or resolve_checkpoint(r.codebook) or None
        if not os.path.isfile(checkpoint):
            raise CheckpointError(
                f"retrieval checkpoint not found: {checkpoint} (retrieval.checkpoint of "
                "--params); pass --retrieval-checkpoint PATH, or --retrieval-checkpoint '' to "
                "build the map without an ASMK index")
    from ..core.retrieval_model import default_codebook_path

    resolved = codebook or default_codebook_path(checkpoint)
    return (dataclasses.replace(cfg, retrieval=dataclasses.replace(
        cfg.retrieval, checkpoint=checkpoint, codebook=resolved)), checkpoint, codebook)


def _refuse_unused_codebook(codebook: Optional[str], why: str) -> None:
    """Raise `InputError` when a --codebook is given to a build without an ASMK index."""
    if codebook:
        raise InputError(f"--codebook {codebook}: the ASMK codebook is used with a retrieval "
                         f"checkpoint, and {why}: drop --codebook, or build with --matcher "
                         "mast3r, a --checkpoint and --retrieval-checkpoint R")


def check_build_files(cfg: Config, opts: BuildOptions, network: bool = True) -> None:
    """Fail fast, before a source is read or a keyframe checked (minutes on a large bag): the
    checkpoint the encodings need (mast3r matcher with a checkpoint configured) exists and is
    no empty, text or cut-short file nor a folder without a Hugging Face checkpoint's files
    (`require_checkpoint`) nor a DUSt3R checkpoint (its constructor string names it:
    `declared_arch`; a bare DUSt3R state dict is refused once loaded, `encode_map_keyframes`),
    its device exists here (`resolve_device`; not with --ray-address), the retrieval
    checkpoint and codebook of ``opts`` exist, and, last (the cheap checks first; ``network``
    False: build-map runs it after connecting to Ray, once its source is found,
    `build_network.prepare_build`), its network loads
    (`build_network.load_build_network`). Raises `CheckpointError` naming the
    missing file and how to pass it, and `InputError` for a retrieval checkpoint in a build
    that encodes no keyframes (--matcher sift, or no checkpoint; it was refused only once the
    source was read and its keyframes checked), and `ConfigError` for a device this machine
    lacks."""
    encodes = cfg.localizer.matcher == "mast3r" and bool(cfg.model.checkpoint)
    if encodes:
        from ..core.model.checkpoint import require_checkpoint, resolve_checkpoint

        path = resolve_checkpoint(cfg.model.checkpoint)
        require_checkpoint(path)
        from ..core.model.checkpoint_arch import declared_arch, no_descriptors_for_map

        if declared_arch(path) == "dust3r":  # told by its constructor string, weights unread
            raise CheckpointError(no_descriptors_for_map(path))
        from ..core.devices import resolve_device

        if not opts.ray_address:  # Ray workers resolve it on their own machines
            # --device cuda without CUDA: refused now, not after the source was read
            resolve_device(cfg.model.device)
    if opts.retrieval_checkpoint:
        from ..core.retrieval_model import check_retrieval_files

        check_retrieval_files(opts.retrieval_checkpoint, opts.codebook)
    if opts.retrieval_checkpoint and not encodes:
        why = (f"--matcher {cfg.localizer.matcher} computes none"
               if cfg.localizer.matcher != "mast3r" else "no --checkpoint is configured")
        raise InputError("--retrieval-checkpoint needs the mast3r matcher and --checkpoint: "
                         f"the ASMK index is computed from the keyframes' encoder output ({why}); "
                         "drop --retrieval-checkpoint, or build with --matcher mast3r and a "
                         "--checkpoint")
    if network:
        from .build_network import load_build_network

        load_build_network(cfg, opts)


def network_takes(frame: Any, checked: set, cfg: Config) -> None:
    """`InputError` when a keyframe's image is one the network cannot take at the configured
    image_size (`preprocess.plan_resize`: under 16 px on its short side, over 4:1), for a build
    that encodes (the mast3r matcher with a checkpoint), said as the recording's frame at its
    stamp: before, the same words came without the frame, once every keyframe had been read
    and the network loaded. ``checked``: the (width, height) already judged (one per camera)."""
    if cfg.localizer.matcher != "mast3r" or not cfg.model.checkpoint:
        return
    h, w = frame.rgb.shape[:2]
    if (w, h) in checked:
        return
    from ..core.model.preprocess import plan_resize

    try:
        plan_resize(w, h, cfg.model.image_size)
    except InputError as e:
        raise InputError(f"the recording's keyframe at stamp {frame.stamp_ns / 1e9:.6f} s: "
                         f"{e}") from None
    checked.add((w, h))



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
    if not cfg.model.checkpoint:  # warned before the recording was read: load_build_network
        return None
    from ..core.model.engine import Mast3rEngine
    from .build_network import head_model  # the host's device where Ray's workers have theirs

    engine = Mast3rEngine.from_config(head_model(cfg, opts))
    if not engine.has_descriptors:  # a bare DUSt3R state dict: its class named nowhere
        from ..core.model.checkpoint_arch import no_descriptors_for_map

        engine.close()
        raise CheckpointError(no_descriptors_for_map(cfg.model.checkpoint))
    identity, size = engine.identity, cfg.model.image_size
    content = content_id_of(engine)  # every byte of the weights, recorded beside the identity
    n = len(w.records)
    # checked before the store folder is made, so a refusal leaves the build folder as it was
    folder = os.path.join(w.tmp, encoding_folder(identity, size))
    refuse_other_unfinished_builds(os.path.dirname(folder), os.path.basename(folder), opts.resume,
                                   identity, size)
    staging = w.encoding_dir(identity, size)
    images = [w.files[r["image"]]["sha256"] for r in w.records]
    _check_staging(staging, staging_info(identity, size, images, content), opts.resume)
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
                                threads=opts.threads, progress=True,
                                pin=opts.pin)
    finally:
        if local:
            engine.close()
    # the shard markers and build.json stay until the map is published (`commit_build`):
    # a build interrupted after encoding (ASMK index, plot, manifest) resumes without
    # re-encoding, and --resume still refuses a build folder made for other keyframes
    w.add_encoding_store(identity, size, table, global_descriptors(staging, table), content)
    return identity


def finish_encodings(w: MapWriter, folder: Optional[str] = None) -> None:
    """Delete the resume bookkeeping (shard markers, ``build.json``) from the encoding stores
    the writer lists, in ``folder`` (default: its build folder), so that what stays is exactly
    the stores their tables describe. `commit_build` calls it on the published map."""
    for entry in w.encodings:
        staging = os.path.join(folder or w.tmp, entry["store"])
        if not os.path.isdir(staging):
            continue
        clear_markers(staging)
        info = os.path.join(staging, _BUILD_INFO)
        if os.path.exists(info):
            os.unlink(info)


def commit_build(w: MapWriter) -> str:
    """Publish the map `MapWriter.commit` builds in ``w``; returns its path. The resume
    bookkeeping (shard markers, ``build.json``) stays in the build folder through the whole
    commit and is deleted from the map once the map is renamed into place, before ``OUT``'s
    lock is released (`finish_encodings`). So whenever the commit fails, is stopped, or is
    killed (SIGKILL, a power cut: no handler runs), what is on disk is either ``OUT.partial``
    with every marker, which --resume finishes without encoding a keyframe again, or the
    published map (killed between its rename and that deletion: with those few files beside
    its stores, which nothing reads). (They were deleted before the commit and put back from
    memory on an error: a kill in between lost them, and --resume encoded every keyframe
    again.)"""
    def published(path: str) -> None:
        try:
            finish_encodings(w, path)
        except OSError as e:  # the map is published and complete: a warning, not an error
            log.warning("the map %s is published, but its build's resume bookkeeping "
                        "(encodings/*/shard_*.json, build.json) could not be deleted from it "
                        "(%s): nothing reads those files; delete them when you can",
                        path, e.strerror or e)

    return w.commit(on_published=published)


def commit_failure_words(e: OSError, kept: int, tmp: str, hint: str) -> str:
    """The words of an ``OSError`` ``e`` at a build's commit (its flush) or while it keeps
    finished shards (`kept_build_error`): what became of the build folder ``tmp`` (``kept``:
    its finished shards, and ``hint``, how to go on: build-map's own, 'rerun with --resume',
    gets 'to finish it': the shards left, if any, and publishing the map)."""
    if hint.startswith("rerun with --resume"):
        hint += " to finish it"
    return f"{e.strerror}; " + (f"the build is kept in {tmp} ({hint})" if kept else
                                "the build folder was deleted")


def kept_build_error(e: BaseException, out: str, kept: int, tmp: str, hint: str
                     ) -> Optional[OSError]:
    """The ``OSError`` build-map raises for ``e``, which failed the build of ``out`` whose
    folder ``tmp`` holds ``kept`` finished shards, in its one line what became of that folder
    (`commit_failure_words`): for the flush before the rename (it names ``out``) and for any
    path refused while shards are kept (a full disk, a read-only remount, a permission: the
    pooled index stored after the last shard too, whose line said only 'no space left');
    None (raise ``e`` as it is) for another error, one without an errno, and a Ray peer's
    ``ConnectionError``, which the command line words on its own."""
    if (not isinstance(e, OSError) or isinstance(e, ConnectionError) or not e.errno
            or not (e.filename == out or kept)):
        return None
    return OSError(e.errno, commit_failure_words(e, kept, tmp, hint), e.filename)


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
    from .pipeline import progress

    feats = (store.get(i)["feats"].astype(np.float32) for i in range(len(store)))
    vecs = retriever.database_vectors(
        progress(feats, len(store), "build-map: ASMK index", unit="keyframe"), batch)
    w.add_asmk(AsmkIndex.build(vecs, retriever.codebook.num_words, retriever.codebook.dim,
                               retriever.identity), identity, image_size)
    log.info("ASMK index of %d keyframes for %s", len(vecs), retriever.identity)
    return retriever.identity


# merge-maps lives in map_merge.py; its names stay importable from here
from .map_merge import (  # noqa: E402, F401
    DEPTH_RATIO_TOLERANCE, _check_overlap, _concat_asmk, _depth_ratio, _held_by, _pose_gap,
    _unique_keyframes, merge_maps)
