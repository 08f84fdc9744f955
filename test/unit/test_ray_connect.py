"""build-map --ray-address (a fresh user's findings): connecting to Ray is one checked step,
done before the source is read, whose failures are one line naming --ray-address, the address,
what Ray said and the fix. ``ray.init`` is stubbed: no test here starts or reaches a cluster."""

import contextlib
import socket
import sys
import threading

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay import cli, ray_connect
from mast3r_ros.replay.cli import main

LOCAL_WORKERS = "or drop --ray-address to encode with local worker processes (--workers N)"


class SourceOpened(InputError):
    pass


@pytest.fixture
def no_source(monkeypatch):
    """Opening the source fails loudly: what a test sees came before any work."""
    def _open(*a, **k):
        raise SourceOpened("SOURCE OPENED")
    monkeypatch.setattr(cli, "_open", _open)


@pytest.fixture
def ray_stub(monkeypatch, tmp_path_factory):
    """Real Ray, not connected, with ``ray.init`` recording its calls (and raising ``fail``);
    Ray's temp folder is an empty one of the test's: a cluster this machine's Ray recorded
    (`ray start --head`) does not reach 'auto'."""
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path_factory.mktemp("raytmp")))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # loopback stays loopback: without it Ray may turn 127.0.0.1 into this machine's routable
    # address before its GCS client connects (the token check's GcsClient is real)
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    calls, fail = [], []

    def init(*args, **kwargs):
        calls.append(kwargs)
        if fail:
            raise fail[0]
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    return calls, fail


def _build(tmp_path, ckpt, *extra):
    return main(["build-map", str(tmp_path / "src"), "--out", str(tmp_path / "map"),
                 "--log-level", "warning", *(["--checkpoint", ckpt] if ckpt else []), *extra])


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # one line, no traceback
    return err[0]


def test_auto_without_a_cluster_names_our_option_and_ray_start(tmp_path, tiny_ckpt, capsys,
                                                               ray_stub, no_source):
    calls, fail = ray_stub
    fail.append(ConnectionError(  # what Ray 2.x says, word for word; an OSError
        "Could not find any running Ray instance. Please specify the one to connect to by "
        "setting `--address` flag or `RAY_ADDRESS` environment variable."))
    assert _build(tmp_path, tiny_ckpt, "--ray-address", "auto", "--workers", "2") == 2
    assert _error(capsys) == (
        "mast3r-ros build-map: error: --ray-address auto: Ray could not connect: Could not find "
        "any running Ray instance; 'auto' only finds a cluster already running on this "
        f"machine: start one with `ray start --head`, {LOCAL_WORKERS}")
    assert calls == [{"address": "auto"}]
    assert not (tmp_path / "map.partial").exists() and not (tmp_path / "map").exists()


def test_ray_client_address_without_ray_client(tmp_path, tiny_ckpt, capsys, ray_stub,
                                               no_source, monkeypatch):
    calls, _ = ray_stub
    monkeypatch.setattr(ray_connect, "_has_ray_client", lambda: False)
    assert _build(tmp_path, tiny_ckpt, "--ray-address", "ray://127.0.0.1:1") == 2
    assert _error(capsys) == (
        "mast3r-ros build-map: error: --ray-address ray://127.0.0.1:1: a ray:// address needs "
        "Ray Client, which is not installed: pip install 'ray[client]', or give the head "
        f"node's HOST:6379 address instead, {LOCAL_WORKERS}")
    assert calls == []


def test_whatever_ray_init_raises_is_one_line(tmp_path, tiny_ckpt, capsys, ray_stub, no_source,
                                              monkeypatch):
    calls, fail = ray_stub
    monkeypatch.setattr(ray_connect, "_has_ray_client", lambda: True)
    monkeypatch.setattr(ray_connect, "_probe", lambda *a: None)  # as if a head node answered
    fail.append(RuntimeError("Version mismatch: the cluster runs Ray 2.9.0. Details follow"))
    assert _build(tmp_path, tiny_ckpt, "--ray-address", "ray://head:10001") == 2
    assert _error(capsys) == (
        "mast3r-ros build-map: error: --ray-address ray://head:10001: Ray could not connect: "
        "Version mismatch: the cluster runs Ray 2.9.0; check that the head node runs Ray "
        "Client's server (port 10001, started by `ray start --head`) with this machine's Ray "
        f"version, {LOCAL_WORKERS}")
    assert calls == [{"address": "ray://head:10001"}]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_head_node_address_where_nothing_listens_fails_in_seconds(tmp_path, tiny_ckpt, capsys,
                                                                    ray_stub, no_source):
    calls, _ = ray_stub  # real Ray waits minutes on such an address
    addr = f"127.0.0.1:{_closed_port()}"
    assert _build(tmp_path, tiny_ckpt, "--ray-address", addr) == 2
    err = _error(capsys)
    assert err.startswith(f"mast3r-ros build-map: error: --ray-address {addr}: nothing answers "
                          f"at {addr} (")
    assert err.endswith("start the cluster there (`ray start --head` on its head node) and "
                        f"check the host and port, {LOCAL_WORKERS}")
    assert calls == []


def test_not_an_address(tmp_path, tiny_ckpt, capsys, ray_stub, no_source):
    assert _build(tmp_path, tiny_ckpt, "--ray-address", "headnode") == 2
    err = _error(capsys)
    assert "--ray-address 'headnode': not a Ray address; give auto" in err
    assert err.endswith(LOCAL_WORKERS) and ray_stub[0] == []


def test_local_is_refused_on_the_command_line_before_the_source_is_read(tmp_path, tiny_ckpt,
                                                                        capsys, ray_stub,
                                                                        no_source):
    """'local' means the Ray this process started (the Python API); a command has none, and
    starting one for a run would bind Ray's servers to the machine's network address: refused,
    pointing at --workers N, and Ray is never started."""
    calls, _ = ray_stub
    assert _build(tmp_path, tiny_ckpt, "--ray-address", "local", "--workers", "2") == 2
    assert _error(capsys) == (
        "mast3r-ros build-map: error: --ray-address local: means a Ray this process started "
        "itself (ray.init, from the Python API), which a command cannot; on one machine use "
        "--workers N (local worker processes) without --ray-address, or give a running "
        "cluster's address (auto, HOST:6379)")
    assert calls == []


def test_a_process_connected_already_keeps_its_connection(monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "init", lambda **k: pytest.fail("ray.init called again"))
    assert ray_connect.connect_ray("local") is False
    assert ray_connect.connect_ray("auto") is False


@pytest.mark.parametrize("extra, why", [
    (["--matcher", "sift"], "--matcher sift uses no network encodings"),
    ([], "no checkpoint is configured"),
])
def test_a_build_that_encodes_nothing_refuses_the_option(tmp_path, capsys, no_source, extra,
                                                         why, monkeypatch):
    """Nothing would run on Ray: the address (here one that cannot work) was ignored, rc 0."""
    ray = sys.modules.get("ray")
    if ray is not None:
        monkeypatch.setattr(ray, "init", lambda **k: pytest.fail("ray.init called"))
    assert _build(tmp_path, None, "--ray-address", "bogus:1", *extra) == 2
    assert _error(capsys) == (
        f"mast3r-ros build-map: error: --ray-address bogus:1: this build encodes no keyframes "
        f"({why}), so nothing would run on Ray; drop --ray-address, or build with --matcher "
        "mast3r and a --checkpoint to encode on Ray")


def test_without_ray_installed(tmp_path, tiny_ckpt, capsys, no_source, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert _build(tmp_path, tiny_ckpt, "--ray-address", "auto") == 2
    assert _error(capsys) == (
        "mast3r-ros build-map: error: --ray-address auto: Ray is not installed; pip install "
        f"'ray>=2.9' (or pip install -e '.[ray]' in the checkout), {LOCAL_WORKERS}")


def test_the_library_path_says_the_same(tmp_path, ray_stub):
    """build_encodings connects with the same words (the Python API, no CLI before it)."""
    from mast3r_ros.replay.parallel_build import build_encodings

    calls, fail = ray_stub
    fail.append(ConnectionError("Could not find any running Ray instance. Please specify"))
    with pytest.raises(InputError, match=r"^--ray-address auto: Ray could not connect: Could "
                                         r"not find any running Ray instance; 'auto' only"):
        build_encodings(4, lambda i: {}, str(tmp_path), ray_address="auto", progress=False)
    assert calls == [{"address": "auto"}]


@pytest.mark.parametrize("address, want", [
    ("ray://head:10001", ("head", 10001)), ("10.0.0.5:6379", ("10.0.0.5", 6379)),
    ("[::1]:6379", ("::1", 6379)), ("head", None), ("ray://head", None), (":6379", None),
    ("head:port", None),
])
def test_host_port(address, want):
    assert ray_connect.host_port(address) == want


def test_a_connection_error_is_not_called_a_path_error(tmp_path, capsys, monkeypatch):
    """Ray's ConnectionError is an OSError: the CLI's path handler said 'cannot use path'."""
    def _open(*a, **k):
        raise ConnectionError("GCS connection to 10.0.0.5:6379 lost")
    monkeypatch.setattr(cli, "_open", _open)
    assert _build(tmp_path, None, "--matcher", "sift") == 2
    assert _error(capsys) == ("mast3r-ros build-map: error: connection failed: GCS connection "
                              "to 10.0.0.5:6379 lost")


def test_a_head_node_that_times_out_or_does_not_resolve_fails_in_seconds(ray_stub, monkeypatch):
    """Hand audit: not only a refused port is 'nothing answers' -- a timeout (a firewalled head
    node) and an unknown host are OSErrors too; the probe waits seconds, never Ray's minutes.
    The TCP connect is faked: no test reaches another machine."""
    calls, _ = ray_stub
    seen, fail = [], []

    def connect(addr, timeout=None):
        seen.append((addr, timeout))
        raise fail[-1]
    monkeypatch.setattr(ray_connect.socket, "create_connection", connect)
    monkeypatch.setattr(ray_connect, "_has_ray_client", lambda: True)
    fix = ("; start the cluster there (`ray start --head` on its head node) and check the host "
           f"and port, {LOCAL_WORKERS}")
    fail.append(TimeoutError("timed out"))
    with pytest.raises(InputError) as err:
        ray_connect.connect_ray("10.0.0.5:6379")
    assert str(err.value) == ("--ray-address 10.0.0.5:6379: nothing answers at 10.0.0.5:6379 "
                              f"(timed out){fix}")
    fail.append(socket.gaierror(-2, "Name or service not known"))
    with pytest.raises(InputError) as err:
        ray_connect.connect_ray("ray://nohost:10001")
    assert str(err.value) == ("--ray-address ray://nohost:10001: nothing answers at "
                              f"nohost:10001 ([Errno -2] Name or service not known){fix}")
    assert [a for a, _ in seen] == [("10.0.0.5", 6379), ("nohost", 10001)]
    assert all(t is not None and 0 < t <= 10 for _, t in seen)  # seconds, not minutes
    assert calls == []


def test_ray_init_failures_name_their_fix(ray_stub, monkeypatch):
    """An exception without words is named by its type; a one-sentence message loses its full
    stop before the ';'; auto and HOST:PORT each get their own fix."""
    calls, fail = ray_stub
    monkeypatch.setattr(ray_connect, "_probe", lambda *a: None)  # as if a head node answered
    fail.append(ConnectionError())
    with pytest.raises(InputError) as err:
        ray_connect.connect_ray("auto")
    assert str(err.value) == (
        "--ray-address auto: Ray could not connect: ConnectionError; 'auto' only finds a cluster "
        f"already running on this machine: start one with `ray start --head`, {LOCAL_WORKERS}")
    fail[0] = RuntimeError("Connection lost.")
    with pytest.raises(InputError) as err:
        ray_connect.connect_ray("10.0.0.5:6379")
    assert str(err.value) == (
        "--ray-address 10.0.0.5:6379: Ray could not connect: Connection lost; check the address "
        "(`ray start --head` on the head node prints it) and that the cluster runs this "
        f"machine's Ray version, {LOCAL_WORKERS}")
    assert calls == [{"address": "auto"}, {"address": "10.0.0.5:6379"}]


def test_short_keeps_160_characters_and_cuts_longer_to_160():
    assert ray_connect._short(RuntimeError("x" * 160)) == "x" * 160
    assert ray_connect._short(RuntimeError("y" * 200)) == "y" * 157 + "..."


class StandIn:
    """A loopback TCP server that is not Ray: each connection gets ``reply`` (after the
    client's first bytes, at most 1 s later), then is closed. ``reply=None``: closed at once."""

    def __init__(self, reply):
        self.reply, self.sock = reply, socket.create_server(("127.0.0.1", 0))
        self.port, self.done = self.sock.getsockname()[1], threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            with conn:
                if self.reply == b"":  # silent: holds the connection until closed
                    self.done.wait(30)
                elif self.reply is not None:
                    conn.settimeout(1)
                    with contextlib.suppress(OSError):
                        conn.recv(64)
                    conn.sendall(self.reply)

    def close(self):
        self.done.set()
        with contextlib.suppress(OSError):  # wakes the accept (Linux); close alone does not
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def stand_in():
    made = []

    def make(reply):
        made.append(StandIn(reply))
        return made[-1]
    yield make
    for s in made:
        s.close()


@pytest.mark.parametrize("scheme", ["", "ray://"])
@pytest.mark.parametrize("reply, said", [
    (b"HTTP/1.0 400 Bad Request\r\n\r\n", "it answered 'HTTP/1.0 400 Bad Request'"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", "it answered 'SSH-2.0-OpenSSH_9.2'"),
    (b"\x15\x03\x01\x00\x02\x02\x46", "it answered 7 bytes that are not gRPC's greeting"),
    (None, "it closed the connection without a word"),
])
def test_something_else_at_the_port_is_named_at_once(ray_stub, stand_in, monkeypatch, scheme,
                                                     reply, said):
    """A port where another program listens: Ray's GCS client waited 10 s (then ray.init
    blamed the version); an HTTP/2 greeting, answered at once by any gRPC server (Ray's GCS and
    Ray Client's server), tells it apart in milliseconds. Loopback stand-ins, no Ray."""
    calls, _ = ray_stub
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback stays loopback
    monkeypatch.setattr(ray_connect, "_has_ray_client", lambda: True)
    server = stand_in(reply)
    addr = f"{scheme}127.0.0.1:{server.port}"
    where = ("Ray Client's server (port 10001 by default)" if scheme
             else "a Ray head node (port 6379 by default)")
    with pytest.raises(InputError) as err:
        ray_connect.connect_ray(addr)
    assert str(err.value) == (
        f"--ray-address {addr}: what answers at 127.0.0.1:{server.port} is not {where}: {said}; "
        f"check the port (`ray start --head` on the head node prints the addresses), "
        f"{LOCAL_WORKERS}")
    assert calls == []


def test_a_grpc_greeting_goes_on_to_the_token_check(ray_stub, stand_in, monkeypatch):
    """An HTTP/2 SETTINGS frame back (what Ray's GCS sends, measured) is not judged: the token
    check and ray.init follow."""
    calls, _ = ray_stub
    checked = []
    monkeypatch.setattr(ray_connect, "_check_token", checked.append)
    server = stand_in(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x04\x00@\x00\x00")
    addr = f"127.0.0.1:{server.port}"
    assert ray_connect.connect_ray(addr) is True
    assert checked == [addr] and calls == [{"address": addr}]


def test_a_silent_ray_client_port_is_one_line_after_a_bounded_wait(ray_stub, stand_in,
                                                                   monkeypatch):
    """ray:// at a server that accepts and says nothing: Ray Client waited ~30 s and said "ray
    client connection timeout"; the check waits its bound (1 s here) per step, then says so."""
    pytest.importorskip("grpc")
    if not hasattr(pytest.importorskip("ray._private.grpc_utils"), "init_grpc_channel"):
        pytest.skip("this Ray has no init_grpc_channel: the ray:// check is left to Ray")
    calls, _ = ray_stub
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.setattr(ray_connect, "_SPEAK_S", 0.5)
    monkeypatch.setattr(ray_connect, "_GCS_WAIT_S", 1.0)
    addr = f"ray://127.0.0.1:{stand_in(b'').port}"
    with pytest.raises(InputError) as err:
        ray_connect.connect_ray(addr)
    assert str(err.value) == (
        f"--ray-address {addr}: no gRPC connection within 1 s; check that the port is Ray "
        "Client's (`ray start --head --ray-client-server-port`, 10001 by default; the head "
        f"node's 6379 goes without ray://), {LOCAL_WORKERS}")
    assert calls == []


def _stale_record(monkeypatch, tmp_path):
    """Ray's ray_current_cluster file in this test's own Ray temp folder (RAY_TMPDIR), naming a
    closed loopback port, as a `ray start --head` killed without `ray stop` leaves it: (its
    path, the address); skips where this Ray keeps the record elsewhere."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    path = tmp_path / "ray" / "ray_current_cluster"
    if ray_connect._recorded_file() != str(path):
        pytest.skip("this Ray keeps its recorded cluster elsewhere")
    path.parent.mkdir()
    stale = f"127.0.0.1:{_closed_port()}"
    path.write_text(stale)
    return str(path), stale


def test_auto_with_a_stale_recorded_cluster_fails_in_seconds(ray_stub, monkeypatch, tmp_path):
    """A `ray start --head` killed without `ray stop` leaves Ray's ray_current_cluster file;
    'auto' went to its address and ray.init waited over 2 min. The file here is in this test's
    own Ray temp folder (RAY_TMPDIR), never the user's."""
    calls, _ = ray_stub
    path, stale = _stale_record(monkeypatch, tmp_path)
    monkeypatch.setattr(ray_connect, "_live_clusters", lambda: 0)  # none running here
    with pytest.raises(InputError) as err:
        ray_connect.connect_ray("auto")
    said = str(err.value)
    assert said.startswith(f"--ray-address auto: the cluster Ray recorded in {path} ({stale}, "
                           "the last `ray start --head` on this machine) does not answer (")
    assert said.endswith("): it was stopped without `ray stop` or the machine restarted; start "
                         "one with `ray start --head` (which replaces the record) or delete "
                         f"{path}, {LOCAL_WORKERS}")
    assert calls == []
    (tmp_path / "ray" / "ray_current_cluster").unlink()  # no record: Ray's to find, as before
    assert ray_connect.connect_ray("auto") is True and calls == [{"address": "auto"}]


def test_auto_with_a_stale_record_but_one_cluster_running_is_left_to_ray(ray_stub, monkeypatch,
                                                                         tmp_path):
    """Ray's 'auto' takes the one cluster it finds running on this machine (its process scan:
    a cluster started with another --temp-dir) over a stale ray_current_cluster file, and
    connects: the stale record is then no reason to refuse."""
    services = pytest.importorskip("ray._private.services")
    if not hasattr(services, "find_gcs_addresses"):
        pytest.skip("this Ray finds no running cluster by its processes")
    calls, _ = ray_stub
    _stale_record(monkeypatch, tmp_path)
    monkeypatch.setattr(services, "find_gcs_addresses",
                        lambda: frozenset({f"127.0.0.1:{_closed_port()}"}))
    assert ray_connect.connect_ray("auto") is True and calls == [{"address": "auto"}]
