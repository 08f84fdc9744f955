"""Opening a recording: a TUM RGB-D folder, an EuRoC/ASL dataset folder (`EurocSequence`), a
KITTI odometry sequence (`KittiSequence`) or a rosbag2, as one kind of frame source.

Both readers get the same things in the same types: intrinsics as one `CameraIntrinsics` (read
once from a camera_info YAML when one is given), the image/depth association tolerance, and the
config's pose-at-stamp rule for ground truth and tf (`mast3r_ros.core.trajectory`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import itertools
import logging
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import List, Optional, Protocol, Tuple

import numpy as np

from ..core.config import LocalizerConfig, PoseAtStampConfig
from ..core.errors import InputError
from ..core.fileio import checkpoint_file_note
from .video_file import video_file_note
from ..core.recordings import BAG_STORAGE_SUFFIXES, none_of_the_sources, recording_kind
from ..core.image_codec import load_camera_info_yaml
from ..core.image_codec.camera_info_yaml import CALIBRATION_FILES
from ..core.link_loops import loop_text
from ..core.types import Frame, RecordedFrame, UnreadableFrame
from .first_frames import FirstFrames, check_max_frames
from .euroc import EurocSequence, euroc_camera_folder, euroc_folder_hint
from .kitti import KittiSequence, kitti_folder_hint, kitti_sequence
from .tum import TumSequence
from .tum_trajectory import associate_pairs_fix, is_associate_pair

log = logging.getLogger(__name__)

FrameOrUnreadable = Frame | UnreadableFrame | RecordedFrame  # recorded: a resumed run's


class FrameSource(Protocol):
    """What the pipeline needs of a recording (`TumSequence` and `BagSequence` both are one).
    Optionally ``frames_or_unreadable(positions=None)`` (both have it): the frames (only those
    at ``positions``, ascending 0-based indices, when given: the others are neither read nor
    decoded) with an `UnreadableFrame` in place of each one that cannot be read, which
    ``localize`` records as a failed frame and ``build-map`` takes no keyframe from, instead of
    stopping (`frames_or_unreadable`, `unreadable`), and
    ``recorded`` (stamps: a `RecordedFrame` in their frames' place, the image not decoded)."""

    @property
    def stamps_ns(self) -> np.ndarray:
        """(N,) int64 image stamps, in the order the frames are yielded."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Frame]: ...


@dataclasses.dataclass(frozen=True)
class SourceOptions:
    """How to read a recording (the CLI's source options; the defaults read it as found)."""

    camera_info: Optional[str] = None  # a calibration YAML: overrides camera.yaml / CameraInfo
    image_topic: Optional[str] = None  # rosbag2 only, detected when None
    camera_info_topic: Optional[str] = None  # rosbag2 only, detected when None
    depth_topic: Optional[str] = None  # rosbag2 only
    pose_frames: Optional[str] = None  # rosbag2 only: "map:camera_optical" takes poses from tf
    pose_topic: Optional[str] = None  # rosbag2 only: "/odom" takes poses from a pose topic
    sync_tolerance_s: float = 0.02  # image/depth association by the nearest stamp
    depth_scale: Optional[float] = None  # raw depth units per metre (None: REP-118 / TUM 5000)
    run: Optional[int] = None  # rosbag2 only: which run of a bag whose header time jumps back
    # rosbag2 only: the image topic is rectified, its intrinsics are CameraInfo's P (parameter
    # image_rectified; a camera_info YAML, --camera-info or TUM's camera.yaml, is used as written,
    # but for one of P alone, K all zero: read through P as the message is)
    image_rectified: bool = False
    # rosbag2 only: 'receive' times the camera's messages by the bag's receive times, not
    # their header stamps (--image-stamp, parameter image_stamp; `rosbag.receive_stamp`)
    image_stamp: str = "header"
    # how refusals name where image_stamp came from (the CLI: the flag, or --params')
    image_stamp_name: str = "--image-stamp"
    # where the value came from, with it, for notes saying how a bag is read ('--image-stamp
    # receive', 'image_stamp: receive in FILE', 'the default image_stamp header'); None:
    # image_stamp_name and the value
    image_stamp_said: Optional[str] = None
    # what needs depth in every frame ("the sift matcher", `depth_needed_by`): a rosbag2 read
    # without a depth topic is then refused when opened, before its indexing pass
    depth_needed_by: Optional[str] = None
    # False reads no depth, for ``localize``, whose query frames' depth nothing uses (a missing
    # or corrupt depth image must not cost the frame): a TUM folder not even depth.txt, a
    # rosbag2 not its --depth-topic (said at INFO)
    read_depth: bool = True
    # called before the source's long read (localize refuses a --map that is no map there): a
    # rosbag2's indexing pass, once its topics are chosen (not minutes later: `BagSequence`'s
    # before_index); a TUM folder's lists, once camera.yaml is read (no log line comes first)
    before_index: Optional[Callable[[], None]] = None
    # the option an EuRoC/KITTI reason without ground truth names as its fix (the command's own)
    poses_option: str = "--trajectory FILE"
    # EuRoC/KITTI only: depth from the second camera by OpenCV's SGBM (`stereo_depth`), where
    # depth is read (``read_depth``)
    stereo_depth: bool = False
    # the command reading it ("build-map", "localize"), for lines that say what it does with a
    # frame (None: an API caller, said neutrally)
    command: Optional[str] = None
    # read only the first N frames (build-map --max-frames): the source is a `FirstFrames`
    # of them, its length, stamps and frames cut; None: every frame
    max_frames: Optional[int] = None
    # localize's --max-frames: its frames lie among the first N (`frames_spanned`), so a bag's
    # indexing pass stops past them (`index_stop`); the source itself is not cut
    index_frames: Optional[int] = None


def depth_needed_by(localizer: LocalizerConfig) -> Optional[str]:
    """What in the localizer config takes its 3-D points from keyframe depth (the sift matcher,
    points_source 'depth'), for the error that refuses a map without depth; None: nothing."""
    if not localizer.points_from_depth:
        return None
    return "the sift matcher" if localizer.matcher == "sift" else "points_source 'depth'"


def refuse_without_depth(source: FrameSource, need: Optional[str]) -> None:
    """`InputError` when ``need`` (`depth_needed_by`) is set and ``source`` will give no frame
    depth (its ``no_depth_reason()``, which names the fix); sources without that method pass."""
    reason = getattr(source, "no_depth_reason", None)
    why = reason() if need and reason is not None else None
    if why:
        raise InputError(f"{need} takes its 3-D points from keyframe depth, but {why}")


def _selection(stride: int, max_frames: int) -> slice:
    """The one stride rule: every ``stride``-th position from the first, at most ``max_frames``
    of them (0: all)."""
    return slice(0, stride * (max_frames - 1) + 1 if max_frames else None, stride)


def selected_positions(n: int, stride: int = 1, max_frames: int = 0) -> range:
    """The 0-based positions of the frames `select_frames` takes of ``n``: every
    ``stride``-th from the first, at most ``max_frames`` of them (0: all)."""
    return range(n)[_selection(stride, max_frames)]


def frames_spanned(stride: int, max_frames: int) -> Optional[int]:
    """How many frames from the first hold `selected_positions`' (None: all, or refused)."""
    return _selection(stride, max_frames).stop if max_frames > 0 and stride >= 1 else None


def select_frames(source: Iterable[FrameOrUnreadable], stride: int, max_frames: int
                  ) -> Iterator[FrameOrUnreadable]:
    """Every ``stride``-th frame, at most ``max_frames`` of them (0: all); an
    `UnreadableFrame` holds its frame's place. Reads (decodes) the frames it skips too (none
    after the last one taken): `frames_or_unreadable` with a stride does not, where the source
    reads frames one by one."""
    sel = _selection(stride, max_frames)
    return itertools.islice(source, sel.start, sel.stop, sel.step)


def frames_or_unreadable(source: FrameSource, stride: int = 1, max_frames: int = 0,
                         recorded: Collection[int] = ()) -> Iterator[FrameOrUnreadable]:
    """Every ``stride``-th frame of ``source``, at most ``max_frames`` (0: all; the frames
    `select_frames` takes), with an `UnreadableFrame` in place of each one it could not read
    (an image file missing, truncated or corrupt; an undecodable or undeserializable message),
    where it reads frames one by one (its ``frames_or_unreadable(positions)``: `TumSequence`,
    `BagSequence`), which then never reads nor decodes a frame that is skipped (a source whose
    ``frames_or_unreadable()`` takes no ``positions``, the older protocol: every frame read);
    other sources' frames as they come, every one read (an error in one stops the
    iteration). Raises `InputError` while iterating when the first image read differs in size
    from the given camera_info's (``--camera-info``; `_camera_info_size_checked`).
    ``recorded``: the stamps of frames a resumed run takes as recorded: a `RecordedFrame` in
    their place, their images not decoded, where the source's ``frames_or_unreadable`` takes
    ``recorded`` (`TumSequence`, `BagSequence`; others' frames are read as they come)."""
    each = getattr(source, "frames_or_unreadable", None)
    if not callable(each):
        return select_frames(iter(source), stride, max_frames)
    params = inspect.signature(each).parameters
    if recorded and "recorded" in params:
        each = functools.partial(each, recorded=frozenset(int(s) for s in recorded))
    if stride == 1 and not max_frames:
        frames = each()
    elif "positions" not in params:  # a source of the older protocol
        frames = select_frames(each(), stride, max_frames)  # reads the frames it skips
    else:
        frames = each(selected_positions(len(source), stride, max_frames))
    name = getattr(source, "camera_info_name", None)  # camera_info given (`TumSequence`, ...)
    return _camera_info_size_checked(frames, name) if name else frames


def frames_or_unreadable_at(source: FrameSource, positions: Iterable[int]
                            ) -> Iterator[FrameOrUnreadable]:
    """The frames of ``source`` at ``positions`` (ascending 0-based indices; an iterator is
    drawn from one frame at a time, as the frames are consumed, so the caller may decide the
    next position from the frames before it: build-map's keyframe candidates), with an
    `UnreadableFrame` in place of each one it could not read, as `frames_or_unreadable` gives
    them (the --camera-info size check included). The source must take ``positions``
    (`TumSequence`; `BagSequence` draws them lazily from an iterator, not from a list)."""
    frames = source.frames_or_unreadable(positions)  # type: ignore[attr-defined]
    name = getattr(source, "camera_info_name", None)
    return _camera_info_size_checked(frames, name) if name else frames


def _camera_info_size_checked(frames: Iterator[FrameOrUnreadable], camera_info_name: str
                              ) -> Iterator[FrameOrUnreadable]:
    """``frames``, but `InputError` at once when the first image read (the frames before it
    missing or corrupt files) is of another size than the given camera_info
    (`UnreadableFrame.image_size`, set from the readers' `ImageSizeError`): the option is wrong,
    not the recording (else only after the first `unreadable.ALL_UNREADABLE_STOP` frames, as
    a broken recording)."""
    frames = iter(frames)
    for f in frames:
        if isinstance(f, UnreadableFrame) and f.image_size and f.intrinsics_size:
            (w, h), (iw, ih) = f.image_size, f.intrinsics_size
            raise InputError(
                f"{camera_info_name} is for {iw}x{ih} images but the frames are {w}x{h} (the "
                f"first read, t={f.stamp_ns * 1e-9:.3f} s): it is the calibration of another "
                "image size (resolution or binning); pass the camera_info YAML of these images, "
                "or drop it")
        yield f
        if not isinstance(f, (UnreadableFrame, RecordedFrame)):  # an image read, of its size
            break
    yield from frames


def check_own_poses(source: FrameSource) -> None:
    """Before the frames' own poses are used (no trajectory file passed instead): `InputError`
    from the source's ``check_groundtruth_units()`` (a TUM groundtruth.txt stamped in another
    time unit than rgb.txt); sources without that method pass."""
    check = getattr(source, "check_groundtruth_units", None)
    if callable(check):
        check()


def refuse_without_poses(source: FrameSource) -> None:
    """build-map without --trajectory, before a frame is read: `InputError` from the source's
    ``no_pose_source_reason()`` (a rosbag2 read without --pose-frames: no frame would have a
    pose, found only after decoding every image); sources without that method pass."""
    reason = getattr(source, "no_pose_source_reason", None)
    why = reason() if callable(reason) else None
    if why:
        raise InputError(f"no frame has a pose: {why}")


def stamps_written(source: FrameSource) -> Tuple[str, bool]:
    """(the file the source's frame stamps were read from, True when it wrote them as integers
    above 1e12, read as nanoseconds): a TUM folder's rgb.txt; ("", False) for sources stamped
    by their messages (rosbag2 header stamps)."""
    return getattr(source, "stamps_written", ("", False))


def is_tum_folder(path: str) -> bool:
    """True for a folder with an ``rgb.txt`` (TUM RGB-D layout)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "rgb.txt"))


# what SOURCE may be, for the lines that say so (`open_source` reads each)
SOURCE_KINDS = "a TUM RGB-D, EuRoC/ASL or KITTI folder, or a rosbag2"

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp")


# storage files of a bag recorded with '--compression-mode file' (rosbag2's zstd compressor)
_COMPRESSED_STORAGE_SUFFIXES = tuple(f"{s}.zstd" for s in BAG_STORAGE_SUFFIXES)

_LOOKED_INTO = 64  # folders _recordings_below lists at most: a huge tree is not walked


def _recordings_below(path: str, names: List[str]) -> List[str]:
    """The recordings (TUM folders, rosbag2s) among the folders ``names`` of ``path``, else
    among their own folders (the demo's ``OUT/data/query``), relative to ``path``; at most
    `_LOOKED_INTO` folders are looked at, in name order (a huge tree is not walked)."""
    looked, level = 0, [n for n in names if os.path.isdir(os.path.join(path, n))]
    for depth in (1, 2):
        found: List[str] = []
        below: List[str] = []
        for rel in level[:_LOOKED_INTO - looked]:
            looked += 1
            full = os.path.join(path, rel)
            if recording_kind(full):
                found.append(rel)
            elif depth == 1:
                with contextlib.suppress(OSError), os.scandir(full) as entries:
                    below += sorted(os.path.join(rel, e.name) for e in entries
                                    if e.is_dir())
        if found:
            return found
        level = below
    return []


def _associate_pairs_file(path: str, names: List[str]) -> Optional[str]:
    """The first of the text files ``names`` of folder ``path`` (at most `_LOOKED_INTO`, each
    read up to 64 KiB) whose first data line is one of associate.py's pairs, or None."""
    for name in [n for n in names if n.lower().endswith(".txt")][:_LOOKED_INTO]:
        full = os.path.join(path, name)
        try:
            with open(full, encoding="utf-8", errors="replace") as f:
                head = f.read(1 << 16)
        except OSError:
            continue
        lines = (ln.replace("\ufeff", "").strip() for ln in head.splitlines())
        first = next((ln for ln in lines if ln and not ln.startswith("#")), "")
        if is_associate_pair(first.split()):
            return full
    return None


def _not_a_recording(path: str) -> Optional[str]:
    """Why an existing ``path`` is none of the recordings read (one line with the fix), or
    None when it is one of them or rosbags should judge it (a folder with metadata.yaml, a
    storage file, a ROS 1 ``.bag``): a real bag's own errors are kept."""
    from ..core.keyframes.layout import MANIFEST

    neither = none_of_the_sources(path)  # each kind read, and what it needs
    if not os.path.isdir(path):
        name = os.path.basename(path)
        if name.lower().endswith((*BAG_STORAGE_SUFFIXES, ".bag")):
            return None
        folder = os.path.dirname(path) or "."
        if name.lower().endswith(".bag.active"):
            return (f"{path} is a ROS 1 recording that was never closed (rosbag record stopped "
                    f"hard): rebuild its index with 'rosbag reindex {path}' (ROS 1), rename it "
                    "to .bag and pass that as SOURCE")
        if name.lower().endswith(_COMPRESSED_STORAGE_SUFFIXES):
            if os.path.isfile(os.path.join(folder, "metadata.yaml")):
                return (f"{path} is a compressed rosbag2 storage file ('ros2 bag record "
                        "--compression-mode file'): pass its bag folder "
                        f"{folder} as SOURCE, whose metadata.yaml names the compression")
            return (f"{path} is a compressed rosbag2 storage file ('ros2 bag record "
                    "--compression-mode file') without its bag folder's metadata.yaml: "
                    f"decompress it ('zstd -d {path}') and pass the {name.rsplit('.', 1)[0]} "
                    "it gives as SOURCE")
        if name == "rgb.txt":
            return f"{path} is a TUM folder's image list: pass the folder {folder} as SOURCE"
        if name == "metadata.yaml":
            return f"{path} is a rosbag2's metadata: pass the bag folder {folder} as SOURCE"
        if name == MANIFEST:
            return (f"{path} is a keyframe map's manifest, not a recording: pass "
                    f"{SOURCE_KINDS} as SOURCE (a map goes in localize's --map)")
        return f"{neither}: {video_file_note(path) or 'it is a file' + checkpoint_file_note(path)}"
    if os.path.isfile(os.path.join(path, "metadata.yaml")):
        return None
    parent = os.path.dirname(os.path.abspath(path))
    if is_tum_folder(parent):
        return f"{path} is inside the TUM RGB-D folder {parent}: pass that folder as SOURCE"
    if os.path.isfile(os.path.join(path, MANIFEST)) and os.path.isdir(
            os.path.join(path, "keyframes")):
        return (f"{path} is a keyframe map (it has {MANIFEST}), not a recording: a map goes in "
                f"localize's --map; SOURCE is {SOURCE_KINDS}")
    kind = recording_kind(parent)  # EuRoC's data/, its ground truth, KITTI's velodyne/
    if kind.startswith(("an EuRoC/ASL", "a KITTI")):
        return f"{path} is inside {parent}, {kind}: pass that folder as SOURCE"
    try:
        names = sorted(os.listdir(path))
    except OSError as err:
        return f"cannot list {path}: {err.strerror or err}"
    storage = [n for n in names if n.lower().endswith(BAG_STORAGE_SUFFIXES)]
    packed = [n for n in names if n.lower().endswith(_COMPRESSED_STORAGE_SUFFIXES)]
    if packed and not storage:  # 'ros2 bag reindex' reads no compressed storage either
        return (f"{path} holds compressed rosbag2 storage ({', '.join(packed[:3])}"
                f"{', ...' if len(packed) > 3 else ''}) but no metadata.yaml: decompress the "
                f"files ('zstd -d FILE') and recreate the metadata with 'ros2 bag reindex "
                f"{path}', or pass one decompressed storage file as SOURCE")
    if storage:
        one = (f"pass the storage file itself as SOURCE ({os.path.join(path, storage[0])}) or "
               if len(storage) == 1 else "")
        return (f"{path} holds rosbag2 storage ({', '.join(storage[:3])}"
                f"{', ...' if len(storage) > 3 else ''}) but no metadata.yaml: {one}recreate "
                f"the metadata with 'ros2 bag reindex {path}'")
    if not names:
        return f"{neither}: the folder is empty"
    euroc = euroc_folder_hint(path)
    if euroc:
        return f"{neither}: {euroc}"
    kitti = kitti_folder_hint(path)
    if kitti:
        return f"{neither}: {kitti}"
    inner = _recordings_below(path, names)
    if inner:
        return (f"{neither}; it holds recordings: pass one of them as SOURCE "
                f"({', '.join(os.path.join(path, n) for n in inner[:3])}"
                f"{', ...' if len(inner) > 3 else ''})")
    pairs = _associate_pairs_file(path, names)
    if pairs:  # ORB-SLAM's associations.txt beside the images, no rgb.txt
        camera = "" if os.path.isfile(os.path.join(path, "camera.yaml")) else (
            f", and write camera.yaml beside them ({CALIBRATION_FILES})")
        return f"{neither}: {pairs} holds {associate_pairs_fix(pairs)}{camera}"
    images = [n for n in names if n.lower().endswith(_IMAGE_SUFFIXES)]
    rgb = os.path.join(path, "rgb")
    if not images and os.path.isdir(rgb):  # the TUM layout without its rgb.txt
        with contextlib.suppress(OSError):
            images = [f"rgb/{n}" for n in sorted(os.listdir(rgb))
                      if n.lower().endswith(_IMAGE_SUFFIXES)]
    if images:  # depth PNGs (7-Scenes' frame-N.depth.png, TUM's depth/) counted apart
        depth = [n for n in images if "depth" in n.lower()]
        colour = [n for n in images if n not in depth] or images
        count = (f"{len(colour)} images and {len(depth)} depth images" if depth and
                 len(colour) < len(images) else f"{len(images)}")
        return (f"{neither}: for a folder of images ({count} here, e.g. {colour[0]}), "
                "write rgb.txt ('timestamp filename' per line)"
                + (", depth.txt (the same for the depth images)" if depth else "")
                + f" and camera.yaml beside them ({CALIBRATION_FILES})")
    return neither


def open_source(path: str, options: SourceOptions = SourceOptions(),
                pose_at_stamp: Optional[PoseAtStampConfig] = None) -> FrameSource:
    """The reader of ``path`` (`open_reader`); with ``options.max_frames`` its first N frames
    as a source of their own (`FirstFrames`: length, stamps and frames cut, so that the
    manifest's counts, the progress bar, the ground-truth check and the keyframe candidates
    see N frames), said at INFO. Raises `InputError` as `open_reader` does, and for a
    ``max_frames`` that is no whole number >= 1 (before the recording is read)."""
    if options.max_frames is None:
        return open_reader(path, options, pose_at_stamp)
    name = "--max-frames" if options.command else "max_frames"
    check_max_frames(options.max_frames, name)
    source = FirstFrames(open_reader(path, options, pose_at_stamp), options.max_frames, name)
    log.info("%s %d: %s", name, source.max_frames,
             f"the first {len(source)} of {source.of_text()} are read"
             if len(source) < source.of_frames else
             f"every frame is read (the recording has {source.of_frames})")
    return source


def open_reader(path: str, options: SourceOptions = SourceOptions(),
                pose_at_stamp: Optional[PoseAtStampConfig] = None) -> FrameSource:
    """A TUM folder (has rgb.txt), an EuRoC/ASL dataset folder (its root, mav0 or a camera
    folder of data.csv and data/: `EurocSequence`), a KITTI odometry sequence (sequences/NN or
    its image_N: `KittiSequence`) or a rosbag2 (folder with metadata.yaml, .mcap, .db3 file).

    ``options.depth_scale`` (raw depth units per metre) overrides the readers' defaults: TUM
    PNGs 5000, rosbag2 REP-118 (16UC1 millimetres: 1000, 32FC1 metres: 1). The source's
    ``depth_units_per_m`` says which one is used. Raises `InputError` when the path does not
    exist, is none of them (a folder of images without rgb.txt, a keyframe map, any other file:
    said in one line before rosbags is asked) or cannot be read as the one it is, or for a
    rosbag2-only option (``run``, the topics, ``pose_frames``) with a TUM, EuRoC or KITTI folder
    (and ``depth_scale`` with the last two, which have no depth images; ``image_stamp``
    'receive' with any of them: no receive times), or ``stereo_depth`` with a TUM folder or
    rosbag2, which would otherwise be ignored.
    """
    if options.run is not None and options.run < 1:
        raise InputError(f"--run must be >= 1 (a rosbag2's runs are numbered from 1), got "
                         f"{options.run}")
    # image_rectified (rosbag2 only): a file of P alone (K all zero) is read through P
    rectified = (options.image_rectified and not is_tum_folder(path)
                 and euroc_camera_folder(path) is None and kitti_sequence(path) is None)
    cam = (load_camera_info_yaml(options.camera_info, rectified) if options.camera_info
           else None)
    cam_name = f"--camera-info {options.camera_info}" if options.camera_info else None
    if not str(path).strip():  # `build-map "$SRC"` with SRC unset: was "source not found:  ("
        raise InputError(f"the source path is empty (an unset shell variable?): give "
                         f"{SOURCE_KINDS}")
    if not os.path.exists(path):
        from ..core.path_blanks import blank_edge_note

        note = blank_edge_note(path) or f" ({SOURCE_KINDS})"  # a pasted blank: 'it exists'
        raise InputError(loop_text("source", path) or f"source not found: {path}{note}")
    if os.path.isdir(path):  # chmod 000, another user's copy: not a 'mav0/cam0/data.csv'
        try:
            os.listdir(path)
        except OSError as err:
            raise InputError(f"cannot read the folder {path}: {err.strerror or err} (SOURCE "
                             "must be readable by this user: check its permissions)") from None
    euroc = None if is_tum_folder(path) else euroc_camera_folder(path)
    kitti = None if is_tum_folder(path) or euroc else kitti_sequence(path)
    stereo_refusal = (f"--stereo-depth takes depth from an EuRoC/ASL dataset's cam1 or a KITTI "
                      f"sequence's right camera; {path} is a %s: drop it (its depth is %s)")
    if options.stereo_depth and is_tum_folder(path):
        raise InputError(stereo_refusal % ("TUM folder", "depth.txt's"))
    if is_tum_folder(path) or euroc is not None or kitti is not None:
        what = ("a TUM folder (it has rgb.txt)" if euroc is None and kitti is None else
                f"an EuRoC/ASL dataset folder (its camera {euroc})" if kitti is None else
                "a KITTI odometry sequence folder")
        if options.run is not None:
            raise InputError(f"--run chooses a run of a rosbag2 whose header time jumps back; "
                             f"{path} is {what}")
        bag_only = [flag for flag, value in (
            ("--image-topic", options.image_topic),
            ("--camera-info-topic", options.camera_info_topic),
            ("--depth-topic", options.depth_topic), ("--pose-frames", options.pose_frames),
            ("--pose-topic", options.pose_topic))
            if value is not None]
        if options.image_stamp != "header":  # a folder's times are the only ones it has
            said = options.image_stamp_said or f"{options.image_stamp_name} {options.image_stamp}"
            raise InputError(f"{said}: {path} is "
                             f"{what}, whose images have one time each (their file list's), "
                             "no receive time (it reads a bag's); drop it"
                             + ("" if options.image_stamp_name == "--image-stamp" else
                                " (--image-stamp header overrides --params)"))
        if bag_only:
            raise InputError(f"{', '.join(bag_only)}: options for a rosbag2, but {path} is "
                             f"{what}; drop them")
        if options.image_rectified and (kitti is None or cam is not None):  # KITTI: P alone
            own = "sensor.yaml" if euroc is not None else "camera.yaml"
            log.warning("image_rectified (--params) applies to a rosbag2's CameraInfo topic "
                        "only: %s is %s, whose calibration (%s) is used as written, its "
                        "distortion included; for rectified images give the rectified "
                        "camera's (its P as the camera matrix, zero distortion)",
                        path, what, cam_name or own)
        if (euroc or kitti) is not None and options.depth_scale is not None:
            raise InputError(f"--depth-scale: {path} is {what}, which has no depth images "
                             "to scale; drop it")
        if (euroc or kitti) is not None:  # a KITTI sequence is read from path itself
            reader, where = ((KittiSequence, path) if kitti is not None
                             else (EurocSequence, euroc))
            return reader(where, camera_info=cam, sync_tolerance_s=options.sync_tolerance_s,
                          pose_at_stamp=pose_at_stamp, read_depth=options.read_depth,
                          camera_info_name=cam_name, before_index=options.before_index,
                          poses_option=options.poses_option, stereo_depth=options.stereo_depth)
        return TumSequence(path, camera_info=cam, sync_tolerance_s=options.sync_tolerance_s,
                           pose_at_stamp=pose_at_stamp, depth_scale=options.depth_scale,
                           read_depth=options.read_depth, camera_info_name=cam_name,
                           before_index=options.before_index)
    why = _not_a_recording(path)
    if why:
        raise InputError(why)
    # rosbags has no rosdep key: on a ROS install it may be absent, and only bags need it
    from .rosbag import BagSequence
    from .rosbag.opening import bag_kind
    from .rosbag.pose_topic import parse_pose_topic
    from .rosbag.poses import parse_pose_frames

    parse_pose_frames(options.pose_frames, "--pose-frames")  # named as typed, not BagSequence
    parse_pose_topic(options.pose_topic)
    if options.stereo_depth:
        raise InputError(stereo_refusal % (bag_kind(path), "--depth-topic's"))
    depth_topic = options.depth_topic
    if depth_topic is not None and not options.read_depth:  # localize: query depth is unused
        log.info("--depth-topic %s is not read: localizing uses no query depth", depth_topic)
        depth_topic = None
    return BagSequence(path, image_topic=options.image_topic,
                       camera_info_topic=options.camera_info_topic,
                       depth_topic=depth_topic, camera_info=cam,
                       pose_frames=options.pose_frames, pose_topic=options.pose_topic,
                       sync_tolerance_s=options.sync_tolerance_s, pose_at_stamp=pose_at_stamp,
                       depth_scale=options.depth_scale, run=options.run,
                       depth_needed_by=options.depth_needed_by,
                       image_rectified=options.image_rectified, camera_info_name=cam_name,
                       before_index=options.before_index, command=options.command,
                       image_stamp=options.image_stamp,
                       max_frames=options.max_frames or options.index_frames,
                       option_names={
                           # receive from --params is named so (as a folder's refusal does);
                           # the flag is what the header default's hints offer
                           "image_stamp": (options.image_stamp_name
                                           if options.image_stamp != "header"
                                           else "--image-stamp"),
                           "image_stamp_said": options.image_stamp_said or (
                               f"{options.image_stamp_name} {options.image_stamp}"),
                           "image_topic": "--image-topic",
                           "camera_info_topic": "--camera-info-topic",
                           "camera_info": "--camera-info", "depth_scale": "--depth-scale"})
