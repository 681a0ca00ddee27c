"""Client settings shared by both clients: checked once, and never printed with the key."""

from __future__ import annotations

import functools
import os
import ssl
import threading
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import httpx

from airflow_provider_vlm.client._retry import RetryPolicy
from airflow_provider_vlm.client.errors import ConfigurationError

DEFAULT_BASE_URL = "https://api.vlm.run/v1"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 5
USER_AGENT = "airflow-provider-vlm"


@functools.cache
def _version() -> str:
    """The installed distribution's version, read here: the client imports nothing from the rest of
    the package (the package root is the Airflow side's entry point)."""
    try:
        return version("airflow-provider-vlm")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "0.0.0"


_ssl_contexts: dict[tuple[bool, str | None, str | None], ssl.SSLContext] = {}
_ssl_lock = threading.Lock()


def shared_ssl_context(verify: bool) -> ssl.SSLContext:
    """One SSL context per process and verify setting (and CA location), shared by every client.

    Loading the CA bundle costs about 0.8 MB and 42 ms of CPU per context: a triggerer running a
    thousand waits must not pay that a thousand times. Contexts are safe to share between
    clients and threads once configured, and none of ours is changed after creation.
    """
    key = (verify, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _ssl_lock:
        context = _ssl_contexts.get(key)
        if context is None:
            context = _ssl_contexts[key] = httpx.create_ssl_context(verify=verify)
        return context


@dataclass(frozen=True)
class ClientSettings:
    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    verify: bool = True
    #: Whose key this is, named when the server rejects it (the hook: ``connection 'vlm_default'``),
    #: so a rejected key points at the place to fix it.
    key_owner: str | None = None

    def __post_init__(self) -> None:
        if not self.api_key or not str(self.api_key).strip():
            raise ConfigurationError("no API key: set the connection's password (API key)")
        parts = urlsplit(self.base_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"base URL must be an http(s) URL with a host, got {self.base_url!r}")
        if self.timeout <= 0:
            raise ConfigurationError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {self.max_retries}")

    def httpx_options(self) -> dict[str, object]:
        return {
            "base_url": self.base_url.rstrip("/") + "/",
            "timeout": httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
            "verify": shared_ssl_context(self.verify),
            "headers": {
                "Authorization": f"Bearer {self.api_key}",
                "User-Agent": f"{USER_AGENT}/{_version()}",
                "Accept": "application/json",
            },
        }

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries)
