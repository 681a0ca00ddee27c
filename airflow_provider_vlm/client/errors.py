"""Typed errors.

Every error carries what a user needs to act (HTTP status, the server's message, the call that
failed) and never the API key: messages are built from the method, the path and the reply body,
never from request headers.

Code written against the public SDK keeps working: invalid arguments raise a ``ValueError``
subclass and a wait that runs out raises a ``TimeoutError`` subclass.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class TaskRetry(str, enum.Enum):
    """What the scheduler should do with a task that raised the error (the default retry policy)."""

    FAIL = "fail"  # the next try would fail the same way: do not spend retries
    RETRY = "retry"  # time fixes it (rate limit): retry, after ``Retry-After`` when given
    DEFAULT = "default"  # the task's own ``retries`` decide


class VlmError(Exception):
    """Base class of every error raised by this package's client.

    The class attributes below are the one error table: the client's retries, every wait loop,
    the batch operator and the default ``retry_policy`` all read them, none keeps its own list.
    The table as a whole is in ``docs/retries.md``.
    """

    #: A later identical request may succeed (5xx, 429, no reply): waits tolerate it until their
    #: deadline, and a task retry may succeed where this try failed.
    transient: ClassVar[bool] = False
    #: The client sends the same request again, within the call's budget (``max_retries``). Only
    #: transient errors whose request provably did nothing are resent: not a billed call whose
    #: answer was lost (``OutcomeUnknownError``), which the operators settle from their record.
    resent: ClassVar[bool] = False
    #: The error is the input's (refused content, too large, unreadable file): a batch reports
    #: that one input and goes on.
    input_problem: ClassVar[bool] = False
    #: A wait cannot go on: polling again gives the same answer (bad key, unknown id).
    ends_wait: ClassVar[bool] = False
    #: What the default ``retry_policy`` does with a task that raised it.
    task_retry: ClassVar[TaskRetry] = TaskRetry.DEFAULT

    #: Seconds the server asked to wait (``Retry-After``), read once where the reply is turned
    #: into this error; every layer that waits before asking again uses it.
    retry_after: float | None = None

    def __init__(self, message: str, *, status_code: int | None = None, request: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request = request
        #: Attempts the call made in all (1 + the client's retries), set by the client's driver.
        self.attempts = 1
        #: The call's retry budget when a resent error outlasted it, for the message.
        self.exhausted: int | None = None
        #: What happens next, added by the layer that knows (the operators: the task's retries).
        self.hint: str | None = None

    def __str__(self) -> str:
        where = f" [{self.request}]" if self.request else ""
        code = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        spent = ""
        if getattr(self, "exhausted", None) is not None:
            plural = "" if self.attempts == 1 else "s"
            spent = f"; gave up after {self.attempts} attempt{plural} (max_retries={self.exhausted})"
        hint = f"; {self.hint}" if getattr(self, "hint", None) else ""
        return f"{self.message}{code}{where}{spent}{hint}"


class VlmInputError(VlmError, ValueError):
    """An argument is wrong before anything is sent (missing file, bad URL, unknown media...)."""

    input_problem = True
    task_retry = TaskRetry.FAIL


class ConfigurationError(VlmInputError):
    """The connection or client settings cannot work (no key, base URL not http(s)...)."""

    input_problem = False  # the connection's fault, not one input's: a batch stops
    ends_wait = True


class APIError(VlmError):
    """The server answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request: str | None = None,
        error_type: str | None = None,
        error_id: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, request=request)
        self.error_type = error_type
        self.error_id = error_id
        self.body = body
        self.retry_after = retry_after


class AuthenticationError(APIError):
    """401/403: the key is missing, wrong or revoked. Retrying will not help."""

    ends_wait = True
    task_retry = TaskRetry.FAIL


class InvalidRequestError(APIError, ValueError):
    """400/413/415/422: the server refused the request's content (or its size or type)."""

    input_problem = True
    task_retry = TaskRetry.FAIL


class NotFoundError(APIError):
    """404: no such prediction, file or route. Asking again gives the same answer."""

    ends_wait = True
    task_retry = TaskRetry.FAIL


class ConflictError(APIError):
    """409: e.g. an ``Idempotency-Key`` reused with a different request body."""

    task_retry = TaskRetry.FAIL


class RateLimitError(APIError):
    """429 (or 503 with ``Retry-After``) after the client's own retries ran out."""

    transient = True
    resent = True  # the server refused the request: nothing was done, even for a billed call
    task_retry = TaskRetry.RETRY


class ServerError(APIError):
    """5xx after the client's own retries ran out (501 Not Implemented is an ``APIError``)."""

    transient = True
    resent = True


class ResponseFormatError(APIError):
    """The reply is not what the wire contract promises (HTML page, truncated JSON, unknown status)."""


class TransportError(VlmError):
    """No usable reply: connection refused, timeout, dropped connection."""

    transient = True
    resent = True
    #: True when no connection could be opened (refused, connect timeout): nothing was sent.
    unreachable = False


class OutcomeUnknownError(VlmError):
    """A call that creates a billed prediction failed after it may have reached the server.

    Whether a prediction was created is unknown. Retrying blindly could bill twice; the
    operators settle it from their durable record and the ``Idempotency-Key``, so a task retry
    is safe.
    """

    transient = True

    def __init__(self, message: str, *, cause: VlmError, request: str | None = None) -> None:
        super().__init__(message, status_code=cause.status_code, request=request)
        self.cause = cause


class PredictionFailedError(VlmError):
    """The prediction ended in ``failed``; the message is the server's."""

    def __init__(self, prediction_id: str, reason: str, prediction: Any = None) -> None:
        super().__init__(f"prediction {prediction_id} failed: {reason}")
        self.prediction_id = prediction_id
        self.reason = reason
        self.prediction = prediction


class PredictionTimeoutError(VlmError, TimeoutError):
    """A wait ran out before the prediction finished. The prediction may still complete."""

    def __init__(self, prediction_id: str, timeout: float, last_status: str | None) -> None:
        super().__init__(
            f"prediction {prediction_id} did not finish within {timeout:g}s (last status: {last_status}); "
            f"it keeps running on the server: fetch or wait for it again by its id {prediction_id}"
        )
        self.prediction_id = prediction_id
        self.timeout = timeout
        self.last_status = last_status


class ResponseValidationError(VlmError, ValueError):
    """A response does not match the schema it was validated against (autocast)."""

    task_retry = TaskRetry.FAIL  # the same prediction gives the same response

    def __init__(self, message: str, *, path: str, prediction_id: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.prediction_id = prediction_id


class UnknownDomainError(VlmInputError):
    """The server does not know the domain (a typo, usually): found before anything is billed."""

    def __init__(self, domain: str, suggestions: list[str] | None = None) -> None:
        self.domain = domain
        self.suggestions = list(suggestions or [])
        hint = f"; did you mean {' or '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown domain {domain!r}{hint}")


def _subclasses(cls: type[VlmError]) -> list[type[VlmError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_subclasses(sub))
    return found


def error_classes() -> list[type[VlmError]]:
    """Every error class, for tables derived from the attributes above (docs, retry rules)."""
    return _subclasses(VlmError)


#: Errors a wait rides out until its deadline (derived from ``transient``).
TRANSIENT_ERRORS: tuple[type[VlmError], ...] = tuple(c for c in error_classes() if c.transient)
