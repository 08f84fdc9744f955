"""merge-maps: two keyframe maps in one frame joined into a v3 map (`merge_maps`), the copies of
one camera frame dropped (`_unique_keyframes`), and the overlap of maps that share none checked
(`_check_overlap`). Moved out of `map_build.py`, which re-exports these names."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..core.errors import InputError, mark_published
from ..core.fileio import OutputBusyError, check_output_folder
from ..core.geometry import invert_poses
from ..core.keyframes import MapWriter
from ..core.keyframes.layout import MANIFEST
from ..core.retrieval_index import IndexParams
from .map_content import content_digests
from .out_source import refuse_out_over_maps
from .plots_merged import plot_merged_keyframes

log = logging.getLogger(__name__)


def merge_maps(a: str, b: str, out: str, overwrite: bool = False,
               keep_duplicates: bool = False, force: bool = False) -> int:
    """Join two v1/v2/v3 maps in the same ``map_frame`` into a v3 map at ``out``: A's
    keyframes, then B's (ids renumbered 0..; their PNG files copied byte for byte, the depth at
    its map's units per metre, no decode), the encodings of every (checkpoint, size) that
    each map giving keyframes caches (records concatenated, pooled index rebuilt), the ASMK
    indexes each such map holds (inverted files concatenated), and the thumbnail index rebuilt;
    a store or index the merged map cannot have (one map lacks it) is logged as a warning. The
    rebuilt retrieval indexes take the settings A and B were built with (`_index_params`).
    The manifest records A and B under ``merged_from`` (`merged_from`: with the frames each
    build skipped as unreadable, for check-map). Returns the keyframe count.

    A keyframe whose stamp and image pixels equal those of an earlier keyframe (A's, in
    practice: two maps built from one recording with different settings share frames) is the
    same camera frame twice: it is dropped with its encodings and ASMK entries, unless
    ``keep_duplicates``, and the count is logged. Copies whose poses disagree (more than 1 mm
    or 0.01 degree) are logged as a warning: the maps are then not in one frame after all.
    When B shares no frame with A and their keyframes disagree where the poses make them
    overlap (`_check_overlap`), nothing is written unless ``force`` (then a warning), as
    build-map refuses an inconsistent map. When B adds nothing (every keyframe of B a copy of
    one of A's at its pose, without ``keep_duplicates``: a copy of A, or a map of some of A's
    frames) an INFO line says so: ``out`` is then a copy of A. Raises InputError for that
    inconsistency, when the frames
    differ, when A and B record different ``image_stamp`` unless ``force``
    (`_check_image_stamps`, before the files are hashed: their shared frames would be kept
    twice), or (before reading A and B) when A and B are one folder, ``out`` is, lies inside or
    holds A or B (`out_source.refuse_out_over_maps`), or ``out`` exists and ``overwrite`` is off;
    `MapFormatError` for an A or B that is no map or lacks files (both
    checked before either is read, `KeyframeMap.check_folder`), or is corrupt;
    `OutputBusyError` (an InputError) when another writer holds ``out``'s lock (`MapWriter`)."""
    from ..core.encoding_store import EncodingStoreWriter
    from ..core.keyframes import KeyframeMap
    # bars: 2x5000 keyframes took 44 s decoded and re-encoded; copied as bytes, 640x480 ones take
    # ~5 ms each with the load (bench/bench_merge_maps.py), a minute at 10^4 each
    from .pipeline import progress

    refuse_out_over_maps(out, (("A", a), ("B", b)))  # is, lies inside or holds one
    check_output_folder(out, overwrite, (MANIFEST,))
    if os.path.realpath(a) == os.path.realpath(b):
        raise InputError(f"A and B are the same map ({a}): merging it with itself would "
                         "duplicate every keyframe")
    # B copied only in part (or no map at all) refused before A is read whole (every file
    # checksummed: a minute at 10^4 keyframes), in the words of B's own open
    for path in (a, b):
        KeyframeMap.check_folder(path)
    # every file checksummed but the keyframe PNGs, each verified once, when it is read
    # (copied, or dropped as a copy): a full open hashed them, `keyframe_pngs` again, the
    # writer a third time (~2 s per 3000 keyframes)
    # no encoding cache: each keyframe's encodings are read once, to be copied (the default
    # 1 GB LRU of a localizer's map held up to 1 GB per map of records never read again)
    maps = [KeyframeMap.load(a, lazy=True, encoding_cache_mb=0),
            KeyframeMap.load(b, lazy=True, encoding_cache_mb=0)]
    _check_image_stamps(maps, (a, b), force)  # from the manifests, before minutes of hashing
    def file_bar(it, total, desc):  # minutes of hashing for 10^4 ViT-L keyframes
        return progress(it, total, f"merge-maps: {desc}", unit="chunk")

    if maps[0].map_frame != maps[1].map_frame:  # from the manifests: before the hashing
        fa, fb = maps[0].map_frame, maps[1].map_frame
        raise InputError(
            f"maps {a} ({fa!r}) and {b} ({fb!r}) are in different frames (each map's "
            "map_frame, set by the map_frame parameter of the --params it was built with, "
            "default 'map'), and merge-maps moves no pose between frames: if both maps' poses "
            "are in one frame, "
            f"rebuild {b} with map_frame: {fa!r} in its --params; else bring its poses into "
            f"{fa!r} first")
    for m in maps:
        m.verify_files(images=False, progress=file_bar)
    apart: List[tuple] = []  # copies of one frame at other poses: no proof of one frame
    keep = _unique_keyframes(maps, (a, b), keep_duplicates, apart)
    if not keep[1].any() and not apart:  # said plainly: the count of copies read as a merge
        # (at INFO, as that count: nothing is lost, and a merge of merges does this on purpose)
        log.info("merge-maps: %s adds nothing to %s: each of its %d keyframes is a frame %s "
                 "already holds at the same pose (same stamp and image), so %s is a copy of %s "
                 "(its keyframes and stores; --keep-duplicates merges B's copies too)",
                 b, a, len(keep[1]), a, out, a)
    for m, kept in zip(maps, keep):  # a copy dropped is verified as a full open did
        for i in np.flatnonzero(~kept):
            m.keyframe_pngs(i)
    if keep[1].all() or apart:  # B's copies of A's frames at A's poses show one frame
        _check_overlap(maps, (a, b), force)
    # a store or index is merged when every map that gives keyframes holds it (B's copy of
    # A's frames only: A's all); the others are dropped, and said so
    used = [i for i, k in enumerate(keep) if k.any()]
    common = _held_by(used, [m.encoding_keys() for m in maps], (a, b), "cached encodings",
                      "the localizer computes them at first use")
    contents = _content_ids(common, [maps[i] for i in used], [(a, b)[i] for i in used])
    asmk = _held_by(used, [m.asmk_keys() for m in maps], (a, b), "ASMK retrieval index",
                    "rebuild the map with build-map --retrieval-checkpoint to have one", "is")
    # nor an ASMK index built on encodings of other weights in each map
    asmk = [k for k in asmk if len({maps[i].asmk_content_id(*k) for i in used} - {""}) < 2]
    try:
        w = MapWriter(out, overwrite=overwrite, index_params=_index_params(maps, (a, b)),
                      map_frame=maps[0].map_frame)
    except OutputBusyError as e:  # in the command line's words
        raise e.worded("--out") from None
    with w:
        for m, kept, name in zip(maps, keep, (a, b)):
            # the PNG files copied as they are (lossless: no decode and re-encode), the
            # thumbnails as the map stores them (v1 maps: computed from the images)
            thumbs = m.thumbnail_descriptors() if kept.any() else None
            for i in progress(np.flatnonzero(kept), int(kept.sum()), "merge-maps: writing",
                              unit="keyframe"):
                kf = m.keyframes[i]
                image, depth, scale = m.keyframe_pngs(i)
                w.add_keyframe_png(image, kf.intrinsics, kf.map_from_cam, kf.stamp_ns, depth,
                                   scale, thumbs[i], source=f"map {name}, keyframe {kf.id}",
                                   sha256=m.keyframe_png_sha256(i))  # verified on that read
        for identity, size in contents:
            # no fsync per chunk: the commit flushes the map's files together
            sw = EncodingStoreWriter(w.encoding_dir(identity, size), durable=False)
            glob = []
            for m, kept, name in ((maps[i], keep[i], (a, b)[i]) for i in used):
                enc = m.load_encodings(identity, size)
                store = m.encoding_store(identity, size)  # None: a v1 map's, read whole
                # 1.5 MB per ViT-L keyframe read and written: minutes at 10^4, shown
                for i in progress(np.flatnonzero(kept), int(kept.sum()),
                                  f"merge-maps: copying encodings of {name}", unit="keyframe"):
                    if store is None:
                        arrays, to_orig = enc.per_keyframe[i], enc.to_orig[i]
                    else:  # the record read once (per_keyframe and to_orig each read it)
                        rec = store.get(i)
                        arrays = enc.per_keyframe.arrays(rec)
                        to_orig = rec["to_orig"]
                    sw.append({**arrays, "to_orig": to_orig, "global": enc.global_desc[i]})
                    glob.append(np.asarray(enc.global_desc[i], np.float32))
            w.add_encoding_store(identity, size, sw.close(), np.stack(glob),
                                 contents[(identity, size)])
        for rid, eid, size in asmk:
            w.add_asmk(_concat_asmk([maps[i].load_asmk(rid, eid, size) for i in used],
                                    [keep[i] for i in used]), eid, size)
        sources = merged_from(maps, keep, (a, b))
        _warn_depth_units(sources)
        w.set_manifest_field("merged_from", sources)
        _plot_merged(w, [int(k.sum()) for k in keep], (a, b))
        try:
            w.commit()
        except KeyboardInterrupt as e:  # a stop once it is renamed into place: complete
            if w.committed:
                mark_published(e, "the map", w.path)
            raise
    return int(sum(k.sum() for k in keep))


def _plot_merged(w: MapWriter, counts: List[int], names: Tuple[str, str]) -> None:
    """keyframes.png in the merged map, as build-map writes one (outside the file table,
    before the commit): a maintainer found no plot of a merged map to show. Top-down, the
    keyframes of A and B each in a colour, the legend naming the source maps (``names``) and
    the title counting them; `check-map --plot` adds the check's panel."""
    poses = np.stack([np.asarray(r["map_from_cam"], float).reshape(4, 4) for r in w.records])
    plot_merged_keyframes(os.path.join(w.tmp, "keyframes.png"), poses, counts, names,
                          title=f"merged map (top-down): {counts[0]} keyframes of A, "
                                f"{counts[1]} of B")


def merged_from(maps, keep: List[np.ndarray], names: Tuple[str, str]) -> List[dict]:
    """The merged manifest's ``merged_from``: per source map, in order, its ``role`` ("A",
    "B"), ``map`` (its path made absolute: a relative one named nothing once read from another
    folder), ``manifest_sha256`` (hex sha256 of its manifest.json, which lists every file's
    sha256: the map's identity, telling whether the folder at ``map`` still holds that map),
    ``content_sha256`` (`map_content.content_digests`: per part of the map the merge takes,
    so that a source rebuilt with the same content, whose manifest differs in timings only,
    is told from one that changed, and what changed is named), the ``keyframes`` it gave
    (int), and, as its manifest holds them, its
    ``unreadable_frames`` and ``frames_without_pose`` (the frames its build skipped),
    ``frames_not_read`` (the frames its build never decoded, which qualify its unreadable
    count) and ``merged_from`` (when it is itself a merge), so that check-map on the merged map
    still names them, ``max_frames`` (build-map --max-frames: the recording's start only) and
    ``image_stamp`` (which time its stamps are at) and ``recording`` (the kind read: whether
    that image_stamp counts); its ``pose_suspects``
    (`map_check.recorded_pose_suspects`: an EuRoC map's T_BS), which check-map names for the
    merged map when every source has one; its
    ``depth_units_per_m`` (`map_check.recorded_depth_units`: the raw depth unit its build read),
    with which check-map words a --depth-scale fix when every source records the same; its
    ``depth_source`` (`map_check.recorded_depth_source`: ``stereo`` for build-map
    --stereo-depth), with which check-map words its note when every source records the same
    (a merge of stereo and sensor depth: none, the sensor wording)."""
    from ..core.map_check import (recorded_depth_source, recorded_depth_units,
                                  recorded_pose_suspects)

    out = []
    for role, m, kept, name in zip("AB", maps, keep, names):
        with open(os.path.join(m.path, MANIFEST), "rb") as fh:
            raw = fh.read()  # hashed and digested as one read: one version of the file
        src = {"role": role, "map": os.path.abspath(name),
               "manifest_sha256": hashlib.sha256(raw).hexdigest(),
               "content_sha256": content_digests(json.loads(raw.decode("utf-8-sig"))),
               "keyframes": int(kept.sum())}
        for key in ("unreadable_frames", "frames_without_pose", "frames_not_read",
                    "merged_from", "max_frames", "image_stamp", "recording"):
            if m.manifest.get(key):
                src[key] = m.manifest[key]
        units = recorded_depth_units(m.manifest)
        if units is not None:  # check-map words its --depth-scale fix with it
            src["depth_units_per_m"] = units
        depth_source = recorded_depth_source(m.manifest)
        if depth_source:  # check-map words its note with it when every source has the same
            src["depth_source"] = depth_source
        suspects = recorded_pose_suspects(m.manifest)
        if suspects:  # check-map names them when every source has one (EuRoC calibrations)
            src["pose_suspects"] = suspects
        out.append(src)
    return out


def _index_params(maps, names: Tuple[str, str]) -> IndexParams:
    """The retrieval index settings (`IndexParams`: build-map's ``scale.index_type``,
    ``approx_threshold``, ...) of the merged map: those its sources were built with
    (`KeyframeMap.index_params`; a v1 map: its build_config.yaml's), the defaults when
    neither records any. Where A's and B's differ, A's, with a warning naming each differing
    setting's two values (as the merged map keeps A's copy of a shared frame): give the map
    whose settings the merged map should have as A."""
    known = [(n, p) for n, p in zip(names, (m.index_params() for m in maps)) if p is not None]
    for name, m in zip(names, maps):
        why = m.index_params_unrecorded()  # a v1 map's unreadable build_config.yaml included
        if why:
            log.info("merge-maps: map %s records no retrieval index settings (%s): the "
                     "merged map's index takes %s", name, why,
                     f"those of {known[0][0]}" if known else "the defaults")
    if not known:
        return IndexParams()
    if len(known) == 2 and known[0][1] != known[1][1]:
        (a, pa), (b, pb) = known
        diff = ", ".join(f"{f.name} {getattr(pa, f.name)!r} in {a}, {getattr(pb, f.name)!r} "
                         f"in {b}" for f in dataclasses.fields(IndexParams)
                         if getattr(pa, f.name) != getattr(pb, f.name))
        log.warning("merge-maps: the maps' retrieval indexes were built with different "
                    "settings (%s); the merged map's take A's (%s); give the map whose "
                    "settings you want as A", diff, a)
    return known[0][1]


def _warn_depth_units(sources: List[dict]) -> None:
    """A warning when the source maps' builds read depth in different raw units (their
    ``depth_units_per_m``): check-map cannot then word a --depth-scale fix for the merged map."""
    units = {src["role"]: src["depth_units_per_m"] for src in sources
             if "depth_units_per_m" in src}
    if len(set(units.values())) > 1:
        log.warning("merge-maps: the maps' builds read their depth in different raw units "
                    "(%s units per metre), so check-map on the merged map words a "
                    "--depth-scale fix without one; fine when each build's --depth-scale "
                    "matched its sensor", ", ".join(
                        f"{src['map']}: {src['depth_units_per_m']:g}" for src in sources
                        if "depth_units_per_m" in src))


def _check_overlap(maps, names: Tuple[str, str], force: bool) -> None:
    """InputError (a warning with ``force``) when B's keyframes disagree with A's where the
    poses make them overlap (`check_across`: the map check's measurements on the nearest cross
    pairs), which the map check of the merged map, comparing neighbours in recording order,
    would not see; a warning when none overlap; an INFO line with the agreeing pairs when they
    agree. Run when B shares no frame with A, or shares frames at other poses (a copy at A's
    pose already shows that they share a frame)."""
    from ..core.config import MapCheckConfig
    from ..core.map_check import MapRecords
    from ..core.map_check.overlap import AGREE, APART, DISAGREE, NO_DEPTH, check_across

    rep = check_across(MapRecords(maps[0]), MapRecords(maps[1]), MapCheckConfig())
    a, b = names
    if rep.verdict == NO_DEPTH:
        log.info("merge-maps: neither map has depth, so whether %s and %s agree where they "
                 "overlap is not checked", a, b)
    if rep.verdict == AGREE:  # said, as build-map says 'map check: consistent'
        log.info("merge-maps: where the poses make keyframes of %s and %s overlap, %d of %d "
                 "pairs agree: the maps are in one frame", a, b, rep.agreeing, rep.judged)
    if rep.verdict == DISAGREE:
        why = (f"where the poses make keyframes of {a} and {b} overlap, only "
               f"{rep.agreeing} of {rep.judged} pairs agree (e.g. {rep.first_disagreement()}): "
               "the maps are not in one frame, or not of one place, and the merged map would "
               "localize frames in the wrong one; check that both were built with poses in one "
               "map frame")
        if not force:
            raise InputError(f"{why} (nothing written; --force writes it anyway)")
        log.warning("merge-maps: %s (written: --force)", why)
    elif rep.verdict == APART:
        log.warning("merge-maps: no keyframe of %s overlaps one of %s where the poses put them "
                    "(no cameras within %.1f m of each other, or their views share no depth or "
                    "features): fine for maps of different places in one frame; maps of one "
                    "place are then not in one frame", b, a, 2 * rep.look_m)


def _content_ids(keys: list, maps: list, names: list) -> Dict[tuple, str]:
    """The cached-encoding keys (identity, size) to merge, each with the full-content id of
    the weights the merged encodings were computed with: the maps' one when they all record
    the same, "" when one predates it (unknown, as for that map). A key whose maps record
    different content ids (the same sampled id, other weights: a sparse fine-tune) is left
    out with a warning, as mixing them would pair every keyframe with the wrong weights."""
    out = {}
    for identity, size in keys:
        ids = [m.encodings_content_id(identity, size) or "" for m in maps]
        known = sorted(set(i for i in ids if i))
        if len(known) > 1:
            log.warning("merge-maps: the cached encodings for checkpoint %s at %d of %s were "
                        "computed with other weights (content ids %s: the same sampled id), so "
                        "the merged map has none; the localizer computes them at first use",
                        identity[:16], size, " and ".join(names),
                        " and ".join(i[:16] for i in ids))
            continue
        out[(identity, size)] = known[0] if known and all(ids) else ""
    return out


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


def _check_image_stamps(maps, names: Tuple[str, str], force: bool) -> None:
    """`InputError` (a warning with ``force``) when A and B record different ``image_stamp``
    (`core.image_stamp.recorded_image_stamp`: 'header' and 'receive'): their keyframe stamps
    are on different times, so a frame both hold (two builds of one recording) has two stamps,
    is not found as a copy (`_unique_keyframes` matches stamp and image) and would be kept
    twice, and the merged map records no one setting for localize's mismatch warning. Maps of
    different recordings share no frame: ``force`` merges them."""
    from ..core.image_stamp import recorded_image_stamp

    got = [recorded_image_stamp(m.manifest) for m in maps]
    if None in got or got[0] == got[1]:
        return
    what = (f"maps {names[0]} (built from a recording read with image_stamp {got[0]}) and "
            f"{names[1]} (image_stamp {got[1]}) time their keyframes differently: a frame both "
            "hold (two builds of one recording) has two stamps, is not found as a copy and is "
            "kept twice")
    if not force:
        raise InputError(f"{what}; rebuild {names[1]} with --image-stamp {got[0]} (or "
                         f"{names[0]} with {got[1]}), or pass --force for maps of different "
                         "recordings")
    log.warning("%s (--force: merged as maps of different recordings)", what)


def _unique_keyframes(maps, names, keep_duplicates: bool,
                      apart: Optional[list] = None) -> List[np.ndarray]:
    """Per map, a bool mask of the keyframes to merge: False for a keyframe whose stamp and
    image equal an earlier one's (all True with ``keep_duplicates``). Logs the drop count and
    warns when two copies of one frame have different poses, or depths at another scale (the
    maps were built with different depth units: one of them is wrong). Only the keyframes
    whose stamp another keyframe has too are decoded: no other can equal an earlier one.
    ``apart``: a list given gets the worst (metres, degrees) of copies whose poses differ."""
    from .pipeline import progress

    stamps = [m.stamps_ns() for m in maps]
    values, counts = np.unique(np.concatenate(stamps), return_counts=True)
    shared = values[counts > 1]
    pixels = _PixelKeys(maps, stamps, shared)
    seen: Dict[tuple, tuple] = {}
    keep, dropped, worst, ratios = [], 0, (0.0, 0.0), []
    for mi, m in enumerate(maps):
        mask = np.ones(len(m), bool)
        maybe = np.flatnonzero(np.isin(stamps[mi], shared))
        for i in progress(maybe, len(maybe), f"merge-maps: reading {names[mi]}",
                          unit="keyframe"):
            kf = m.keyframes[i]
            key = pixels.key(mi, int(i))
            first = seen.get(key)
            if first is None:
                seen[key] = (mi, i, kf.map_from_cam)
                continue
            dropped += 1
            mask[i] = keep_duplicates
            gap = _pose_gap(first[2], kf.map_from_cam)  # each figure at its worst copy
            worst = (max(worst[0], gap[0]), max(worst[1], gap[1]))
            if _same_depth_file(maps[first[0]], first[1], m, i):
                continue  # one depth: the ratio is 1 (or unjudged), never a scale warning
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
        if apart is not None:
            apart.append(worst)
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


class _PixelKeys:
    """The copy search's key of a keyframe: (stamp, image shape, sha256 of its decoded pixels),
    the pixels decoded only where the PNG files' own checksums cannot tell. Two keyframes whose
    image files hold the same bytes (the map's recorded sha256, verified when it was opened)
    decode to the same pixels, so where every keyframe at a stamp has the same image file (two
    maps built from one recording: the common case) none is decoded, and elsewhere each
    distinct file is decoded once. The pixel digest stands in as the file's own where it is
    not needed: within one stamp the keys are all of one kind, so they compare as before
    (2 x 10^3 shared 512x384 keyframes: 27 s of decoding, now none)."""

    def __init__(self, maps, stamps: List[np.ndarray], shared: np.ndarray):
        self.maps = maps
        files: Dict[int, set] = {}
        for mi, st in enumerate(stamps):
            for i in np.flatnonzero(np.isin(st, shared)):
                files.setdefault(int(st[i]), set()).add(self._file(mi, int(i)))
        self.decode = {s for s, f in files.items() if len(f) > 1}  # stamps whose files differ
        self.digests: Dict[tuple, bytes] = {}  # (image file sha256, shape) -> pixels' sha256

    def _file(self, mi: int, i: int) -> tuple:
        m = self.maps[mi]
        kf = m.keyframes[i]
        shape = (kf.intrinsics.height, kf.intrinsics.width, 3)
        return m._file_meta(kf.image_file)["sha256"], shape

    def key(self, mi: int, i: int) -> tuple:
        kf = self.maps[mi].keyframes[i]
        stamp = int(kf.stamp_ns)
        file = self._file(mi, i)
        if stamp not in self.decode:
            return stamp, file[1], file[0]
        if file not in self.digests:
            img = self.maps[mi].image(i)
            self.digests[file] = hashlib.sha256(img.tobytes()).digest()
        return stamp, file[1], self.digests[file]


def _same_depth_file(ma, ia: int, mb, ib: int) -> bool:
    """Whether two keyframes' depth PNGs hold the same bytes at the same units per metre (so
    the same depth): both with depth, equal recorded sha256 and ``depth_scale``."""
    a, b = ma.keyframes[ia], mb.keyframes[ib]
    if a.depth_file is None or b.depth_file is None or a.depth_scale != b.depth_scale:
        return False
    return ma._file_meta(a.depth_file)["sha256"] == mb._file_meta(b.depth_file)["sha256"]


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
    d = invert_poses(a_from_x) @ a_from_y
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
