"""uvicorn's HTTP protocol with a deadline on request headers.

uvicorn bounds idle keep-alive connections but not a request whose headers arrive slowly (or never):
400 half-sent requests stay open for ever. This protocol gives each request
``server.request_timeout`` seconds from its first byte (or from the connection's opening) to
complete its headers, then answers 408 and closes. The body's deadline is the app's
(:func:`routellm.server.app.create_app`), so the answer there is OpenAI-shaped.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: What ``uvicorn.run(http=...)`` takes, also in worker processes (an import string).
PROTOCOL = "routellm.server.protocol:TimedHttpToolsProtocol"

_HEAD = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n"


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """:class:`HttpToolsProtocol` that closes a connection whose request headers take too long."""

    #: Seconds allowed for a request's headers; ``load_app`` sets it from ``server.request_timeout``
    #: (one server per process: uvicorn builds a protocol per connection from this class).
    request_timeout: float = 30.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self._close_with(408, f"request headers not received within {self.request_timeout:g} s")

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, OpenAI-shaped instead of plain text."""
        self._close_with(400, f"invalid HTTP request: {msg}")

    def _close_with(self, status: int, message: str) -> None:
        from routellm.server.schemas import error_json

        body = error_json(status, message)
        reason = b"Request Timeout" if status == 408 else b"Bad Request"
        self.transport.write(_HEAD % (status, reason, len(body)) + body)
        self.transport.close()
