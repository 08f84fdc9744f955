"""One way to read a path-valued parameter (``map_path``, ``checkpoint``, ``engine_cache``,
``retrieval.checkpoint``, ``retrieval.codebook``): a parameter file is not read by a shell, so
``map_path: $HOME/maps/office`` or ``~/maps/office`` reaches the program as written.

A variable that is not set stays as written (`expand_path`), and the path was then reported as
not found ("map not found: <cwd>/$MAPS/office"), which sent the user looking for a folder
instead of at the environment: `unset_variable_problem` says which variable is unset and how to
set it, for the callers that check a configuration before using it (the node's configure,
the commands' --params and flags)."""

from __future__ import annotations

import os
import re
from typing import List, Mapping

# $NAME or ${NAME}, as os.path.expandvars reads them (a name of letters, digits and '_')
_VARIABLE = re.compile(r"\$(\w+)|\$\{([^}]*)\}")

# the configuration's path parameters, as `path_parameters` reads them from a `Config`
PATH_PARAMETERS = ("map_path", "checkpoint", "engine_cache", "retrieval.checkpoint",
                   "retrieval.codebook")


def expand_path(path: str) -> str:
    """``path`` with a leading ``~`` (`os.path.expanduser`) and every ``$VAR`` / ``${VAR}``
    (`os.path.expandvars`) expanded; a variable that is not set is left as written (so the
    error that the path is not found shows it). '' stays ''. Never raises for a str."""
    return os.path.expandvars(os.path.expanduser(path)) if path else path


def unset_variables(path: str) -> List[str]:
    """The names of the ``$VAR`` / ``${VAR}`` in ``path`` (as given, or as `expand_path` left
    it) that the environment does not set, in order, each once. Never raises for a str."""
    names: List[str] = []
    for m in _VARIABLE.finditer(path or ""):
        name = m.group(1) or m.group(2)
        if name and name not in os.environ and name not in names:
            names.append(name)
    return names


# where a variable is set, for the fix (the node and the commands read the same environment)
SET_IN = "the shell or launch file that starts the command or the node"


def unset_variable_note(path: str, set_in: str = SET_IN) -> str:
    """'' unless ``path`` (as configured, or as `expand_path` left it) names a variable the
    environment does not set and its expansion is no existing path (a folder literally named
    '$X' is taken as it is); else the words for it: which variable is unset and the fix, with
    ``set_in`` where to set it. Reads only the environment and one stat; never raises."""
    names = unset_variables(path)
    if not names or os.path.exists(expand_path(path)):
        return ""
    listed = " and ".join(names)
    plural = len(names) > 1
    exports = "; ".join(f"export {n}=..." for n in names)
    return (f"the environment variable{'s' if plural else ''} {listed} "
            f"{'are' if plural else 'is'} not set, so the path stays as written and names no "
            f"file or folder: set {'them' if plural else 'it'} ({exports}) in {set_in}, or "
            "write the path out in full")


def unset_variable_problem(value: str, what: str, set_in: str = SET_IN) -> str:
    """'' or the one-line refusal of ``value``, a path given as ``what`` (e.g. "parameter
    'map_path'", "--map"), naming a variable that is not set (`unset_variable_note`)."""
    note = unset_variable_note(value, set_in)
    return f"{what} ({value!r}): {note}" if note else ""


def path_parameters(cfg: object) -> Mapping[str, str]:
    """``{name: value}`` of a `Config`'s `PATH_PARAMETERS` ('' for one it lacks)."""
    node, model, retrieval = (getattr(cfg, s, None) for s in ("node", "model", "retrieval"))
    return {"map_path": getattr(node, "map_path", ""),
            "checkpoint": getattr(model, "checkpoint", ""),
            "engine_cache": getattr(model, "engine_cache", ""),
            "retrieval.checkpoint": getattr(retrieval, "checkpoint", ""),
            "retrieval.codebook": getattr(retrieval, "codebook", "")}


_SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")


def substitution_note(value: str) -> str:
    """'' unless ``value`` (a path as a parameter file or option gives it) holds ``$(...)``,
    ros2 launch's (``$(find-pkg-share my_robot)``) or a shell's substitution syntax, which
    nothing expands there: a parameter file is read as written (launch_ros expands one only when
    loaded with ``ParameterFile(..., allow_substs=True)``, which localize.launch.py does not),
    so the node looked for a folder of that literal name and check-params called the path
    relative. Else a note, starting with '; ', naming it and the path to write instead."""
    m = _SUBSTITUTION.search(value or "")
    if m is None:
        return ""
    words = m.group(1).split()
    hint = (f" (for $(find-pkg-share {words[1]}): `ros2 pkg prefix {words[1]}`/share/"
            f"{words[1]})" if len(words) == 2 and words[0] == "find-pkg-share" else "")
    return (f"; {m.group(0)!r} is ros2 launch (or shell) substitution syntax, which is not "
            "expanded in a parameter file (launch_ros does so only for ParameterFile(..., "
            "allow_substs=True), not used by localize.launch.py) nor in a quoted argument: "
            f"write the absolute path it stands for{hint}")
