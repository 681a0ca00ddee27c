"""The operators' default ``retry_policy``: retry what time can fix, fail at once what it cannot.

A retry of these operators is cheap and safe (it re-attaches to the recorded prediction), but a
rejected key, a wrong argument or a response that fails validation will be just as wrong on the
next try, so those fail the task without spending its retries. A rate limit retries after the
server's ``Retry-After`` when it sent one. Everything else keeps the task's own ``retries``.

Users replace it with ``retry_policy=...`` (any ``airflow.sdk.RetryPolicy``), or disable it with
``retry_policy=None``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryDecision, RetryRule

from airflow_provider_vlm.client import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    RateLimitError,
    ResponseValidationError,
    VlmInputError,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


def default_rules() -> list[RetryRule]:
    return [
        RetryRule(
            exception=AuthenticationError,
            action=RetryAction.FAIL,
            reason="the API key was rejected; retrying will not help",
        ),
        RetryRule(
            exception=[VlmInputError, InvalidRequestError, ConflictError],
            action=RetryAction.FAIL,
            reason="the request is invalid; retrying will not help",
        ),
        RetryRule(
            exception=ResponseValidationError,
            action=RetryAction.FAIL,
            reason="the response does not match its schema; retrying returns the same response",
        ),
        RetryRule(exception=RateLimitError, action=RetryAction.RETRY, reason="rate limited"),
    ]


class VlmRetryPolicy(ExceptionRetryPolicy):
    """``ExceptionRetryPolicy`` with the rules above; a rate limit waits its ``Retry-After``."""

    def __init__(
        self, rules: list[RetryRule] | None = None, default: RetryAction = RetryAction.DEFAULT
    ) -> None:
        super().__init__(rules=default_rules() if rules is None else rules, default=default)

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Context | None = None,
    ) -> RetryDecision:
        decision = super().evaluate(exception, try_number, max_tries, context)
        retry_after = getattr(exception, "retry_after", None)
        if (
            isinstance(exception, RateLimitError)
            and decision.action is RetryAction.RETRY
            and decision.retry_delay is None
            and retry_after
        ):
            return RetryDecision.retry(
                timedelta(seconds=float(retry_after)),
                f"rate limited; the server asked to wait {retry_after:g}s",
            )
        return decision


def default_retry_policy() -> VlmRetryPolicy:
    return VlmRetryPolicy()
