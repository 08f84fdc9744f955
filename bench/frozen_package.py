"""A package of this repository as it was at an earlier commit, importable beside the current
one, for benches that time the previous code against the current side by side in one run
(`bench_host.py`'s ``prev``), without a frozen copy of it in the tree.

`load_frozen_package` reads the package's ``*.py`` files at ``rev`` with ``git show`` (so it
needs a checkout whose history holds ``rev``: a shallow clone does not), makes its imports out
of the package absolute (``from ..errors import`` -> ``from mast3r_ros.core.errors import``:
the rest of ``mast3r_ros`` is the current one), writes them under a temporary folder as package
``name`` and imports it.
"""

from __future__ import annotations

import atexit
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from types import ModuleType

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class FrozenPackageError(RuntimeError):
    """The revision or the package is not in this checkout's history."""


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", "-C", REPO, *args], check=True, capture_output=True,
                              text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", "") or str(e)
        raise FrozenPackageError(f"git {' '.join(args)}: {' '.join(err.split())[:200]}") from None


def available(rev: str) -> bool:
    """Whether this checkout's history holds commit ``rev`` (False in a shallow clone)."""
    try:
        _git("cat-file", "-e", f"{rev}^{{commit}}")
    except FrozenPackageError:
        return False
    return True


def _require(rev: str) -> None:
    """Raise `FrozenPackageError` (how to get it) unless this checkout's history holds ``rev``."""
    if not available(rev):
        raise FrozenPackageError(f"commit {rev} is not in this checkout's history (a shallow "
                                 f"clone?): run `git fetch --unshallow`, or bench from a full "
                                 f"clone")


def _import_from(root: str, name: str) -> ModuleType:
    """Import top-level ``name`` from folder ``root``, which is on ``sys.path`` only meanwhile."""
    sys.path.insert(0, root)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(root)


def load_frozen_package(rev: str, package_path: str, name: str) -> ModuleType:
    """Import ``package_path`` (e.g. ``mast3r_ros/core/pnp``) at commit ``rev`` as top-level
    package ``name`` (the module imported already under that name, if any). Raises
    `FrozenPackageError` (naming ``rev`` and how to get it) when git or the commit is missing."""
    if name in sys.modules:
        return sys.modules[name]
    _require(rev)
    files = [f for f in _git("ls-tree", "--name-only", f"{rev}:{package_path}").split()
             if f.endswith(".py")]
    if "__init__.py" not in files:
        raise FrozenPackageError(f"{package_path} is no package at commit {rev}")
    parent = package_path.strip("/").replace("/", ".").rsplit(".", 1)[0]  # mast3r_ros.core
    root = tempfile.mkdtemp(prefix=f"{name}_")
    atexit.register(shutil.rmtree, root, True)
    os.mkdir(os.path.join(root, name))
    for f in files:
        text = _git("show", f"{rev}:{package_path}/{f}")
        text = re.sub(r"^(\s*)from \.\.(\w)", rf"\1from {parent}.\2", text, flags=re.M)
        with open(os.path.join(root, name, f), "w", encoding="utf-8") as fh:
            fh.write(text)
    return _import_from(root, name)


def load_frozen_module(rev: str, module_path: str, name: str) -> ModuleType:
    """Import the one module ``module_path`` (e.g. ``mast3r_ros/core/tf_buffer.py``) at commit
    ``rev`` as top-level module ``name``, its relative imports made absolute (``from .errors
    import`` -> ``from mast3r_ros.core.errors import``: the rest of ``mast3r_ros`` is the
    current one). Raises `FrozenPackageError` as `load_frozen_package` does."""
    if name in sys.modules:
        return sys.modules[name]
    _require(rev)
    package = module_path.rsplit("/", 1)[0].replace("/", ".")  # mast3r_ros.core
    text = _git("show", f"{rev}:{module_path}")
    text = re.sub(r"^(\s*)from \.(\w)", rf"\1from {package}.\2", text, flags=re.M)
    text = re.sub(r"^(\s*)from \. import", rf"\1from {package} import", text, flags=re.M)
    root = tempfile.mkdtemp(prefix=f"{name}_")
    atexit.register(shutil.rmtree, root, True)
    with open(os.path.join(root, f"{name}.py"), "w", encoding="utf-8") as fh:
        fh.write(text)
    return _import_from(root, name)
