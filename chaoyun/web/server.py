"""Run the web app under Uvicorn: one process, or N worker processes sharing the port.

Why not ``uvicorn --workers N``: Uvicorn then binds one listening socket as
``socket.socket(family=...)``, whose ``proto`` is 0, and asyncio only sets TCP_NODELAY on sockets
whose proto is IPPROTO_TCP. The workers' connections kept Nagle's algorithm on; a response goes
out as two writes (headers, then body), the body waited for the client's delayed ACK, and every
keep-alive request took about 40 ms longer (measured: 20 requests/s on one keep-alive connection
with two workers, against 150 with one). Worse, all workers accept from that one socket, so a
burst of connections often lands on whichever worker woke first while the other core idles.

Here each worker binds its own socket with SO_REUSEPORT: the kernel spreads connections over the
workers, and the sockets are made with IPPROTO_TCP so asyncio sets TCP_NODELAY.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time
from typing import Any

import uvicorn

from chaoyun.runtime import tune_gc

APP = "chaoyun.web.main:app"
# A worker that dies this soon after starting (port taken, bad settings) stops the server instead
# of being restarted in a loop.
EARLY_EXIT_S = 5.0


def _config(app: str = APP, **kw: Any) -> uvicorn.Config:
    return uvicorn.Config(app, http="httptools", log_level="info", access_log=False, **kw)


class _Server(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # The app, its routes and the lifespan's services are loaded: freeze them out of the collector's walks.
        tune_gc()


def bind(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, app: str = APP) -> None:
    sock = bind(host, port, reuse_port=True)
    _Server(_config(app)).run(sockets=[sock])


def serve(host: str, port: int, workers: int = 1, app: str = APP) -> None:
    """``app``: another ASGI app's import string (benchmarks/bare_ingest.py serves its baseline this way)."""
    # Fail early and clearly if the port is taken by something that does not share it.
    try:
        probe = bind(host, port, reuse_port=workers > 1)
    except OSError as e:
        sys.exit(f"cannot listen on {host}:{port}: {e.strerror} / 无法监听 {host}:{port}（端口被占用或地址无效）")
    if workers <= 1:
        _Server(_config(app)).run(sockets=[probe])
        return
    probe.close()
    ctx = multiprocessing.get_context("spawn")
    procs: list[tuple[Any, float]] = []
    stopping = False

    def start() -> tuple[Any, float]:
        p = ctx.Process(target=_worker, args=(host, port, app), daemon=False)
        p.start()
        return p, time.monotonic()

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    procs = [start() for _ in range(workers)]
    code = 0
    while not stopping:
        time.sleep(0.5)
        for i, (p, started) in enumerate(procs):
            if p.is_alive():
                continue
            if time.monotonic() - started < EARLY_EXIT_S:
                print(f"worker {p.pid} exited at start (code {p.exitcode}); stopping", file=sys.stderr)
                stopping, code = True, 1
                break
            print(f"worker {p.pid} died (code {p.exitcode}); starting another", file=sys.stderr)
            procs[i] = start()
    for p, _ in procs:
        if p.is_alive():
            p.terminate()
    for p, _ in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    if code:
        sys.exit(code)
