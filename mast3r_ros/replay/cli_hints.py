"""What the command line's usage errors add to argparse's words (`cli_options.Parser`): the
other command's option named for what this command takes instead, the closest command to a
mistyped one, the usage with the list of commands when none is given; an --out that is a link
to no folder (`out_link_refusal`)."""

from __future__ import annotations

import argparse
import difflib
import os
import re

# (command, option of the other command of the pair): what this command takes instead
OTHER_COMMANDS_OPTIONS = {
    ("localize", "--trajectory"): ("build-map's, for the keyframe poses: localize reads the "
                                   "ground truth its metrics need from --groundtruth FILE"),
    ("build-map", "--groundtruth"): ("localize's, for its metrics: build-map reads the keyframe "
                                     "poses from --trajectory FILE"),
    ("localize", "--stereo-depth"): ("build-map's, for keyframe depth: localize needs no depth "
                                     "of its frames (the 3-D points come from the map)"),
    ("build-map", "--stride"): ("localize's: build-map picks keyframes by distance and rotation "
                                "(map_build.* in --params); --max-frames N reads the first N "
                                "frames"),
}


def command_typo(message: str) -> str:
    """`` (did you mean build-map?)`` for argparse's "argument COMMAND: invalid choice: 'X'
    (choose from ...)" (``build_map``, ``localise``: argparse lists every command), the command
    ``X`` begins or the closest (difflib ratio >= 0.75); '' for any other message."""
    typo = re.match(r"argument COMMAND: invalid choice: '(.+?)' \(choose from (.*)\)$",
                    message)
    if not typo:
        return ""
    names = [n.strip().strip("'") for n in typo.group(2).split(",")]  # quoted or not
    close = [n for n in names if n.startswith(typo.group(1))] or \
        difflib.get_close_matches(typo.group(1).replace("_", "-"), names, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def missing_command(parser: argparse.ArgumentParser, message: str) -> str:
    """The top-level ``parser``'s help (usage, then every command with its line) to print above
    the error line when ``message`` is argparse's "the following arguments are required:
    COMMAND" (`mast3r-ros` given nothing: one line left a first-time user to guess the
    commands); '' for any other message."""
    return parser.format_help() + "\n" if message.endswith("required: COMMAND") else ""


def out_link_refusal(link: str) -> str:
    """The refusal of an --out ``link`` (a symbolic link) whose target is no folder: one that
    does not exist (a drive not mounted: make it, or remove the link) or a file (followed, the
    output would replace it: remove the link, or give another --out)."""
    target, gone = os.readlink(link), not os.path.exists(link)
    what = ("which does not exist (a drive not mounted, a folder moved or deleted?): make that "
            "folder first, or" if gone else "which is a file, not a folder: give another --out, "
            "or")
    return (f"--out {link} is a symbolic link to {target}, {what} remove the link (rm {link}) to "
            "write a new folder in its place")
