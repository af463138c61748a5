"""One error hierarchy for the API, rendered once as RFC 9457 problem details.

Services raise these; the handlers in ``install_error_handlers`` turn them into
``application/problem+json`` responses with a stable ``type``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_CONTENT_TYPE = "application/problem+json"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ApiError(Exception):
    status: int = 500
    type: str = "/problems/internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail, **self.extra}


class Unauthorized(ApiError):
    status = 401
    type = "/problems/unauthorized"
    title = "Missing or invalid credentials"


class Forbidden(ApiError):
    status = 403
    type = "/problems/forbidden"
    title = "Not allowed for your role"


class NotFound(ApiError):
    status = 404
    type = "/problems/not-found"
    title = "Not found"


class Conflict(ApiError):
    status = 409
    type = "/problems/conflict"
    title = "Conflict"


class InvalidLifecycleAction(Conflict):
    """An action that the campaign's current status does not allow."""

    type = "/problems/invalid-status"
    title = "Action not allowed in the current status"

    def __init__(self, *, action: str, current_status: str, allowed_actions: Iterable[str], detail: str | None = None):
        allowed = sorted(allowed_actions)
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            detail or f"cannot {action} a campaign in status {current_status!r}; allowed actions: {allowed_text}",
            action=action,
            current_status=current_status,
            allowed_actions=allowed,
        )


class ValidationFailed(ApiError):
    status = 422
    type = "/problems/validation-error"
    title = "Invalid request"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(summary, errors=[{"field": e.field, "message": e.message} for e in errors])
        self.errors = list(errors)

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])


class ServiceUnavailable(ApiError):
    status = 503
    type = "/problems/service-unavailable"
    title = "A backing service is unavailable"


def _problem(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def _field_name(location: Sequence[Any]) -> str:
    parts = [str(p) for p in location]
    if len(parts) > 1 and parts[0] in {"query", "path", "header"}:
        # Pydantic locates a bad value of a repeated query parameter by its position,
        # as in ("query", "status", 0). The client sent the parameter by name, so the
        # name is the field.
        return parts[1]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def handle_api_error(request: Request, error: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
        return _problem(error.status, error.body(), headers)

    @app.exception_handler(RequestValidationError)
    async def handle_request_validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = []
        for item in error.errors():
            if item.get("type") == "json_invalid":
                errors.append(FieldError("body", f"malformed JSON: {item.get('ctx', {}).get('error', item['msg'])}"))
            else:
                errors.append(FieldError(_field_name(item["loc"]), item["msg"]))
        return _problem(422, ValidationFailed(errors).body())

    @app.exception_handler(StarletteHTTPException)
    async def handle_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        body = {
            "type": "/problems/not-found" if error.status_code == 404 else "about:blank",
            "title": str(error.detail),
            "status": error.status_code,
            "detail": str(error.detail),
        }
        return _problem(error.status_code, body)

    @app.exception_handler(Exception)
    async def handle_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("api.unhandled_error", path=request.url.path, method=request.method)
        return _problem(500, ApiError("an unexpected error occurred; it has been logged").body())
