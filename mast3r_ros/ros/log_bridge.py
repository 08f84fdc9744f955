"""The package's Python `logging` records, forwarded to the node's rclpy logger.

The core library logs through `logging` (``mast3r_ros.core...``): the warm-up times, "TensorRT
engines built", a missing optional library, a map loaded lazily. A ROS process sets up no
`logging` handler, so without this bridge those lines were dropped (INFO) or printed bare on
stderr (WARNING), never reaching /rosout or the console format ``ros2 launch`` shows.

`install_log_bridge` attaches a handler to the ``mast3r_ros`` logger that calls the node
logger's ``debug``/``info``/``warning``/``error``/``fatal`` with one string (rclpy's loggers take
exactly one str: ROS_NOTES section 12), prefixed with the module
(``[core.localizer.pipeline] ...``). Its level is the node logger's effective level when
installed (rclpy's LoggingSeverity values are `logging`'s: 10 DEBUG ... 50 FATAL), so
``--ros-args --log-level <ns>.mast3r_localizer:=debug`` also shows the library's debug lines.
Records stop propagating to the root logger while installed (no line twice). ROS-free: the
rclpy logger is any object with those methods.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable

PACKAGE_LOGGER = "mast3r_ros"
_METHODS = ((logging.CRITICAL, "fatal"), (logging.ERROR, "error"), (logging.WARNING, "warning"),
            (logging.INFO, "info"))


def _method(levelno: int) -> str:
    for threshold, name in _METHODS:
        if levelno >= threshold:
            return name
    return "debug"


def python_level(ros_logger: Any) -> int:
    """The `logging` level matching ``ros_logger.get_effective_level()`` (INFO when unset or
    unknown)."""
    try:
        level = int(ros_logger.get_effective_level())
    except Exception:  # noqa: BLE001  no such method / not a number: ROS's default
        return logging.INFO
    return level if logging.DEBUG <= level <= logging.CRITICAL else logging.INFO


class RosLogHandler(logging.Handler):
    """A `logging.Handler` writing each record to an rclpy logger as one string."""

    def __init__(self, ros_logger: Any):
        super().__init__()
        self._ros = ros_logger

    def format(self, record: logging.LogRecord) -> str:
        name = record.name
        if name.startswith(PACKAGE_LOGGER + "."):
            name = name[len(PACKAGE_LOGGER) + 1:]
        text = f"[{name}] {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        return text

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001  a bad format string in a caller: say so, go on
            text = f"[{record.name}] {record.msg!r} (unformattable arguments {record.args!r})"
        method = _method(record.levelno)
        try:
            # One call site per severity: rclpy keys each logging call by its caller (function,
            # file, line, bytecode offset) and raises "Logger severity cannot be changed between
            # calls" when one site logs at a second severity (rcutils_logger.RcutilsLogger.log).
            # A single getattr(...)(text) line sent the first record's severity only, and every
            # later WARNING/ERROR fell through to the bare stderr line below, never /rosout.
            if method == "fatal":
                self._ros.fatal(text)
            elif method == "error":
                self._ros.error(text)
            elif method == "warning":
                self._ros.warning(text)
            elif method == "info":
                self._ros.info(text)
            else:
                self._ros.debug(text)
        except Exception:  # noqa: BLE001  e.g. logging after rclpy shut down: stderr instead
            sys.stderr.write(f"[{record.levelname}] {text}\n")


def install_log_bridge(ros_logger: Any, name: str = PACKAGE_LOGGER) -> Callable[[], None]:
    """Forward the records of logger ``name`` (and its children) to ``ros_logger``; returns a
    function that undoes it (handler removed, level and propagation restored)."""
    logger = logging.getLogger(name)
    handler = RosLogHandler(ros_logger)
    before = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(python_level(ros_logger))
    logger.propagate = False

    def uninstall() -> None:
        logger.removeHandler(handler)
        logger.setLevel(before[0])
        logger.propagate = before[1]
    return uninstall
