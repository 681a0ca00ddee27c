"""The request/response core shared by the sync and async clients.

Every API operation is written once, as a generator that yields *steps* (an HTTP call, a sleep,
a file read, a clock reading) and receives their results. The sync client runs those steps with
``httpx.Client`` and ``time.sleep``, the async client with ``httpx.AsyncClient`` and
``asyncio.sleep``: one place builds requests and parses replies, two small drivers do the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pydantic

from airflow_provider_vlm.client._retry import NOT_SENT_ERRORS, parse_retry_after
from airflow_provider_vlm.client.errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TransportError,
    VlmError,
    VlmInputError,
)

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class Call:
    """One HTTP request, described without doing it."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    headers: dict[str, str] | None = None
    #: True for a POST that creates a billed prediction: retried only when provably not received.
    creates: bool = False
    #: True when 404 is an answer ("not stored"), not an error; the step then yields ``None``.
    allow_404: bool = False
    #: Route template for messages and logs, e.g. ``GET /predictions/{id}``.
    route: str = ""

    @property
    def label(self) -> str:
        return f"{self.method} {self.route or self.path}"


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class ReadFile:
    path: Path


@dataclass(frozen=True)
class Clock:
    """Asks the driver for ``time.monotonic()``; lets tests and both drivers share wait loops."""


@dataclass(frozen=True)
class Now:
    """Asks the driver for ``time.time()``: wait deadlines are wall-clock epochs, so they survive a
    triggerer restart (a monotonic clock does not)."""


@dataclass(frozen=True, eq=False)
class Parallel:
    """Run independent operations (a poll round's per-id reads) and get back, in order, each one's
    value or the ``VlmError`` it raised.

    The async driver runs up to ``limit`` of them at once; the sync driver runs them one after
    the other. Other exceptions are bugs and propagate.
    """

    operations: tuple[Generator[Any, Any, Any], ...]
    limit: int = 20


@dataclass(frozen=True)
class ReadStatuses:
    """One poll round's reads of ``ids``; the answer is ``(reads, sweep)`` like ``_polling.read_round``.

    Yielded only by ``_polling.wait_for(coalesce=True)``, for a driver that shares rounds between
    waits: in a triggerer, a thousand waits on one id each then cost one round of requests, not a
    thousand (``client/_shared.py``). The clients' own drivers never receive it.
    """

    ids: tuple[str, ...]
    sweep: bool
    limit: int


Step = Call | Sleep | ReadFile | Clock | Now | Parallel | ReadStatuses
Operation = Generator[Step, Any, T]


def read_local_file(path: Path) -> bytes:
    """Read a user's input file, turning OS errors into messages that name the file."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise VlmInputError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise VlmInputError(f"expected a file but got a directory: {path}") from None
    except OSError as exc:
        raise VlmInputError(f"cannot read file {path}: {exc.strerror or exc}") from None


# --- replies -------------------------------------------------------------------------------


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _looks_like_html(response: httpx.Response) -> bool:
    ctype = response.headers.get("content-type", "")
    head = response.text[:200].lstrip().lower()
    return "html" in ctype or head.startswith(("<!doctype html", "<html"))


def _html_title(text: str) -> str:
    lower = text.lower()
    start, end = lower.find("<title>"), lower.find("</title>")
    if start != -1 and end > start:
        return _snippet(text[start + 7 : end], 80)
    return ""


def _error_fields(response: httpx.Response) -> tuple[str, str | None, str | None, Any]:
    """(message, type, id, body) of an error reply, whatever shape it has."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        if _looks_like_html(response):
            title = _html_title(response.text)
            return (f"server answered with an HTML page{': ' + title if title else ''}", None, None, None)
        text = response.text.strip()
        return (_snippet(text) if text else response.reason_phrase or "no message", None, None, None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or error.get("type") or "no message")
            return message, error.get("type"), error.get("id"), body
        if isinstance(error, str):
            return error, None, None, body
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail, None, None, body
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                    parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
                else:
                    parts.append(str(item))
            return "; ".join(parts) or "invalid request", None, None, body
    return _snippet(json.dumps(body)), None, None, body


def _request_url(source: httpx.Response | httpx.TransportError) -> httpx.URL | None:
    try:
        return source.request.url
    except RuntimeError:  # built without a request (hand-made replies in tests)
        return None


def _host_port(url: httpx.URL | None) -> str:
    if url is None:
        return "the server"
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host}:{port}"


def _base_url(response: httpx.Response, call: Call) -> str:
    """The base URL the request went to: its URL without the call's path and query."""
    url = _request_url(response)
    if url is None:
        return "the base URL"
    full = str(url.copy_with(query=None))
    return full[: -len(call.path)] if call.path and full.endswith(call.path) else full


def is_route_404(response: httpx.Response, message: str, body: Any, *, certain: bool = False) -> bool:
    """True when a 404 means "no such route" rather than "no such prediction/file".

    The dev server says ``no route METHOD /path``; FastAPI servers (the public API among them)
    answer an unknown route with ``{"detail": "Not Found"}``; a proxy or web server in front of
    the wrong path answers with a page that is not JSON. An unknown id gets the API's own
    message (``prediction 'x' not found``). ``certain`` leaves out the FastAPI default, which a
    server could also send for a missing item: used where the answer changes behaviour, not
    only a message.
    """
    if response.status_code != 404:
        return False
    if body is None:
        return True
    if message.startswith("no route "):
        return True
    return not certain and isinstance(body, dict) and body.get("detail") == "Not Found"


def error_from_response(call: Call, response: httpx.Response, *, key_owner: str | None = None) -> VlmError:
    """The typed error of a non-2xx reply: the one mapping from a status to a row of the error table.

    Whether the client sends the request again is the row's ``resent``; ``Retry-After`` is read
    here once, into the error. A rejected key names its owner (``ClientSettings.key_owner``).
    """
    status = response.status_code
    message, etype, eid, body = _error_fields(response)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request": call.label,
        "error_type": etype,
        "error_id": eid,
        "body": body,
        "retry_after": parse_retry_after(response.headers.get("Retry-After")),
    }
    error: APIError
    if status in (401, 403):
        owner = f"{key_owner}: " if key_owner else ""
        error = AuthenticationError(f"{owner}API key rejected: {message}", **kwargs)
    elif status in (400, 413, 415, 422):
        error = InvalidRequestError(message, **kwargs)
    elif status == 404:
        if is_route_404(response, message, body):
            message = (
                f"{message}: {_base_url(response, call)} has no route {call.label}; "
                "does the base URL end in /v1?"
            )
        error = NotFoundError(message, **kwargs)
    elif status == 409:
        error = ConflictError(message, **kwargs)
    elif status == 429:
        error = RateLimitError(f"rate limited: {message}", **kwargs)
    elif status == 501:  # Not Implemented: asking again gives the same answer
        error = APIError(f"not implemented by the server: {message}", **kwargs)
    elif status >= 500:
        if status == 503 and kwargs["retry_after"] is not None:
            error = RateLimitError(f"server busy: {message}", **kwargs)
        else:
            error = ServerError(f"server error: {message}", **kwargs)
        if call.creates and not isinstance(error, RateLimitError):
            return OutcomeUnknownError(
                f"the server answered HTTP {status} after receiving the request; a prediction may or "
                f"may not have been created ({message})",
                cause=error,
                request=call.label,
            )
    else:
        error = APIError(message, **kwargs)
    return error


def error_from_transport(call: Call, exc: httpx.TransportError) -> VlmError:
    """The typed error for a request that got no usable reply."""
    kind = type(exc).__name__
    detail = str(exc) or kind
    where = _host_port(_request_url(exc))
    if isinstance(exc, NOT_SENT_ERRORS):
        text = f"cannot connect to {where} ({kind}: {detail})"
    else:
        text = f"no usable reply from {where} ({kind}: {detail})"
    error = TransportError(text, request=call.label)
    error.unreachable = isinstance(exc, NOT_SENT_ERRORS)
    if call.creates and not isinstance(exc, NOT_SENT_ERRORS):
        return OutcomeUnknownError(
            f"no answer after the request was sent ({kind}); a prediction may or may not have been created",
            cause=error,
            request=call.label,
        )
    return error


def interpret(call: Call, response: httpx.Response, *, key_owner: str | None = None) -> Any:
    """Decoded JSON of a final reply, or a typed error. ``None`` for an allowed 404."""
    if response.status_code == 404 and call.allow_404:
        message, _type, _id, body = _error_fields(response)
        if not is_route_404(response, message, body, certain=True):
            return None
    if response.status_code >= 400:
        raise error_from_response(call, response, key_owner=key_owner)
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        if _looks_like_html(response):
            raise ResponseFormatError(
                "server answered with an HTML page instead of JSON; check that the base URL points at "
                "the API (it usually ends with /v1)",
                status_code=response.status_code,
                request=call.label,
            ) from None
        raise ResponseFormatError(
            f"reply is not valid JSON (truncated or not JSON): {_snippet(response.text, 120)!r}",
            status_code=response.status_code,
            request=call.label,
        ) from None


def parse_model(model: type[M], data: Any, call: Call) -> M:
    """Validate a reply against its model, naming the field that is wrong."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(reply)"
        if first["type"] == "enum" and loc == "status":
            message = f"unknown prediction status {first.get('input')!r} in the reply"
        elif first["type"] == "missing":
            message = f"reply is missing the required field {loc!r}"
        else:
            message = f"reply field {loc!r} is invalid: {first['msg']}"
        raise ResponseFormatError(message, request=call.label, body=data) from None


def parse_list(model: type[M], data: Any, call: Call) -> list[M]:
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"expected a JSON array, got {type(data).__name__}", request=call.label, body=data
        )
    return [parse_model(model, item, call) for item in data]
