"""When progress is drawn: the bars of build-map, localize, check-map and the demo, build-map's
keyframe-encoding bar and export's stage line.

One rule for all of them: progress is a live INFO line, so it is drawn on stderr when stderr is
a terminal and the package's INFO lines are shown (the CLI's ``--log-level debug`` or ``info``,
the default); ``--log-level warning`` or ``error`` silences it with them, as many tools'
``--quiet`` does, and a pipe or a file never gets it. From Python, a bar is drawn once the
``mast3r_ros`` logger is enabled for INFO (``logging.basicConfig(level=logging.INFO)``)."""

from __future__ import annotations

import logging
import sys


def progress_shown() -> bool:
    """Whether progress is drawn now (module docstring): stderr a terminal and the
    ``mast3r_ros`` logger enabled for INFO."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False
    return bool(tty) and logging.getLogger("mast3r_ros").isEnabledFor(logging.INFO)
