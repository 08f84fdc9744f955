"""How long build-map's --ray-address takes to fail, Ray alone vs `ray_connect.connect_ray`, on
loopback stand-ins (no cluster): another program at HOST:PORT (an HTTP server), 'auto' with a
stale recorded cluster (a head node killed without `ray stop`), and ray:// at a port that accepts
and says nothing (needs Ray Client: grpcio). Each attempt runs in its own process with a clean
HOME (no token); Ray alone is stopped at --cap seconds.

    python bench/bench_ray_connect.py [--cap 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

RAY_ALONE = """
import sys, ray
try:
    ray.init(address=sys.argv[1])
    print("connected")
except Exception as e:
    print(type(e).__name__ + ": " + " ".join(str(e).split())[:150])
"""
OURS = """
import sys
from mast3r_ros.replay.ray_connect import connect_ray
try:
    connect_ray(sys.argv[1])
    print("connected")
except Exception as e:
    print(type(e).__name__ + ": " + str(e)[:150])
"""


def _serve(sock: socket.socket, reply: bytes, stop: threading.Event) -> None:
    held = []
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except OSError:
            continue
        if reply:
            with conn, contextlib.suppress(OSError):
                conn.settimeout(1)
                conn.recv(64)
                conn.sendall(reply)
        else:
            held.append(conn)  # silent: kept open, unanswered
    for c in held:
        c.close()
    sock.close()


def _attempt(code: str, address: str, env: dict, cap: float) -> tuple:
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, address], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=cap)
        said = out.strip().splitlines()[-1] if out.strip() else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        said = f"still waiting at {cap:.0f} s (stopped)"
    return time.perf_counter() - t, said


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--cap", type=float, default=60.0, help="seconds Ray alone may wait")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="rb")
    stop = threading.Event()
    try:
        home, tmpdir = os.path.join(work, "home"), os.path.join(work, "tmp")
        os.makedirs(home)
        os.makedirs(os.path.join(tmpdir, "ray"))
        with socket.socket() as s:  # a port where nothing listens
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        with open(os.path.join(tmpdir, "ray", "ray_current_cluster"), "w") as fh:
            fh.write(f"127.0.0.1:{closed}")
        ports = {}
        for name, reply in (("http", b"HTTP/1.0 400 Bad Request\r\n\r\n"), ("silent", b"")):
            sock = socket.create_server(("127.0.0.1", 0))
            ports[name] = sock.getsockname()[1]
            threading.Thread(target=_serve, args=(sock, reply, stop), daemon=True).start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update(HOME=home, RAY_TMPDIR=tmpdir, RAY_USAGE_STATS_ENABLED="0",
                   RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",  # Ray keeps to 127.0.0.1
                   PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        cases = [("HTTP server at HOST:PORT", f"127.0.0.1:{ports['http']}"),
                 ("auto, stale recorded cluster", "auto")]
        if importlib.util.find_spec("grpc"):
            cases.append(("ray:// at a silent port", f"ray://127.0.0.1:{ports['silent']}"))
        else:
            print("(ray:// case left out: Ray Client, grpcio, is not installed)")
        rows = []
        for what, address in cases:
            alone = _attempt(RAY_ALONE, address, env, args.cap)
            ours = _attempt(OURS, address, env, args.cap)
            rows.append({"case": what, "address": address,
                         "ray_alone_s": round(alone[0], 2), "ray_alone_said": alone[1],
                         "connect_ray_s": round(ours[0], 2), "connect_ray_said": ours[1]})
            print(f"{what:32s} Ray alone {alone[0]:7.2f} s | connect_ray {ours[0]:6.2f} s",
                  flush=True)
            print(f"    Ray alone:   {alone[1]}\n    connect_ray: {ours[1]}", flush=True)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump({"cap_s": args.cap, "rows": rows}, fh, indent=1)
    finally:
        stop.set()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
