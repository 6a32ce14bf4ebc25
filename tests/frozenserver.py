"""TCP servers on 127.0.0.1 that stop answering, for the S3 timeout tests.

- :class:`SilentServer` accepts every connection and then neither reads nor answers:
  a server process that froze (its kernel still completes the handshakes).
- :class:`FullServer` never accepts, and its one-slot accept queue is kept full, so
  that the kernel drops further connection attempts: a host that does not answer.
- :class:`HangingUpServer` reads each request and closes the connection without an
  answer: a server that crashes on every request.
- :class:`FreezingProxy` forwards connections to a real server until a request
  contains a given byte string, then goes silent on every connection, old and new: a
  server that froze in the middle of an operation.

Each is started by its constructor and stopped with :meth:`stop` (or ``with``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv or accept
    sock.close()


class _Server:
    """A listening socket on a free port of 127.0.0.1 and the sockets to close."""

    def __init__(self, backlog: int) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        port = self._listener.getsockname()[1]
        #: ``http://127.0.0.1:PORT``
        self.endpoint = f"http://127.0.0.1:{port}"
        self._mutex = threading.Lock()
        self._sockets: list[socket.socket] = [self._listener]
        self._threads: list[threading.Thread] = []
        #: connections accepted so far
        self.connections = 0

    def _keep(self, sock: socket.socket) -> None:
        with self._mutex:
            self._sockets.append(sock)

    def _start(self, target: Callable[..., object], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._mutex:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> socket.socket | None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return None
        self._keep(client)
        with self._mutex:
            self.connections += 1
        return client

    def stop(self) -> None:
        """Close every socket and wait for the threads."""
        with self._mutex:
            sockets, self._sockets = self._sockets, []
            threads = list(self._threads)
        for sock in sockets:
            _close(sock)
        for thread in threads:
            thread.join(timeout=10)

    def __enter__(self) -> _Server:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class SilentServer(_Server):
    """Accepts connections, then never reads a byte and never answers."""

    def __init__(self) -> None:
        super().__init__(backlog=128)
        self._start(self._serve)

    def _serve(self) -> None:
        while self._accept() is not None:
            pass


class HangingUpServer(_Server):
    """Reads the start of each request, then closes the connection without answering."""

    def __init__(self) -> None:
        super().__init__(backlog=128)
        self._start(self._serve)

    def _serve(self) -> None:
        while (client := self._accept()) is not None:
            with contextlib.suppress(OSError):
                client.recv(1 << 16)
            _close(client)


class FullServer(_Server):
    """Never accepts; one connection made here fills the accept queue, so that the
    kernel drops the handshakes of all others (a connect timeout on the client)."""

    def __init__(self) -> None:
        super().__init__(backlog=0)
        filler = socket.create_connection(self._listener.getsockname(), timeout=5)
        self._keep(filler)


class FreezingProxy(_Server):
    """Forwards each connection to ``upstream`` (``host, port``) until a request
    from a client contains ``trigger``; from then on it forwards nothing, in either
    direction, and reads nothing more (also on connections made later).

    :ivar frozen: set once the trigger went by.
    """

    def __init__(self, upstream: tuple[str, int], trigger: bytes) -> None:
        super().__init__(backlog=128)
        self._upstream = upstream
        self._trigger = trigger
        self.frozen = threading.Event()
        #: request bytes forwarded to the server before the freeze
        self.forwarded = 0
        self._start(self._serve)

    def _serve(self) -> None:
        while (client := self._accept()) is not None:
            if self.frozen.is_set():
                continue
            try:
                server = socket.create_connection(self._upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            self._keep(server)
            self._start(self._pipe, client, server, True)
            self._start(self._pipe, server, client, False)

    def _pipe(self, source: socket.socket, sink: socket.socket, request: bool) -> None:
        while not self.frozen.is_set():
            try:
                data = source.recv(1 << 16)
            except OSError:
                return
            if request and self._trigger in data:
                self.frozen.set()
            if not data or self.frozen.is_set():
                return  # the sockets stay open: silence, not a closed connection
            if request:
                with self._mutex:
                    self.forwarded += len(data)
            try:
                sink.sendall(data)
            except OSError:
                return
