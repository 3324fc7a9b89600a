"""Several uvicorn worker processes behind one listening socket: the supervisor accepts each
connection and hands it to the workers in turn.

uvicorn's own workers share one socket, and a worker that wakes for a new connection accepts
every connection then waiting: a client opening a few keep-alive connections at once (a CRM's
sync, a load test) often lands all of them on one worker while the others idle. A socket per
worker with ``SO_REUSEPORT`` (the kernel hashes each connection to one) spread them at random
instead: measured with 2 workers and wrk's 8 single-lead connections, a 4/4 split gave p99
15.1 ms and the 5/3 splits 18.2-37.5 ms, since the worker holding 5 connections queues 5
requests. Here the supervisor alone listens, accepts, and passes each connection's file
descriptor (``SCM_RIGHTS`` over a Unix socket pair) to the next worker round the ring, which
serves it as if it had accepted it: 8 connections are 4 and 4, 2 are 1 and 1. A connection
belongs to its worker for its whole life, as before.

The supervisor starts the workers (spawned, so each builds its app from the environment as
uvicorn's workers do), starts a new one when one dies (connections meanwhile go to the others),
and on SIGINT or SIGTERM stops accepting and passes the signal on, so each worker finishes its
requests in flight before it exits. Workers that exit as soon as they start, three in a row,
stop the server (``WorkersFailingError``) rather than being restarted for ever. Connections
handed to a worker still loading its models wait in its queue (seconds) rather than being
refused. Workers whose supervisor is gone stop too: no one would hand them connections.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import socket
import threading
import time
from typing import Any

import uvicorn

from core.errors import WorkersFailingError

log = logging.getLogger(__name__)
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_QUICK_EXIT_S, _QUICK_EXITS = 10.0, 3  # exits within 10 s of starting, 3 in a row: give up


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A socket listening on ``host:port`` (OSError "Address already in use" if it is taken)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(backlog)
    return sock


class _HandedConnections(uvicorn.Server):
    """A uvicorn server that listens on nothing: it serves the connections whose file
    descriptors arrive on ``channel``."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel
        self._opening: set[asyncio.Task] = set()  # held until done (the loop keeps weak refs)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the app and its lifespan, no listening socket
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            # what uvicorn builds for a connection its own listening socket accepts
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=_loop,
            )

        loop = asyncio.get_running_loop()
        self.channel.setblocking(False)
        loop.add_reader(self.channel, self._take, loop, create_protocol)

    def _take(self, loop: asyncio.AbstractEventLoop, create_protocol: Any) -> None:
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.channel, 1, 1)
            except BlockingIOError:
                return
            if not message:  # the supervisor is gone: no more connections, so stop
                loop.remove_reader(self.channel)
                self.should_exit = True
                return
            for fd in fds:
                connection = socket.socket(fileno=fd)
                task = loop.create_task(loop.connect_accepted_socket(create_protocol, connection))
                self._opening.add(task)
                task.add_done_callback(self._opened)

    def _opened(self, task: asyncio.Task) -> None:
        self._opening.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the client left already
            log.debug("a handed connection did not open: %s", task.exception())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().remove_reader(self.channel)
        self.channel.close()
        await super().shutdown(sockets=sockets)


def _worker(options: dict[str, Any], channel: socket.socket) -> None:
    _HandedConnections(uvicorn.Config(**options), channel).run()


def _hand_out(
    listener: socket.socket, channels: list[socket.socket | None], stopping: threading.Event
) -> None:
    """Accept connections until ``stopping``, each handed to the next worker that takes it (a
    worker that died, or whose queue is full, is passed over)."""
    turn = 0
    while True:
        try:
            connection, _ = listener.accept()
        except OSError as error:
            if stopping.is_set():  # the listener was shut down: the server stops
                return
            log.warning("accepting a connection failed: %s", error)  # out of files, say
            time.sleep(0.01)
            continue
        with connection:
            for _ in range(len(channels)):
                channel = channels[turn % len(channels)]
                turn += 1
                try:
                    if channel is not None:
                        socket.send_fds(channel, [b"c"], [connection.fileno()])
                        break
                except OSError:  # that worker died (a new one is on its way), or is full
                    continue
            else:
                log.warning("no worker took a connection: it is closed")


def serve_workers(*, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run ``workers`` uvicorn servers (``uvicorn.Config(**options)``) on ``host:port`` until
    SIGINT or SIGTERM."""
    # bound here first, so a port in use fails at once, in this process
    listener = listening_socket(host, port, 2048)  # uvicorn's default backlog
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    channels: list[socket.socket | None] = [None] * workers

    def start(i: int) -> multiprocessing.process.BaseProcess:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)  # a full queue passes the connection on instead of waiting
        process = context.Process(target=_worker, args=(options, theirs), daemon=False)
        process.start()
        theirs.close()
        previous, channels[i] = channels[i], ours
        if previous is not None:
            previous.close()
        return process

    def stop(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in _STOP_SIGNALS}
    processes = [start(i) for i in range(workers)]
    started = [time.monotonic()] * workers
    quick_exits = 0  # in a row: a worker that cannot start would only die again
    handing = threading.Thread(target=_hand_out, args=(listener, channels, stopping), daemon=True)
    handing.start()
    log.info("%d workers on %s:%d, connections handed out in turn", workers, host, port)
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
                processes[i], started[i] = start(i), time.monotonic()
    finally:
        stopping.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        listener.close()
        handing.join(timeout=5)
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        for channel in channels:
            if channel is not None:
                channel.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
