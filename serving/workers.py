"""Several uvicorn worker processes, each with its own listening socket on the same port.

uvicorn's own workers share one socket, and a worker that wakes for a new connection accepts
every connection then waiting. A client opening a few keep-alive connections at once (a CRM's
sync, a load test) so often lands all of them on one worker while the others idle: measured
with two workers and batches of 1,000 leads, one run put 8 of 8 connections on one worker
(14.5 batches/s), the next spread 2 connections over both (22 batches/s). With ``SO_REUSEPORT``
each worker listens on a socket of its own and the kernel hashes each new connection to one of
them, so every worker gets a share of a client's connections (one connection still goes to one
worker).

The supervisor starts the workers (spawned, so each builds its app from the environment as
uvicorn's workers do), starts a new one when one dies, and on SIGINT or SIGTERM passes the
signal on, so each worker finishes its requests in flight before it exits. Workers that exit
as soon as they start, three in a row, stop the server (``WorkersFailingError``) rather than
being restarted for ever. A worker's socket listens from the moment it starts: a connection
that reaches a worker still loading its models waits (seconds) rather than being refused.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from typing import Any

import uvicorn

from leadscore.errors import WorkersFailingError

log = logging.getLogger(__name__)
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_QUICK_EXIT_S, _QUICK_EXITS = 10.0, 3  # exits within 10 s of starting, 3 in a row: give up


def listening_socket(host: str, port: int, backlog: int, *, shared: bool = True) -> socket.socket:
    """A socket listening on ``host:port``; ``shared``: one that the other workers (processes of
    this user) bind as well."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(backlog)
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    config = uvicorn.Config(**options)
    uvicorn.Server(config).run(sockets=[listening_socket(host, port, config.backlog)])


def serve_workers(*, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run ``workers`` uvicorn servers (``uvicorn.Config(**options)``) on ``host:port`` until
    SIGINT or SIGTERM."""
    # bound here first without sharing, so a port in use (by anyone, another leadscore too)
    # fails at once, in this process, instead of the workers joining someone else's group
    listening_socket(host, port, 1, shared=False).close()
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_worker, args=(host, port, options), daemon=False)
        process.start()
        return process

    def stop(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in _STOP_SIGNALS}
    processes = [start() for _ in range(workers)]
    started = [time.monotonic()] * workers
    quick_exits = 0  # in a row: a worker that cannot start would only die again
    log.info("%d workers on %s:%d, one listening socket each", workers, host, port)
    try:
        while not stopping.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive() or stopping.is_set():
                    continue
                quick = time.monotonic() - started[i] < _QUICK_EXIT_S
                quick_exits = quick_exits + 1 if quick else 0
                if quick_exits >= _QUICK_EXITS:
                    raise WorkersFailingError(
                        f"workers exit as soon as they start ({quick_exits} in a row, last exit "
                        f"code {process.exitcode}); the log above says why"
                    )
                log.warning(
                    "worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                processes[i], started[i] = start(), time.monotonic()
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
