"""autocast at nightly scale: the batch's collect step without response validation, with it, and
with the library it replaced.

Run: ``python bench/autocast_collect.py`` (``BENCH_N``, default 10,000; ``BENCH_ROUNDS``, default 3).
It starts its own dev server, extracts one invoice (``sample_invoice.py``) to get a real ``document.invoice``
response, makes the server complete ``BENCH_N`` predictions with that response (URL inputs, no
uploads), then times ``GenerateBatchOperator``'s collect step (list pages, result rows written to
``results.jsonl``, state written back) over all of them, in rounds that alternate three variants:
without ``autocast`` (the baseline), with it (``jsonschema-rs``, the provider's check), and with
the earlier path's library, ``jsonschema`` (a validator built once per task, formats asserted, so
both judge alike). The result is each variant's median against the baseline's; the goal is <= 1.3.
It also times the check alone per response, for each library, on a few thousand responses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import tempfile
import time
from typing import Any

import httpx
from sample_invoice import sample_invoice

from airflow_provider_vlm.client import AsyncVlmClient, VlmClient, VlmError
from airflow_provider_vlm.devserver.process import running
from airflow_provider_vlm.durable import SubmissionRecord
from airflow_provider_vlm.operators._batch_collect import Collector
from airflow_provider_vlm.operators._batch_output import ResultWriter
from airflow_provider_vlm.operators._batch_state import BatchState, InputState
from airflow_provider_vlm.validation import ResponseValidator, compiled

API_KEY = "bench-key"
DOMAIN = "document.invoice"
N = int(os.environ.get("BENCH_N", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "2000"))
log = logging.getLogger("bench")


class MemoryStore:
    """Stands in for ``task_state_store`` (JSON round trip, like the real one)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.values[key] = json.dumps(value)


async def create_many(base_url: str, count: int) -> list[str]:
    async with AsyncVlmClient(API_KEY, base_url, max_connections=32) as client:
        semaphore = asyncio.Semaphore(32)

        async def one(i: int) -> str:
            async with semaphore:
                p = await client.document.generate(
                    domain=DOMAIN, url=f"https://invoices.example/{i:05d}.pdf", batch=True
                )
                return p.id

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def state_with(ids: list[str]) -> tuple[MemoryStore, list[str]]:
    store = MemoryStore()
    state = BatchState.load(store)
    labels = [f"s3://nightly/2026/01/01/{i:05d}.pdf" for i in range(len(ids))]
    for label, pid in zip(labels, ids, strict=True):
        state.put(label, InputState(SubmissionRecord("f" * 64, 0, 1, "2026-01-01T00:00:00+00:00", pid)))
    state.flush()
    return store, labels


class JsonschemaCheck:
    """The earlier path's library with the same rules: ``jsonschema``, built once, formats asserted."""

    def __init__(self, schema: dict[str, Any]) -> None:
        import jsonschema

        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        self._validator = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def is_valid(self, response: Any) -> bool:
        return bool(self._validator.is_valid(response))

    def validate(self, response: Any, *, prediction_id: str | None = None, source: str = "schema") -> None:
        from jsonschema.exceptions import best_match

        error = best_match(self._validator.iter_errors(response))
        if error is not None:
            raise VlmError(
                f"prediction {prediction_id} response does not match the {source}: {error.message}"
            )


class JsonschemaValidator(ResponseValidator):
    """``ResponseValidator`` with ``jsonschema`` in place of ``jsonschema-rs`` (the comparison)."""

    def _schema_for(self, client: VlmClient, domain: str) -> Any:
        with self._lock:
            found = self._schemas.get(domain)
            if found is None:
                found = self._schemas[domain] = JsonschemaCheck(client.get_schema(domain).json_schema)
        return found


VARIANTS: dict[str, Any] = {
    "without autocast (baseline)": lambda: ResponseValidator(autocast=False, domain=DOMAIN),
    "autocast, `jsonschema-rs` (now)": lambda: ResponseValidator(autocast=True, domain=DOMAIN),
    "autocast, `jsonschema` (before)": lambda: JsonschemaValidator(autocast=True, domain=DOMAIN),
}


def collect_once(
    client: VlmClient, store: MemoryStore, labels: list[str], validator: ResponseValidator
) -> float:
    collector = Collector(client, BatchState.load(store), 0, validator, 20, log)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        with ResultWriter(out) as writer:
            collector.run(labels, writer, "bench")
            summary = writer.summary()
        elapsed = time.perf_counter() - start
    assert summary["counts"] == {"completed": len(labels)}, summary["counts"]
    return elapsed


def per_response(check: Any, response: Any) -> float:
    """Seconds per call of ``check.is_valid`` on one response, the validator already built."""
    assert check.is_valid(response)
    start = time.perf_counter()
    for _ in range(SAMPLE):
        check.is_valid(response)
    return (time.perf_counter() - start) / SAMPLE


def main() -> None:
    invoice = sample_invoice()
    with running("--api-key", API_KEY, "--processing-time", "0") as server:
        client = VlmClient(API_KEY, server.base_url)
        real = client.document.generate(domain=DOMAIN, file=invoice, batch=False)
        response = client.predictions.get(real.id).response
        schema = client.get_schema(DOMAIN).json_schema
        # The dev server's admin route: every new invoice prediction completes with this response.
        httpx.post(
            f"{server.base_url}/_dev/faults", json={"responses": {DOMAIN: response}}
        ).raise_for_status()
        t0 = time.perf_counter()
        ids = asyncio.run(create_many(server.base_url, N))
        created = time.perf_counter() - t0
        store, labels = state_with(ids)
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for make in VARIANTS.values():  # warm-up (imports, first pages, schema fetched and compiled)
            collect_once(client, store, labels[:200], make())
        for _ in range(ROUNDS):
            for name, make in VARIANTS.items():
                times[name].append(collect_once(client, store, labels, make()))
        alone = {
            "`jsonschema-rs`": per_response(compiled(schema), response),
            "`jsonschema`": per_response(JsonschemaCheck(schema), response),
        }
        client.close()

    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["without autocast (baseline)"]
    print(f"autocast collect: {N:,} completed invoices ({created:.1f}s to create), {ROUNDS} rounds, medians")
    print()
    print(f"| collect step, {N:,} invoices | wall s | per invoice ms | ratio (goal <= 1.3) |")
    print("|---|---:|---:|---:|")
    for name, median in medians.items():
        print(f"| {name} | {median:.2f} | {median / N * 1000:.3f} | {median / base:.2f} |")
    print()
    print(f"| the check alone, one invoice (mean of {SAMPLE:,}) | µs |")
    print("|---|---:|")
    for name, seconds in alone.items():
        print(f"| {name} | {seconds * 1e6:.1f} |")


if __name__ == "__main__":
    main()
