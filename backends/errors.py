"""Typed errors raised by library code.

They are translated into user-facing messages in exactly two places: the UI
(`gr.Error`) and the API (OpenAI's error shape). Choose behaviour by type,
never by matching message text.
"""

from __future__ import annotations


class AppError(Exception):
    """Base class of every error Jielong reports to a user."""

    #: HTTP status the API uses for this error.
    status_code: int = 500
    #: OpenAI error `type` the API uses for this error.
    error_type: str = "server_error"


class InvalidRequest(AppError):
    """The request (a parameter, a name, an upload) is not acceptable."""

    status_code = 400
    error_type = "invalid_request_error"


class ModelNotFound(AppError):
    """The named model file or folder does not exist."""

    status_code = 404
    error_type = "invalid_request_error"


class ModelLoadError(AppError):
    """The model exists but could not be loaded (corrupt, truncated, unsupported)."""

    status_code = 500
    error_type = "server_error"


class NoModelLoaded(AppError):
    """A generation was asked for while no model is loaded."""

    status_code = 503
    error_type = "server_error"


class NotSupported(InvalidRequest):
    """The loaded backend cannot do this (e.g. show attention weights); the message says what it lacks."""


class ContextLengthExceeded(InvalidRequest):
    """The input cannot fit in the model's context window even after truncation."""


class TemplateError(InvalidRequest):
    """A chat template failed to render or tried something the sandbox forbids."""


class SettingsError(InvalidRequest):
    """A settings file or command-line combination is invalid."""


class AuthRequired(AppError):
    """The resource is gated or private: a (valid) access token is needed."""

    status_code = 401
    error_type = "authentication_error"


class HubUnreachable(AppError):
    """The model hub could not be reached (offline, DNS, timeout) or answered with a server error."""

    status_code = 503
    error_type = "server_error"


class AlreadyExists(InvalidRequest):
    """The thing to create (a downloaded model, a file) is already there."""

    status_code = 409


class DownloadError(AppError):
    """A download failed after it started (bad bytes, a broken transfer)."""

    status_code = 502
    error_type = "server_error"


class ChecksumMismatch(DownloadError):
    """A downloaded file's size or sha256 does not match what the hub announced; the file was removed."""


class DiskFull(DownloadError):
    """Not enough free space for the download."""

    status_code = 507


class RemoteError(AppError):
    """A remote inference server (the remote backend) could not be reached or answered with an error."""

    status_code = 502
    error_type = "server_error"


class RemoteTimeout(RemoteError):
    """A remote inference server did not answer within the configured timeout."""

    status_code = 504


class RemoteAuthError(RemoteError):
    """A remote inference server refused Jielong's API key (its 401/403, not the client's)."""


class ExtensionError(InvalidRequest):
    """An extension name is invalid, or the extension cannot be loaded (missing requirement, import error)."""


class DocumentError(InvalidRequest):
    """An uploaded document cannot be indexed (too large, unsupported, empty, encrypted, corrupt)."""


class StoreCorrupt(AppError):
    """A persistent store (e.g. the RAG vector store) is damaged; it can be rebuilt."""
