"""How the user gives each model file, for the fix a refusal of that file names.

The commands take the files as flags (``--checkpoint``, ``--retrieval-checkpoint``,
``--codebook``: `FLAGS`); a node parameter file gives them as parameters (``checkpoint``,
``retrieval.checkpoint``, ``retrieval.codebook``: `PARAMETERS`), which is what ``check-params``
and the node's configure read. The cheap checks of the files (`checkpoint.require_checkpoint`,
`retrieval_model.check_retrieval_files`, `asmk.codebook.check_codebook_file`) take one of these,
so that the same check says the fix in the words of whoever reads it: ``check-params`` said
"pass it as --checkpoint" of a file that has no flags.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GivenAs:
    """The phrases naming where each file goes, each fitting the message that uses it.

    ``checkpoint``: the network checkpoint ("pass it as ..."); ``checkpoint_ways``: the same,
    before "takes the PyTorch checkpoint"; ``retrieval``: the retrieval head ("pass it with
    ..."); ``retrieval_ways``: every way to give it, in parentheses; ``retrieval_as``: the same
    after "pass it as"; ``codebook``: the ASMK codebook, in parentheses; ``codebook_as``: the
    same after "pass it as"."""

    checkpoint: str
    checkpoint_ways: str
    retrieval: str
    retrieval_ways: str
    retrieval_as: str
    codebook: str
    codebook_as: str


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
                     codebook_as=_CODEBOOK)

# `checkpoint.require_checkpoint`'s ``passed_as`` (the not-found hint) for a parameter file
PARAMETER_PASSED_AS = f"as {_CHECKPOINT}"

__all__ = ["GivenAs", "FLAGS", "PARAMETERS", "PARAMETER_PASSED_AS"]
