"""`chaoyun serve`: worker processes that each bind the port (SO_REUSEPORT) with TCP sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from chaoyun.web.server import bind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bound_socket_is_tcp_so_asyncio_sets_nodelay() -> None:
    # asyncio sets TCP_NODELAY on accepted connections only when the listener's proto is TCP;
    # uvicorn's own multi-worker socket has proto 0, which cost 40 ms per keep-alive request.
    sock = bind("127.0.0.1", 0, reuse_port=True)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        client = socket.create_connection(sock.getsockname())
        conn, _ = sock.accept()
        assert conn.proto == socket.IPPROTO_TCP
        conn.close()
        client.close()
    finally:
        sock.close()


def test_two_workers_serve_and_stop_on_sigterm() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaoyun", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert r.status_code == 200
        # Many connections, each with keep-alive requests: all answered, whichever worker takes them.
        for _ in range(10):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
                assert all(c.get("/login").status_code == 200 for _ in range(3))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_taken_by_another_program_is_a_clear_failure() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "chaoyun", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode != 0
    assert "Address already in use" in proc.stderr
