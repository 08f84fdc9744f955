"""build-map --ray-address HOST:PORT against a cluster with token authentication (a fresh user's
finding, Ray 2.60): Ray retried the refused token for ~25 s, printed a ``gcs_client.cc ...
InvalidAuthToken`` warning each second, and the CLI's line blamed the address or the Ray
version. Now a refusal is found with one request and is one line saying it is the token and
what to set. One real head node on loopback (``ray start --head``, its own HOME, token and
temp dir) serves the module; clients run in subprocesses so that their Ray reads a clean
environment and their stderr is the real file descriptor Ray's C++ core writes to."""

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.replay import ray_connect

pytest.importorskip("ray")

TOKEN = "0123456789abcdef" * 4
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray keeps to 127.0.0.1
            "RAY_USAGE_STATS_ENABLED": "0"}
FIX = ("run `ray get-auth-token` on the head node and here export RAY_AUTH_MODE=token "
       "RAY_AUTH_TOKEN=<that token> (or save it in ~/.ray/auth_token), or run both the cluster "
       "(`RAY_AUTH_MODE=disabled ray start --head`) and this command with RAY_AUTH_MODE=disabled, "
       "or drop --ray-address to encode with local worker processes (--workers N)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(LOOPBACK, HOME=str(home), **extra)
    return env


@pytest.fixture(scope="module")
def head_node(tmp_path_factory):
    """(HOST:PORT, ray://HOST:PORT or None) of a token-authenticated head node on loopback, for
    this module: its GCS and, where Ray Client is installed (grpcio), Ray Client's server."""
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    if not os.path.exists(ray_bin):
        pytest.skip("the ray command is not installed beside this Python")
    home = tmp_path_factory.mktemp("head_home")
    (home / ".ray").mkdir()
    (home / ".ray" / "auth_token").write_text(TOKEN)
    temp = tempfile.mkdtemp(prefix="rt")  # short: Ray's socket paths must fit
    port = _free_port()
    client = _free_port() if importlib.util.find_spec("grpc") else None
    proc = subprocess.Popen(
        [ray_bin, "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
         *([f"--ray-client-server-port={client}"] if client else []),
         "--include-dashboard=false", "--node-ip-address=127.0.0.1", "--disable-usage-stats",
         f"--temp-dir={temp}"],
        env=_env(home, RAY_AUTH_MODE="token"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(600):
            if proc.poll() is not None:
                pytest.skip(f"ray start --head exited ({proc.returncode})")
            try:
                for p in (port, client) if client else (port,):  # Ray Client's comes later
                    socket.create_connection(("127.0.0.1", p), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.skip("ray start --head did not listen within a minute")
        yield f"127.0.0.1:{port}", (f"ray://127.0.0.1:{client}" if client else None)
    finally:
        proc.terminate()  # ray start --block stops its cluster
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def head(head_node):
    """HOST:PORT of the head node's GCS."""
    return head_node[0]


@pytest.fixture(scope="module")
def client_head(head_node):
    """ray://HOST:PORT of the head node's Ray Client server."""
    if head_node[1] is None:
        pytest.skip("Ray Client is not installed (pip install 'ray[client]')")
    return head_node[1]


def _run(code, home, **env):
    return subprocess.run([sys.executable, "-c", code], env=_env(home, **env),
                          capture_output=True, text=True, timeout=300)


_CONNECT = """
import sys
from mast3r_ros.core.errors import InputError
from mast3r_ros.replay.ray_connect import connect_ray
try:
    print(connect_ray(sys.argv[1]))
except InputError as e:
    print(e, file=sys.stderr)
    sys.exit(2)
import ray
ray.shutdown()
"""


def test_build_map_without_a_token_is_one_line_saying_so(head, tmp_path, tiny_ckpt):
    """The user's command: no token sent (RAY_AUTH_MODE unset, an explicit address). One line,
    no gcs_client warnings, before the source (which does not exist) is read."""
    home = tmp_path / "home"
    home.mkdir()
    r = _run("import sys\nfrom mast3r_ros.replay.cli import main\nsys.exit(main(sys.argv[1:]))"
             .replace("sys.argv[1:]", repr(["build-map", str(tmp_path / "REC"), "--out",
                                            str(tmp_path / "m"), "--checkpoint", tiny_ckpt,
                                            "--ray-address", head, "--workers", "2"])), home)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"mast3r-ros build-map: error: --ray-address {head}: the cluster requires a Ray token "
        f"and this machine sends none (RAY_AUTH_MODE is not 'token' here); {FIX}"]


def test_a_wrong_token_is_named_with_its_source(head, tmp_path):
    r = _run(_CONNECT.replace("sys.argv[1]", repr(head)), tmp_path,
             RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="f" * 64)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"--ray-address {head}: the cluster refused this machine's Ray token (from "
        f"RAY_AUTH_TOKEN): not the cluster's; {FIX}"]


def test_a_token_only_here_in_the_default_file_is_pointed_at(head, tmp_path):
    """The head node's machine: its token is in ~/.ray/auth_token, but an explicit address
    does not turn Ray's token mode on; RAY_AUTH_MODE=token alone is the fix."""
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text(TOKEN)
    r = _run(_CONNECT.replace("sys.argv[1]", repr(head)), tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"--ray-address {head}: the cluster requires a Ray token and this machine sends none "
        "(RAY_AUTH_MODE is not 'token' here); this machine has one (~/.ray/auth_token): if it "
        f"is the head node's, export RAY_AUTH_MODE=token alone is enough; {FIX}"]
    ok = _run(_CONNECT.replace("sys.argv[1]", repr(head)), tmp_path, RAY_AUTH_MODE="token")
    assert ok.returncode == 0 and ok.stdout.strip() == "True", ok.stderr


def test_token_mode_without_a_token_is_refused_before_connecting(head, tmp_path):
    """Ray's C++ client aborts the process over a token file that cannot be read: Ray's own
    Python check runs first and its words are kept."""
    r = _run(_CONNECT.replace("sys.argv[1]", repr(head)), tmp_path, RAY_AUTH_MODE="token",
             RAY_AUTH_TOKEN_PATH=str(tmp_path / "missing"))
    assert r.returncode == 2, r.stderr
    line, = r.stderr.strip().splitlines()
    assert line.startswith(f"--ray-address {head}: RAY_AUTH_MODE=token here but Ray found no "
                           "token: RAY_AUTH_TOKEN_PATH is set but file cannot be opened")
    assert line.endswith(FIX)


def test_auto_refused_token_says_it_is_the_token(monkeypatch, tmp_path):
    """ray.init's own failure (auto: the address is Ray's to find) is read for the token too:
    its ConnectionError wraps the GCS client's AuthenticationError."""
    ray = pytest.importorskip("ray")
    from ray.exceptions import AuthenticationError

    def init(**kwargs):
        try:
            raise AuthenticationError("RPC error: InvalidAuthToken: Authentication token is "
                                      "missing or incorrect")
        except AuthenticationError as e:
            raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.5:6379") from e
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    for k in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # no cluster recorded for 'auto'
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray_connect, "_sends_token", lambda: False)
    with pytest.raises(InputError) as err:
        ray_connect.connect_ray("auto")
    assert str(err.value) == (
        "--ray-address auto: the cluster requires a Ray token and this machine sends none "
        f"(RAY_AUTH_MODE is not 'token' here); {FIX}")


def test_a_failed_auto_connect_leaves_ray_auth_mode_as_it_was(monkeypatch, tmp_path):
    """Ray's ray.init("auto") sets RAY_AUTH_MODE=token in os.environ where a token exists
    (authentication_token_setup.maybe_enable_token_auth_if_token_available) before it
    connects; a refused connect left it set for the rest of the process and its children.
    The stub does what Ray does: sets the variable, then fails."""
    ray = pytest.importorskip("ray")

    def init(**kwargs):
        os.environ["RAY_AUTH_MODE"] = "token"
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.5:6379")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))  # no cluster recorded for 'auto'
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with pytest.raises(InputError):
        ray_connect.connect_ray("auto")
    assert "RAY_AUTH_MODE" not in os.environ
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(InputError):
        ray_connect.connect_ray("auto")
    assert os.environ["RAY_AUTH_MODE"] == "disabled"


def test_ray_client_without_a_token_is_the_same_one_line(client_head, tmp_path):
    """ray://: Ray Client retried a refused token for ~30 s, then said "ray client connection
    timeout" (the line blamed the version); its first request, a PING, now finds the refusal."""
    r = _run(_CONNECT.replace("sys.argv[1]", repr(client_head)), tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"--ray-address {client_head}: the cluster requires a Ray token and this machine sends "
        f"none (RAY_AUTH_MODE is not 'token' here); {FIX}"]


def test_ray_client_with_a_wrong_token_and_then_the_right_one(client_head, tmp_path):
    r = _run(_CONNECT.replace("sys.argv[1]", repr(client_head)), tmp_path,
             RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="f" * 64)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"--ray-address {client_head}: the cluster refused this machine's Ray token (from "
        f"RAY_AUTH_TOKEN): not the cluster's; {FIX}"]
    # the right token passes the check (the whole connect is left out: Ray Client's server
    # then starts a server per client, which timed out now and then on 2 loaded cores)
    ok = _run("import sys\nfrom mast3r_ros.replay import ray_connect\n"
              f"ray_connect._check_client({client_head!r})\nprint('passed')", tmp_path,
              RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN)
    assert ok.returncode == 0 and ok.stdout.strip() == "passed", ok.stderr


def test_ray_client_address_at_the_gcs_port_is_named(head, client_head, tmp_path):
    """ray:// with the head node's GCS port (6379): a gRPC server, but not Ray Client's."""
    addr = "ray://" + head
    r = _run(_CONNECT.replace("sys.argv[1]", repr(addr)), tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"--ray-address {addr}: Ray Client's first request (PING) failed: UNIMPLEMENTED; check "
        "that the port is Ray Client's (`ray start --head --ray-client-server-port`, 10001 by "
        "default; the head node's 6379 goes without ray://), or drop --ray-address to encode "
        "with local worker processes (--workers N)"]
