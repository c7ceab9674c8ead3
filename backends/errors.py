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


class ContextLengthExceeded(InvalidRequest):
    """The input cannot fit in the model's context window even after truncation."""


class TemplateError(InvalidRequest):
    """A chat template failed to render or tried something the sandbox forbids."""


class SettingsError(InvalidRequest):
    """A settings file or command-line combination is invalid."""


class ExtensionError(InvalidRequest):
    """An extension name is invalid, or the extension cannot be loaded (missing requirement, import error)."""


class DocumentError(InvalidRequest):
    """An uploaded document cannot be indexed (too large, unsupported, empty, encrypted, corrupt)."""


class StoreCorrupt(AppError):
    """A persistent store (e.g. the RAG vector store) is damaged; it can be rebuilt."""
