"""``sensor_msgs/CompressedImage`` fields -> numpy arrays, without ROS: JPEG and PNG decoded by
OpenCV, and image_transport's ``compressedDepth`` (a 12-byte header, then a 16-bit PNG, or for
its ``rvl`` format the width and height as uint32 and an RVL stream, `rvl.decode_rvl`). The
result is what `raw.decode_image` gives for the matching raw encoding.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional, Tuple

import cv2
import numpy as np

from ..errors import InputError
from .raw import BytesLike, _as_uint8
from .rvl import decode_rvl

_COMPRESSED_DEPTH_HEADER_BYTES = 12  # int32 format + float32 depthParam[2]
# the Bayer encodings a grey PNG/JPEG mosaic of each dtype can carry (its format's first part)
_BAYER_BY_DTYPE = {np.dtype(np.uint8): tuple(f"bayer_{p}8" for p in ("rggb", "bggr", "gbrg",
                                                                      "grbg")),
                   np.dtype(np.uint16): tuple(f"bayer_{p}16" for p in ("rggb", "bggr", "gbrg",
                                                                        "grbg"))}


def opencv_path(path: object, what: str) -> str:
    """``path`` as OpenCV's imread takes it; `InputError` naming ``what`` when it is not
    UTF-8 (a byte of a Latin-1 name decoded by Python as a lone surrogate, '\\udce4'): OpenCV
    5's Python binding crashed the process (a segmentation fault) on such a string."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"cannot read {what} {text}: its path is not UTF-8 (a name in another "
                         "encoding, e.g. a Latin-1 folder from an old disk, where Python shows "
                         "the byte as '\\udcXX'), and OpenCV cannot open such a path; rename "
                         "the folder or file to a UTF-8 name (convmv -r -f latin1 -t utf-8 "
                         "--notest FOLDER renames a tree)") from None
    return text


def read_own_image(path: str, flags: int) -> Optional[np.ndarray]:
    """An image file this package wrote (a map's keyframe PNG), decoded from its bytes read by
    Python: any path, a non-UTF-8 one included (`opencv_path`); None if it cannot be read or
    decoded, as ``cv2.imread``. Its files hold no EXIF orientation that imread would apply."""
    try:
        buf = np.fromfile(path, np.uint8)
    except OSError:
        return None
    return cv2.imdecode(buf, flags) if buf.size else None


@contextlib.contextmanager
def opencv_refusal(what: str) -> Iterator[None]:
    """`InputError` naming ``what`` (e.g. 'image rgb/1.png') for a ``cv2.error`` of the
    decode inside: OpenCV's imread / imdecode assert rather than return None for a header that
    states over its 2**30-pixel limit (CV_IO_MAX_IMAGE_PIXELS: a damaged or hostile width)."""
    try:
        yield
    except cv2.error as err:
        lines = str(err).strip().splitlines() or [""]
        why = ("its header states a size over OpenCV's limit of 2**30 pixels"
               if "MAX_IMAGE_PIXELS" in str(err) else f"OpenCV: {lines[-1][:160]}")
        raise InputError(f"cannot decode {what}: {why} (a damaged header, or not the image "
                         "it should be); re-copy or re-encode it") from None


def _decode_buffer(buf: np.ndarray, fmt: str) -> np.ndarray:
    with opencv_refusal(f"{buf.size} bytes of compressed image (format {fmt!r})"):
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if image is None:
        raise InputError(f"cannot decode {buf.size} bytes of compressed image (format {fmt!r})")
    return image


def _decode_rvl_payload(fmt: str, payload: np.ndarray) -> np.ndarray:
    """compressed_depth's rvl payload: uint32 width, uint32 height (little-endian), RVL."""
    if payload.size < 8:
        raise InputError(f"malformed compressedDepth message: format {fmt!r}, {payload.size} bytes "
                         "after the 12-byte header, expected at least the 8 of width and height")
    width, height = (int(v) for v in payload[:8].copy().view("<u4"))
    try:
        return decode_rvl(payload[8:], width, height)
    except InputError as err:
        raise InputError(f"compressedDepth format {fmt!r}: {err}") from None


def _decode_compressed_depth(fmt: str, buf: np.ndarray) -> Tuple[np.ndarray, str]:
    """image_transport's compressed_depth: a 12-byte header, then a 16-bit PNG or (format
    '... compressedDepth rvl') the width, height and an RVL stream."""
    encoding = fmt.split(";")[0].strip()
    rvl = "rvl" in fmt.lower()
    if encoding not in ("16UC1", "32FC1"):
        raise InputError(
            f"malformed compressedDepth message: format {fmt!r}, {buf.size} bytes (expected a "
            "16UC1 or 32FC1 format: '16UC1; compressedDepth png', '32FC1; compressedDepth png', "
            "or the same with rvl)"
        )
    if buf.size < _COMPRESSED_DEPTH_HEADER_BYTES:  # a format it has, the message cut short
        raise InputError(f"malformed compressedDepth message: format {fmt!r}, {buf.size} bytes, "
                         f"cut short inside its {_COMPRESSED_DEPTH_HEADER_BYTES}-byte header")
    if buf.size == _COMPRESSED_DEPTH_HEADER_BYTES and not rvl:  # the header and no PNG
        raise InputError(f"malformed compressedDepth message: format {fmt!r}, {buf.size} bytes: "
                         f"its {_COMPRESSED_DEPTH_HEADER_BYTES}-byte header and no PNG after it")
    if rvl:
        inverse = _decode_rvl_payload(fmt, buf[_COMPRESSED_DEPTH_HEADER_BYTES:])
    else:
        inverse = _decode_buffer(buf[_COMPRESSED_DEPTH_HEADER_BYTES:], fmt)
    if inverse.dtype != np.uint16 or inverse.ndim != 2:
        raise InputError(
            f"compressedDepth PNG must be 16-bit grey, got {inverse.shape} {inverse.dtype}"
        )
    if encoding == "16UC1":
        return inverse, "16UC1"
    # 32FC1 is stored as quantized inverse depth: depth = a / (value - b), value 0 = invalid.
    quant_a, quant_b = buf[4:12].copy().view("<f4")
    # the plugin writes a = q (q + 1) > 0 and b = 1 - a / depth_max < 1 (q: depth_quantization,
    # depth_max > 0), so every stored value v >= 1 gives a positive finite depth; a = 0 read
    # every pixel as 0 m without a word
    if not (np.isfinite(quant_a) and np.isfinite(quant_b) and quant_a > 0 and quant_b < 1):
        raise InputError(
            f"compressedDepth message (format {fmt!r}): its header's inverse-depth quantization "
            f"a={float(quant_a):g}, b={float(quant_b):g} is none image_transport's "
            "compressed_depth writes (a = q(q+1) > 0, b = 1 - a/depth_max < 1): a damaged "
            "message or another encoder; republish the depth raw or as 16UC1")
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (np.float32(quant_a) / (inverse.astype(np.float32) - np.float32(quant_b)))
    depth[inverse == 0] = np.nan
    return depth.astype(np.float32), "32FC1"


def decode_compressed(format: str, data: BytesLike) -> Tuple[np.ndarray, str]:
    """``sensor_msgs/CompressedImage`` fields -> (array, raw encoding) as ``decode_image`` gives.

    JPEG and PNG are decoded by OpenCV with IMREAD_UNCHANGED, so colour comes back as bgr8 / bgra8,
    grey as mono8, 16-bit grey PNG as 16UC1 (or mono16 when ``format`` says so) and 16-bit
    colour PNG as bgr16 / bgra16. A grey image whose ``format`` names a Bayer encoding
    (compressed_image_transport's 'bayer_rggb8; png compressed ', of an 8- or 16-bit mosaic)
    comes back as that encoding, for `to_rgb8` to demosaic as cv_bridge does. The
    ``compressedDepth`` format of image_transport's compressed_depth plugin (12-byte header, then
    PNG, or RVL) gives 16UC1 or 32FC1.

    Raises:
        InputError: ``format`` not a string, ``data`` not bytes-like, bytes that do not decode,
            a malformed or corrupt compressedDepth message (PNG or RVL), or a decoded image of
            another type.
    """
    if not isinstance(format, str):
        raise InputError(f"CompressedImage format must be a string ('jpeg', 'png', '16UC1; "
                         f"compressedDepth png'), got {format!r}")
    buf = _as_uint8(data)
    if "compresseddepth" in format.lower():
        return _decode_compressed_depth(format, buf)
    image = _decode_buffer(buf, format)
    declared = format.split(";")[0].strip() if ";" in format else ""
    if declared in _BAYER_BY_DTYPE.get(image.dtype, ()) and image.ndim == 2:
        # compressed_image_transport compresses a Bayer image as its grey mosaic and names it
        # in the format ('bayer_rggb8; png compressed '); its subscriber gives the mosaic back
        # under that encoding, which cv_bridge then demosaics: read as mono8 it was a grey
        # picture with a checkerboard of the colour filter
        return image, declared
    if image.dtype == np.uint8 and image.ndim == 2:
        return image, "mono8"
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4):
        return image, "bgr8" if image.shape[2] == 3 else "bgra8"
    if image.dtype == np.uint16 and image.ndim == 2:
        return image, "mono16" if declared == "mono16" else "16UC1"
    encoding = _encoding_of_decoded(image)
    if encoding is None:
        raise InputError(
            f"compressed image (format {format!r}) decodes to unsupported {image.shape} "
            f"{image.dtype}; expected 8- or 16-bit grey or colour"
        )
    return image, encoding


def _encoding_of_decoded(image: np.ndarray) -> Optional[str]:
    """The raw encoding of an array as OpenCV's decoders return it (BGR order), or None."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    bits = {np.dtype(np.uint8): "8", np.dtype(np.uint16): "16"}.get(image.dtype)
    if bits is None:
        return None
    if image.ndim == 2:
        return f"mono{bits}"
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return f"bgr{bits}" if image.shape[2] == 3 else f"bgra{bits}"
    return None

