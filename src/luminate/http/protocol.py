"""uvicorn's HTTP/1.1 protocol (h11) with what a production server adds in front of the app:

- a deadline for every request head: a connection that sends nothing, or only part of a head
  (slowloris), is answered 408 and closed after LUMINATE_HTTP_HEAD_TIMEOUT_SECONDS;
- a cap on open connections (LUMINATE_HTTP_MAX_CONNECTIONS): one over it is answered 503 and
  closed at once;
- JSON errors in the API's one shape for heads the parser refuses: 431 `headers_too_large` past
  the parser's buffer, 400 `malformed_request` for anything else, instead of uvicorn's bare
  text/plain 400.

Stalled bodies are the app's concern (`http.body.read_body` times each chunk out)."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import msgspec
from uvicorn.protocols.http.h11_impl import H11Protocol

from luminate.http.security import server_head_limit
from luminate.model.errors import STATUS, ErrorCode

_encoder = msgspec.json.Encoder()
# After an error answer the connection lingers, reading and dropping what the client still
# sends, so that closing does not reset the connection before the client has read the answer.
_LINGER_S = 2.0
_LINGER_BYTES = 8 * 1024 * 1024
_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _Connection(h11.Connection):
    """h11's connection, remembering why it refused the peer's bytes."""

    refused: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:  # h11's own signature (an event, NEED_DATA or PAUSED)
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused = exc
            raise


def _raw_answer(status: int, code: ErrorCode, message: str, extra: bytes = b"") -> bytes:
    """A complete HTTP/1.1 error answer, written straight to the socket: for moments when no
    request (or no complete one) exists for h11 to answer."""
    body = _encoder.encode({"error": {"code": code.value, "message": message, "details": {}}})
    reason = _REASONS.get(status, b"Service Unavailable")
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n%s\r\n" % (status, reason, len(body), extra)
    ) + body


def protocol_class(
    *, head_timeout_s: float, max_connections: int, max_head_bytes: int
) -> type[H11Protocol]:
    """The protocol class for uvicorn's `http=` option, bound to these limits."""

    class LuminateH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.conn = _Connection(h11.SERVER, server_head_limit(max_head_bytes))
            self._head_timer: asyncio.TimerHandle | None = None
            self._dropped: int | None = None  # bytes dropped while lingering; None: not

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                self._answer_and_close(
                    _raw_answer(
                        STATUS[ErrorCode.TOO_MANY_CONNECTIONS],
                        ErrorCode.TOO_MANY_CONNECTIONS,
                        f"too many open connections (LUMINATE_HTTP_MAX_CONNECTIONS="
                        f"{max_connections}); retry",
                        b"retry-after: 1\r\n",
                    )
                )
                return
            self._arm_head_timer()

        def data_received(self, data: bytes) -> None:
            if self._dropped is not None:
                self._dropped += len(data)
                if self._dropped > _LINGER_BYTES:
                    self.transport.close()
                return
            waiting_for_head = self.cycle is None or self.cycle.response_complete
            if waiting_for_head and self._head_timer is None:
                self._arm_head_timer()
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._cancel_head_timer()  # a whole head arrived: the app has the request

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            self._head_timer = self.loop.call_later(head_timeout_s, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is being served; its body has its own deadline
            self._answer_and_close(
                _raw_answer(
                    408,
                    ErrorCode.REQUEST_TIMEOUT,
                    f"no complete request head within {head_timeout_s:g} s "
                    "(LUMINATE_HTTP_HEAD_TIMEOUT_SECONDS)",
                )
            )

        def _answer_and_close(self, answer: bytes) -> None:
            """Write `answer`, end our side, then linger (dropping input) before closing."""
            self._cancel_head_timer()
            self._dropped = 0
            self.transport.write(answer)
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(_LINGER_S, self.transport.close)

        def send_400_response(self, msg: str) -> None:
            refused = getattr(self.conn, "refused", None)
            if refused is not None and refused.error_status_hint == 431:
                status, code = 431, ErrorCode.HEADERS_TOO_LARGE
                message = (
                    f"request head exceeds {max_head_bytes} bytes (LUMINATE_HTTP_MAX_HEADER_BYTES)"
                )
            else:
                status, code = 400, ErrorCode.MALFORMED_REQUEST
                message = f"not a valid HTTP/1.1 request: {refused or msg}"
            self._answer_and_close(_raw_answer(status, code, message))

    return LuminateH11Protocol
