"""RVL depth decoding (A. D. Wilson, "Fast Lossless Depth Image Compression", ISS 2017), as
image_transport's compressed_depth plugin sends it (format ``'16UC1; compressedDepth rvl'``).

The stream is 32-bit little-endian words, each holding eight 4-bit nibbles, the first in the
word's high bits. A nibble carries 3 bits of a value (least significant group first) and, in its
top bit, whether more nibbles of that value follow. The values, in order: a count of zero
pixels, a count of non-zero pixels, then one value per non-zero pixel, its difference to the
previous non-zero pixel (zig-zag mapped: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ...), repeated until
the image is full; the difference chain starts at 0 and carries across zero runs.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

_SHIFTS = np.arange(28, -1, -4, dtype=np.uint32)  # the first nibble in the high bits
_MAX_NIBBLES = 11  # 33 bits: more than any count or difference of a uint16 image needs
MAX_PIXELS = 1 << 28  # 16384 x 16384: larger is a corrupt header, not a depth camera


def _values(words: np.ndarray) -> np.ndarray:
    """Every variable-length value in ``words`` ((N,) uint32), as int64; the padding nibbles
    (zeros) after the last value read as values 0."""
    nibbles = ((words[:, None] >> _SHIFTS[None, :]) & 0xF).reshape(-1).astype(np.int64)
    last = (nibbles & 0x8) == 0  # the last nibble of its value
    ends = np.flatnonzero(last)
    if ends.size == 0:
        return np.zeros(0, np.int64)
    nibbles = nibbles[: ends[-1] + 1]  # a value cut short at the end is no value
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > _MAX_NIBBLES:
        raise ValueError(f"a value of {int(lengths.max())} nibbles (at most {_MAX_NIBBLES})")
    group = np.arange(nibbles.size) - np.repeat(starts, lengths)  # 3-bit group of its value
    return np.add.reduceat((nibbles & 0x7) << (3 * group), starts)


def decode_rvl(data: bytes | np.ndarray, width: int, height: int) -> np.ndarray:
    """RVL-compressed depth (the stream only, without compressed_depth's headers) -> (height,
    width) uint16, zeros kept (invalid depth).

    Raises:
        InputError: a size of zero or over `MAX_PIXELS`, a stream that is not whole 32-bit
            words, that ends before the image is full, or whose runs overrun it.
    """
    size = int(width) * int(height)
    if width <= 0 or height <= 0 or size > MAX_PIXELS:
        raise InputError(f"RVL depth of implausible size {width}x{height} (a corrupt message)")
    buf = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(),
                        np.uint8)
    if buf.size % 4:
        raise InputError(f"RVL stream of {buf.size} bytes is not whole 32-bit words (cut short?)")
    try:
        values = _values(buf.view("<u4").astype(np.uint32))
    except ValueError as err:
        raise InputError(f"corrupt RVL stream: {err}") from None
    vals = values.tolist()
    runs_at, runs_pixel, runs_len = [], [], []
    index, pixel = 0, 0
    while pixel < size:
        if index + 2 > len(vals):
            raise InputError(f"RVL stream ends after {pixel} of {width}x{height} = {size} pixels "
                             "(cut short or not RVL)")
        zeros, nonzeros = vals[index], vals[index + 1]
        index += 2
        pixel += zeros
        if pixel + nonzeros > size:
            raise InputError(f"RVL runs overrun the {width}x{height} image at pixel {pixel}: "
                             "corrupt, or another size than its header says")
        if index + nonzeros > len(vals):
            raise InputError(f"RVL stream ends after {pixel + len(vals) - index} of "
                             f"{width}x{height} = {size} pixels (cut short or not RVL)")
        if nonzeros:
            runs_at.append(index)
            runs_pixel.append(pixel)
            runs_len.append(nonzeros)
        index += nonzeros
        pixel += nonzeros
    out = np.zeros(size, np.uint16)
    if runs_len:
        lengths = np.asarray(runs_len, np.int64)
        offset = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        zigzag = values[np.repeat(np.asarray(runs_at, np.int64), lengths) + offset]
        delta = (zigzag >> 1) ^ -(zigzag & 1)
        out[np.repeat(np.asarray(runs_pixel, np.int64), lengths) + offset] = (
            np.cumsum(delta) & 0xFFFF).astype(np.uint16)
    return out.reshape(int(height), int(width))
