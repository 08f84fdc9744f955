"""Connecting to Ray for build-map's ``--ray-address``: one checked step, run before any work
(before the source is read or a keyframe encoded), whose failures are one `InputError` line
naming the option, the address, what Ray said in short and the fix. Ray's own errors were a
traceback after the keyframes were chosen (ray:// without Ray Client), a "cannot use path" line
naming Ray's ``--address`` (its ConnectionError is an OSError), or a two-minute hang (a
``HOST:PORT`` where nothing listens), or 10 s more and a word on the version (another program
at the port: told apart by its answer to an HTTP/2 greeting, which Ray's gRPC servers answer at
once).

Addresses, in Ray's own meanings: ``auto`` -- the cluster running on this machine (started with
``ray start --head``); ``HOST:PORT`` -- a cluster's head node (the address ``ray start --head``
prints, port 6379 by default); ``ray://HOST:PORT`` -- Ray Client (port 10001, needs
``pip install 'ray[client]'``). A process connected already (``ray.init`` called before, from
the Python API) keeps its connection, whatever the address; ``local`` means only that (the
Python API's way to say "the Ray this process started"), and is refused otherwise: a Ray
started here for one run would bind its servers to the machine's network address, for no gain
over ``--workers N`` local processes on one machine.

Token authentication (Ray 2.52+; on by default for clusters ``ray start --head`` starts where a
token exists, ``~/.ray/auth_token``): a client sends a token only with ``RAY_AUTH_MODE=token``,
taken from ``RAY_AUTH_TOKEN``, else the file ``RAY_AUTH_TOKEN_PATH`` names, else
``~/.ray/auth_token``; ``auto`` turns the mode on by itself where a token exists, an explicit
``HOST:PORT`` never does. Ray retried a refused token for ~25 s, printing a ``gcs_client.cc``
warning each second, then said only "Failed to connect". A HOST:PORT is therefore asked once
for its cluster id (Ray's own GCS client, milliseconds; its C++ warning kept off the terminal)
and a refusal is one line saying it is the token and what to set. Ray Client (``ray://``) retried
a refused token, or a port that gives no gRPC connection, for ~30 s and said "ray client
connection timeout": its server is asked for the PING Ray Client starts with, through Ray's own
channel (`_check_client`), each step bounded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import sys
import tempfile
import threading
from typing import Iterator, Optional, Tuple

from ..core.errors import InputError

OPTION = "--ray-address"
_LOCAL_WORKERS = "or drop --ray-address to encode with local worker processes (--workers N)"
_PROBE_S = 5.0  # a head node that does not answer a TCP connect in this time is not there
_SPEAK_S = 3.0  # a gRPC server greets at once; one that says nothing is left to ray.init
_GCS_WAIT_S = 10.0  # a GCS answers its cluster id in milliseconds; longer: leave it to ray.init
_AUTH_MODE = "RAY_AUTH_MODE"


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
    listens; this says so in seconds. What answers must greet as a gRPC server does (Ray's GCS
    and Ray Client's server both are): Ray waited 10 s more on anything else (a web server, a
    database, a port of another program) and then blamed the version. Then, for a GCS address
    (not ray://), whether it takes this machine's token (`_check_token`)."""
    try:
        conn = socket.create_connection((host, port), timeout=_PROBE_S)
    except OSError as e:
        raise InputError(f"{OPTION} {address}: nothing answers at {host}:{port} "
                         f"({_short(e)}); start the cluster there (`ray start --head` on its "
                         f"head node) and check the host and port, {_LOCAL_WORKERS}") from None
    with conn:
        other = _not_grpc(conn)
    if other is not None:
        where = ("Ray Client's server (port 10001 by default)" if address.startswith("ray://")
                 else "a Ray head node (port 6379 by default)")
        raise InputError(f"{OPTION} {address}: what answers at {host}:{port} is not {where}: "
                         f"{other}; check the port (`ray start --head` on the head node "
                         f"prints the addresses), {_LOCAL_WORKERS}")
    if address.startswith("ray://"):
        _check_client(address)
    else:
        _check_token(address)


# an HTTP/2 client's greeting (RFC 9113 3.4) and an empty SETTINGS frame
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _not_grpc(conn: socket.socket) -> Optional[str]:
    """How the server on ``conn`` answered an HTTP/2 greeting other than as gRPC does (its own
    SETTINGS frame, at once), or None: gRPC, or silent for `_SPEAK_S` (left to Ray), or Ray
    with TLS (``RAY_USE_TLS``: the greeting would be refused, so it is not sent)."""
    if os.environ.get("RAY_USE_TLS", "").lower() in ("1", "true"):
        return None
    got = b""
    try:
        conn.settimeout(_SPEAK_S)
        conn.sendall(_H2_PREFACE)
        while len(got) < 9:
            more = conn.recv(64)
            if not more:
                break
            got += more
    except TimeoutError:  # socket.timeout (Python 3.10+)
        if not got:
            return None
    except OSError:  # reset: it closed the connection on the greeting, unread
        pass
    if len(got) >= 9 and got[3] == 0x04 and got[5:9] == b"\x00\x00\x00\x00":
        return None  # a SETTINGS frame on stream 0: an HTTP/2 (gRPC) server
    if not got:
        return "it closed the connection without a word"
    line = got.split(b"\n")[0].strip()
    if line and all(32 <= c < 127 for c in line):
        return f"it answered {line[:60].decode('ascii')!r}"
    return f"it answered {len(got)} bytes that are not gRPC's greeting"


def _sends_token() -> bool:
    """This process's Ray sends a token (``RAY_AUTH_MODE=token``, as Ray reads it)."""
    try:
        from ray._raylet import AuthenticationMode, get_authentication_mode

        return get_authentication_mode() == AuthenticationMode.TOKEN
    except Exception:  # noqa: BLE001 -- a Ray without these: read the variable
        return os.environ.get(_AUTH_MODE, "").lower() == "token"


def _token_source() -> Optional[str]:
    """Where this machine's Ray would take its token from, in Ray's order, or None."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return f"RAY_AUTH_TOKEN_PATH={os.environ['RAY_AUTH_TOKEN_PATH']}"
    default = os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    return "~/.ray/auth_token" if os.path.isfile(default) else None


def _is_auth_error(e: BaseException) -> bool:
    """Ray's AuthenticationError, raised or chained (ray.init wraps the GCS client's)."""
    seen = 0
    while e is not None and seen < 8:
        if type(e).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(e):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def _token_error(address: str, e: BaseException) -> InputError:
    """The one line for a token Ray refused (or could not find): which, and what to set."""
    source = _token_source()
    if not _sends_token():
        what = (f"the cluster requires a Ray token and this machine sends none ({_AUTH_MODE} "
                "is not 'token' here)")
        if source:
            what += (f"; this machine has one ({source}): if it is the head node's, "
                     f"export {_AUTH_MODE}=token alone is enough")
    elif source is None or "file cannot be opened" in str(e) or "no authentication" in str(e):
        what = (f"{_AUTH_MODE}=token here but Ray found no token: {_short(e)}")
    else:
        what = f"the cluster refused this machine's Ray token (from {source}): not the cluster's"
    return InputError(
        f"{OPTION} {address}: {what}; run `ray get-auth-token` on the head node and here "
        f"export {_AUTH_MODE}=token RAY_AUTH_TOKEN=<that token> (or save it in "
        f"~/.ray/auth_token), or run both the cluster (`{_AUTH_MODE}=disabled ray start --head`) "
        f"and this command with {_AUTH_MODE}=disabled, {_LOCAL_WORKERS}")


@contextlib.contextmanager
def _stderr_kept() -> Iterator[list]:
    """File descriptor 2 (where Ray's C++ core logs) goes to a temporary file meanwhile; the
    list yielded gets its text. A stderr without a descriptor (a test's capture) is left."""
    text: list = []
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield text
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield text
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            text.append(tmp.read().decode("utf-8", "replace"))


def _token_here(address: str) -> bool:
    """Ray's own check that token mode has its token (raises the token `InputError` when not;
    its C++ client aborted the process over a missing token file); False: a Ray before token
    authentication (2.52), or the check itself failed: nothing to check."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            ensure_token_if_auth_enabled)
    except ImportError:
        return False
    try:
        ensure_token_if_auth_enabled(None, create_token_if_missing=False)
    except Exception as e:  # noqa: BLE001
        if _is_auth_error(e):
            raise _token_error(address, e) from None
        return False
    return True


def _check_client(address: str) -> None:
    """Ask Ray Client's server at ``ray://HOST:PORT`` for a PING, as Ray Client does first,
    through Ray's own channel (which sends this machine's token in token mode), waiting at most
    `_GCS_WAIT_S` for each step. Ray Client retried a refused token, or a server that does not
    answer, for ~30 s and then said only "ray client connection timeout"; now a refusal is the
    token's one line, and no answer or another gRPC service one line saying so."""
    try:
        import grpc
        from ray._private.grpc_utils import init_grpc_channel
        from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc
    except ImportError:
        return
    if not _token_here(address):
        return
    import uuid

    fix = (f"check that the port is Ray Client's (`ray start --head "
           f"--ray-client-server-port`, 10001 by default; the head node's 6379 goes without "
           f"ray://), {_LOCAL_WORKERS}")
    channel = init_grpc_channel(address[len("ray://"):], asynchronous=False)
    try:
        grpc.channel_ready_future(channel).result(timeout=_GCS_WAIT_S)
        ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(
            ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING),
            timeout=_GCS_WAIT_S, metadata=[("client_id", uuid.uuid4().hex)])
    except grpc.FutureTimeoutError:
        raise InputError(f"{OPTION} {address}: no gRPC connection within {_GCS_WAIT_S:.0f} s; "
                         f"{fix}") from None
    except grpc.RpcError as e:
        code = e.code() if callable(getattr(e, "code", None)) else None
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise _token_error(address, e) from None
        said = (e.details() if callable(getattr(e, "details", None)) else str(e)) or ""
        said = f" ({_short(RuntimeError(said))})" if said.strip() else ""
        raise InputError(f"{OPTION} {address}: Ray Client's first request (PING) failed: "
                         f"{getattr(code, 'name', code)}{said}; {fix}") from None
    finally:
        channel.close()


def _check_token(address: str) -> None:
    """Raise the token `InputError` when the GCS at ``address`` refuses this machine's token
    (or it has none it should have); anything else is left to ``ray.init``. Ray before token
    authentication (2.52) has nothing to check."""
    try:
        from ray._raylet import GcsClient
    except ImportError:
        return
    if not _token_here(address):
        return
    failed: list = []

    def ask() -> None:
        try:
            GcsClient(address=address)
        except BaseException as e:  # noqa: BLE001 -- judged below
            failed.append(e)
    with _stderr_kept() as said:
        asker = threading.Thread(target=ask, name="ray-token-check", daemon=True)
        asker.start()
        asker.join(_GCS_WAIT_S)  # not answering at all: ray.init waits and says so
    if failed and _is_auth_error(failed[0]):
        raise _token_error(address, failed[0]) from None
    if "".join(said).strip():
        sys.stderr.write("".join(said))  # not the token: Ray's words stay


def _recorded_file() -> Optional[str]:
    """Ray's ``ray_current_cluster`` file (where it would be), or None for a Ray that keeps
    it elsewhere."""
    try:
        from ray._common.utils import get_ray_address_file
    except ImportError:
        try:  # Ray before 2.4x
            from ray._private.utils import get_ray_address_file
        except ImportError:
            return None
    return get_ray_address_file(None)


def _live_clusters() -> int:
    """How many Ray clusters (GCS servers) run on this machine, as 'auto' finds them (Ray's
    process scan): with exactly one, Ray connects to it whatever its recorded file says (one
    started with another ``--temp-dir``); 0 where this Ray cannot tell."""
    try:
        from ray._private.services import find_gcs_addresses

        return len(set(find_gcs_addresses()))
    except Exception:  # noqa: BLE001 -- a Ray without it: the file alone, as before
        return 0


def _probe_recorded() -> None:
    """``auto`` goes to the cluster Ray recorded in its ``ray_current_cluster`` file (the last
    ``ray start --head`` on this machine) when there is one: a head node killed without ``ray
    stop`` (or gone with a restart) left the file, and ray.init waited minutes on its address
    (measured: over 2 min), printing gcs_client.cc warnings. A TCP connect says so in seconds.
    ``RAY_ADDRESS`` set, no file, or one cluster running here (`_live_clusters`: Ray takes it
    over the file): left to Ray, as before."""
    if os.environ.get("RAY_ADDRESS") or _live_clusters() == 1:
        return
    path = _recorded_file()
    if path is None:
        return
    try:
        with open(path, encoding="utf-8") as fh:
            recorded = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return
    hp = host_port(recorded)
    if hp is None or recorded.startswith("ray://"):
        return
    try:
        socket.create_connection(hp, timeout=_PROBE_S).close()
    except OSError as e:
        raise InputError(f"{OPTION} auto: the cluster Ray recorded in {path} ({recorded}, the "
                         f"last `ray start --head` on this machine) does not answer "
                         f"({_short(e)}): it was stopped without `ray stop` or the machine "
                         f"restarted; start one with `ray start --head` (which replaces the "
                         f"record) or delete {path}, {_LOCAL_WORKERS}") from None


def _restore_auth_mode(mode: Optional[str]) -> None:
    """Put ``RAY_AUTH_MODE`` back as it was before a failed ``ray.init``: for ``auto`` with a
    token in ~/.ray/auth_token, Ray sets it to ``token`` in ``os.environ`` (and its cached
    config) before connecting, and left it there when the connection failed, so a later
    ``ray.init`` of this process (a local Ray: token mode, a token written to ~/.ray) and every
    child process inherited it."""
    if os.environ.get(_AUTH_MODE) == mode:
        return
    if mode is None:
        os.environ.pop(_AUTH_MODE, None)
    else:
        os.environ[_AUTH_MODE] = mode
    try:  # Ray's own refresh after it changes the mode (_enable_token_auth)
        from ray._raylet import Config

        Config.initialize("")
    except Exception:  # noqa: BLE001 -- a Ray without it reads the variable itself
        pass


def connect_ray(address: str) -> bool:
    """Connect this process to Ray at ``address`` (see the module doc) unless it is connected
    already; returns True when this call connected. Raises `InputError` (one line: the option,
    the address, what went wrong, the fix) when Ray is not installed, the address is not one
    of the forms above, ray:// lacks Ray Client, nothing answers at HOST:PORT, the cluster
    refuses this machine's token (or it has none), or ``ray.init`` fails."""
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
    elif address == "auto":
        _probe_recorded()
    mode = os.environ.get(_AUTH_MODE)
    try:
        ray.init(address=address)
    except Exception as e:  # noqa: BLE001 -- whatever Ray raises, connecting failed
        _restore_auth_mode(mode)
        if _is_auth_error(e):
            raise _token_error(address, e) from None
        raise InputError(f"{OPTION} {address}: Ray could not connect: {_short(e)}; "
                         f"{_fix(address)}") from None
    return True
