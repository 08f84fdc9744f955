"""`mast3r-ros check-map MAP`: do a written map's keyframe poses and depth agree with each other
and with the images? (core.map_check; the same check `build-map` runs before writing a map.)

Exit 0 with a one-line summary when the map is consistent (or cannot be checked: no depth, one
keyframe), then a ``note:`` line for the frames the build skipped without a pose (the
manifest's ``frames_without_pose``: `no_pose_notes`), for each build that skipped frames it
could not read (the manifest's ``unreadable_frames``, a merged map's ``merged_from``:
`unreadable_notes`) and for each source of a merged map rebuilt with other content since
(`changed_source_notes`); 2 with the one-line message naming the keyframes, the figures, the
likely cause and the fix when it is not. ``--record`` writes a consistent map's lens-distortion
figure into its manifest (`check_map_record`: a map built before build-map recorded it).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np

from ..core.errors import MAP_PERMISSIONS, InputError, MapFormatError
from ..core.fileio import atomic_write_json, check_can_write_file
from ..core.map_nesting import enclosing_folder, is_keyframe_map

if TYPE_CHECKING:
    from ..core.keyframes import KeyframeMap
    from ..core.map_check import ConsistencyReport

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .cli_options import NAMESPACE_HELP, add_log_level
    from .node_name_option import add_node_name

    p = sub.add_parser("check-map", help="check that a map's keyframe poses and depth agree",
                       description="Reproject neighbouring keyframes' depth and image matches "
                                   "with the map's poses; report per-keyframe figures and, when "
                                   "they disagree, the likely cause (depth unit, focal "
                                   "length, pose convention, a jump in the poses) and its fix.")
    p.add_argument("map", metavar="MAP", help="keyframe map folder")
    p.add_argument("--params", metavar="YAML",
                   help="ROS parameter file with the map_check.* thresholds")
    p.add_argument("--namespace", metavar="NS", help=NAMESPACE_HELP)
    add_node_name(p)
    p.add_argument("--json", metavar="FILE",
                   help="write the per-keyframe figures as JSON (-: to stdout, and the "
                        "summary and notes to stderr, for a pipe into jq)")
    p.add_argument("--plot", metavar="PNG",
                   help="write the keyframes with their per-keyframe figures as a picture; "
                        "the extension picks the format: .png, .pdf, .svg, .jpg, ... (none: "
                        "png)")
    p.add_argument("--record", action="store_true",
                   help="write the check's lens-distortion figure into the map's manifest "
                        "(consistency.distortion, as build-map does): a map built before the "
                        "figure existed gets it, so that localize and the node refuse "
                        "rectified query images given the raw D instead of marking them "
                        "degraded")
    add_log_level(p)
    p.set_defaults(func=cmd_check_map)


_PICTURE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".pdf", ".svg", ".svgz", ".tif",
                       ".tiff", ".gif", ".webp", ".eps", ".ps", ".avif")


def cmd_check_map(args: argparse.Namespace) -> int:
    from ..core.devices import apply_cpu_threads
    from ..core.keyframes import KeyframeMap
    from ..core.keyframes.build_record import warn_unreadable_build_config
    from ..core.keyframes.target import _listing, foreign_entries
    from ..core.map_check import check_map
    from ..core.map_check.skipped_gap import note_recorded_skipped_gap
    from .cli_options import load_params
    from .pipeline import keyframe_progress
    from .run_notes import say_map_not_z_up

    cfg = load_params(args)
    # the check's SIFT matching runs on OpenCV's pool; torch's, never used here, is left unset
    # (and torch unimported: 2-4 s of a check on a loaded 2-core machine)
    apply_cpu_threads(cfg.model.cpu_threads, torch_pool=False)
    for option, value in (("--json", args.json), ("--plot", args.plot)):
        _refuse_inside_the_map(value, option, args.map)
        _refuse_inside_an_output(value, option)
    if args.json not in (None, "-") and args.plot and (os.path.realpath(args.json)
                                                        == os.path.realpath(args.plot)):
        raise InputError(f"--json {args.json} and --plot {args.plot} name the same file: the "
                         "picture would replace the report; give each its own name (e.g. "
                         "--json check.json --plot check.png)")
    # output paths first: a bad one found after the check is the whole check for nothing
    if args.json and args.json != "-":
        ext = os.path.splitext(args.json)[1].lower()
        if ext in _PICTURE_EXTENSIONS:  # --json check.png, meant --plot: never over a picture
            raise InputError(f"--json {args.json}: a picture's name ({ext}) for the JSON "
                             "report; --plot writes the picture: give the report a .json "
                             f"name (e.g. --json {os.path.splitext(args.json)[0]}.json)")
        check_can_write_file(args.json, "--json")
    # with the JSON on stdout (`--json -`), the lines for a person go to stderr
    text = sys.stderr if args.json == "-" else sys.stdout
    if args.plot:
        from .plots import check_plot_path

        check_plot_path(args.plot, "--plot")
    from .report_files import refuse_foreign_file

    for option, value in (("--json", args.json), ("--plot", args.plot)):
        refuse_foreign_file(value, option)  # a checkpoint, a photo: never replaced
    # every missing, truncated or corrupt file first, all of them (a map open names the first);
    # the map is opened once and each keyframe PNG read once: checksummed when the check
    # reads it (it was read and hashed here too, then again by a second open for the check)
    kmap = KeyframeMap.load(args.map, lazy=True, check_files=False)
    if args.record:  # the manifest replaced: refused before the check, not after, and after
        # the map's own refusals (missing, a file, a recording: "create the folder" misled)
        from .check_map_record import check_can_record

        check_can_record(args.map)
    if kmap.file_problems(images=False, progress=_file_progress):
        _refuse_damaged(kmap, args.map, text)
    kmap.finish_checks()
    warn_unreadable_build_config(args.map)  # the lazy open above does not read it
    try:
        report = check_map(kmap, cfg.map_check, progress=keyframe_progress)
        kmap.verify_unread_images()  # any PNG the check did not read
    except MapFormatError:
        _refuse_damaged(kmap, args.map, text)
        raise
    # the frames its build skipped, in the message (and the JSON) where they are the cause
    note_recorded_skipped_gap(report, kmap.stamps_ns(), kmap.manifest)
    write_outputs(report, kmap, json_path=args.json, plot_path=args.plot,
                  skipped=skipped_frames(kmap.manifest))
    if not report.ok:  # the CLI turns it into exit 2 and one line
        from ..core.map_check.records import MapConsistencyError

        # the fix named (--depth-scale, converted poses) is build-map's: a map is fixed by
        # building it again, which the line did not say here, where no build runs
        raise MapConsistencyError(f"{report.message}; to fix {args.map}, build it again from "
                                  f"its recording with that fix (mast3r-ros build-map SOURCE "
                                  f"--out {args.map} --overwrite ...)")
    if args.record:  # a consistent map's figure, into its manifest (atomically)
        from .check_map_record import record_distortion

        recorded = record_distortion(args.map, kmap.manifest, report.distortion)
    say_map_not_z_up(kmap, args.map)  # said by build-map too
    text.write(f"{args.map}: {report.summary()}\n")
    if report.note:  # a consistent map's colour focal fit, far off the given K
        text.write(f"note: {args.map}: {report.note}\n")
    if report.lens_note:  # its lens distortion not judged, where the note does not say so
        text.write(f"note: {args.map}: {report.lens_note}\n")
    if report.distortion_warning:  # the camera's D does not fit the keyframes' images
        text.write(f"warning: {args.map}: {report.distortion_warning}\n")
    for note in (no_pose_notes(kmap.manifest) + unreadable_notes(kmap.manifest)
                 + changed_source_notes(kmap.manifest)):
        text.write(f"note: {args.map}: {note}\n")  # not errors: what the map may lack
    if args.record:
        text.write(f"{recorded}\n")
    foreign = foreign_entries(args.map)
    if foreign:  # found only when --overwrite refused the map, before
        text.write(f"note: {args.map} also holds {foreign}, which no map build writes: "
                         "build-map/merge-maps --overwrite will not replace the map until they "
                         "are moved out of its folder\n")
    strays = kmap.unlisted_files("keyframes")
    if strays:  # copied or renamed by hand: read by nothing, deleted by --overwrite unasked
        kf = os.path.join(args.map, "keyframes")
        text.write(f"note: {kf} also holds {_listing(kf, strays)}, which the map does not "
                         "list: nothing reads them, and build-map/merge-maps --overwrite deletes "
                         "them with the map; move them out to keep them\n")
    return 0


def _file_progress(it: Any, total: int, desc: str) -> Any:
    """check-map's bar over the files it checksums before the check (the encoding chunks:
    minutes at 10^4 ViT-L keyframes)."""
    from .pipeline import progress

    return progress(it, total, f"check-map: {desc}", unit="file")


def _refuse_damaged(kmap: Any, path: str, text: Any) -> None:
    """List every missing, truncated or corrupt file of ``kmap`` on ``text`` and raise
    `MapFormatError` counting them per kind (`damaged_summary`) and saying where they are
    listed (stdout: not above the error line when stdout is redirected); returns (for the
    caller to re-raise its own) when none is found."""
    problems = kmap.file_problems()
    if not problems:
        return
    for p in problems:
        text.write(p + "\n")
    text.flush()
    # the error line goes to stderr: with stdout redirected (`> /dev/null`, `| grep`) "listed
    # above" named nothing there, so it says the list is on stdout (not on stderr: one line)
    raise MapFormatError(damaged_summary(path, problems, text is sys.stdout))


def damaged_summary(path: str, problems: List[str], on_stdout: bool = True) -> str:
    """check-map's one error line for the map ``path`` whose files have ``problems`` (the
    `KeyframeMap.file_problems` lines, at least one), counted per kind as found
    (`map_files.problem_kind`): 'MAP: 1 map file with a different image than the map records
    (listed above), named on stdout; rebuild the map or re-copy the files', 'MAP: 3 map files:
    2 missing and 1 truncated or corrupt (listed above) ...'; the fix names the permissions
    where some are files this user may not read. (It said "missing, truncated or corrupt"
    whatever was found, a whole image put in a keyframe's place too.)"""
    from ..core.keyframes.map_files import problem_kind

    kinds: Dict[str, int] = {}
    for p in problems:
        kind = problem_kind(p)
        kinds[kind] = kinds.get(kind, 0) + 1
    files = "map files" if len(problems) > 1 else "map file"
    counted = [f"{n} {kind}" for kind, n in kinds.items()]
    what = (f"{files} {next(iter(kinds))}" if len(kinds) == 1 else
            f"{files}: {_and_list(counted)}")
    above = "listed above), named on stdout" if on_stdout else "listed above)"
    denied = kinds.get(problem_kind(MAP_PERMISSIONS), 0)
    fix = ("check the map's permissions" if denied == len(problems) else
           "rebuild the map or re-copy the files" + (
               " (those this user may not read: check their permissions)" if denied else ""))
    return f"{path}: {len(problems)} {what} ({above}; {fix}"


def skipped_frames(manifest: Dict[str, Any]) -> Dict[str, Any]:
    """A map manifest's records of frames its build(s) skipped: ``frames_without_pose``
    (build-map's frames that got no pose), ``unreadable_frames`` and ``frames_not_read`` (a
    build-map map's: frames not decoded) and ``merged_from`` (a merged map's sources, each
    with its own), as written; {} when there are none."""
    out = {}
    if isinstance(manifest.get("frames_without_pose"), dict) and manifest[
            "frames_without_pose"].get("count"):
        out["frames_without_pose"] = manifest["frames_without_pose"]
    if manifest.get("unreadable_frames"):
        out["unreadable_frames"] = manifest["unreadable_frames"]
    if isinstance(manifest.get("frames_not_read"), dict) and manifest["frames_not_read"].get(
            "count"):  # never decoded: build-map's frames that were no keyframe candidates
        out["frames_not_read"] = manifest["frames_not_read"]
    if any(_source_notes(manifest.get("merged_from"), key=k)
           for k in ("unreadable_frames", "frames_without_pose")):
        out["merged_from"] = manifest["merged_from"]
    return out


def _refuse_inside_the_map(path: Optional[str], option: str, map_path: str) -> None:
    """`InputError` for a --json / --plot ``path`` inside the map folder checked: ``--json
    MAP/manifest.json`` replaced the map's manifest with the report (the map unreadable after),
    and a new file there is one no map build writes (--overwrite then refuses the map)."""
    if not path or path == "-" or not os.path.isdir(map_path):
        return
    folder = os.path.realpath(map_path)
    target = os.path.realpath(os.path.abspath(path))
    if os.path.commonpath([folder, target]) != folder:
        return
    rel = os.path.relpath(target, folder)
    example = (f"{os.path.basename(os.path.normpath(map_path)) or 'map'}_check"
               f"{'.json' if option == '--json' else '.png'}")
    if rel == os.curdir:  # the folder itself: 'would replace the map's own .' said nothing
        raise InputError(f"{option} {path} is the map folder {map_path} itself, not a file "
                         f"to write the report to; give a file outside the map (e.g. {option} "
                         f"{example})")
    what = (f"replace the map's own {rel}{', leaving no readable map' * (rel == 'manifest.json')}"
            if os.path.lexists(target) else "add a file the map does not list, which "
            "build-map/merge-maps --overwrite then refuse to replace")
    raise InputError(f"{option} {path} lies inside the map folder {map_path}: writing it "
                     f"would {what}; write it outside the map (e.g. {option} "
                     f"{example})")


# what tells a folder as a localize run (a map: `is_keyframe_map`, its manifest's format)
_RUN_FILES = ("results.jsonl", ("metrics.json", "config.yaml", "run.json"))


def _output_kind(folder: str) -> Optional[str]:
    """'map' / 'localize run' for a folder holding that command's output, else None (a
    dataset's or a web project's manifest.json is no map)."""
    marker, also = _RUN_FILES
    if (os.path.isfile(os.path.join(folder, marker))
            and any(os.path.isfile(os.path.join(folder, a)) for a in also)):
        return "localize run"
    return "map" if is_keyframe_map(folder) else None


def _refuse_inside_an_output(path: Optional[str], option: str) -> None:
    """`InputError` for a --json / --plot ``path`` inside another command's output folder
    (a localize run's: ``--plot RUN/trajectory.png`` or ``--json RUN/metrics.json`` silently
    replaced the run's own file; a map other than the one checked, as `_refuse_inside_the_map`
    refuses that one's): naming the folder and a path beside it."""
    if not path or path == "-":
        return
    folder = enclosing_folder(path, lambda f: _output_kind(f) is not None)  # bounded: ~, mounts
    if folder is None:
        return
    kind = _output_kind(folder)
    given = os.path.dirname(os.path.normpath(path))
    start = os.path.dirname(os.path.realpath(os.path.abspath(path)))
    for _ in range(len(os.path.relpath(start, folder).split(os.sep)) if start != folder else 0):
        given = os.path.dirname(given)  # the folder as the user spelt it, when they did
    shown = given or folder
    target = os.path.realpath(os.path.abspath(path))
    rel = os.path.relpath(target, folder)
    what = (f"replace the {kind}'s own {rel}" if os.path.lexists(target) else
            f"add a file the {kind} does not list, which its command's --overwrite then "
            "refuses to replace")
    beside = (f"{os.path.normpath(shown).rstrip(os.sep)}_check"
              f"{'.json' if option == '--json' else '.png'}")
    raise InputError(f"{option} {path} lies inside the {kind} folder {shown}: writing it would "
                     f"{what}; write it beside the {kind} (e.g. {option} {beside})")


def no_pose_notes(manifest: Dict[str, Any]) -> List[str]:
    """One line per build of the map that skipped frames that got no pose (the manifest's
    ``frames_without_pose``, as build-map's summary counts them; a merged map's sources', in
    ``merged_from``): 'built from 8 frames, 7 without a pose and skipped (no keyframe taken
    from them): REASON', 'map A (PATH) was built from ...'; [] when every frame had one."""
    own = manifest.get("frames_without_pose")
    notes = [f"built {_no_pose_phrase(own)}"] if isinstance(own, dict) and isinstance(
        own.get("count"), int) and own["count"] > 0 else []
    return notes + [f"{who} was built {_no_pose_phrase(record)}" for who, record, _ in
                    _source_notes(manifest.get("merged_from"), key="frames_without_pose")]


def _no_pose_phrase(record: Dict[str, Any]) -> str:
    """'from 8 frames, 7 without a pose and skipped (...): REASON' of a frames_without_pose
    record."""
    frames, reason = record.get("of_frames"), record.get("reason")
    of = f"from {frames} frames, " if isinstance(frames, int) else ""
    why = f": {reason}" if isinstance(reason, str) and reason else ""
    return (f"{of}{record.get('count')} without a pose and skipped (no keyframe taken from "
            f"them){why}")


def unreadable_notes(manifest: Dict[str, Any]) -> List[str]:
    """One line per build of the map that skipped frames it could not read: 'built with 2 of
    20 frames unreadable and skipped (...)' for the map's own ``unreadable_frames``, 'map A
    (PATH) was built with ...' for each source of a merged map (``merged_from``, nested
    merges named by their path of sources). [] when every frame was read."""
    notes = []
    own = manifest.get("unreadable_frames")
    if isinstance(own, dict) and own.get("count"):
        notes.append(f"built with {_unreadable_phrase(own)}"
                     f"{_not_read_phrase(manifest.get('frames_not_read'))}")
    for who, record, src in _source_notes(manifest.get("merged_from")):
        notes.append(f"{who} was built with {_unreadable_phrase(record)}"
                     f"{_not_read_phrase(src.get('frames_not_read'))}")
    return notes


def _not_read_phrase(unread: Any) -> str:
    """'; 37 frames not read: REASON, not known to be readable or not' of a build's
    ``frames_not_read`` record (which qualifies its unreadable count); '' without one."""
    n = unread.get("count") if isinstance(unread, dict) else None
    return (f"; {n} frames not read: {unread.get('reason', 'not keyframe candidates')}, not "
            "known to be readable or not" if isinstance(n, int) and n else "")


def changed_source_notes(manifest: Dict[str, Any]) -> List[str]:
    """One line per source map of a merged map (``merged_from``, the top level: a merge of
    merges' own sources are its business) that still has a manifest.json at its recorded
    path, but not the one merged (its ``manifest_sha256`` differs) and, where the record has
    ``content_sha256``, with other content (`map_content.changed_parts`, named in the note: a
    rebuild with the same content differs in timings only and says nothing). A record without
    ``content_sha256`` (a merge before it was recorded) or a manifest that no longer parses
    gets the note without what changed. A note, not a failure: the merged map holds the
    source as it was, and a rebuild may be on purpose. A source gone from its path (deleted, or
    the merged map copied to another machine, the usual case on a robot) or unreadable says
    nothing: the merged map needs none of its sources. [] for a map that is no merge."""
    import hashlib
    import json

    from ..core.keyframes.layout import MANIFEST
    from .map_content import PLURAL_PARTS, changed_parts

    notes = []
    sources = manifest.get("merged_from")
    for src in sources if isinstance(sources, list) else []:
        if not isinstance(src, dict) or not isinstance(src.get("map"), str) \
                or not isinstance(src.get("manifest_sha256"), str):
            continue
        try:
            with open(os.path.join(src["map"], MANIFEST), "rb") as fh:
                raw = fh.read()
        except OSError:  # gone, or no map there any more: nothing to compare
            continue
        if hashlib.sha256(raw).hexdigest() == src["manifest_sha256"]:
            continue
        what = "its manifest.json is not the one merged: rebuilt or replaced?"
        if "content_sha256" in src:
            try:
                now = json.loads(raw.decode("utf-8-sig"))
                parts = changed_parts(src["content_sha256"], now) if isinstance(now, dict) \
                    else None
            except ValueError:  # not JSON, or a damaged record: say it changed, not how
                parts = None
            if parts == []:  # the same content (a rebuild's timings differ): no change
                continue
            if parts:
                verb = "differ" if len(parts) > 1 or parts[0] in PLURAL_PARTS else "differs"
                what = f"rebuilt or replaced: its {_and_list(parts)} {verb}"
        notes.append(f"map {src.get('role', '?')} ({src['map']}) has changed since it "
                     f"was merged ({what}): this map holds it as it was; merge-maps again to "
                     "take the new one")
    return notes


def _and_list(words: List[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _source_notes(sources: Any, prefix: str = "", key: str = "unreadable_frames") -> List[tuple]:
    """(who, record, source) of each source in a ``merged_from`` list (and its own sources)
    whose ``key`` record counts skipped frames (``unreadable_frames``,
    ``frames_without_pose``): who as 'map A (PATH)', 'map A (PATH) > map B (PATH2)' when
    nested; source its whole ``merged_from`` record (its ``frames_not_read``)."""
    found = []
    for src in sources if isinstance(sources, list) else []:
        if not isinstance(src, dict):
            continue
        who = f"{prefix}map {src.get('role', '?')} ({src.get('map', '?')})"
        record = src.get(key)
        if isinstance(record, dict) and record.get("count"):
            found.append((who, record, src))
        found += _source_notes(src.get("merged_from"), who + " > ", key)
    return found


def _unreadable_phrase(record: Dict[str, Any]) -> str:
    """'2 of 20 frames unreadable and skipped (the longest run 1 frame, at t=1.200000 s):
    the map may lack keyframes there (...)' of an ``unreadable_frames`` record."""
    from ..core.trajectory import format_time_range  # here: --help loads no scipy

    count, frames = record.get("count"), record.get("of_frames")
    run = record.get("longest_run") or {}
    length, first, last = run.get("frames"), run.get("first_ns"), run.get("last_ns")
    where = ""
    if isinstance(length, int) and isinstance(first, int):
        if length > 1 and isinstance(last, int):
            where = (f" (the longest run {length} frames in a row, at "
                     f"t={format_time_range(first * 1e-9, last * 1e-9)})")
        else:
            where = f" (the longest run 1 frame, at t={first * 1e-9:.6f} s)"
    of = f" of {frames}" if frames is not None else ""
    return (f"{count}{of} frames unreadable and skipped{where}: the map may lack keyframes "
            "there (all their stamps in the manifest's unreadable_frames)")


def write_outputs(report: ConsistencyReport, kmap: KeyframeMap, json_path: Optional[str] = None,
                  plot_path: Optional[str] = None,
                  skipped: Optional[Dict[str, Any]] = None) -> None:
    """The report's figures as JSON and/or the keyframe picture with the figures beside it;
    ``skipped`` (`skipped_frames`) added to the JSON as written in the manifest; a
    ``json_path`` of ``-`` writes the JSON to stdout. A merged map's keyframes are drawn per
    source map, as merge-maps' keyframes.png draws them (`plots_merged.recorded_sources`)."""
    if json_path == "-":
        import json

        sys.stdout.write(json.dumps({**report.to_manifest(), **(skipped or {})}, indent=2) + "\n")
        sys.stdout.flush()
    elif json_path:
        atomic_write_json(json_path, {**report.to_manifest(), **(skipped or {})})
    if plot_path:
        from .plots import plot_keyframes
        from .plots_merged import recorded_sources

        poses = kmap.poses()
        marks, unplaced = skipped_marks(kmap.manifest, kmap.stamps_ns(), poses)
        plot_keyframes(plot_path, poses, consistency=report, skipped=marks,
                       skipped_unplaced=unplaced,
                       skipped_at=skipped_keyframe_x(kmap.manifest, kmap.stamps_ns()),
                       sources=recorded_sources(kmap.manifest, len(poses)))  # merge: A, B


def skipped_marks(manifest: Dict[str, Any], stamps_ns: np.ndarray,
                  poses: np.ndarray) -> Tuple[np.ndarray, int]:
    """Where the frames the map's build(s) skipped were: (N, 3) float64 positions (map frame,
    metres) on the keyframes' trajectory at their stamps (`plots.skipped_positions`: between
    the keyframes before and after), and the count of those it cannot place. ``stamps_ns``
    (K,) int64 and ``poses`` (K, 4, 4) the map's keyframes in map order. A merged map's
    sources are placed each on its own keyframes (``merged_from``: A's first, then B's, by
    their ``keyframes`` counts; their clocks may differ); a source whose counts do not add up
    (a merge of merges whose duplicates were dropped) or that gave no keyframe is not placed."""
    from .plots import skipped_positions

    marks, unplaced = [np.zeros((0, 3))], 0
    for start, stop, stamps in _skipped_segments(manifest, 0, len(stamps_ns)):
        if stop > start:
            marks.append(skipped_positions(stamps_ns[start:stop], poses[start:stop], stamps))
        else:
            unplaced += len(stamps)
    return np.concatenate(marks), unplaced


def skipped_keyframe_x(manifest: Dict[str, Any], stamps_ns: np.ndarray) -> np.ndarray:
    """The frames `skipped_marks` places, on the consistency panel's keyframe axis instead:
    (N,) float64, in the same order (`plots.skipped_indices`: 2.5 between keyframes 2 and 3 of
    the source that skipped it)."""
    from .plots import skipped_indices

    return np.concatenate([np.zeros(0)] + [
        skipped_indices(stamps_ns[start:stop], stamps, start)
        for start, stop, stamps in _skipped_segments(manifest, 0, len(stamps_ns))
        if stop > start])


def _skipped_segments(record: Any, start: int, stop: int) -> List[tuple]:
    """(start, stop, stamps) of each build in a manifest (or ``merged_from`` entry) ``record``
    that skipped frames: the map's keyframes ``start:stop`` it gave, the skipped ``stamps``
    (int ns); an empty range for those that cannot be placed."""
    if not isinstance(record, dict):
        return []
    out = []
    own = record.get("unreadable_frames")
    if isinstance(own, dict) and own.get("stamps_ns"):
        out.append((start, stop, [int(s) for s in own["stamps_ns"]]))
    sources = record.get("merged_from")
    if isinstance(sources, list) and sources:
        counts = [s.get("keyframes") if isinstance(s, dict) else None for s in sources]
        fits = (all(isinstance(c, int) and c >= 0 for c in counts)
                and sum(counts) == stop - start)
        for src, c in zip(sources, counts):
            out += _skipped_segments(src, start, start + c if fits else start)
            start += c if fits else 0
    return out
