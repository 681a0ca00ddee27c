"""The server's settings, from the CLI or from a test that builds the app directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .faults import FaultUpdate

DEFAULT_API_KEY = "dev-key"
DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024


@dataclass
class ServerConfig:
    api_keys: list[str] = field(default_factory=lambda: [DEFAULT_API_KEY])
    processing_time: float = 2.0
    state: Path | None = None
    seed: int | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    faults: FaultUpdate = field(default_factory=FaultUpdate)
    #: Keys the ``/v1/_dev/*`` admin routes accept; ``None``: no key needed (loopback). See ``admin``.
    admin_keys: list[str] | None = None
    #: OCR worker processes for scans (``engines.ocr_pool``); ``None``: one per core, at most 4.
    ocr_workers: int | None = None
    #: The Tesseract program OCR runs (looked up on PATH).
    tesseract: str = "tesseract"
