"""torch's reason for a failed read, as one complete sentence for a one-line error
(`reader_reason`): its advice (re-run with ``weights_only=False``, file an issue) and a failed
c10 check's place left out."""

from __future__ import annotations

import re

# torch's weights-only errors wrap the reason in advice (re-run with weights_only=False, file an
# issue, read the docs) that is wrong for us: the reason is the one line that is none of these
_TORCH_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation",
                      "WeightsUnpickler error:")


# c10's failed check: "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough
# memory: ...": the place and the condition checked ("data"), then the reason
_ENFORCE = re.compile(r"\[enforce fail at [^\]]*\]\s*(.*?)\.(?:\s+|$)(.*)")


def _without_place(line: str) -> str:
    """A failed c10 check's reason (its condition where it gives none); other lines as given."""
    m = _ENFORCE.match(line)
    return (m.group(2).strip() or m.group(1)) if m else line


def reader_reason(err: BaseException) -> str:
    """torch's reason for a failed read as one complete sentence: the first line that is not
    advice, up to its first full stop (torch's miniz message runs on for three sentences), a
    failed c10 check's reason without its place and condition ("DefaultCPUAllocator: not
    enough memory: you tried to allocate 2705326080 bytes", not "[enforce fail at
    alloc_cpu.cpp:117] data"); prefixed by the exception type when bare (``KeyError: 101``),
    the type alone when empty."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    # the unpickler's own reason first: torch >= 2.6 puts two lines of weights_only advice
    # ("(1) In PyTorch 2.6, we changed the default ...") before it
    own = [ln.split("WeightsUnpickler error:", 1)[-1].strip() for ln in lines
           if "WeightsUnpickler error:" in ln]
    lines = [ln for ln in own if ln] or [
        ln for ln in lines if not ln.startswith(_TORCH_BOILERPLATE + ("(1) ", "(2) "))]
    text = _without_place(lines[0]).split(". ", 1)[0].rstrip(".") if lines else ""
    if not text:
        return type(err).__name__
    return text if " " in text else f"{type(err).__name__}: {text}"
