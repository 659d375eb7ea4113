"""A TCP proxy in front of the emulator that can withhold a response.

The emulator's latency knob delays a request before its handler reads the body, so a client
that gives up first leaves nothing applied. The hardest case for a client is the other
one: the service applied the request and the answer never arrived in time. This proxy
produces it over real sockets: the request is forwarded at once (the emulator applies it),
and the response to a matching request is held back longer than the client waits.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType


class HoldingProxy:
    """``with HoldingProxy(host, port) as proxy: proxy.hold("POST /api/jobs ", 0.5)``."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        self._holds: list[tuple[bytes, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def hold(self, request_line_prefix: str, seconds: float, times: int = 1) -> None:
        """Delay the responses to the next ``times`` requests whose request line starts
        with ``request_line_prefix`` (e.g. ``"POST /api/jobs/complete "``)."""
        with self._lock:
            self._holds.extend([(request_line_prefix.encode(), seconds)] * times)

    def _take_hold(self, chunk: bytes) -> float:
        with self._lock:
            for i, (prefix, seconds) in enumerate(self._holds):
                if chunk.startswith(prefix):
                    del self._holds[i]
                    return seconds
        return 0.0

    def __enter__(self) -> HoldingProxy:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(2)
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            pending: list[float] = []
            threading.Thread(target=self._requests, args=(client, upstream, pending), daemon=True).start()
            threading.Thread(target=self._responses, args=(upstream, client, pending), daemon=True).start()

    def _requests(self, src: socket.socket, dst: socket.socket, pending: list[float]) -> None:
        try:
            while chunk := src.recv(65536):
                delay = self._take_hold(chunk)
                if delay:
                    pending.append(delay)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            _shutdown(dst)

    def _responses(self, src: socket.socket, dst: socket.socket, pending: list[float]) -> None:
        try:
            while chunk := src.recv(65536):
                if pending:
                    time.sleep(pending.pop(0))
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            _shutdown(dst)
            src.close()
            dst.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
