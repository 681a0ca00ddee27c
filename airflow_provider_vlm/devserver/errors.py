"""The API's error body, in one place, so every refusal looks the same to a client."""

from __future__ import annotations

import json
import uuid

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """A refusal with an HTTP status; the app turns it into the error body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_type(status: int) -> str:
    """The ``error.type`` the real API uses for a status (server_error for anything 5xx)."""
    return _TYPES.get(status, "server_error" if status >= 500 else "api_error")


def error_body(status: int, message: str) -> bytes:
    """``{"error": {"message", "type", "id"}}`` as bytes, ready to send."""
    payload = {"error": {"message": message, "type": error_type(status), "id": f"req_{uuid.uuid4().hex}"}}
    return json.dumps(payload).encode()
