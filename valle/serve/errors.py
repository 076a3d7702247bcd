"""Every failure becomes a JSON body in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

Why one module: the server must answer any bad request with a 4xx that names the problem and keep running,
whatever layer notices it (the JSON parser, pydantic, a route, the Synthesizer's `ValleError`s, the queue,
or a bug).  Routes raise `ApiError` or let a `ValleError` through; the handlers here pick the status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from valle.errors import MissingDependencyError, MissingFileError, ValleError
from valle.serve.batcher import BatcherStoppedError, QueueFullError
from valle.serve.engine import RequestTimeoutError, SynthesisFailedError
from valle.serve.voices import VoiceExistsError

logger = logging.getLogger(__name__)

# First match wins: subclasses before their bases.
STATUS_OF_ERROR: list[tuple[type[BaseException], int, str]] = [
    (VoiceExistsError, 409, "conflict_error"),
    (MissingFileError, 404, "not_found_error"),
    (MissingDependencyError, 500, "server_error"),
    (ValleError, 400, "invalid_request_error"),
]
TYPE_OF_STATUS = {401: "authentication_error", 404: "not_found_error", 405: "invalid_request_error",
                  413: "request_too_large", 503: "server_busy", 504: "timeout_error"}  # fmt: skip


class ApiError(Exception):
    """An HTTP error with a one-sentence message (raised by routes and dependencies).

    Args:
        status: the HTTP status (4xx for the client's mistakes).
        message: what is wrong and what to do.
        param: the request field at fault, if one is.
        headers: extra response headers (`Retry-After`, `WWW-Authenticate`).
    """

    def __init__(self, status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.headers = headers or {}


def error_response(status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None,
                   kind: str | None = None) -> JSONResponse:  # fmt: skip
    """The JSON error body every failure gets."""
    kind = kind or TYPE_OF_STATUS.get(status, "invalid_request_error" if status < 500 else "server_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation_error(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """One sentence (and the field) for pydantic's list of request validation errors; the first one counts."""
    if not errors:
        return "the request is not valid", None
    e = errors[0]
    loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    kind = e.get("type", "")
    if kind == "json_invalid":
        detail = (e.get("ctx") or {}).get("error", "not JSON")
        return f"the request body is not valid JSON ({detail}); send a JSON object", None
    if kind == "missing":
        return f"field {field!r} is required", field
    if kind == "extra_forbidden":
        return f"unknown field {field!r}; see /docs for the fields this endpoint takes", field
    if field is None:
        return f"the request body is not valid: {e.get('msg', 'invalid')}; send a JSON object", None
    return f"field {field!r}: {e.get('msg', 'invalid value')}", field


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into `error_response`."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.message, e.param, e.headers)

    @app.exception_handler(ValleError)
    async def _valle(_: Request, e: ValleError) -> JSONResponse:
        for cls, status, kind in STATUS_OF_ERROR:
            if isinstance(e, cls):
                return error_response(status, str(e), kind=kind)
        raise AssertionError(f"{type(e).__name__} maps to no status")  # ValleError is the last entry

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, e: RequestValidationError) -> JSONResponse:
        message, param = describe_validation_error(list(e.errors()))
        return error_response(400, message, param)

    @app.exception_handler(QueueFullError)
    async def _busy(_: Request, e: QueueFullError) -> JSONResponse:
        return error_response(503, str(e), headers={"Retry-After": str(e.retry_after)})

    @app.exception_handler(BatcherStoppedError)
    async def _stopping(_: Request, e: BatcherStoppedError) -> JSONResponse:
        return error_response(503, str(e), headers={"Retry-After": "5"})

    @app.exception_handler(RequestTimeoutError)
    async def _timeout(_: Request, e: RequestTimeoutError) -> JSONResponse:
        return error_response(504, str(e))

    @app.exception_handler(SynthesisFailedError)
    async def _failed(_: Request, e: SynthesisFailedError) -> JSONResponse:
        return error_response(500, str(e))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 404:
            message = f"no such endpoint {request.method} {request.url.path}; see /docs"
        elif e.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        else:
            message = str(e.detail)
        return error_response(e.status_code, message, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception) -> JSONResponse:
        logger.error("internal error on %s %s", request.method, request.url.path, exc_info=e)
        return error_response(500, f"internal error ({type(e).__name__}); the server log has the details")
