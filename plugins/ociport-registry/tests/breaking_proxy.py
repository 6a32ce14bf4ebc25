"""A TCP proxy to a registry on 127.0.0.1 that breaks the connection of a chunk upload
(``PATCH``) in its middle, a given number of times: connections lost mid-request, for
real."""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class BreakingProxy:
    """Forwards ``127.0.0.1:PORT`` to ``upstream``; once ``after`` bytes of a PATCH
    have gone through, closes that connection (both ways), ``times`` times.

    :ivar host: ``127.0.0.1:PORT``, to use instead of the registry's.
    :ivar broken: how many connections were broken (at most ``times``).
    """

    upstream: tuple[str, int]
    after: int
    times: int = 1
    host: str = ""
    broken: int = 0
    _server: socket.socket = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(
                target=self._pump, args=(client, upstream, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, False), daemon=True
            ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, up: bool) -> None:
        counting = -1  # bytes of a PATCH forwarded, -1 outside one
        try:
            while data := source.recv(65536):
                if up and self.broken < self.times and b"PATCH /v2/" in data:
                    counting = 0
                if counting >= 0:
                    counting += len(data)
                    if counting >= self.after and self.broken < self.times:
                        self.broken += 1
                        break
                sink.sendall(data)
        except OSError:
            pass
        for side in (source, sink):
            with contextlib.suppress(OSError):
                side.shutdown(socket.SHUT_RDWR)
            side.close()
