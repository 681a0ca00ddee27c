"""Close a client's TCP connection with no answer at all, as a crashed proxy or server would.

An ASGI app cannot do that by itself (if it raises, uvicorn answers 500), so this finds the
connection in the uvicorn server's state by the request's client address and aborts its
transport.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any


class ConnectionDropper:
    """Knows the running uvicorn server, once ``attach`` has been called by the CLI."""

    def __init__(self) -> None:
        self._server: Any = None

    def attach(self, server: Any) -> None:
        """Remember the ``uvicorn.Server`` whose connections may be dropped."""
        self._server = server

    def drop(self, scope: MutableMapping[str, Any]) -> bool:
        """Abort the transport of the connection that carried ``scope``; False if not found."""
        client = scope.get("client")
        if self._server is None or client is None:
            return False
        wanted = tuple(client)
        for protocol in list(self._server.server_state.connections):
            if getattr(protocol, "client", None) == wanted:
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abort()
                    return True
        return False
