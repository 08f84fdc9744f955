"""pytest < 7.3 (Ubuntu 22.04 / ROS 2 Humble's python3-pytest is 6.2.5, which `colcon test`
runs) does not know pyproject's ``tmp_path_retention_policy = "failed"`` and keeps every test's
``tmp_path`` of the last three runs: with the 168 MB tiny checkpoint written by many tests that
is ~6 GB a run in the system temp folder. This plugin (loaded by conftest.py) does the same
there as the ini key does on pytest 7.3+: a test's ``tmp_path`` is removed once it passed, and
the session's base temp folder once the whole run passed (unless ``--basetemp`` was given).
On pytest 7.3+ it does nothing."""

from __future__ import annotations

import shutil

import pytest

NATIVE = tuple(int(p) for p in pytest.__version__.split(".")[:2] if p.isdigit()) >= (7, 3)

if not NATIVE:

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        rep = outcome.get_result()
        if rep.when == "call":
            item._mast3r_ros_call_passed = rep.passed
        elif rep.when == "teardown":
            # after the fixtures' own teardown (which may still use the folder); a test whose
            # setup failed has no call phase, as on pytest 7.3+ its folder goes too
            path = (getattr(item, "funcargs", None) or {}).get("tmp_path")
            if path is not None and getattr(item, "_mast3r_ros_call_passed", True):
                shutil.rmtree(path, ignore_errors=True)

    def pytest_sessionfinish(session, exitstatus):
        factory = getattr(session.config, "_tmp_path_factory", None)
        basetemp = None if factory is None else factory._basetemp
        if basetemp is None or not basetemp.is_dir():
            return
        if exitstatus == 0 and factory._given_basetemp is None:  # a --basetemp folder stays
            shutil.rmtree(basetemp, ignore_errors=True)
            return
        for p in basetemp.iterdir():  # pytest 6's "<test>current" links to removed folders
            if p.is_symlink() and not p.exists():
                p.unlink()
