"""RVL depth decoding (A. D. Wilson, "Fast Lossless Depth Image Compression", ISS 2017), as
image_transport's compressed_depth plugin sends it (format ``'16UC1; compressedDepth rvl'``).

The stream is 32-bit little-endian words, each holding eight 4-bit nibbles, the first in the
word's high bits. A nibble carries 3 bits of a value (least significant group first) and, in its
top bit, whether more nibbles of that value follow. The values, in order: a count of zero
pixels, a count of non-zero pixels, then one value per non-zero pixel, its difference to the
previous non-zero pixel (zig-zag mapped: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ...), repeated until
the image is full; the difference chain starts at 0 and carries across zero runs.

Decoding is array-wide (numpy) but for the walk from one run's header to the next, one step per
run (a run's header says where the next one starts), not per pixel.
"""

from __future__ import annotations

from typing import Tuple

import array

import numpy as np

from ..errors import InputError

_MAX_NIBBLES = 11  # 33 bits: more than any count or difference of a uint16 image needs
MAX_PIXELS = 1 << 28  # 16384 x 16384: larger is a corrupt header, not a depth camera


def _values(buf: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every variable-length value in the stream ``buf`` ((4 N,) uint8, whole little-endian
    32-bit words), as (M,) int64, with the index of each one's last nibble ((M,) int64) and the
    stream's nibbles ((8 N,) uint8); the padding nibbles (zeros) after the last value read as
    values 0, a value cut short at the end is no value. Raises ValueError: a value of more than
    `_MAX_NIBBLES` nibbles."""
    # a little-endian word's high nibble is in its last byte: bytes in reverse, high nibble first
    octets = buf.reshape(-1, 4)[:, ::-1].reshape(-1)
    nibbles = np.empty(2 * octets.size, np.uint8)
    nibbles[0::2] = octets >> 4
    nibbles[1::2] = octets & 0xF
    ends = np.flatnonzero(nibbles < 8)  # the last nibble of its value: 'more follows' clear
    if ends.size == 0:
        return np.zeros(0, np.int64), ends, nibbles
    lengths = np.diff(ends, prepend=-1)
    longest = int(lengths.max())
    if longest > _MAX_NIBBLES:
        raise ValueError(f"a value of {longest} nibbles (at most {_MAX_NIBBLES})")
    low = nibbles & 0x7
    values = low[ends].astype(np.int64)  # the most significant group, then the lower ones
    more = np.flatnonzero(lengths > 1)
    for k in range(1, longest):
        values[more] = (values[more] << 3) | low[ends[more] - k]
        more = more[lengths[more] > k + 1]
    return values, ends, nibbles


def _run_headers(values: np.ndarray) -> np.ndarray:
    """Where each run's header (zeros, non-zeros) is in ``values`` ((M,) int64), following the
    chain from the first (one step a run) to the last header whole in the stream: (R,) int64
    indices."""
    step = memoryview(values[1:] + 2)  # header at i -> the next at i + step[i]; Python ints
    heads = array.array("q")  # int64, taken by numpy without a copy
    add = heads.append
    index, last = 0, values.size - 2
    while index <= last:
        add(index)
        index += step[index]
    return np.frombuffer(heads, np.int64) if heads else np.zeros(0, np.int64)


def decode_rvl(data: bytes | np.ndarray, width: int, height: int) -> np.ndarray:
    """RVL-compressed depth (the stream only, without compressed_depth's headers) -> (height,
    width) uint16, zeros kept (invalid depth).

    image_transport's encoder (compressed_depth_image_transport's ``RvlCodec::CompressRVL``)
    stops when the image is full and pads only its last 32-bit word with zero nibbles, and its
    differences are of uint16 values, so the chain never leaves 0..65535. A stream that runs on
    after the image (more nibbles than the last word's padding, or non-zero ones) or whose chain
    leaves uint16 is refused: its C++ decoder wraps such a value modulo 2**16 (as this one did)
    and never reads past the image, giving plausible depth from a damaged or mis-sized stream.

    Raises:
        InputError: a size of zero or over `MAX_PIXELS`, a stream that is not whole 32-bit
            words, that ends before the image is full, whose runs overrun it, that runs on after
            it, or a depth outside 0..65535.
    """
    size = int(width) * int(height)
    if width <= 0 or height <= 0 or size > MAX_PIXELS:
        raise InputError(f"RVL depth of implausible size {width}x{height} (a corrupt message)")
    buf = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(),
                        np.uint8)
    if buf.size % 4:
        raise InputError(f"RVL stream of {buf.size} bytes is not whole 32-bit words (cut short?)")
    try:
        values, value_ends, nibbles = _values(buf)
    except ValueError as err:
        raise InputError(f"corrupt RVL stream: {err}") from None
    count = values.size
    heads = _run_headers(values)
    zeros, nonzeros = values[heads], values[heads + 1]
    # pixels up to each run's end; a count over the image is cut to size + 1 (so no sum of
    # them overflows): the end of the first run that reaches the image's end is still right
    ends = np.cumsum(np.minimum(zeros, size + 1) + np.minimum(nonzeros, size + 1))
    cut_short = heads + 2 + nonzeros > count  # its non-zero values past the stream's end
    stops = np.flatnonzero((ends >= size) | cut_short)
    if stops.size == 0:  # every run whole and short of the end: the next header is missing
        pixel = int(ends[-1]) if ends.size else 0
        raise InputError(f"RVL stream ends after {pixel} of {width}x{height} = {size} pixels "
                         "(cut short or not RVL)")
    last = int(stops[0])
    pixel = (int(ends[last - 1]) if last else 0) + int(zeros[last])  # exact: ints
    if pixel + int(nonzeros[last]) > size:
        raise InputError(f"RVL runs overrun the {width}x{height} image at pixel {pixel}: "
                         "corrupt, or another size than its header says")
    if cut_short[last]:
        raise InputError(f"RVL stream ends after {pixel + count - int(heads[last]) - 2} of "
                         f"{width}x{height} = {size} pixels (cut short or not RVL)")
    # runs 0..last fill the image exactly: their non-zero values are the values up to the
    # last run's end less the headers, their pixels those of the non-zero runs
    heads, zeros, nonzeros = heads[:last + 1], zeros[:last + 1], nonzeros[:last + 1]
    deltas = np.ones(int(heads[-1]) + 2 + int(nonzeros[-1]), bool)
    deltas[heads] = False
    deltas[heads + 1] = False
    tail = nibbles[int(value_ends[deltas.size - 1]) + 1:]  # after the image's last value
    if tail.size >= 8 or tail.any():
        raise InputError(
            f"RVL stream runs on after the {width}x{height} image is full: {tail.size} more "
            f"nibbles, {np.count_nonzero(tail)} of them non-zero (the encoder pads only its last "
            "32-bit word, with zeros): corrupt, or another size than its header says")
    zigzag = values[:deltas.size][deltas]
    delta = (zigzag >> 1) ^ -(zigzag & 1)
    counts = np.stack([zeros, nonzeros], axis=1).reshape(-1)
    valid = np.repeat(np.arange(counts.size) % 2 == 1, counts)  # (size,): non-zero pixels
    depth = np.cumsum(delta)
    outside = np.flatnonzero((depth < 0) | (depth > 0xFFFF))
    if outside.size:
        pixel = int(np.flatnonzero(valid)[outside[0]])
        raise InputError(
            f"corrupt RVL stream: the depth of pixel {pixel} (row {pixel // width}, column "
            f"{pixel % width}) decodes to {int(depth[outside[0]])}, outside uint16's 0..65535 "
            "(the encoder's differences never leave it)")
    out = np.zeros(size, np.uint16)
    out[valid] = depth
    return out.reshape(int(height), int(width))
