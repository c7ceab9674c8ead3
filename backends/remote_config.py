"""How to reach a remote OpenAI-compatible server (kept free of HTTP imports, so settings can use it)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from backends.errors import SettingsError

#: The environment variable read for the remote server's API key when no flag or setting gives one.
API_KEY_ENV = "JIELONG_REMOTE_API_KEY"
#: The most times a failed connection or a 502/503/504 answer is retried.
MAX_RETRIES = 10


def validate_remote_url(url: str) -> str:
    """Check `url` is a plain http(s) base URL like `http://host:8080/v1`; return it without a trailing slash."""
    text = url.strip()
    if not text:
        raise SettingsError("remote_url: must not be empty (e.g. http://127.0.0.1:8080/v1)")
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise SettingsError("remote_url: must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port that is not a number in 0..65535
    except ValueError as exc:
        raise SettingsError(f"remote_url: not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise SettingsError(f"remote_url: must start with http:// or https:// (got {parts.scheme or 'no'} scheme)")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise SettingsError("remote_url: must not contain credentials; pass the key with --remote-api-key")
    if not parts.hostname:
        raise SettingsError("remote_url: has no host name")
    if parts.query or parts.fragment:
        raise SettingsError("remote_url: must not have a query (?...) or fragment (#...)")
    if port == 0:
        raise SettingsError("remote_url: port 0 is not a port a server listens on")
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not all(label and (label.replace("-", "").replace("_", "").isalnum()) for label in host.split(".")):
            raise SettingsError(f"remote_url: {host!r} is not a valid host name") from None
    return text.rstrip("/")


@dataclass(frozen=True)
class RemoteConfig:
    """Where the remote server is and how patiently to talk to it."""

    base_url: str  # e.g. http://127.0.0.1:8080/v1 (validated by `validate_remote_url`)
    api_key: str | None = field(default=None, repr=False)  # sent as `Authorization: Bearer`; never logged
    model: str | None = None  # None: the first model the server lists
    connect_timeout: float = 10.0  # seconds to open a connection
    read_timeout: float = 300.0  # seconds to wait for the next bytes (prompt processing can be slow)
    max_retries: int = 0  # retries of a refused connection or a 502/503/504 before anything streamed
    context_length: int = 4096  # used when the server does not say how long its context is

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", validate_remote_url(self.base_url))
        if not 0 <= self.max_retries <= MAX_RETRIES:
            raise SettingsError(f"remote_max_retries: must lie in 0..{MAX_RETRIES} (got {self.max_retries})")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise SettingsError("remote timeouts must be positive numbers of seconds")
        if self.api_key is not None and (not self.api_key or any(ch.isspace() for ch in self.api_key)):
            raise SettingsError("remote_api_key: must be non-empty and contain no spaces")

    @property
    def root_url(self) -> str:
        """The server's root (the base URL without a trailing `/v1`), where non-OpenAI extras live."""
        return self.base_url.removesuffix("/v1")
