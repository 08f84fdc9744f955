"""Paths shared by tests (importable because test/conftest.py puts test/ on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``shared/`` beside the checkout (``../shared``), or $MAST3R_ROS_SHARED."""
    env = os.environ.get("MAST3R_ROS_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def fixtures_dir() -> Path:
    env = os.environ.get("MAST3R_ROS_FIXTURES")
    return Path(env) if env else shared_dir() / "reference" / "fixtures"
