"""Whether a legacy (non-zip) ``torch.save`` file is cut short or damaged, told without torch:
its pickles parsed, its tensor records' lengths walked (`legacy_problem`).

A legacy file is five pickles (torch's magic number, the protocol, system info, the checkpoint
itself, the list of its storage keys) and then, for each key in that list, the storage's
element count (8 bytes, little-endian) and its bytes. The checkpoint's pickle names each
storage's type and element count in a persistent id ``('storage', torch.FloatStorage, key,
location, numel, view)``; those are read with an unpickler whose every global is a stand-in
(`_Stand`): nothing is imported, nothing the file names is called.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
from typing import BinaryIO, Dict, Optional, Tuple

# bytes per element of the storage types a legacy torch.save file names (torch.<name>)
_ELEMENT_BYTES = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8,
    "QInt8Storage": 1, "QUInt8Storage": 1, "QInt32Storage": 4, "QUInt4x2Storage": 1,
    "QUInt2x4Storage": 1, "UntypedStorage": 1,
}

_WHAT = "a legacy torch.save file, not a zip archive,"


class _Stand:
    """What every global of the pickle becomes: takes any arguments, state and items, and
    keeps none of them."""

    _pickled: Tuple[str, str] = ("", "")

    def __new__(cls, *_a, **_k):
        return object.__new__(cls)

    def __init__(self, *_a, **_k):
        pass

    def __setstate__(self, _state):
        pass

    def __setitem__(self, _key, _value):
        pass

    def append(self, _value):
        pass

    def extend(self, _values):
        pass


class _StorageLister(pickle.Unpickler):
    """Reads one pickle with stand-ins for its globals, listing its storages: ``storages`` maps
    each storage key to ``(type name, element count)``."""

    def __init__(self, fh: BinaryIO):
        super().__init__(fh)
        self.storages: Dict[str, Tuple[str, int]] = {}

    def find_class(self, module, name):
        return type(str(name), (_Stand,), {"_pickled": (str(module), str(name))})

    def persistent_load(self, pid):
        if (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], type) and issubclass(pid[1], _Stand)):
            module, name = pid[1]._pickled
            if module == "torch" and isinstance(pid[4], int):
                self.storages[str(pid[2])] = (name, pid[4])
        return _Stand()


def _whole(fh: BinaryIO) -> bool:
    """Whether ``fh`` holds a whole pickle from where it is (parsed only, up to its STOP)."""
    try:
        for _ in pickletools.genops(fh):
            pass
    except Exception:  # noqa: BLE001 - cut short, damaged or not a pickle
        return False
    return True


def legacy_problem(fh: BinaryIO, size: int) -> Optional[str]:
    """Why the legacy torch.save file open as ``fh`` (``size`` bytes) cannot be read, in our
    words: ``"a legacy torch.save file, not a zip archive, that cannot be read to its end"``
    (a pickle cut short or damaged), ``"... cut short: it ends in tensor record 7 of 12, 1024
    bytes before its end"``, or ``"... whose tensor record 3 of 12 is damaged (it says
    512 elements, the checkpoint 256)"``; None when the file is whole as far as this shows (the
    reader failed for another cause: out of memory, a storage type this walk does not know)."""
    for _ in range(3):  # magic number, protocol, system info
        if not _whole(fh):
            return f"{_WHAT} that cannot be read to its end"
    lists = []
    for _ in range(2):  # the checkpoint (its storages), then the storage keys in file order
        start = fh.tell()
        if not _whole(fh):
            return f"{_WHAT} that cannot be read to its end"
        end = fh.tell()
        fh.seek(start)
        lister = _StorageLister(io.BytesIO(fh.read(end - start)))
        try:
            lists.append((lister.load(), lister.storages))
        except Exception:  # noqa: BLE001 - a whole pickle these stand-ins cannot build
            return None
    storages, keys = lists[0][1], lists[1][0]
    if not isinstance(keys, list) or any(str(k) not in storages for k in keys):
        return None
    records = [storages[str(k)] for k in keys]
    widths = [_ELEMENT_BYTES.get(name) for name, _ in records]
    if None in widths:
        return None
    starts = [fh.tell()]
    for (_, count), width in zip(records, widths):
        starts.append(starts[-1] + 8 + count * width)
    if starts[-1] > size:
        cut = next(i for i in range(len(records)) if starts[i + 1] > size)
        return (f"{_WHAT} cut short: it ends in tensor record {cut + 1} of {len(records)}, "
                f"{starts[-1] - size} bytes before its end")
    for i, (_, count) in enumerate(records):
        fh.seek(starts[i])
        said = int.from_bytes(fh.read(8), "little", signed=True)
        if said != count:
            return (f"{_WHAT} whose tensor record {i + 1} of {len(records)} is damaged (it "
                    f"says {said} elements, the checkpoint {count})")
    return None


def legacy_file_problem(path: str) -> Optional[str]:
    """`legacy_problem` of the file ``path``; raises `OSError` when it cannot be read."""
    with open(path, "rb") as fh:
        return legacy_problem(fh, os.fstat(fh.fileno()).st_size)
