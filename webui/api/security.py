"""Who may call the API: the Host header (DNS rebinding), the API key, and how big and what a body may be."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backends.errors import AppError
from webui.api.errors import Forbidden, PayloadTooLarge, Unauthorized, UnsupportedMediaType, error_response
from webui.settings import is_loopback

#: The largest request body accepted (bytes); checked before the body is parsed.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Paths anyone who may reach the server can read (no key needed).
PUBLIC_PATHS = frozenset({"/health"})
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host header values a server bound to `host` accepts; None (any) unless it is a loopback bind."""
    if not is_loopback(host):
        return None
    names = {host.strip("[]"), *_LOOPBACK_NAMES}
    values = set()
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        values.update({shown, f"{shown}:{port}"})
    return frozenset(values)


def key_matches(expected: str, headers: dict[bytes, bytes]) -> bool:
    """Whether `Authorization: Bearer <key>` or `x-api-key: <key>` carries the key (constant-time compare)."""
    want = expected.encode()
    given = headers.get(b"x-api-key", b"")
    bearer = headers.get(b"authorization", b"")
    scheme, _, token = bearer.partition(b" ")
    ok_bearer = hmac.compare_digest(token.strip() if scheme.lower() == b"bearer" else b"", want)
    ok_header = hmac.compare_digest(given.strip(), want)
    return ok_bearer or ok_header


class GuardMiddleware:
    """Refuses foreign Host headers, missing or wrong keys, non-JSON and oversized bodies, before any route runs."""

    def __init__(
        self, app: ASGIApp, *, api_key: str | None, hosts: Iterable[str] | None, max_body: int = MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.hosts = frozenset(host.lower() for host in hosts) if hosts is not None else None
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope["headers"]}
        try:
            self._check(scope, headers)
        except AppError as exc:
            await error_response(exc)(scope, receive, send)
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self._read_body(receive)
            if body is None:
                too_large = PayloadTooLarge(f"the request body is larger than {self.max_body // (1024 * 1024)} MB")
                await error_response(too_large)(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, headers: dict[bytes, bytes]) -> None:
        if self.hosts is not None:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            if host not in self.hosts:
                raise Forbidden(f"the Host header {host!r} is not this server's; use http://127.0.0.1 or localhost")
        if scope["method"] == "OPTIONS":
            return  # CORS preflights carry no credentials
        if self.api_key is not None and scope["path"] not in PUBLIC_PATHS and not key_matches(self.api_key, headers):
            raise Unauthorized("a valid API key is required (Authorization: Bearer <key> or x-api-key: <key>)")
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            raise PayloadTooLarge(f"the request body is larger than {self.max_body // (1024 * 1024)} MB")
        if scope["method"] in ("POST", "PUT", "PATCH"):
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json":
                raise UnsupportedMediaType("send the request body as JSON (Content-Type: application/json)")

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it grows past the limit (a chunked body has no length)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that delivers `body` once, then waits on the real one (for the disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
