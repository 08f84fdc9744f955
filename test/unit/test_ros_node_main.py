"""The ``localizer_node`` console script without ROS (`ros/node_main.py`)."""

from __future__ import annotations

import pytest


def test_localizer_node_without_ros_is_one_line_exit_2(monkeypatch, capsys):
    """A pip install writes the localizer_node script too; without a sourced ROS it ended in a
    ModuleNotFoundError traceback (a fresh reviewer's find)."""
    import sys

    from mast3r_ros.ros import node_main

    monkeypatch.setitem(sys.modules, "rclpy", None)  # import rclpy -> ImportError
    with pytest.raises(SystemExit) as e:
        node_main.main([])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ROS 2 is not available here" in err[0] and "mast3r-ros" in err[0]
    # rclpy there, a message package missing (rosdep not run)
    monkeypatch.setitem(sys.modules, "rclpy", object())
    monkeypatch.setitem(sys.modules, "mast3r_ros.ros.node", None)
    with pytest.raises(SystemExit) as e:
        node_main.main([])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "rosdep install" in err[0]
