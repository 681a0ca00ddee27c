"""``VlmHook``: an Airflow connection turned into a VLM Run client.

The connection form (labels, hidden fields, extras) is declared in ``get_provider_info()``, not
here. Triggers read settings with ``aclient_settings`` (Airflow's async lookup, so the
triggerer's event loop never blocks) and lease a client shared by every wait on the same
settings (``client._shared.shared_async_client``).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_vlm._compat import BaseHook, aget_connection, connection_form
from airflow_provider_vlm.client import (
    DEFAULT_BASE_URL,
    AsyncVlmClient,
    AuthenticationError,
    ConfigurationError,
    TransportError,
    VlmClient,
    VlmError,
)
from airflow_provider_vlm.client._settings import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, ClientSettings

PUBLIC_DASHBOARD_URL = "https://app.vlm.run"


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


def settings_from_connection(
    conn_id: str, host: str | None, password: str | None, extras: dict[str, Any]
) -> ClientSettings:
    """Client settings from a connection's fields; errors name the connection."""
    timeout = _extra(extras, "timeout")
    max_retries = _extra(extras, "max_retries")
    verify = _extra(extras, "verify")
    base_url = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in base_url:
        raise ConfigurationError(
            f"connection {conn_id!r}: Base URL (host) must start with http:// or https://, got {base_url!r}"
        )
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
        )
    except ConfigurationError as exc:
        if exc.message.startswith("connection "):
            raise
        raise ConfigurationError(f"connection {conn_id!r}: {exc.message}") from None


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


@connection_form
class VlmHook(BaseHook):
    """Connection ``vlm`` (default id ``vlm_default``): host = base URL, password = API key."""

    conn_name_attr = "vlm_conn_id"
    default_conn_name = "vlm_default"
    conn_type = "vlm"
    hook_name = "VLM Run"

    def __init__(self, vlm_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vlm_conn_id = vlm_conn_id
        self._client: VlmClient | None = None

    def __repr__(self) -> str:
        return f"VlmHook(vlm_conn_id={self.vlm_conn_id!r})"

    def client_settings(self) -> ClientSettings:
        conn = self.get_connection(self.vlm_conn_id)
        return settings_from_connection(self.vlm_conn_id, conn.host, conn.password, conn.extra_dejson)

    async def aclient_settings(self) -> ClientSettings:
        conn, extras = await aget_connection(self.vlm_conn_id)
        return settings_from_connection(self.vlm_conn_id, conn.host, conn.password, extras)

    def dashboard_url(self) -> str | None:
        conn = self.get_connection(self.vlm_conn_id)
        return dashboard_url_from(conn.host, conn.extra_dejson)

    def get_client(self) -> VlmClient:
        """One blocking client per hook, reused for every call of the task."""
        if self._client is None:
            s = self.client_settings()
            self._client = VlmClient(
                s.api_key, s.base_url, timeout=s.timeout, max_retries=s.max_retries, verify=s.verify
            )
        return self._client

    def get_conn(self) -> VlmClient:
        return self.get_client()

    async def get_async_client(self, *, max_connections: int = 20) -> AsyncVlmClient:
        """A new async client; the caller owns it (``async with``) for its whole life.

        Many concurrent waits should share one instead: ``client._shared.shared_async_client``.
        """
        s = await self.aclient_settings()
        return AsyncVlmClient(
            s.api_key,
            s.base_url,
            timeout=s.timeout,
            max_retries=s.max_retries,
            verify=s.verify,
            max_connections=max_connections,
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def test_connection(self) -> tuple[bool, str]:
        """Calls ``GET /health``; the message tells unreachable, rejected key and OK apart.

        The message is shown next to the connection being tested, so it never names the
        connection id: the api-server tests a copy stored under a random temporary id, which
        would mean nothing to the user.
        """
        try:
            settings = self.client_settings()
        except ConfigurationError as exc:
            return False, _without_conn_id(exc.message, self.vlm_conn_id)
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
                    f"Reached {settings.base_url} but the API key was rejected (HTTP {exc.status_code}).",
                )
            except TransportError as exc:
                return False, f"Cannot reach {settings.base_url}: {exc.message}"
            except VlmError as exc:
                return False, f"{settings.base_url} answered but is not healthy: {exc}"
        return True, f"Connected to {settings.base_url}; the API key was accepted."
