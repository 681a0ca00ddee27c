"""``[core] hostname_callable`` for the soak: each process reports its own name as its hostname.

All processes share one machine, so the real hostname cannot tell two triggerers (or two Celery
workers) apart in the ``job`` and ``task_instance`` tables; the chaos script must know which
process holds which triggers and runs which tasks.
"""

from __future__ import annotations

import os
import socket


def process_name() -> str:
    return os.environ.get("SOAK_PROCESS") or socket.getfqdn()
