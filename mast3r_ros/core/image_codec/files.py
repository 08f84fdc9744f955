"""Image files on disk (``pair``, TUM folders) -> (H, W, 3) uint8 RGB, without ROS.

`read_image_file` decodes with OpenCV at the file's own bit depth and then takes the same
`raw.to_rgb8` path as a message, so a 16-bit grey PNG/TIFF is scaled exactly like a mono16
message; `check_image_file_intact` first refuses a truncated or corrupt JPEG or PNG (which OpenCV
would decode with grey rows).
"""

from __future__ import annotations

from typing import Optional, Union

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, not_regular_file
from ..recordings import image_file_examples, image_glob_hint
from ..said_once import SaidOnce
from .bayer_watch import BAYER_LIKE_MIN_RATIO, bayer_like  # noqa: F401 (re-exported here)
from .bayer_watch import BayerWatch
from .compressed import _encoding_of_decoded, opencv_path, opencv_refusal
from .raw import to_rgb8, warn_low_bit_depth

_PILLOW_CHECKED_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG

log = logging.getLogger(__name__)

_DEPTH_LIKE_SAID = SaidOnce()  # the sources warned about as depth
# `depth_like`: the share of pixels exactly 0 or 65535 (holes) at least, the 1st..99th
# percentile of the others within this range (depth units: millimetres, TUM's 5000 a metre),
# and at least this share of the pixels not holes
DEPTH_LIKE_MIN_HOLES = 0.01
DEPTH_LIKE_RANGE = (100, 40000)
DEPTH_LIKE_MIN_VALID = 0.05
# `depth_like` of an image with fewer holes: this share of its pixels at least as smooth as a
# depth's (`_depth_smooth`)
DEPTH_LIKE_MIN_SMOOTH = 0.9
# a folder's grey files (one key a folder) read by a caller that holds no watch of its own
# (`read_image_file`'s ``bayer_watch``): its first 8 judged, then every 8th (bayer_watch); its
# 16-bit ones judged as depth on the first (`BayerWatch.first`)
_BAYER_LIKE_CHECKED = BayerWatch()


def check_image_file_intact(path: Union[str, os.PathLike]) -> None:
    """Raise `InputError` when a JPEG or PNG file is truncated or corrupt.

    OpenCV decodes a JPEG that ends early (an interrupted copy or download) without an error:
    libjpeg prints "Premature end of JPEG file" on stderr and the missing rows come back grey.
    Pillow's decoder reports it (``OSError: image file is truncated``), so a JPEG file (told
    by its signature) is decoded once by Pillow before OpenCV decodes it; the pixels still
    come from OpenCV. A PNG file is first only verified (Pillow's ``verify``: every chunk read
    to ``IEND``, its CRC checked, nothing decompressed), in a fifteenth of a decode's time (0.4
    vs 5.8 ms at 512x384 RGB), and decoded by Pillow only when that fails, so that a file cut
    short or with a changed byte is refused with the same message as before (and one missing
    only its ``IEND`` is still left to OpenCV's libpng, which refuses it); a file whose chunks
    are whole but whose compressed data a broken writer got wrong (too short, a bad filter
    byte) passes the verify and is refused by OpenCV's libpng instead ('Not enough image
    data': libpng stops where libjpeg fills rows in), with OpenCV's message. Other
    formats, and files Pillow does not read (an unidentified variant, one over its
    decompression-bomb limit), are left to OpenCV. A file that cannot be opened raises the
    ``OSError`` (``FileNotFoundError``, ...) of ``open``; `read_image_file` checks that first
    and names it in an `InputError`.
    """
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head.startswith(_PILLOW_CHECKED_MAGIC):
        return
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if not head.startswith(_PILLOW_CHECKED_MAGIC[1]) or not _png_verifies(path):
                with Image.open(path) as im:  # a JPEG, or a PNG that failed verify: decoded
                    im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return
    except (OSError, EOFError, SyntaxError, ValueError) as err:
        kind = "JPEG" if head.startswith(_PILLOW_CHECKED_MAGIC[0]) else "PNG"
        raise InputError(f"{kind} file {path} is truncated or corrupt ({err}); re-copy or "
                         "re-export it") from None


def _png_verifies(path: Union[str, os.PathLike]) -> bool:
    """True when Pillow's ``verify`` of the PNG file ``path`` passes (its chunks whole to
    ``IEND``, their CRCs right); the image data is not decompressed. Any error is False, the
    file then decoded as before (older Pillow raises ``struct.error`` for a file cut inside a
    chunk header)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()
    except Exception:  # noqa: BLE001  decoded next, which names the fault or passes the file
        return False
    return True


# EXIF orientation tag values (TIFF 6.0) -> what displaying the picture does to the stored pixels
EXIF_TURNS = {2: "mirrored", 3: "turned 180 deg", 4: "mirrored upside down",
              5: "mirrored and turned a quarter", 6: "turned a quarter clockwise",
              7: "mirrored and turned a quarter", 8: "turned a quarter counter-clockwise"}


def exif_orientation(path: Union[str, os.PathLike]) -> int:
    """The EXIF orientation tag (1-8) of image file ``path`` as Pillow reads it from the
    header (nothing decoded); 1, the pixels as stored, when it has none, holds another value
    or the file is no image Pillow opens."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            # Pillow's getexif() decodes a whole PNG to look for an eXIf chunk after its image
            # data: only where the file holds one (a TUM folder's every frame was read twice)
            if im.format == "PNG" and "exif" not in im.info and not _png_has_exif(path):
                return 1
            value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001  no tag to read: OpenCV decides about the file itself
        return 1
    return value if isinstance(value, int) and value in EXIF_TURNS else 1



def _png_has_exif(path: Union[str, os.PathLike]) -> bool:
    """Whether the PNG file ``path`` may hold an eXIf chunk (its type's bytes anywhere in it)."""
    with open(path, "rb") as fh:
        return b"eXIf" in fh.read()


def image_not_found(path: str) -> str:
    """The message for an image ``path`` that is no file: with a shell glob's characters in it
    (a pattern that matched no file, which the shell passes on as written), said so; a path
    that is there but no regular file (a device, pipe or socket) is said to be one."""
    special = not_regular_file(path, "the image file itself")
    if special:
        return special
    if any(c in os.path.basename(path) for c in "*?["):
        return (f"image not found: {path} (a shell glob that matched no file, passed on as "
                "written: check the folder and the extension)")
    return f"image not found: {path}"



_RECORDING_MAGIC = ((b"#ROSBAG V2.0", "a ROS 1 bag"), (b"\x89MCAP", "an MCAP file"),
                    (b"SQLite format 3\x00", "an SQLite database"))


def _not_an_image(path: Path) -> str:
    """What a file OpenCV does not decode is instead, when its first bytes tell: a PyTorch
    checkpoint (torch.save's zip archive, or a legacy pickle) given where an image goes -- the
    arguments swapped, `pair a.png model.pth --checkpoint b.png` --, a recording's file (a ROS 1
    bag, an MCAP or a rosbag2 .db3), else ''."""
    import zipfile

    with open(path, "rb") as fh:
        magic = fh.read(16)
    head = magic[:2]
    for sign, kind in _RECORDING_MAGIC:  # `pair a.jpg run.bag`: a recording, not a picture
        if magic.startswith(sign):
            return (f"it is {kind} (a recording, a bag's file), not an image: build-map and "
                    "localize read recordings; give the image files themselves")
    torch_zip = False
    if head == b"PK":
        try:
            with zipfile.ZipFile(path) as z:
                torch_zip = any(n.endswith("data.pkl") for n in z.namelist())
        except (OSError, zipfile.BadZipFile):
            pass
    if torch_zip or head[:1] == b"\x80":
        kind = "a PyTorch checkpoint (torch.save)" if torch_zip else "a Python pickle"
        return (f"it is {kind}, not an image: a model file given where an image goes "
                "(arguments swapped?); give it as --checkpoint and the image files themselves")
    return ""


def read_image_file(path: Union[str, os.PathLike], *, one_file: bool = False,
                    orientation: bool = True,
                    bayer_watch: Optional[BayerWatch] = None) -> np.ndarray:
    """Read an image file (PNG, JPEG, TIFF, ... as OpenCV decodes them) -> (H, W, 3) uint8 RGB.

    The one decoding path for image files (``pair``, TUM folders): the file is decoded at its
    own bit depth (EXIF orientation applied, alpha dropped) and converted by ``to_rgb8`` like a
    message of the matching encoding, so 16-bit grey or colour files are scaled by 255 / 65535
    as cv_bridge scales mono16 / rgb16 (never clipped to white).

    16-bit data below 16384 (10- to 14-bit) is warned about once (`warn_low_bit_depth`) for
    the folder's files of the same suffix (``rgb/*.png``: a sequence's frames), or for the file
    itself with ``one_file`` (``pair``'s two images, named as given). ``orientation`` False
    keeps the pixels as stored, an EXIF orientation tag not applied (a TUM folder whose
    camera.yaml is for the stored grid).

    A grey file that looks like a raw Bayer mosaic, or a 16-bit one that looks like a depth
    image or holds 10- to 14-bit data (both judged on the folder's first file), is warned
    about once for its folder's files of the same suffix by ``bayer_watch``: the reader's own
    (a `TumSequence`'s, one a folder read: the same folder read again, by a new reader, is
    said again); with ``one_file`` a new one (said each time the file is read); else one of
    the process (a caller that holds none).

    Raises:
        InputError: a folder (naming the glob of its image files, or with ``one_file``
            two of them: ``pair`` takes two), the file is missing or cannot be opened
            (permission denied: the OS's reason), not a decodable image, a
            truncated or corrupt JPEG or PNG (`check_image_file_intact`), or of an unsupported
            depth (float or 32-bit images).
    """
    path = Path(path)
    if path.is_dir():
        if one_file:  # pair's two images: a glob would expand to every frame
            examples = " ".join(image_file_examples(str(path)))
            raise InputError(f"{path} is a folder, not an image file: pair takes two image "
                             f"files{f', e.g. {examples}' if examples else ': name them'}")
        raise InputError(f"{path} is a folder, not an image file: name the image files "
                         f"themselves (a shell glob such as {image_glob_hint(str(path))} "
                         "expands to them)")
    if not path.is_file():  # missing, or a device or socket (`image_not_found` tells them)
        raise InputError(image_not_found(str(path)))
    if path.stat().st_size == 0:  # a copy or a write that never happened
        raise InputError(f"cannot read image {path}: the file is empty (0 bytes)")
    try:
        check_image_file_intact(path)
    except OSError as err:  # permission denied, an I/O error: refused like a damaged file
        raise InputError(f"cannot read image {path}: {err.strerror or err}") from None
    # ANYDEPTH | ANYCOLOR: keep 16 bits and grey/colour as stored; unlike IMREAD_UNCHANGED this
    # applies the EXIF orientation (and drops alpha).
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    with opencv_refusal(f"image {path}"):
        image = cv2.imread(opencv_path(path, "image"),
                           flags if orientation else flags | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        other = _not_an_image(path)
        if other:
            raise InputError(f"cannot read image {path}: {other}")
        raise InputError(
            f"cannot read image {path}: truncated or corrupt, or not an image format OpenCV "
            "decodes"
        )
    encoding = _encoding_of_decoded(image)
    if encoding is None:
        raise InputError(
            f"image {path} is {image.shape} {image.dtype}: only 8- and 16-bit grey or colour "
            "images are supported"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    source = str(path) if one_file else f"{path.parent}{os.sep}*{path.suffix}"
    watch = bayer_watch if bayer_watch is not None else \
        BayerWatch() if one_file else _BAYER_LIKE_CHECKED  # the reader's: this read's
    # a folder's files (``rgb/*.png``) judged as depth on the first one of each read of it
    if image.dtype == np.uint16 and image.ndim == 2 and watch.first(("depth", source)):
        why = depth_like(image)
        if why:  # a warning, not a refusal: a 16-bit grey file can be an infrared picture
            _DEPTH_LIKE_SAID.first(source)
            log.warning("%s: a 16-bit single-channel image that looks like a depth image (%s); "
                        "it is read as a grey picture, so the network sees no depth: give the "
                        "colour or infrared images (a TUM folder's rgb/, not its depth/), or "
                        "ignore this if it is an infrared picture%s", source, why,
                        "" if one_file else " (said once for these files)")
    if image.ndim == 2:
        why = watch.check(source, image)
        if why:  # a warning: such poses came out as good as colour ones (SIFT; ROS's debayer
            # node or cv2.cvtColor gives the colour back, which MASt3R was trained on)
            log.warning("%s: a single-channel image that looks like a raw Bayer colour mosaic "
                        "(%s); it is read as a grey picture, its 2x2 colour pattern as texture: "
                        "demosaic the files first, e.g. cv2.cvtColor(image, "
                        "cv2.COLOR_BayerBG2BGR) for an RGGB sensor (OpenCV names the pattern "
                        "by its second row), or record the ROS image_proc debayer node's "
                        "output (a bag's bayer_* images are converted as they are read)%s",
                        source, why, "" if one_file else " (said once for these files)")
    if source not in _DEPTH_LIKE_SAID:  # not also called 10- to 14-bit sensor data
        # pair's files are judged and named one by one: no "(said once)" after each
        warn_low_bit_depth(image, source, "rescale the file to the full 16-bit range (or save "
                           "it as 8-bit)" if one_file else "rescale the files to the full "
                           "16-bit range (or save them as 8-bit)",
                           once="" if one_file else "said once for these files",
                           first=lambda key: watch.first(("low_bit_depth", key)))  # this read
    return to_rgb8(image, encoding)


def depth_like(image: np.ndarray) -> str:
    """Why a (H, W) uint16 image looks like a depth image, else '' (any other dtype or shape:
    ''): at least 1 % of its pixels exactly 0 or 65535 (a depth sensor's holes), at least 5 %
    not, and those in a depth's range (1st..99th percentile within 100..40000: millimetres, or
    TUM's 5000 per metre, with none near 0, which a picture's dark pixels are); or, with fewer
    holes (a rendered depth, the demo's: none), in that range, not constant and as smooth as a
    depth (`_depth_smooth`; a picture's texture and a sensor's noise are not). An infrared
    picture can match too: callers warn, never refuse. Raises nothing."""
    if image.dtype != np.uint16 or image.ndim != 2 or not image.size:
        return ""
    holes = (image == 0) | (image == 65535)
    share = float(holes.mean())
    valid = image[~holes]
    if valid.size < DEPTH_LIKE_MIN_VALID * image.size:
        return ""
    lo, hi = (int(v) for v in np.percentile(valid, [1, 99]))
    if lo < DEPTH_LIKE_RANGE[0] or hi > DEPTH_LIKE_RANGE[1]:
        return ""
    metres = f"none near 0: {lo / 1000:.1f}..{hi / 1000:.1f} m if millimetres"
    if share >= DEPTH_LIKE_MIN_HOLES:
        return f"{share:.0%} of its pixels exactly 0 or 65535, the others {lo}..{hi}, {metres}"
    smooth = _depth_smooth(image) if hi > lo else 0.0
    if smooth < DEPTH_LIKE_MIN_SMOOTH:
        return ""
    few = f"few holes ({share * 100:.1g}% of its pixels 0 or 65535)" if share else "no holes"
    return (f"{few}, but smooth as a rendered depth: {smooth:.0%} of its pixels within 1 of "
            f"their four neighbours' mean, values {lo}..{hi}, {metres}")


def _depth_smooth(image: np.ndarray) -> float:
    """The share of ``image``'s inner pixels within 1 unit of the mean of their four neighbours
    (a depth of planes and smooth surfaces: nearly all, 99 % for the demo's; a camera's
    picture, 12- or 16-bit: about 12 %, blurred about 60 %, its texture and noise)."""
    if min(image.shape) < 3:
        return 0.0
    d = image.astype(np.int32)
    lap = 4 * d[1:-1, 1:-1] - d[:-2, 1:-1] - d[2:, 1:-1] - d[1:-1, :-2] - d[1:-1, 2:]
    return float((np.abs(lap) <= 4).mean())
