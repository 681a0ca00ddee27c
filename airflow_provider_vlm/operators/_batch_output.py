"""Where a batch's results go: one JSON line per input plus ``summary.json``, and a small XCom summary.

Results are written as they are fetched, so ten thousand responses never sit in memory or in
XCom at once. The XCom value stays small (counts, credits, paths, the first failed inputs); the
full list goes to XCom only when there is no ``output_path`` and it fits under a stated size.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, Any

from airflow_provider_vlm.operators._drift import SchemaCheck

log = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
#: How many failed inputs the summary lists by name (all of them are in the results file).
FAILED_LISTED = 20
#: Output status of an input that never became a prediction (unreadable file, request refused).
INVALID = "invalid"
#: Output status of an input the budget (``max_credits``) left unsubmitted: a later try submits it.
NOT_SUBMITTED = "not_submitted"
COMPLETED = "completed"
FAILED = "failed"


@dataclass(frozen=True)
class InputResult:
    """One input's outcome: the line written to ``results.jsonl``."""

    input: str
    status: str
    prediction_id: str | None = None
    response: Any = None
    usage: dict[str, Any] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "prediction_id": self.prediction_id,
            "status": self.status,
            "response": self.response,
            "usage": self.usage,
            "error": self.error,
        }

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED


def as_storage_path(value: Any) -> Any:
    """An ``ObjectStoragePath`` for a URI, a local path or an ``ObjectStoragePath``."""
    from airflow.sdk import ObjectStoragePath

    return value if isinstance(value, ObjectStoragePath) else ObjectStoragePath(str(value))


@dataclass
class ResultWriter:
    """Collects results in input order: streams them to ``output_path`` and counts them."""

    output_path: Any = None
    max_xcom_bytes: int = 512_000
    counts: Counter[str] = field(default_factory=Counter)
    credits_used: float = 0.0
    #: The tier the batch's predictions were requested at (they share one config).
    tier: str = "standard"
    #: The budget's figures (``max_credits``, reserved, inputs left), or ``None`` without one.
    budget: dict[str, Any] | None = None
    #: The schema the batch was extracted against: on every row and in the summary (``_drift``).
    schema: SchemaCheck | None = None
    failed: list[dict[str, Any]] = field(default_factory=list)
    failed_total: int = 0
    _kept: list[dict[str, Any]] | None = field(default_factory=list)
    _kept_bytes: int = 0
    _file: IO[str] | None = None
    _folder: Any = None

    def __enter__(self) -> ResultWriter:
        if self.output_path is not None:
            self._folder = as_storage_path(self.output_path)
            self._folder.mkdir(parents=True, exist_ok=True)
            self._file = (self._folder / RESULTS_FILE).open("w", encoding="utf-8")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def add(self, result: InputResult) -> None:
        row = result.to_json()
        if self.schema is not None:
            row.update(self.schema.row_fields())
        line = json.dumps(row, default=str, ensure_ascii=False)
        if self._file is not None:
            self._file.write(line + "\n")
        elif self._kept is not None:
            self._kept_bytes += len(line) + 2
            if self._kept_bytes > self.max_xcom_bytes:
                self._kept = None  # too big for XCom: only the summary goes there
            else:
                self._kept.append(row)
        self.counts[result.status] += 1
        credits = (result.usage or {}).get("credits_used")
        if isinstance(credits, (int, float)):
            self.credits_used += float(credits)
        if not result.ok:
            self.failed_total += 1
            if len(self.failed) < FAILED_LISTED:
                self.failed.append(
                    {
                        "input": result.input,
                        "status": result.status,
                        "prediction_id": result.prediction_id,
                        "error": result.error,
                    }
                )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> dict[str, Any]:
        """The XCom return value; ``summary.json`` holds the same (without ``results``)."""
        summary: dict[str, Any] = {
            "total": self.total,
            "counts": dict(sorted(self.counts.items())),
            "failed_total": self.failed_total,
            "credits_used": round(self.credits_used, 6),
            "credits_by_tier": {self.tier: round(self.credits_used, 6)} if self.credits_used else {},
            **(self.schema.summary_fields() if self.schema is not None else {}),
            "failed_inputs": list(self.failed),
            "output": None,
        }
        if self.budget is not None:
            summary["budget"] = self.budget
        if self._folder is not None:
            summary["output"] = {
                "results": str(self._folder / RESULTS_FILE),
                "summary": str(self._folder / SUMMARY_FILE),
            }
            with (self._folder / SUMMARY_FILE).open("w", encoding="utf-8") as fh:
                json.dump(summary, fh, indent=2, default=str)
            return summary
        if self._kept is None:
            summary["results"] = None
            summary["results_note"] = (
                f"results omitted from XCom: larger than {self.max_xcom_bytes:,} bytes; "
                "set output_path to keep them"
            )
            log.warning(
                "The %d results are larger than %s bytes, so they are not pushed to XCom; "
                "set output_path to write them to storage.",
                self.total,
                f"{self.max_xcom_bytes:,}",
            )
        else:
            summary["results"] = self._kept
        return summary
