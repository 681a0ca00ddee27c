"""The outermost ASGI layer: per-route request counts, faults, and the API key check.

It is plain ASGI (no Starlette middleware) because it sits on the hot path of every request,
and because dropping a connection needs the raw ``send`` of the server.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from .connections import ConnectionDropper
from .errors import error_body
from .faults import Decision, Faults
from .stats import Stats

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/v1"
_ADMIN = PREFIX + "/_dev/"


@dataclass(frozen=True)
class RouteTemplate:
    """One API route: its path pattern and the stats key stem (path relative to /v1)."""

    regex: re.Pattern[str]
    methods: frozenset[str]
    template: str


class Gateway:
    """Wraps the FastAPI app; ``/_dev/*`` and anything outside ``/v1`` pass straight through."""

    def __init__(
        self,
        app: ASGIApp,
        routes: list[RouteTemplate],
        faults: Faults,
        stats: Stats,
        api_keys: list[str],
        dropper: ConnectionDropper,
        admin_keys: list[str] | None = None,
    ) -> None:
        self.app = app
        self._routes = routes
        self._faults = faults
        self._stats = stats
        self._auth = {f"Bearer {key}".encode() for key in api_keys}
        self._admin_auth = None if admin_keys is None else {f"Bearer {key}".encode() for key in admin_keys}
        self.dropper = dropper
        # The state behind the app (set by ``create_app``), for the CLI and for tests.
        self.server: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        admin = scope["type"] == "http" and path.startswith(_ADMIN)
        if admin and self._admin_auth is not None and not self._authorized(scope, self._admin_auth):
            await _send_error(send, 401, "the admin routes need a key here (Authorization: Bearer <key>)")
            return
        if scope["type"] != "http" or not path.startswith(PREFIX + "/") or path.startswith(_ADMIN):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        relative = path[len(PREFIX) :]
        template = self._template(method, path, relative)
        self._stats.request(f"{method} {template}")

        latency = self._faults.settings.latency
        if latency:
            await asyncio.sleep(latency)
        decision = self._faults.decide(method, relative)
        if decision is not None:
            await self._inject(decision, scope, send)
            return
        if not self._authorized(scope, self._auth):
            await _send_error(send, 401, "missing or invalid API key (Authorization: Bearer <key>)")
            return
        if method == "POST" and (template.endswith("/generate") or template == "/feedback/submit"):
            await self.app(scope, receive, self._losing_answers(scope, send))
            return
        await self.app(scope, receive, send)

    def _template(self, method: str, path: str, relative: str) -> str:
        for route in self._routes:
            if route.regex.match(path) and method in route.methods:
                return route.template
        for route in self._routes:
            if route.regex.match(path):
                return route.template
        return relative

    @staticmethod
    def _authorized(scope: Scope, accepted: set[bytes]) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                return value in accepted
        return False

    async def _inject(self, decision: Decision, scope: Scope, send: Send) -> None:
        self._stats.fault(decision.kind)
        if decision.kind == "drop":
            await self._drop(scope)
            return
        retry_after = decision.retry_after
        if retry_after is None and decision.status == 429:
            retry_after = self._faults.settings.retry_after
        headers = (
            {"retry-after": self._faults.retry_after_header(retry_after)} if retry_after is not None else {}
        )
        message = f"injected fault ({decision.kind}): the dev server answers {decision.status}"
        await _send_error(send, decision.status, message, headers)

    async def _drop(self, scope: Scope) -> None:
        if self.dropper.drop(scope):
            # Let the loop run connection_lost so uvicorn knows the client is gone.
            await asyncio.sleep(0)
            return
        raise RuntimeError("cannot drop the connection: the server was not started by the dev server CLI")

    def _losing_answers(self, scope: Scope, send: Send) -> Send:
        """A ``send`` that, while ``drop_after_create`` lasts, drops the connection instead of answering."""
        dropped = False

        async def send_or_drop(message: Message) -> None:
            nonlocal dropped
            if dropped:
                return
            if (
                message["type"] == "http.response.start"
                and message["status"] < 300
                and self._faults.take_drop_after_create()
            ):
                dropped = True
                self._stats.fault("drop_after_create")
                await self._drop(scope)
                return
            await send(message)

        return send_or_drop


async def _send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = error_body(status, message)
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
