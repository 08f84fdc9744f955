"""The ``mast3r-ros`` process's console: its log handler on stderr (`_setup_logging`, the
caller's handlers given back after, `root_logging_given_back`), stdout whose reader went away
(`stdout_gone`, `flush_stdout`, exit `STDOUT_GONE_EXIT`) or whose encoding cannot hold a path
(`escaping_stdout`), the one line for a library that is not installed
(`missing_library_hint`), and the installed version for --version (`package_version`). Used by
`replay.cli.main`; imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import stat
import sys
from typing import Any, Iterator


@contextlib.contextmanager
def root_logging_given_back() -> Iterator[None]:
    """Within it `_setup_logging` may replace the root logger's handlers and level; after, they
    are given back as found when there were handlers (a test's ``caplog``, a script's
    ``logging.basicConfig``: `replay.cli.main` called in-process left them removed, and caplog
    captured nothing after it). With none (the console script) the CLI's handler stays, for
    what is logged at exit."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        if handlers:
            root.handlers[:] = handlers
            root.setLevel(level)


def _setup_logging(level: str) -> None:
    """The CLI's log handler on stderr at ``level`` (--log-level), for `replay.cli.main`."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
    # faiss's loader says at INFO that its AVX2 build is missing and it falls back to another:
    # not a problem, but read as an error (a fresh user's find); shown with --log-level debug
    logging.getLogger("faiss").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    # the plotting libraries' chatter: matplotlib's font scores and PIL's PNG chunks made 337 of
    # the 338 lines of `check-map --plot --log-level debug`, and a fresh machine's first plot
    # said "[INFO] matplotlib.font_manager: generated new fontManager"; their warnings still show
    for name in ("matplotlib", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # torch sets its loggers to WARNING when its import completes; a Ctrl-C during that import
    # (the first seconds of a run) left them at the root's INFO, and torch's exit hook then
    # printed "[INFO] torch._subclasses.fake_tensor: FakeTensor cache stats:" (3 lines) under
    # "interrupted"
    torch_log = logging.getLogger("torch")
    if torch_log.level == logging.NOTSET and level != "debug":
        torch_log.setLevel(logging.WARNING)


# Libraries a plain `pip install .` does not bring (extras, or the system's on ROS machines),
# each named by the pip package its extra in setup.py installs: a wheel's user has no checkout
# to run `pip install -e '.[extra]'` in (test_packaging checks the names against setup.py)
_INSTALL_HINTS = {
    "cv2": "OpenCV: pip install opencv-python-headless (the 'opencv' extra; on a ROS machine: "
           "sudo apt install python3-opencv, never a pip OpenCV)",
    "poselib": "poselib: pip install poselib (or pip install -e '.[poselib]')",
    "faiss": "FAISS: pip install faiss-cpu (or pip install -e '.[faiss]')",
    "ray": "Ray: pip install ray (or pip install -e '.[ray]')",
    "safetensors": "safetensors: pip install safetensors (or pip install -e '.[hf]')",
    "rosbags": "rosbags: pip install rosbags",
}


def missing_library_hint(name: str) -> str:
    """One line for a library that is not installed: which, and how to install it."""
    top = name.split(".")[0]
    how = _INSTALL_HINTS.get(top)
    if how is None:
        return f"the Python package '{top}' is not installed (README: 'Install')"
    return f"this needs {how}"


# the exit code when stdout's reader went away: 128 + SIGPIPE, as a shell reports a coreutils tool
# that SIGPIPE ended (`cat big | head -1`)
STDOUT_GONE_EXIT = 141


def stdout_gone() -> bool:
    """True when stdout is a pipe whose reading end is closed (``| head``, ``| true`` ended);
    stdout is then pointed at os.devnull, so that later writes and the interpreter's last flush
    raise nothing. False when stdout is not such a pipe (a BrokenPipeError from elsewhere: a
    socket) or where poll cannot tell (not Linux/POSIX)."""
    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if not any(ev & select.POLLERR for _, ev in poller.poll(0)):
            return False
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
        return True
    except (AttributeError, OSError, ValueError):  # no fileno (io.StringIO), no poll
        return False


def flush_stdout(rc: int) -> int:
    """``rc`` once stdout is flushed; `STDOUT_GONE_EXIT` for a 0 whose output found no reader
    (`stdout_gone`), rather than a BrokenPipeError at the interpreter's exit (exit 120)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        if not stdout_gone():
            raise
        return rc or STDOUT_GONE_EXIT
    except (AttributeError, OSError, ValueError):  # none (pythonw), closed or failing: as was
        pass
    return rc


@contextlib.contextmanager
def escaping_stdout() -> Iterator[None]:
    """Within it, stdout writes what its encoding cannot hold as backslash escapes (stderr's
    own rule) rather than raise: a path outside ``PYTHONIOENCODING=ascii`` (or a non-UTF-8
    file name's surrogates) in a summary line ended the command in a UnicodeEncodeError
    traceback, after its work was done. The stream's own handler is restored after."""
    before = getattr(sys.stdout, "errors", None)
    stream = sys.stdout
    try:
        changed = before == "strict" and hasattr(stream, "reconfigure")
        if changed:
            stream.reconfigure(errors="backslashreplace")
    except (ValueError, OSError):  # a stream that cannot change it: left as it is
        changed = False
    try:
        yield
    finally:
        if changed:
            try:
                stream.reconfigure(errors=before)
            except (ValueError, OSError):
                pass


def package_version() -> str:
    """The installed distribution's version; ``mast3r_ros.__version__`` (which setup.py reads)
    where there is no package metadata (the checkout on PYTHONPATH, a colcon build run from
    source)."""
    from importlib import metadata

    from .. import __version__

    try:
        return metadata.version("mast3r_ros")
    except metadata.PackageNotFoundError:
        return __version__


def run_command(args: Any, parser: Any = None) -> Any:
    """``args.func(args)`` (the subcommand) inside `up_front.networks_up_front`: a network its
    checks load before the recording is read (a wrong checkpoint refused in seconds, not after
    minutes) is handed to its engine, not read again, and dropped when the command ends.
    ``parser`` (the top-level one): the subcommand's options are known while it runs
    (`command_flags`), so that its words name only options it has."""
    import argparse

    from ..core.command_flags import running
    from ..core.model.up_front import networks_up_front

    subs = [a for a in getattr(parser, "_actions", ()) if isinstance(a, argparse._SubParsersAction)]
    own = subs[0].choices.get(args.command) if subs else None
    flags = frozenset(own._option_string_actions) if own is not None else None
    with contextlib.ExitStack() as stack:
        if flags is not None:
            stack.enter_context(running(args.command, flags))
        stack.enter_context(networks_up_front())
        return args.func(args)
