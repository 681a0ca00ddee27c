"""The operators' default ``retry_policy``: retry what time can fix, fail at once what it cannot.

A retry of these operators is cheap and safe (it re-attaches to the recorded prediction), but a
rejected key, a wrong argument or a response that fails validation will be just as wrong on the
next try, so those fail the task without spending its retries. A rate limit retries after the
server's ``Retry-After`` when it sent one. Everything else keeps the task's own ``retries``.

Users replace it with ``retry_policy=...`` (any ``airflow.sdk.RetryPolicy``), or disable it with
``retry_policy=None``. ``retry_policy`` arrived in Airflow 3.3: below it the operators take no such
argument, and the same table decides through ``_compat.fail_fast`` (an error marked "fail" is
raised as ``AirflowFailException``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_vlm._compat import (
    HAS_RETRY_POLICY,
    ExceptionRetryPolicy,
    RetryAction,
    RetryDecision,
    RetryRule,
)
from airflow_provider_vlm.client import RateLimitError
from airflow_provider_vlm.client.errors import TaskRetry, error_classes

if TYPE_CHECKING:
    from airflow.sdk import Context


#: Why each non-default action is taken, as the task log says it.
_REASONS = {
    TaskRetry.FAIL: "retrying will not help",
    TaskRetry.RETRY: "time fixes it",
}


def default_rules() -> list[RetryRule]:
    """One rule per error class whose ``task_retry`` is not the default (the error table)."""
    rules = []
    for cls in error_classes():
        action = cls.task_retry
        if action is TaskRetry.DEFAULT:
            continue
        doc = (cls.__doc__ or cls.__name__).strip().splitlines()[0].split(". ")[0].rstrip(".")
        rules.append(
            RetryRule(
                exception=cls,
                action=RetryAction.FAIL if action is TaskRetry.FAIL else RetryAction.RETRY,
                reason=f"{doc}: {_REASONS[action]}",
                # Each class has its own row in the table, subclasses included.
                match_subclasses=False,
            )
        )
    return rules


if HAS_RETRY_POLICY:  # Airflow 3.3

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


def with_default_retry_policy(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The operator's keyword arguments with the default ``retry_policy`` where Airflow has one.

    Below 3.3 ``BaseOperator`` takes no ``retry_policy``: ``None`` (the documented "off") is
    dropped, anything else is refused with a message that names the version.
    """
    if HAS_RETRY_POLICY:
        kwargs.setdefault("retry_policy", default_retry_policy())
        return kwargs
    if kwargs.pop("retry_policy", None) is not None:
        raise TypeError("retry_policy needs Airflow 3.3 or later (docs/airflow-versions.md)")
    return kwargs
