"""``VlmHook``: an Airflow connection turned into a VLM Run client, and the blocking wait on it.

The connection form (labels, hidden fields, extras) is declared in ``get_provider_info()``, not
here. Triggers read settings with ``aclient_settings`` (Airflow's async lookup, so the
triggerer's event loop never blocks) and lease a client shared by every wait on the same
settings (``client.waiting.shared_async_client``).

The operators and the sensor wait through the hook, as dbt Cloud's operators wait through
``DbtCloudHook.wait_for_job_run_status``: ``check_prediction`` right after submitting,
``wait_for_prediction``/``wait_for_predictions`` on the worker, ``settle_event`` after the
trigger, and ``prediction_record`` to turn a terminal prediction into the task's result or its
typed error. ``submit_feedback``/``get_feedback`` send reviewers' corrections back. The hook holds no HTTP and no loop of its own: it runs the client's public wait API
(``client.waiting``), the very loop the trigger runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_vlm._compat import (
    AirflowNotFoundException,
    BaseHook,
    aget_connection,
    connection_form,
)
from airflow_provider_vlm.client import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncVlmClient,
    AuthenticationError,
    ClientSettings,
    ConfigurationError,
    FeedbackListResponse,
    FeedbackSubmitResponse,
    Prediction,
    PredictionFailedError,
    PredictionStatus,
    PredictionTimeoutError,
    TransportError,
    VlmClient,
    VlmError,
)
from airflow_provider_vlm.client.waiting import (
    DEFAULT_UNREACHABLE_TIMEOUT,
    PollPolicy,
    WaitOutcome,
    WaitStatus,
    wait_for_predictions,
)
from airflow_provider_vlm.events import PredictionEvent
from airflow_provider_vlm.stopping import named

#: Judges a completed prediction's response (``validation.ResponseValidator``); raises to reject it.
ResponseCheck = Callable[[VlmClient, Prediction], object]

if TYPE_CHECKING:
    from airflow.sdk import Connection

PUBLIC_DASHBOARD_URL = "https://app.vlm.run"
#: What Airflow shows instead of a secret; no real key is this.
MASKED_KEY = "***"

#: Seconds a deferrable task keeps polling on the worker before it defers (``defer_after``).
#: Airflow's defer race (docs: Troubleshooting) fails a try whose trigger fires within seconds of
#: the defer; a prediction that ends within this time never defers. ``docs/performance.md`` has
#: the measurement behind the value.
DEFER_AFTER = 5.0
#: Seconds after its deferral before a trigger may fire, when ``defer_after`` is not 0: the defer
#: race needs a trigger that fires before the scheduler has seen the worker's deferral, which took
#: up to 6 s on a loaded machine. Costs a prediction that ends right after the deferral this much
#: latency, never a worker slot. ``fire_after`` gives the moment to the trigger.
DEFER_HOLD = 10.0


def fire_after(defer_after: float) -> float | None:
    """``PredictionTrigger(fire_after=...)`` for a task deferring now (None when ``defer_after`` is 0)."""
    return time.time() + DEFER_HOLD if defer_after > 0 else None


#: Polling during that time: often at first (a re-attached prediction may have just ended).
INLINE_POLL = PollPolicy(first=0.5, factor=1.5, cap=2.0)


def check_max_retries(value: int | None, *, owner: str) -> int | None:
    """``max_retries`` of an operator: ``None`` (the connection's) or an integer >= 0."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigurationError(f"{owner}: max_retries must be an integer >= 0 or None, got {value!r}")
    return value


def defer_after_seconds(value: float | timedelta, *, owner: str) -> float:
    """``defer_after`` in seconds: 0 or more (0 reads the status once, then defers)."""
    total = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if isinstance(value, bool) or total < 0:
        raise ValueError(f"{owner}: defer_after must be 0 or more seconds, got {value!r}")
    return total


class ConnectionNotFoundError(ConfigurationError):
    """The connection id is not defined (Airflow's ``AirflowNotFoundException`` is its cause): every
    try would fail the same way, so the default ``retry_policy`` spends no retry on it."""

    def __init__(self, conn_id: str) -> None:
        super().__init__(
            f"connection {conn_id!r} is not defined (create it in the UI, with `airflow connections "
            f"add`, or as the environment variable AIRFLOW_CONN_{conn_id.upper()})"
        )
        self.conn_id = conn_id


def _extra(extras: dict[str, Any], name: str) -> Any:
    """An extra by plain name, or by the ``extra__vlm__`` prefix older forms wrote."""
    value = extras.get(name)
    if value in (None, ""):
        value = extras.get(f"extra__vlm__{name}")
    return None if value == "" else value


def _as_bool(value: Any, *, name: str, conn_id: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in (
        "true",
        "1",
        "yes",
        "on",
        "false",
        "0",
        "no",
        "off",
    ):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise ConfigurationError(f"connection {conn_id!r}: extra {name!r} must be true or false, got {value!r}")


def _as_number(value: Any, kind: type[int] | type[float], *, name: str, conn_id: str) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"connection {conn_id!r}: extra {name!r} must be a number, got {value!r}"
        ) from None


def base_url_from(conn_id: str, host: str | None, port: int | None = None) -> str:
    """The Base URL, with the connection's Port where the URL names none.

    The form shows Port only because Airflow's Test button needs a value there (it sends ``0`` for
    an empty one): empty or ``0`` means the Base URL's own port. A Port that contradicts the URL's
    is an error rather than a silent choice between the two.
    """
    base_url = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in base_url:
        raise ConfigurationError(
            f"connection {conn_id!r}: Base URL (host) must start with http:// or https://, got {base_url!r}"
        )
    if not port:
        return base_url
    parts = urlsplit(base_url)
    try:
        named = parts.port
    except ValueError:
        named = None  # an unreadable port: the client's own check names the URL
    if named is None:
        return parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    if named != port:
        raise ConfigurationError(
            f"connection {conn_id!r}: Port {port} differs from the Base URL's port {named} "
            f"({base_url}); set Port to 0 to use the Base URL's"
        )
    return base_url


def settings_from_connection(
    conn_id: str, host: str | None, password: str | None, extras: dict[str, Any], port: int | None = None
) -> ClientSettings:
    """Client settings from a connection's fields; errors, and a rejected key, name the connection."""
    timeout = _extra(extras, "timeout")
    max_retries = _extra(extras, "max_retries")
    verify = _extra(extras, "verify")
    base_url = base_url_from(conn_id, host, port)
    try:
        return ClientSettings(
            api_key=password or "",
            base_url=base_url,
            timeout=DEFAULT_TIMEOUT
            if timeout is None
            else _as_number(timeout, float, name="timeout", conn_id=conn_id),
            max_retries=(
                DEFAULT_MAX_RETRIES
                if max_retries is None
                else _as_number(max_retries, int, name="max_retries", conn_id=conn_id)
            ),
            verify=True if verify is None else _as_bool(verify, name="verify", conn_id=conn_id),
            key_owner=f"connection {conn_id!r}",
        )
    except ConfigurationError as exc:
        if exc.message.startswith("connection "):
            raise
        raise ConfigurationError(f"connection {conn_id!r}: {exc.message}") from None


#: ``environment`` values of RequestMetadata, as the platform knows them.
ENVIRONMENTS = ("dev", "staging", "prod")


def metadata_from_connection(conn_id: str, extras: dict[str, Any]) -> dict[str, Any]:
    """The connection's ``allow_training``/``environment`` extras, for every request through it.

    Only what the connection sets: an unset extra leaves the choice to the operator, then to the
    platform (whose defaults are ``allow_training=True`` and ``environment="dev"``).
    """
    chosen: dict[str, Any] = {}
    allow_training = _extra(extras, "allow_training")
    if allow_training is not None:
        chosen["allow_training"] = _as_bool(allow_training, name="allow_training", conn_id=conn_id)
    environment = _extra(extras, "environment")
    if environment is not None:
        if environment not in ENVIRONMENTS:
            raise ConfigurationError(
                f"connection {conn_id!r}: extra 'environment' must be one of {', '.join(ENVIRONMENTS)}, "
                f"got {environment!r}"
            )
        chosen["environment"] = environment
    return chosen


def _is_public_api(host: str | None) -> bool:
    """Empty, or the public API's own base URL (with or without a trailing slash)."""
    base = (host or "").strip().rstrip("/")
    return not base or base.lower() == DEFAULT_BASE_URL


def dashboard_url_from(host: str | None, extras: dict[str, Any]) -> str | None:
    """Where a prediction can be looked at: the ``dashboard_url`` extra, else the public app for the
    public API, else nowhere (a self-hosted server has no dashboard we could guess)."""
    configured = _extra(extras, "dashboard_url")
    if configured:
        return str(configured).strip().rstrip("/")
    return PUBLIC_DASHBOARD_URL if _is_public_api(host) else None


def _without_conn_id(message: str, conn_id: str) -> str:
    """``connection 'x': no API key …`` → ``No API key …``."""
    prefix = f"connection {conn_id!r}: "
    if not message.startswith(prefix):
        return message
    rest = message[len(prefix) :]
    return rest[:1].upper() + rest[1:]


class PredictionWaitError(VlmError):
    """The wait could not go on (no deadline and the server unreachable for ``unreachable_timeout``)
    while the prediction was not finished.

    A retry re-attaches to the same prediction; nothing is submitted again.
    """


def _policy(poll_interval: float, max_poll_interval: float, unreachable_timeout: float | None) -> PollPolicy:
    return PollPolicy(
        first=poll_interval,
        cap=max(max_poll_interval, poll_interval),
        unreachable_timeout=unreachable_timeout or DEFAULT_UNREACHABLE_TIMEOUT,
    )


@connection_form
class VlmHook(BaseHook):
    """Connection ``vlm`` (default id ``vlm_default``): host = base URL, password = API key.

    :param vlm_conn_id: the Airflow connection of type ``vlm`` to read (when first needed).
    """

    conn_name_attr = "vlm_conn_id"
    default_conn_name = "vlm_default"
    conn_type = "vlm"
    hook_name = "VLM Run"

    def __init__(
        self, vlm_conn_id: str = default_conn_name, *, max_retries: int | None = None, **kwargs: Any
    ) -> None:
        """``max_retries`` overrides the connection's extra: the retry budget of every call."""
        super().__init__(**kwargs)
        self.vlm_conn_id = vlm_conn_id
        self.max_retries = max_retries
        self._client: VlmClient | None = None

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection; a missing one is a ``ConnectionNotFoundError`` (retrying will not help)."""
        try:
            return super().get_connection(conn_id)
        except AirflowNotFoundException as exc:
            raise ConnectionNotFoundError(conn_id) from exc

    def _overridden(self, settings: ClientSettings) -> ClientSettings:
        if self.max_retries is None:
            return settings
        try:
            return replace(settings, max_retries=self.max_retries)
        except ConfigurationError as exc:
            raise ConfigurationError(f"connection {self.vlm_conn_id!r}: {exc.message}") from None

    def __repr__(self) -> str:
        return f"VlmHook(vlm_conn_id={self.vlm_conn_id!r})"

    def client_settings(self) -> ClientSettings:
        conn = self.get_connection(self.vlm_conn_id)
        return self._overridden(
            settings_from_connection(self.vlm_conn_id, conn.host, conn.password, conn.extra_dejson, conn.port)
        )

    async def aclient_settings(self) -> ClientSettings:
        conn, extras = await aget_connection(self.vlm_conn_id)
        return self._overridden(
            settings_from_connection(self.vlm_conn_id, conn.host, conn.password, extras, conn.port)
        )

    def request_metadata(self) -> dict[str, Any]:
        """The connection's privacy and environment choices (``allow_training``, ``environment``)."""
        conn = self.get_connection(self.vlm_conn_id)
        return metadata_from_connection(self.vlm_conn_id, conn.extra_dejson)

    def dashboard_url(self) -> str | None:
        conn = self.get_connection(self.vlm_conn_id)
        return dashboard_url_from(conn.host, conn.extra_dejson)

    def get_client(self) -> VlmClient:
        """One blocking client per hook, reused for every call of the task."""
        if self._client is None:
            s = self.client_settings()
            self._client = VlmClient(
                s.api_key,
                s.base_url,
                timeout=s.timeout,
                max_retries=s.max_retries,
                verify=s.verify,
                key_owner=s.key_owner,
            )
        return self._client

    def get_conn(self) -> VlmClient:
        return self.get_client()

    async def get_async_client(self, *, max_connections: int = 20) -> AsyncVlmClient:
        """A new async client; the caller owns it (``async with``) for its whole life.

        Many concurrent waits should share one instead: ``client.waiting.shared_async_client``.
        """
        s = await self.aclient_settings()
        return AsyncVlmClient(
            s.api_key,
            s.base_url,
            timeout=s.timeout,
            max_retries=s.max_retries,
            verify=s.verify,
            max_connections=max_connections,
            key_owner=s.key_owner,
        )

    def interrupt(self, reason: str) -> bool:
        """End this hook's blocking calls and waits within a second (``Interrupted``): for ``on_kill``.

        Safe in a signal handler (it sets a flag). Nothing is sent to the server. True when there
        was a client to interrupt.
        """
        if self._client is None:
            return False
        self._client.interruption.set(reason)
        return True

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def test_connection(self) -> tuple[bool, str]:
        """Calls ``GET /health``; the message tells unreachable, rejected key and OK apart.

        No answer names the connection: the api-server's Test button tests a copy stored under a
        random id, which would mean nothing to the user, who sees the connection beside the answer.
        """
        try:
            settings = self.client_settings()
        except ConfigurationError as exc:
            return False, _without_conn_id(exc.message, self.vlm_conn_id)
        if settings.api_key == MASKED_KEY:
            return False, (
                "The API key arrived masked ('***'), not as stored: the test request carried the "
                "masked key (Airflow 3.0 does not put the stored one back). Test from the command "
                "line instead: "
                "airflow connections test <connection id>"
            )
        with VlmClient(
            settings.api_key,
            settings.base_url,
            timeout=min(settings.timeout, 15.0),
            max_retries=0,
            verify=settings.verify,
        ) as client:
            try:
                client.healthcheck()
            except AuthenticationError as exc:
                return (
                    False,
                    f"API key rejected (HTTP {exc.status_code}): {settings.base_url} refused the connection's key.",
                )
            except TransportError as exc:
                return False, f"Cannot reach {settings.base_url}: {exc.message}"
            except VlmError as exc:
                return False, f"{settings.base_url} answered but is not healthy: {exc}"
        return True, f"Connected to {settings.base_url}; the API key was accepted."

    # --- feedback: corrections sent back to the platform ------------------------------------------

    def submit_feedback(
        self,
        request_id: str,
        *,
        response: Mapping[str, Any] | None = None,
        notes: str | None = None,
        idempotency_key: str | None = None,
    ) -> FeedbackSubmitResponse:
        """Send a reviewer's corrected fields and/or notes for prediction ``request_id``.

        A step that may run again (a retried task) passes an ``idempotency_key`` derived from what
        it sends, so a server that honours the header keeps one record; the client never resends
        a submit that may have arrived (see ``docs/client.md``, Feedback).
        """
        return self.get_client().feedback.submit(request_id, response, notes, idempotency_key=idempotency_key)

    def get_feedback(self, request_id: str, *, offset: int = 0, limit: int = 10) -> FeedbackListResponse:
        """The feedback kept for prediction ``request_id`` (oldest first), one page."""
        return self.get_client().feedback.get(request_id, offset=offset, limit=limit)

    # --- waiting: what the operators and the sensor share ----------------------------------------

    def check_prediction(self, prediction_id: str, *, within: float = 0.0) -> Prediction | None:
        """The prediction once terminal, polled on the worker for up to ``within`` seconds, or ``None``.

        Called before deferring: a prediction that ends within ``within`` never defers, which keeps
        the task out of Airflow's defer race (see ``DEFER_AFTER``); ``within=0`` reads the status
        once. A transient error (an outage that starts at submit time) is not the task's end: the
        caller goes on to wait, and the wait rides the outage out until its deadline. Other errors
        raise.
        """
        outcome = self._poll_inline([prediction_id], within)
        return None if outcome is None else outcome.predictions[prediction_id]

    def check_predictions(
        self, prediction_ids: Sequence[str], *, within: float = 0.0
    ) -> PredictionEvent | None:
        """``check_prediction`` for many ids: the event the trigger would send once all ended, else ``None``."""
        outcome = self._poll_inline(prediction_ids, within)
        return None if outcome is None else PredictionEvent.from_outcome(outcome)

    def _poll_inline(self, prediction_ids: Sequence[str], within: float) -> WaitOutcome | None:
        """The one wait loop, on the worker, until ``within`` seconds from now; the outcome once all ended."""
        outcome = wait_for_predictions(
            self.get_client(),
            prediction_ids,
            deadline=time.time() + max(0.0, within),
            policy=INLINE_POLL,
            logger=self.log,
        )
        if outcome.status in (WaitStatus.SUCCESS, WaitStatus.FAILED):
            return outcome
        if outcome.error is not None:
            if not outcome.error.transient:
                raise outcome.error
            self.log.warning("checking %s failed (%s); waiting anyway", named(prediction_ids), outcome.error)
        return None

    def wait_for_prediction(
        self,
        prediction_id: str,
        *,
        deadline: float | None,
        timeout: float | None,
        poll_interval: float = 5.0,
        max_poll_interval: float = 30.0,
        unreachable_timeout: float | None = None,
    ) -> Prediction:
        """Wait on the worker (``deferrable=False``) with the trigger's own loop; the terminal prediction.

        ``deadline`` is absolute (epoch seconds, ``None``: none), ``timeout`` the span it stands
        for, named in the error. Raises ``PredictionTimeoutError`` at the deadline, the typed error
        that ended the wait (bad key, unknown id), or ``PredictionWaitError`` when a wait with no
        deadline found the server unreachable for ``unreachable_timeout``. Transient errors are
        ridden out until the deadline. A ``failed`` prediction is returned: ``prediction_record``
        judges it.
        """
        outcome = wait_for_predictions(
            self.get_client(),
            [prediction_id],
            deadline=deadline,
            policy=_policy(poll_interval, max_poll_interval, unreachable_timeout),
            logger=self.log,
        )
        if outcome.status in (WaitStatus.SUCCESS, WaitStatus.FAILED):
            return outcome.predictions[prediction_id]
        if outcome.status is WaitStatus.TIMEOUT:
            raise PredictionTimeoutError(prediction_id, timeout or 0.0, outcome.last_status(prediction_id))
        if outcome.error is not None and not outcome.error.transient:
            raise outcome.error
        raise PredictionWaitError(f"waiting for prediction {prediction_id} failed: {outcome.message}")

    def wait_for_predictions(
        self,
        prediction_ids: Sequence[str],
        *,
        deadline: float | None,
        poll_interval: float = 5.0,
        max_poll_interval: float = 30.0,
        max_concurrency: int = 20,
        unreachable_timeout: float | None = None,
    ) -> PredictionEvent:
        """Wait for many predictions on the worker; the event ``PredictionTrigger`` would have sent.

        For ``GenerateBatchOperator(deferrable=False)``: the same loop, sweep and event as the
        trigger, on the task's blocking client (big waits read list pages, not one request per id).
        """
        outcome = wait_for_predictions(
            self.get_client(),
            prediction_ids,
            deadline=deadline,
            policy=_policy(poll_interval, max_poll_interval, unreachable_timeout),
            concurrency=max_concurrency,
            logger=self.log,
        )
        return PredictionEvent.from_outcome(outcome)

    def settle_event(self, event: Mapping[str, Any], timeout: float | None) -> Prediction:
        """The terminal prediction a trigger event reports, or the typed error it stands for.

        The event carries ids and a message only, so the prediction is read here, on the worker.
        ``timeout`` raises ``PredictionTimeoutError``. ``error`` events are settled by asking the
        server again: a rejected key or an unknown id raises its own typed error, a prediction that
        finished meanwhile is returned, one still waiting raises ``PredictionWaitError`` (a retry
        re-attaches).
        """
        ev = PredictionEvent.from_dict(event)
        pid = ev.prediction_ids[0]
        if ev.status is WaitStatus.TIMEOUT:
            last = next((status for status, n in ev.counts.items() if n and status != "unknown"), None)
            raise PredictionTimeoutError(pid, timeout or 0.0, last)
        prediction = self.get_client().predictions.get(pid)
        if prediction.status.is_terminal:
            return prediction
        if ev.status is WaitStatus.ERROR:
            raise PredictionWaitError(f"waiting for prediction {pid} failed: {ev.message}")
        raise PredictionWaitError(
            f"the trigger reported {ev.status.value} but prediction {pid} is {prediction.status.value}"
        )

    def prediction_record(self, prediction: Prediction, check: ResponseCheck | None = None) -> dict[str, Any]:
        """The task's result for a terminal prediction (its record), or the typed error it stands for.

        ``failed`` raises ``PredictionFailedError`` with the server's message; a completed response
        is judged by ``check`` (the operators' and the batch's one validation path) when given.
        """
        if prediction.status is PredictionStatus.FAILED:
            raise PredictionFailedError(prediction.id, prediction.error_message)
        if not prediction.status.is_success:
            raise PredictionWaitError(
                f"prediction {prediction.id} is {prediction.status.value}, not finished"
            )
        if check is not None:
            check(self.get_client(), prediction)
        return prediction.record()
