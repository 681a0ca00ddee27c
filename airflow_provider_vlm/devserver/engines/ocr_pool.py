"""The OCR worker pool: scans are read in worker processes, so a batch of them never holds the
event loop (status polls stay fast) nor the GIL.

The server configures one pool at start (``configure``): its size, the Tesseract program, and
whether OCR can run at all. When it cannot, ``notice`` says so once at start and every scan's
prediction fails with the same reason; it never comes back silently empty. Workers start on the
first scan (a server that never sees one pays nothing) and run Tesseract on one thread each.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import ocr
from .base import EngineError
from .pdf import _PARSE_ERRORS

_STOPPING = "the dev server is stopping: the scan was not read"
#: Tesseract program looked up on PATH unless the server is told otherwise (``--tesseract``).
DEFAULT_TESSERACT = "tesseract"


def default_workers() -> int:
    """One worker per core, at most 4: each worker keeps one core busy while it reads a page."""
    return max(1, min(4, os.cpu_count() or 1))


class OcrPool:
    """Reads pages in worker processes; ``reason`` is why it cannot (None when it can)."""

    def __init__(self, workers: int | None = None, tesseract: str = DEFAULT_TESSERACT) -> None:
        self.workers = workers or default_workers()
        self.tesseract = tesseract
        self.reason, self.langs = ocr.unavailable(tesseract)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def notice(self) -> str | None:
        """The start-up line when scans cannot be read, else None."""
        if self.reason is None:
            return None
        return (
            f"VLM dev server: scans (image-only PDFs, PNG/JPEG) will fail: OCR is unavailable: {self.reason}"
        )

    def read(
        self, sources: Sequence[tuple[bytes, int | None]], steps: tuple[str, ...] = ocr.STEPS
    ) -> list[ocr.Page]:
        """The words of each ``(content, page)`` (page None: the content is one image), in order;
        the pages are read side by side, one per worker, cleaned up by ``steps`` (``ocr.prepared``).

        Raises EngineError when OCR is unavailable or a page cannot be read.
        """
        if self.reason is not None:
            raise EngineError(f"OCR is unavailable, so the scan cannot be read: {self.reason}")
        executor = self._pool()
        if executor is None:
            raise EngineError(_STOPPING)
        futures = [
            executor.submit(ocr.read_page, source, page, self.tesseract, self.langs, steps)
            for source, page in sources
        ]
        try:
            return [future.result() for future in futures]
        except (BrokenProcessPool, CancelledError) as exc:
            if self._closed:
                raise EngineError(_STOPPING) from exc
            self._reset()
            raise EngineError(f"the OCR worker stopped while reading the scan: {exc}") from exc
        except (*_PARSE_ERRORS, RuntimeError) as exc:  # Pillow, pypdf, pytesseract's TesseractError
            raise EngineError(f"the scan cannot be read: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Stop the workers now: pages not started are cancelled and the pages being read are
        abandoned (their workers terminated), so a server told to stop does not wait for a batch
        of scans; the requests waiting on them fail as the server goes down."""
        with self._lock:
            executor, self._executor, self._closed = self._executor, None, True
        if executor is None:
            return
        terminate = getattr(executor, "terminate_workers", None)  # Python 3.14+
        if terminate is not None:
            terminate()
            return
        # Before 3.14 there is no public way to stop a worker in the middle of a page.
        workers = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            if worker.is_alive():
                worker.terminate()

    def _pool(self) -> ProcessPoolExecutor | None:
        """The running pool (started now if need be); None once ``close`` stopped it."""
        with self._lock:
            if self._closed:
                return None
            if self._executor is None:
                # spawn, not fork: the server has threads and an event loop a fork would copy.
                self._executor = ProcessPoolExecutor(
                    self.workers, multiprocessing.get_context("spawn"), initializer=ocr.init_worker
                )
            return self._executor

    def _reset(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


_current: OcrPool | None = None


def configure(workers: int | None = None, tesseract: str = DEFAULT_TESSERACT) -> OcrPool:
    """Make the pool the engines use (the server does this at start); the previous one stops."""
    global _current
    previous, _current = _current, OcrPool(workers, tesseract)
    if previous is not None:
        previous.close()
    return _current


def current() -> OcrPool:
    """The configured pool (a default one when the server did not configure any)."""
    return _current if _current is not None else configure()
