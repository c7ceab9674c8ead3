"""Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, chosen by exception type."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backends.errors import AppError, ContextLengthExceeded, InvalidRequest, ModelNotFound, NoModelLoaded
from webui.queue import QueueFull

log = logging.getLogger(__name__)

#: Seconds a client is told to wait when the queue is full.
RETRY_AFTER_SECONDS = 2


class ParamError(InvalidRequest):
    """A request field is not acceptable; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


class UnknownModel(ModelNotFound):
    """The request names a model this server does not serve."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"the model {name!r} does not exist here; available: {', '.join(known) or 'none'}")
        self.param = "model"


class Unauthorized(AppError):
    """No API key, or a wrong one."""

    status_code = 401
    error_type = "invalid_request_error"


class Forbidden(AppError):
    """The request's Host header is not this server's (DNS rebinding protection)."""

    status_code = 403
    error_type = "invalid_request_error"


class PayloadTooLarge(AppError):
    """The request body is larger than the API accepts."""

    status_code = 413
    error_type = "invalid_request_error"


class UnsupportedMediaType(AppError):
    """A request body that is not JSON."""

    status_code = 415
    error_type = "invalid_request_error"


#: OpenAI's `code` for each error type (the most specific class wins).
_CODES: tuple[tuple[type[AppError], str], ...] = (
    (ContextLengthExceeded, "context_length_exceeded"),
    (UnknownModel, "model_not_found"),
    (ModelNotFound, "model_not_found"),
    (QueueFull, "rate_limit_exceeded"),
    (NoModelLoaded, "model_not_loaded"),
    (Unauthorized, "invalid_api_key"),
    (Forbidden, "host_not_allowed"),
    (PayloadTooLarge, "request_too_large"),
    (UnsupportedMediaType, "unsupported_media_type"),
    (InvalidRequest, "invalid_request"),
)


def error_body(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict:
    """The JSON body of an error response."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_response(exc: AppError) -> JSONResponse:
    """The response for a Jielong error: status, type and code from its class."""
    code = next((name for cls, name in _CODES if isinstance(exc, cls)), "server_error")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if isinstance(exc, QueueFull | NoModelLoaded) else None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": "Bearer"}
    body = error_body(str(exc), exc.error_type, getattr(exc, "param", None), code)
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    """One message naming every bad field, and the first field's name."""
    problems, first = [], None
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        # drop pydantic's union-branch names ("str", "list[...]") so the path stays readable
        loc = [part for part in loc if not part.startswith(("list[", "str", "int", "function-"))]
        name = ".".join(loc) or "body"
        first = first or name
        problems.append(f"{name}: {error.get('msg', 'invalid')}")
    unique = list(dict.fromkeys(problems))
    return "; ".join(unique[:10]) + ("; ..." if len(unique) > 10 else ""), first


def install_error_handlers(api: FastAPI) -> None:
    """Translate every error the API can meet into OpenAI's shape."""

    @api.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return error_response(exc)

    @api.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = describe_validation(exc)
        return JSONResponse(error_body(message, "invalid_request_error", param, "invalid_request"), status_code=400)

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = "not_found" if exc.status_code == 404 else None
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return JSONResponse(error_body(message, error_type, None, code), status_code=exc.status_code)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("API request %s %s failed", request.method, request.url.path)
        body = error_body(f"internal error ({type(exc).__name__})", "server_error", None, "server_error")
        return JSONResponse(body, status_code=500)
