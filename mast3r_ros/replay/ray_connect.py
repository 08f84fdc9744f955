"""Connecting to Ray for build-map's ``--ray-address``: one checked step, run before any work
(before the source is read or a keyframe encoded), whose failures are one `InputError` line
naming the option, the address, what Ray said in short and the fix. Ray's own errors were a
traceback after the keyframes were chosen (ray:// without Ray Client), a "cannot use path" line
naming Ray's ``--address`` (its ConnectionError is an OSError), or a two-minute hang (a
``HOST:PORT`` where nothing listens).

Addresses, in Ray's own meanings: ``auto`` -- the cluster running on this machine (started with
``ray start --head``); ``HOST:PORT`` -- a cluster's head node (the address ``ray start --head``
prints, port 6379 by default); ``ray://HOST:PORT`` -- Ray Client (port 10001, needs
``pip install 'ray[client]'``). A process connected already (``ray.init`` called before, from
the Python API) keeps its connection, whatever the address; ``local`` means only that (the
Python API's way to say "the Ray this process started"), and is refused otherwise: a Ray
started here for one run would bind its servers to the machine's network address, for no gain
over ``--workers N`` local processes on one machine.
"""

from __future__ import annotations

import importlib.util
import socket
from typing import Optional, Tuple

from ..core.errors import InputError

OPTION = "--ray-address"
_LOCAL_WORKERS = "or drop --ray-address to encode with local worker processes (--workers N)"
_PROBE_S = 5.0  # a head node that does not answer a TCP connect in this time is not there


def _short(e: BaseException) -> str:
    """What an exception says, on one line: its first sentence, at most 160 characters."""
    text = " ".join(str(e).split()) or type(e).__name__
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= 160 else first[:157] + "..."


def host_port(address: str) -> Optional[Tuple[str, int]]:
    """(host, port) of ``HOST:PORT`` or ``ray://HOST:PORT``, else None."""
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host.strip("[]") or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _has_ray_client() -> bool:
    """Ray Client's dependency (grpcio, what ``ray[client]`` adds) is importable: Ray's own
    check, which otherwise raises a ValueError from inside ``ray.init``."""
    return importlib.util.find_spec("grpc") is not None


def _fix(address: str) -> str:
    if address == "auto":
        return ("'auto' only finds a cluster already running on this machine: start one with "
                f"`ray start --head`, {_LOCAL_WORKERS}")
    if address.startswith("ray://"):
        return ("check that the head node runs Ray Client's server (port 10001, started by "
                f"`ray start --head`) with this machine's Ray version, {_LOCAL_WORKERS}")
    return ("check the address (`ray start --head` on the head node prints it) and that the "
            f"cluster runs this machine's Ray version, {_LOCAL_WORKERS}")


def _probe(address: str, host: str, port: int) -> None:
    """A TCP connect to the head node: Ray itself waits minutes on an address where nothing
    listens; this says so in seconds."""
    try:
        socket.create_connection((host, port), timeout=_PROBE_S).close()
    except OSError as e:
        raise InputError(f"{OPTION} {address}: nothing answers at {host}:{port} "
                         f"({_short(e)}); start the cluster there (`ray start --head` on its "
                         f"head node) and check the host and port, {_LOCAL_WORKERS}") from None


def connect_ray(address: str) -> bool:
    """Connect this process to Ray at ``address`` (see the module doc) unless it is connected
    already; returns True when this call connected. Raises `InputError` (one line: the option,
    the address, what went wrong, the fix) when Ray is not installed, the address is not one
    of the forms above, ray:// lacks Ray Client, nothing answers at HOST:PORT, or ``ray.init``
    fails."""
    try:
        import ray
    except ImportError:
        raise InputError(f"{OPTION} {address}: Ray is not installed; pip install 'ray>=2.9' "
                         f"(or pip install -e '.[ray]' in the checkout), {_LOCAL_WORKERS}"
                         ) from None
    if ray.is_initialized():
        return False
    if address == "local":
        raise InputError(f"{OPTION} local: means a Ray this process started itself (ray.init, "
                         "from the Python API), which a command cannot; on one machine use "
                         "--workers N (local worker processes) without --ray-address, or give "
                         "a running cluster's address (auto, HOST:6379)")
    hp = None if address == "auto" else host_port(address)
    if address != "auto" and hp is None:
        raise InputError(f"{OPTION} {address!r}: not a Ray address; give auto (the cluster "
                         "started on this machine with `ray start --head`), HOST:PORT (a head "
                         f"node, port 6379) or ray://HOST:10001 (Ray Client), {_LOCAL_WORKERS}")
    if address.startswith("ray://") and not _has_ray_client():
        raise InputError(f"{OPTION} {address}: a ray:// address needs Ray Client, which is not "
                         "installed: pip install 'ray[client]', or give the head node's "
                         f"HOST:6379 address instead, {_LOCAL_WORKERS}")
    if hp is not None:
        _probe(address, *hp)
    try:
        ray.init(address=address)
    except Exception as e:  # noqa: BLE001 -- whatever Ray raises, connecting failed
        raise InputError(f"{OPTION} {address}: Ray could not connect: {_short(e)}; "
                         f"{_fix(address)}") from None
    return True
