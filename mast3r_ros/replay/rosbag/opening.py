"""Opening a recording with rosbags (`_open_bag`): its refusal as an `InputError` that names the
file and, where one applies, what to do (`_open_hint`: reindex, recover, copy again). Used by
both passes of `sequence.BagSequence` and by its drawn frames (`drawn`)."""

from __future__ import annotations

import collections
import contextlib
import bisect
import operator
import os
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.rosbag1 import ReaderError as Ros1ReaderError
from rosbags.rosbag2 import ReaderError
from . import realsense
from .ros1_chunks import chunk_kept_messages
from .sqlite_open import skip_counts, warn_if_unindexed
from .video import VIDEO_TYPES, VideoPacket, humble_typestore
from ...core.errors import InputError, error_clause
from ...core.progress_output import progress_bar

PROGRESS_STEP = 512  # messages between two updates of `progress_messages`' display


def _open_hint(path: Path, err: Exception) -> str:
    """What to do about rosbags' refusal ``err`` of ``path`` ('' when nothing useful applies):
    its messages say what is wrong with the file, not how a recording ends up that way."""
    text = str(err).lower()
    if (isinstance(err, PermissionError) or "permission denied" in text  # a whole bag
            or _a_file_denied(path)):  # sqlite's 'unable to open database file' says no more
        return " (this user may not read it: check the permissions of the bag's files)"
    if str(path).lower().endswith(".bag"):  # ROS 1's, with ROS 1's tool
        return (" (a ROS 1 recording killed before it closed, or a file copied in part? "
                f"'rosbag reindex {path}' (ROS 1) rebuilds its index)"
                if any(w in text for w in ("index", "header", "magic", "eof", "truncat"))
                else "")
    if "files are missing" in text and os.path.isdir(path):  # a split bag copied in part
        return (" (metadata.yaml lists them but the folder lacks them: a copy or download "
                "interrupted? copy them again; to read the bag without them, 'ros2 bag reindex "
                f"{path}' rewrites metadata.yaml from the files present)")
    if "metadata" in text and os.path.isdir(path):
        return (f" (metadata.yaml is empty or not a rosbag2's: 'ros2 bag reindex {path}' writes "
                "it anew from the storage files)")
    if any(w in text for w in ("magic", "truncat", "unexpected end", "malformed", "eof")):
        return (" (a recording killed before it closed, or a file copied in part? 'ros2 bag "
                "reindex' rebuilds metadata.yaml; an MCAP file cut short: 'mcap recover IN -o "
                "OUT' (the mcap CLI) copies what is readable)")
    return ""


def _a_file_denied(path: Path) -> bool:
    """True when this user may not open ``path`` (a bag file) or a file of the folder ``path``:
    SQLite refuses a ``.db3`` it may not read as 'unable to open database file', naming no
    permission."""
    try:
        names = [os.path.join(path, n) for n in os.listdir(path)] if os.path.isdir(path) \
            else [path]
    except PermissionError:
        return True
    except OSError:
        return False
    for name in names:
        try:
            with open(name, "rb"):
                pass
        except PermissionError:
            return True
        except OSError:
            continue
    return False


def bag_kind(path: str | os.PathLike) -> str:
    """What a recording is called: 'ROS 1 bag' for a ``.bag`` file (rosbags reads ROS 1 bags
    too), else 'rosbag2'."""
    return "ROS 1 bag" if str(path).lower().endswith(".bag") else "rosbag2"


def bag_label(path: str | os.PathLike) -> str:
    """How messages name a recording: 'ROS 1 bag PATH' or 'rosbag2 PATH' (`bag_kind`)."""
    return f"{bag_kind(path)} {path}"


# what rosbags raises for bytes it cannot parse besides its own errors: metadata.yaml that is
# not UTF-8 or of other types, an MCAP length field of 2**63 bytes (MemoryError), a cut record
_DAMAGED = (ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error,
            MemoryError, OverflowError)
# ... and what its ROS 1 reader raises besides: its own ReaderError (not rosbag2's), the asserts
# it checks records with, a damaged chunk's bz2 error (OSError) and lz4 error (RuntimeError)
_ROS1_DAMAGED = (Ros1ReaderError, AssertionError, OSError, RuntimeError)
try:  # rosbags 0.10+ reads sqlite3 through apsw, earlier ones through the standard sqlite3
    import apsw
    _STORAGE_ERRORS: Tuple[type, ...] = (sqlite3.DatabaseError, apsw.Error)
except ImportError:
    _STORAGE_ERRORS = (sqlite3.DatabaseError,)


def _damaged(path: Path, err: BaseException) -> str:
    """The refusal of a recording whose bytes rosbags failed on outside its own errors."""
    if isinstance(err, SyntaxError):  # rosbags makes each type a Python class of its name
        return (f"cannot open {bag_label(path)}: a message type's name in it is no type name "
                f"({err.text.strip() if err.text else 'no detail'!r:.80}: {err.msg}); the file "
                "is damaged: copy it again")
    if isinstance(err, MemoryError):
        what = ("a storage file states a record longer than any memory (a damaged length "
                "field)")
    elif str(path).lower().endswith(".bag"):
        return (f"cannot open {bag_label(path)}: its records are damaged ({type(err).__name__}"
                f": {error_clause(err)[:160] or 'no detail'}); a recording killed before it "
                f"closed or a file copied in part? copy it again, or 'rosbag reindex {path}' "
                "(ROS 1) rebuilds its index")
    elif isinstance(err, UnicodeDecodeError):
        what = f"its metadata.yaml is not UTF-8 text ({error_clause(err)[:120]})"
    else:
        what = (f"its metadata.yaml or a storage file is damaged ({type(err).__name__}: "
                f"{error_clause(err)[:160]})")
    return (f"cannot open {bag_label(path)}: {what}; a recording killed before it closed or "
            "a file copied in part? copy it again, or 'ros2 bag reindex' rewrites metadata.yaml "
            "from the storage files (an MCAP file: 'mcap recover IN -o OUT' copies what is "
            "readable)")



def _refuse_no_ros1_magic(path: Path) -> None:
    """A '.bag' file that is no ROS 1 bag (it lacks the '#ROSBAG V2.0' line every one begins
    with): said so, not called damaged with `rosbag reindex` as the fix. Unreadable or empty
    files are left to the reader's own refusal."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(13)
    except OSError:
        return
    if head and str(path).lower().endswith(".bag") and not head.startswith(b"#ROSBAG V2.0"):
        raise InputError(f"{path} is no ROS 1 bag: it does not begin with '#ROSBAG V2.0', as "
                         "every one does; give the recording itself (a ROS 1 .bag, a rosbag2 "
                         "folder, .mcap or .db3)")


@contextlib.contextmanager
def _open_bag(path: Path) -> Iterator[AnyReader]:
    """AnyReader with InputError for unreadable bags; Humble types (and the two video types,
    `video`) for bags without definitions. A bag folder's .db3 files are opened without
    counting their messages (`sqlite_open`: metadata.yaml gives the counts)."""
    if str(path).lower().endswith(".bag") and os.path.isdir(path):  # rosbags: a ROS 1 file
        kind = ("a rosbag2 folder (it holds metadata.yaml)" if os.path.isfile(
            os.path.join(path, "metadata.yaml")) else "a folder")
        bare = str(path).rstrip("/")[:-4]
        raise InputError(f"{path} is {kind}, but a path ending in '.bag' is read as a ROS 1 "
                         f"bag file: rename it without '.bag': mv {path} {bare}")
    _refuse_no_ros1_magic(path)
    try:
        reader = AnyReader([path], default_typestore=humble_typestore())
        skip_counts(reader)  # a folder's .db3 files: no count of their messages at each open
        reader.open()
    except (AnyReaderError, ReaderError, OSError) as err:
        hint = _open_hint(path, err)  # rosbags' full stop dropped before the hint
        said = error_clause(err) if hint else err
        raise InputError(f"cannot open {bag_label(path)}: {said}{hint}") from err
    except (*_STORAGE_ERRORS, *_DAMAGED, *_ROS1_DAMAGED, SyntaxError) as err:  # damaged bytes
        raise InputError(_damaged(path, err)) from err
    try:  # sums and types of metadata.yaml's fields: a count of 'abc' was a TypeError
        reader.message_count, reader.topics  # noqa: B018 - read for their checks
    except _DAMAGED as err:
        reader.close()
        raise InputError(_damaged(path, err)) from err
    warn_if_unindexed(reader)  # a .db3 sorted whole before its first message
    try:
        yield reader
    finally:
        reader.close()


def bag_messages(reader: AnyReader, **kwargs: Any) -> Iterator[Tuple[Any, int, bytes]]:
    """``reader.messages(**kwargs)``, with `InputError` (naming the recording and how many
    messages were read) for a storage file damaged past its index: an MCAP chunk whose
    checksum or length is wrong, a sqlite3 page that is corrupt (rosbags' ReaderError,
    apsw's or sqlite3's errors, a cut record's struct.error; a ROS 1 bag's damaged record or
    chunk), or a message read for another connection than its own (a ROS 1 message record
    whose connection id is not the one its chunk's index lists it under: another connection
    asked for, whose message it would be read as, or one not asked for). A ROS 1 bag's
    chunks are each read once (`ros1_chunks`; rosbags read one again each time bag-time
    order came back to it)."""
    asked = kwargs.get("connections")
    if asked is not None:  # a list, to test each message's against (an iterator runs out)
        asked = kwargs["connections"] = list(asked)
    messages = chunk_kept_messages(reader, **kwargs) or reader.messages(**kwargs)
    path = (getattr(reader, "paths", None) or ["?"])[0]
    ros1 = str(path).lower().endswith(".bag")
    indexed = _index_times(reader, asked) if ros1 else None
    seen_at, seen = None, collections.Counter()  # messages yielded per connection at seen_at
    count = 0
    try:
        while True:
            try:
                item = next(messages)
            except StopIteration:
                return
            except (ReaderError, *_STORAGE_ERRORS, *_DAMAGED, *_ROS1_DAMAGED) as err:
                recover = (f"'rosbag reindex {path}' (ROS 1) rebuilds its index" if ros1 else
                           "recover what is readable (an MCAP file: 'mcap recover IN -o OUT'; "
                           "a .db3 file: sqlite3's '.recover')")
                raise InputError(
                    f"cannot read {bag_label(path)} after {count} messages of those asked for: "
                    f"{'its records are' if ros1 else 'a storage file is'} damaged "
                    f"({type(err).__name__}: {error_clause(err)[:160] or 'no detail'}); copy it "
                    f"again, or {recover}") from err
            stray = asked is not None and item[0] not in asked
            if not stray and indexed is not None:  # messages come in time order
                if item[1] != seen_at:
                    seen_at, seen = item[1], collections.Counter()
                seen[item[0].id] += 1
            if stray or (indexed is not None
                         and seen[item[0].id] > _listed_at(indexed[item[0].id], item[1])):
                owner = None if indexed is None else next(  # an entry left without its record
                    (c for c in asked if c.id != item[0].id
                     and _listed_at(indexed[c.id], item[1]) > seen[c.id]), None)
                under = f"topic {owner.topic}'s" if owner is not None else "another topic's"
                raise InputError(
                    f"cannot read {bag_label(path)} after {count} messages of those asked for: "
                    f"a message of topic {item[0].topic} ({item[0].msgtype}) is indexed under "
                    f"{under} connection: the file is damaged; copy it again"
                    + (f", or 'rosbag reindex {path}' (ROS 1) rebuilds its index" if ros1
                       else ""))
            count += 1
            yield item
    finally:
        messages.close()


def progress_messages(reader: AnyReader, conns: List[Any], desc: str
                      ) -> Iterator[Tuple[Any, int, bytes]]:
    """`bag_messages` of ``conns`` with progress shown (`progress_output.progress_bar`: a bar
    with an ETA on a terminal, INFO lines otherwise), counted in messages of the total the
    bag's metadata gives for them (unknown: no ETA), updated every `PROGRESS_STEP` messages:
    an indexing pass reads every message of them before any frame (minutes on a long bag)."""
    total = sum(int(getattr(c, "msgcount", 0) or 0) for c in conns) or None
    bar = progress_bar(total, desc, unit="message")
    done = 0
    try:
        for item in bag_messages(reader, connections=conns):
            done += 1
            if done % PROGRESS_STEP == 0:
                bar.update(PROGRESS_STEP)
            yield item
        bar.update(done % PROGRESS_STEP)
    finally:
        bar.close()


def _index_times(reader: AnyReader, asked: Optional[List[Any]]) -> Optional[Dict[int, Any]]:
    """Each asked connection's sorted index entries (``IndexData``, by time) of a one-file ROS 1
    bag, by connection id: rosbags yields a message under the connection its record names, not
    its index entry's, so a record relabelled to connection ``c`` shows as more messages of
    ``c`` at its time ``t`` than ``c``'s entries hold at ``t`` (an order-free test: rosbags'
    order of entries at one time differs between its versions). None where
    that cannot be told (no connections asked, several files, another rosbags' reader)."""
    readers = getattr(reader, "readers", None)
    if not asked or not isinstance(readers, list) or len(readers) != 1:
        return None
    indexes = getattr(readers[0], "indexes", None)
    if not isinstance(indexes, dict) or any(getattr(c, "owner", None) is not readers[0]
                                            for c in asked):
        return None
    try:
        return {c.id: indexes[c.id] for c in asked}
    except (KeyError, AttributeError, TypeError):
        return None


def _listed_at(entries: Any, time_ns: int) -> int:
    """How many of the sorted index ``entries`` are at ``time_ns`` (binary search on the
    entries' ``time``; no copy of the list)."""
    key = operator.attrgetter("time")
    return (bisect.bisect_right(entries, time_ns, key=key)
            - bisect.bisect_left(entries, time_ns, key=key))


def bag_deserialize(reader: AnyReader, raw: bytes, msgtype: str) -> Any:
    """``reader.deserialize(raw, msgtype)``, with `InputError` for a type the recording's
    definitions lack (rosbags' KeyError: a damaged message_definitions table of a .db3, or
    an MCAP schema, names it otherwise); rosbags' own errors pass as they are. A RealSense
    recording's (`realsense`) Image with librealsense's trailing ``depth_units`` is read
    without it, and its CameraInfo's distortion and Image's encoding are named as sensor_msgs
    names them. A video message is a `video.VideoPacket` (one already made is passed on)."""
    if isinstance(raw, VideoPacket):  # deserialized and decoded in bag order (`video`)
        return raw
    try:
        msg = reader.deserialize(raw, msgtype)
    except (AnyReaderError, ValueError) as err:  # a librealsense Image's depth_units (4 B)
        if not (msgtype == realsense.IMAGE_TYPE and "size mismatch" in str(err)
                and realsense.reader_is_realsense(reader)):
            raise
        stripped = realsense.strip_depth_units(raw)
        if stripped is None:
            raise
        try:
            msg = reader.deserialize(stripped, msgtype)
        except (AnyReaderError, ValueError, KeyError):
            raise err from None
    except KeyError as err:
        raise InputError(f"no definition of message type {msgtype} to read it with: the "
                         "recording's message definitions are damaged or name other types "
                         "(a .db3's message_definitions table, an MCAP file's schemas)") from err
    if msgtype == realsense.CAMERA_INFO_TYPE and realsense.reader_is_realsense(reader):
        return realsense.standard_camera_info(msg)  # librealsense's distortion names
    if msgtype == realsense.IMAGE_TYPE and realsense.reader_is_realsense(reader):
        return realsense.standard_image(msg)  # its YUYV
    return VideoPacket(msg, msgtype) if msgtype in VIDEO_TYPES else msg


def numbered_messages(reader: AnyReader, conns: List[Any]) -> Iterator[Tuple[Any, int, bytes]]:
    """(connection, ordinal, raw CDR bytes) of each message on ``conns``, in the bag's order;
    ordinal: the message's 0-based place among its topic's messages, the numbering of the
    indexing pass (`runs._RunCounter` labels runs by it). Raises `InputError` as
    `bag_messages`."""
    ordinals: collections.Counter = collections.Counter()
    for conn, _, raw in bag_messages(reader, connections=conns):
        ordinal = ordinals[conn.topic]
        ordinals[conn.topic] += 1
        yield conn, ordinal, raw
