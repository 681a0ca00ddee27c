"""autocast at nightly scale: the batch's collect step with and without response validation.

Run: ``python bench/autocast_collect.py`` (``BENCH_N``, default 10,000; ``BENCH_ROUNDS``, default 3).
It starts its own dev server, extracts one invoice (``sample_invoice.py``) to get a real ``document.invoice``
response, makes the server complete ``BENCH_N`` predictions with that response (URL inputs, no
uploads), then times ``GenerateBatchOperator``'s collect step (list pages, result rows written to
``results.jsonl``, state written back) over all of them: without ``autocast`` (the baseline) and
with it, alternating, in the same run. The result is the ratio of the medians; the goal is <= 1.3.
It also times, on a few hundred responses, what validation cost per response before each schema
was compiled once per task (schema check and validator built for every response).
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

from airflow_provider_vlm.client import AsyncVlmClient, VlmClient
from airflow_provider_vlm.devserver.process import running
from airflow_provider_vlm.durable import SubmissionRecord
from airflow_provider_vlm.operators._batch_collect import Collector
from airflow_provider_vlm.operators._batch_output import ResultWriter
from airflow_provider_vlm.operators._batch_state import BatchState, InputState
from airflow_provider_vlm.validation import ResponseValidator

API_KEY = "bench-key"
DOMAIN = "document.invoice"
N = int(os.environ.get("BENCH_N", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
OLD_SAMPLE = int(os.environ.get("BENCH_OLD_SAMPLE", "200"))
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


def collect_once(client: VlmClient, store: MemoryStore, labels: list[str], autocast: bool) -> float:
    validator = ResponseValidator(autocast=autocast, domain=DOMAIN)
    collector = Collector(client, BatchState.load(store), 0, validator, 20, log)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        with ResultWriter(out) as writer:
            collector.run(labels, writer, "bench")
            summary = writer.summary()
        elapsed = time.perf_counter() - start
    assert summary["counts"] == {"completed": len(labels)}, summary["counts"]
    return elapsed


def old_per_response(schema: dict[str, Any], response: Any) -> float:
    """The earlier path: check the schema and build a validator for every response."""
    import jsonschema

    start = time.perf_counter()
    for _ in range(OLD_SAMPLE):
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        jsonschema.exceptions.best_match(cls(schema).iter_errors(response))
    return (time.perf_counter() - start) / OLD_SAMPLE


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
        plain: list[float] = []
        validated: list[float] = []
        collect_once(client, store, labels[:200], True)  # warm-up (imports, first pages)
        for _ in range(ROUNDS):
            plain.append(collect_once(client, store, labels, False))
            validated.append(collect_once(client, store, labels, True))
        old = old_per_response(schema, response)
        client.close()

    base, subject = statistics.median(plain), statistics.median(validated)
    print(f"autocast collect: {N:,} completed invoices ({created:.1f}s to create), {ROUNDS} rounds, medians")
    print()
    print("| collect step | wall s | per invoice ms |")
    print("|---|---:|---:|")
    print(f"| without autocast (baseline) | {base:.2f} | {base / N * 1000:.3f} |")
    print(f"| with autocast | {subject:.2f} | {subject / N * 1000:.3f} |")
    print(f"| ratio (goal <= 1.3) | **{subject / base:.2f}** | |")
    print(f"| earlier validation, per response (sample of {OLD_SAMPLE}) | | {old * 1000:.1f} |")
    print(f"| earlier validation, extrapolated to {N:,} | {old * N:.0f} | |")


if __name__ == "__main__":
    main()
