"""The note for a PyTorch checkpoint given where a map or a recording goes (arguments swapped);
moved out of `fileio` (which re-exports it) for room."""

from __future__ import annotations


def checkpoint_file_note(path: str, goes_in: str = "--checkpoint", takes: str = "") -> str:
    """'; it is a PyTorch checkpoint (torch.save): ...' for a file that is torch.save's zip
    archive (a ``*/data.pkl`` inside), given where a map or a recording goes (arguments
    swapped); '' for any other file, or one that cannot be read. ``goes_in``: where a
    checkpoint goes for the reader (a command's flag; a parameter file's parameter): a
    command without --checkpoint (check-map) names the commands with it instead, and says
    it ``takes`` ('a map folder': `command_flags.checkpoint_goes`)."""
    import zipfile

    from .command_flags import checkpoint_goes

    try:
        with zipfile.ZipFile(path) as z:
            if any(n.endswith("data.pkl") for n in z.namelist()):
                goes = checkpoint_goes(takes) if goes_in == "--checkpoint" else \
                    f"a checkpoint goes in {goes_in}"
                return f"; it is a PyTorch checkpoint (torch.save): {goes}"
    except (OSError, zipfile.BadZipFile):
        pass
    return ""
