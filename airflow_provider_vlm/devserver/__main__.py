"""``python -m airflow_provider_vlm.devserver`` / ``vlm-devserver``: serve the API on 127.0.0.1.

Prints exactly one line, ``VLM dev server ready: http://HOST:PORT/v1``, once it accepts
connections (with the real port when ``--port 0``), and exits 0 on SIGINT or SIGTERM. When its
admin routes need a key (``admin``), it says so first, on stderr; so it does when scans cannot
be read (no OCR: ``engines.ocr_pool``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from .admin import admin_keys, start_notice
from .app import create_app
from .config import DEFAULT_API_KEY, DEFAULT_MAX_UPLOAD_BYTES, ServerConfig
from .faults import FaultUpdate

if TYPE_CHECKING:
    from .engines.ocr_pool import OcrPool


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="vlm-devserver", description=__doc__.splitlines()[0] if __doc__ else None
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"accepted API key, repeatable (default: {DEFAULT_API_KEY})",
    )
    p.add_argument(
        "--admin-key",
        action="append",
        dest="admin_keys",
        metavar="KEY",
        help="key the admin routes /v1/_dev/* need, repeatable (default: none on loopback, "
        "the API keys on any other address)",
    )
    p.add_argument(
        "--processing-time",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="time a prediction takes from enqueued to completed (default 2)",
    )
    p.add_argument("--state", type=Path, metavar="FILE", help="SQLite file that keeps files and predictions")
    p.add_argument("--seed", type=int, default=0, help="seed of the random faults (default 0)")
    p.add_argument(
        "--max-upload-bytes",
        type=int,
        default=DEFAULT_MAX_UPLOAD_BYTES,
        help="uploads above this get 413 (default 100 MiB)",
    )
    p.add_argument(
        "--ocr-workers",
        type=_at_least_one,
        metavar="N",
        help="worker processes that OCR scans (default: one per core, at most 4)",
    )
    p.add_argument(
        "--tesseract",
        default="tesseract",
        metavar="PROGRAM",
        help="the Tesseract program that reads scans (default: tesseract on PATH)",
    )
    faults = p.add_argument_group("faults (also settable at run time with POST /v1/_dev/faults)")
    faults.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="delay before each API request"
    )
    faults.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of API requests answered with --error-status",
    )
    faults.add_argument(
        "--error-status", type=int, default=500, help="status of injected errors (default 500)"
    )
    faults.add_argument(
        "--rate-limit-rate",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of API requests answered 429 with Retry-After",
    )
    faults.add_argument(
        "--retry-after",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="Retry-After of injected 429s (default 1)",
    )
    faults.add_argument(
        "--retry-after-http-date",
        action="store_true",
        help="send Retry-After as an HTTP date instead of seconds",
    )
    faults.add_argument(
        "--pause",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="new predictions report 'paused' for this long before they go on",
    )
    faults.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of API requests whose connection is closed without an answer",
    )
    faults.add_argument(
        "--fault-method",
        action="append",
        dest="fault_methods",
        metavar="METHOD",
        help="limit the random faults to this HTTP method, repeatable (default: all)",
    )
    faults.add_argument(
        "--drop-after-create",
        type=int,
        default=0,
        metavar="N",
        help="lose the answer of the next N generate calls after creating their prediction",
    )
    logs = p.add_argument_group("logging")
    logs.add_argument("--access-log", action="store_true", help="log every request (slower)")
    logs.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    logs.add_argument(
        "--http",
        choices=("auto", "httptools", "h11"),
        default="auto",
        help="uvicorn HTTP parser (default auto: httptools when installed)",
    )
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> ServerConfig:
    faults = FaultUpdate(
        latency=args.latency,
        error_rate=args.error_rate,
        error_status=args.error_status,
        rate_limit_rate=args.rate_limit_rate,
        retry_after=args.retry_after,
        drop_rate=args.drop_rate,
        methods=args.fault_methods,
        drop_after_create=args.drop_after_create,
        pause=args.pause,
        retry_after_http_date=args.retry_after_http_date,
    )
    api_keys = args.api_keys or [DEFAULT_API_KEY]
    return ServerConfig(
        api_keys=api_keys,
        admin_keys=admin_keys(args.host, api_keys, args.admin_keys),
        processing_time=args.processing_time,
        state=args.state,
        seed=args.seed,
        max_upload_bytes=args.max_upload_bytes,
        faults=faults,
        ocr_workers=args.ocr_workers,
        tesseract=args.tesseract,
    )


def _at_least_one(text: str) -> int:
    """``--ocr-workers``: a pool needs a worker (argparse says so, rather than the first scan)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


async def serve(args: argparse.Namespace) -> None:
    server_config = config_from(args)
    notice = start_notice(args.host, server_config.admin_keys, bool(args.admin_keys))
    if notice:
        print(notice, file=sys.stderr, flush=True)
    app = create_app(server_config)
    ocr_notice = app.server.ocr.notice()
    if ocr_notice:
        print(ocr_notice, file=sys.stderr, flush=True)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        http=args.http,
        lifespan="off",
        timeout_graceful_shutdown=3,
    )
    server = _Server(config, app.server.ocr)
    app.dropper.attach(server)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task
                raise SystemExit("the dev server did not start")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"VLM dev server ready: http://{host}:{port}/v1", flush=True)
        await task
    finally:
        app.server.ocr.close()
        app.server.store.close()


class _Server(uvicorn.Server):
    """Uvicorn's server that stops the OCR workers the moment it is told to stop (SIGTERM, SIGINT).

    Uvicorn's graceful shutdown waits for open requests, and a create that reads a scan would
    hold it for as long as its pages take (tens of seconds for a batch); with the pool stopped,
    those creates end at once (their predictions fail: the server is stopping).
    """

    def __init__(self, config: uvicorn.Config, pool: OcrPool) -> None:
        super().__init__(config)
        self._pool = pool
        self._loop = asyncio.get_running_loop()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # A signal handler: the pool is stopped by the event loop, not in the middle of its code.
        self._loop.call_soon_threadsafe(self._pool.close)


def _note_signal(signum: int, frame: FrameType | None) -> None:
    """Uvicorn re-raises the signal that stopped it; handled here, the process then exits 0."""


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _note_signal)
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(args))
    finally:
        loop.close()
    return 0


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it comes with uvicorn[standard]): about a third more requests/s."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


if __name__ == "__main__":
    sys.exit(main())
