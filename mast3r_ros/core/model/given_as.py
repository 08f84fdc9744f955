"""How the user gives each model file, for the fix a refusal of that file names.

The commands take the files as flags (``--checkpoint``, ``--retrieval-checkpoint``,
``--codebook``: `FLAGS`); a node parameter file gives them as parameters (``checkpoint``,
``retrieval.checkpoint``, ``retrieval.codebook``: `PARAMETERS`), which is what ``check-params``
and the node's configure read. The cheap checks of the files (`checkpoint.require_checkpoint`,
`retrieval_model.check_retrieval_files`, `asmk.codebook.check_codebook_file`) take one of these,
so that the same check says the fix in the words of whoever reads it: ``check-params`` said
"pass it as --checkpoint" of a file that has no flags.

The loader's own refusals, past those checks (a file read whole and found to be the retrieval
head, a plain pickle, a model in another format), are worded deep inside the network loader,
which no caller passes the words to: `speaking` sets them for a block (the node's
`Localizer.from_config` with `PARAMETERS`), and a function whose ``given`` is None takes them
from `given_here` (the commands' `FLAGS` outside any block). Before, the node's log told a ROS
user to pass ``--checkpoint``, a flag the node has not.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from typing import Iterator, Optional


@dataclass(frozen=True)
class GivenAs:
    """The phrases naming where each file goes, each fitting the message that uses it.

    ``checkpoint``: the network checkpoint ("pass it as ..."); ``checkpoint_ways``: the same,
    before "takes the PyTorch checkpoint"; ``retrieval``: the retrieval head ("pass it with
    ..."); ``retrieval_ways``: every way to give it, in parentheses; ``retrieval_as``: the same
    after "pass it as"; ``codebook``: the ASMK codebook, in parentheses; ``codebook_as``: the
    same after "pass it as"; ``passed_as``: the not-found hint's end ("... pass their path
    <passed_as>", `checkpoint.require_checkpoint`)."""

    checkpoint: str
    checkpoint_ways: str
    retrieval: str
    retrieval_ways: str
    retrieval_as: str
    codebook: str
    codebook_as: str
    passed_as: str = "with --checkpoint / the 'checkpoint' parameter"


FLAGS = GivenAs(
    checkpoint="--checkpoint",
    checkpoint_ways="--checkpoint (the 'checkpoint' parameter)",
    retrieval="--retrieval-checkpoint",
    retrieval_ways="--retrieval-checkpoint, or retrieval.checkpoint in --params",
    retrieval_as="--retrieval-checkpoint (build-map, retrieve) or as the parameter "
                 "retrieval.checkpoint (--params: localize, the node)",
    codebook="--codebook, or codebook= in Python",
    codebook_as="--codebook (retrieve, build-map)")

_CHECKPOINT = "the parameter 'checkpoint'"
_RETRIEVAL = "the parameter 'retrieval.checkpoint'"
_CODEBOOK = "the parameter 'retrieval.codebook'"

PARAMETERS = GivenAs(checkpoint=_CHECKPOINT, checkpoint_ways=_CHECKPOINT, retrieval=_RETRIEVAL,
                     retrieval_ways=_RETRIEVAL, retrieval_as=_RETRIEVAL, codebook=_CODEBOOK,
                     codebook_as=_CODEBOOK, passed_as=f"as {_CHECKPOINT}")

# `checkpoint.require_checkpoint`'s ``passed_as`` (the not-found hint) for a parameter file
PARAMETER_PASSED_AS = PARAMETERS.passed_as

_SPOKEN: contextvars.ContextVar[Optional[GivenAs]] = contextvars.ContextVar(
    "mast3r_ros_given_as", default=None)


def given_here(given: Optional[GivenAs] = None) -> GivenAs:
    """``given`` when not None, else the words of the innermost `speaking` block around this
    call (in this thread), else the commands' `FLAGS`."""
    if given is not None:
        return given
    spoken = _SPOKEN.get()
    return FLAGS if spoken is None else spoken


@contextlib.contextmanager
def speaking(given: GivenAs) -> Iterator[GivenAs]:
    """A block whose refusals of model files name the fix in the words of ``given`` (a
    `GivenAs`: `PARAMETERS` for the node) wherever they are worded below it (`given_here`).
    Per thread and per asyncio task (a `contextvars.ContextVar`); blocks nest."""
    token = _SPOKEN.set(given)
    try:
        yield given
    finally:
        _SPOKEN.reset(token)


__all__ = ["GivenAs", "FLAGS", "PARAMETERS", "PARAMETER_PASSED_AS", "given_here", "speaking"]
