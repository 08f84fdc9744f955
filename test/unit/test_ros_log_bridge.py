"""`ros/log_bridge.py`: the library's `logging` lines reach the node's rclpy logger.

Without it a fresh user following the Jetson steps (docs/gpu.md: 'Jetson') waited for an "engines
built" line that a ROS process never showed (no `logging` handler: INFO dropped, WARNING bare on
stderr)."""

from __future__ import annotations

import ast
import logging
import sys
from pathlib import Path

import pytest

from mast3r_ros.ros.log_bridge import install_log_bridge, python_level


class RclpyLikeLogger:
    """rclpy's logger contract: exactly one str argument, else TypeError (ROS_NOTES 12); and one
    severity per call site -- rclpy's RcutilsLogger.log keys a context by its caller (function,
    file, line, bytecode offset; frames inside the logger skipped) and raises ValueError("Logger
    severity cannot be changed between calls.") when a site logs at another severity."""

    def __init__(self, level: int = 20, broken: bool = False) -> None:
        self.level, self.broken = level, broken
        self.lines: list[tuple[str, str]] = []
        self.sites: dict[tuple, str] = {}

    def get_effective_level(self) -> int:
        return self.level

    def _log(self, method: str, *args, **kwargs) -> None:
        if self.broken:
            raise RuntimeError("rclpy context is shut down")
        if len(args) != 1 or not isinstance(args[0], str) or kwargs:
            raise TypeError("rclpy loggers take one str")
        frame = sys._getframe(1)
        while frame.f_code.co_filename == __file__:  # this logger's own frames
            frame = frame.f_back
        site = (frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno, frame.f_lasti)
        if self.sites.setdefault(site, method) != method:
            raise ValueError("Logger severity cannot be changed between calls.")
        self.lines.append((method, args[0]))

    def __getattr__(self, name):
        if name in ("debug", "info", "warning", "error", "fatal"):
            return lambda *a, **k: self._log(name, *a, **k)
        raise AttributeError(name)


@pytest.fixture
def bridged():
    ros = RclpyLikeLogger()
    root_seen: list[str] = []

    class Root(logging.Handler):
        def emit(self, record):
            root_seen.append(record.getMessage())
    root = Root()
    logging.getLogger().addHandler(root)
    undo = install_log_bridge(ros)
    try:
        yield ros, root_seen
    finally:
        undo()
        logging.getLogger().removeHandler(root)


def test_each_level_goes_to_the_matching_method_as_one_string(bridged):
    ros, root_seen = bridged
    log = logging.getLogger("mast3r_ros.core.model.tensorrt_backend")
    log.debug("not shown at INFO")
    log.info("TensorRT engines built in %.0f s", 612.4)
    log.warning("faiss is not installed")
    log.error("bad %s", {"a": 1})
    log.critical("fatal one")
    assert ros.lines == [
        ("info", "[core.model.tensorrt_backend] TensorRT engines built in 612 s"),
        ("warning", "[core.model.tensorrt_backend] faiss is not installed"),
        ("error", "[core.model.tensorrt_backend] bad {'a': 1}"),
        ("fatal", "[core.model.tensorrt_backend] fatal one")]
    assert not root_seen  # not printed a second time by the root logger's handlers


def test_the_node_loggers_level_applies_and_everything_is_undone():
    pkg = logging.getLogger("mast3r_ros")
    before = (pkg.level, pkg.propagate, list(pkg.handlers))
    ros = RclpyLikeLogger(level=10)  # --log-level <ns>.mast3r_localizer:=debug
    undo = install_log_bridge(ros)
    logging.getLogger("mast3r_ros.core.localizer").debug("candidates %d", 3)
    undo()
    assert ros.lines == [("debug", "[core.localizer] candidates 3")]
    assert (pkg.level, pkg.propagate, list(pkg.handlers)) == before
    logging.getLogger("mast3r_ros.core.localizer").warning("after")
    assert len(ros.lines) == 1
    assert python_level(RclpyLikeLogger(level=0)) == logging.INFO  # unset: ROS's default
    assert python_level(object()) == logging.INFO


def test_tracebacks_are_kept_and_a_dead_logger_falls_back_to_stderr(capsys):
    ros = RclpyLikeLogger()
    undo = install_log_bridge(ros)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("mast3r_ros.ros.node").exception("exit step failed")
        ros.broken = True
        logging.getLogger("mast3r_ros.ros.node").warning("after shutdown")
        logging.getLogger("mast3r_ros.x").warning("%d items", "not a number")
    finally:
        undo()
    (method, text), = ros.lines
    assert method == "error" and "exit step failed" in text and "ValueError: boom" in text
    err = capsys.readouterr().err
    assert "[WARNING] [ros.node] after shutdown" in err
    assert "not a number" in err  # a bad format string is said, not raised


def test_node_main_installs_the_bridge_and_removes_it_at_exit():
    """node.py needs rclpy (not here): its main() is read instead."""
    src = Path(__file__).resolve().parents[2] / "mast3r_ros" / "ros" / "node.py"
    main = next(n for n in ast.parse(src.read_text()).body
                if isinstance(n, ast.FunctionDef) and n.name == "main")
    calls = [n.func.id for n in ast.walk(main)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert "install_log_bridge" in calls and "uninstall_log_bridge" in calls



def test_python_level_maps_every_rclpy_severity_and_rejects_others():
    """rclpy's LoggingSeverity: UNSET 0, DEBUG 10, INFO 20, WARN 30, ERROR 40, FATAL 50 --
    `logging`'s numbers; anything else is ROS's default, INFO."""
    for severity in (10, 20, 30, 40, 50):
        assert python_level(RclpyLikeLogger(level=severity)) == severity
    assert python_level(RclpyLikeLogger(level=60)) == logging.INFO
    assert python_level(RclpyLikeLogger(level=5)) == logging.INFO


def test_undo_restores_a_non_default_level_and_propagation():
    pkg = logging.getLogger("mast3r_ros")
    saved = (pkg.level, pkg.propagate)
    pkg.setLevel(logging.ERROR)
    pkg.propagate = False
    try:
        undo = install_log_bridge(RclpyLikeLogger(level=10))
        assert pkg.level == logging.DEBUG
        undo()
        assert (pkg.level, pkg.propagate) == (logging.ERROR, False)
    finally:
        pkg.setLevel(saved[0])
        pkg.propagate = saved[1]


def test_the_package_loggers_own_records_keep_its_name_and_another_logger_can_be_bridged():
    ros = RclpyLikeLogger()
    undo = install_log_bridge(ros)
    try:
        logging.getLogger("mast3r_ros").info("top level")
    finally:
        undo()
    undo = install_log_bridge(ros, name="mast3r_ros_other_tool")
    try:
        logging.getLogger("mast3r_ros_other_tool.sub").info("other")
    finally:
        undo()
    assert ros.lines == [("info", "[mast3r_ros] top level"),
                         ("info", "[mast3r_ros_other_tool.sub] other")]
