"""HTTP for the remote backend: JSON calls, server-sent events, and the remote's errors as Jielong's typed errors.

Every message names the URL that failed; none ever includes the API key.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from backends.errors import (
    AppError,
    ContextLengthExceeded,
    InvalidRequest,
    ModelNotFound,
    RemoteAuthError,
    RemoteError,
    RemoteTimeout,
)
from backends.remote_config import API_KEY_ENV, RemoteConfig

#: Answers worth retrying: the server is starting, overloaded or behind a restarting proxy.
RETRY_STATUSES = frozenset({502, 503, 504})
#: Seconds before the first retry; doubled for each further one.
RETRY_DELAY = 0.25
#: How often (seconds) a streaming generation's watcher looks at its cancel event.
CANCEL_POLL = 0.05
#: The most characters of a remote error message quoted in ours.
MAX_QUOTED = 400


def error_message(body: bytes) -> str:
    """The human part of an error body: OpenAI's `error.message`, FastAPI's `detail`, or the text itself."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:MAX_QUOTED]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            for key in ("message", "detail", "msg"):
                if error.get(key):
                    return str(error[key])[:MAX_QUOTED]
        elif isinstance(error, str):
            return error[:MAX_QUOTED]
        if data.get("detail"):
            return str(data["detail"])[:MAX_QUOTED]
    return text[:MAX_QUOTED]


def _looks_like_context_error(status: int, message: str, body: bytes) -> bool:
    lowered = (message + body.decode("utf-8", errors="replace")).lower()
    return status in (400, 413) and ("context" in lowered or "too long" in lowered or "exceed" in lowered)


def map_status(status: int, body: bytes, url: str, model: str | None = None) -> AppError:
    """The typed error for an HTTP error answer of the remote server."""
    message = error_message(body)
    detail = f": {message}" if message else ""
    if status in (401, 403):
        return RemoteAuthError(f"{url} refused the API key ({status}{detail}); check --remote-api-key or {API_KEY_ENV}")
    if status == 404 and model is not None and "model" in message.lower():
        return ModelNotFound(f"{url}: the remote server has no model {model!r} ({status}{detail})")
    if _looks_like_context_error(status, message, body):
        return ContextLengthExceeded(f"{url}: the prompt does not fit the remote model's context ({status}{detail})")
    if status in (400, 422):
        return InvalidRequest(f"{url} rejected the request ({status}{detail})")
    if status == 404:
        return RemoteError(f"{url}: not found (404{detail}); is the base URL right (it usually ends in /v1)?")
    if status in (408, 504):
        return RemoteTimeout(f"{url} timed out ({status}{detail})")
    return RemoteError(f"{url} answered {status}{detail}")


def map_transport_error(exc: httpx.HTTPError, url: str, config: RemoteConfig) -> AppError:
    """The typed error for a failure below HTTP (refused, timed out, cut off, bad TLS)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return RemoteTimeout(f"{url}: no connection within {config.connect_timeout:g} s (connect timeout)")
    if isinstance(exc, httpx.TimeoutException):
        return RemoteTimeout(f"{url}: no answer within {config.read_timeout:g} s (read timeout)")
    if isinstance(exc, httpx.ConnectError):
        return RemoteError(f"{url}: cannot connect ({_reason(exc)}); is the server running?")
    if isinstance(exc, httpx.RemoteProtocolError):
        return RemoteError(f"{url}: the server broke off the answer ({_reason(exc)})")
    return RemoteError(f"{url}: {type(exc).__name__} ({_reason(exc)})")


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    for known in ("Connection refused", "Name or service not known", "No route to host", "certificate verify failed"):
        if known.lower() in text.lower():
            return known.lower()
    return text[:200]


def _abort_when_cancelled(response: httpx.Response, cancel: threading.Event, done: threading.Event) -> None:
    """Shut the response's socket down once `cancel` is set, so a blocked read returns at once."""
    while not done.is_set():
        if cancel.wait(CANCEL_POLL):
            if done.is_set():
                return
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            return


class RemoteClient:
    """A connection pool to one remote server, with its key, timeouts and retries."""

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        headers = {"Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
        self._http = httpx.Client(headers=headers, timeout=timeout, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        """Close every pooled connection."""
        self._http.close()

    def _send(self, method: str, url: str, body: Any = None, *, stream: bool = False) -> httpx.Response:
        """Send with retries of refused connections and 502/503/504; the caller checks the status."""
        attempt = 0
        while True:
            try:
                request = self._http.build_request(method, url, json=body)
                response = self._http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= self.config.max_retries:
                    raise map_transport_error(exc, url, self.config) from exc
            except httpx.HTTPError as exc:
                raise map_transport_error(exc, url, self.config) from exc
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.config.max_retries:
                    return response
                response.close()
            time.sleep(RETRY_DELAY * 2**attempt)
            attempt += 1

    def request_json(self, method: str, url: str, body: Any = None, *, model: str | None = None) -> Any:
        """Call `url` and return its JSON; HTTP errors become typed errors."""
        response = self._send(method, url, body)
        if response.status_code >= 400:
            raise map_status(response.status_code, response.content, url, model)
        try:
            return response.json()
        except ValueError as exc:
            raise RemoteError(f"{url}: the answer is not JSON") from exc

    def probe_json(self, method: str, url: str, body: Any = None) -> Any | None:
        """Like `request_json`, but None when the server lacks the endpoint or refuses the body (probing)."""
        try:
            response = self._send(method, url, body)
        except RemoteError:
            return None
        if response.status_code in (401, 403):
            raise map_status(response.status_code, response.content, url)
        if response.status_code >= 400:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    @contextmanager
    def stream_events(
        self, url: str, body: Any, cancel: threading.Event, *, model: str | None = None
    ) -> Iterator[Iterator[dict[str, Any]]]:
        """POST `body` and yield an iterator over its server-sent JSON events; leaving closes the stream.

        Setting `cancel` ends the iteration even while it waits for the server (e.g. during
        prompt processing): a watcher shuts the connection's socket down.
        """
        response = self._send("POST", url, body, stream=True)
        done = threading.Event()
        try:
            if response.status_code >= 400:
                raise map_status(response.status_code, response.read(), url, model)
            watcher = threading.Thread(target=_abort_when_cancelled, args=(response, cancel, done), daemon=True)
            watcher.start()
            yield self._events(response, url, model, cancel)
        finally:
            done.set()
            response.close()

    def _events(
        self, response: httpx.Response, url: str, model: str | None, cancel: threading.Event
    ) -> Iterator[dict[str, Any]]:
        finished = False  # a choice said why it ended: a missing [DONE] is then forgivable
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, `: ping` comments, `event:` and `id:` lines
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    event = json.loads(data)
                except ValueError:
                    raise RemoteError(f"{url}: the server sent a malformed stream event: {data[:80]!r}") from None
                if not isinstance(event, dict):
                    raise RemoteError(f"{url}: the server sent a stream event that is not an object")
                if "error" in event:
                    status = event["error"].get("code") if isinstance(event["error"], dict) else None
                    raw = json.dumps(event).encode()
                    raise map_status(status if isinstance(status, int) else 500, raw, url, model)
                choices = event.get("choices")
                if isinstance(choices, list) and any(isinstance(c, dict) and c.get("finish_reason") for c in choices):
                    finished = True
                yield event
        except (httpx.HTTPError, OSError) as exc:
            if cancel.is_set():
                return  # the watcher cut the connection
            if isinstance(exc, httpx.HTTPError):
                raise map_transport_error(exc, url, self.config) from exc
            raise RemoteError(f"{url}: the connection failed ({_reason(exc)})") from exc
        if cancel.is_set():
            return
        if not finished:
            raise RemoteError(
                f"{url}: the server ended the stream without finishing it (no [DONE]); its log says why"
                " (often a prompt longer than its context window)"
            )
