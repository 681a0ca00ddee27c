"""The soak's inputs: e-invoices made unique, some broken ones, and where they are stored.

The invoices are the real public ones when they are beside the project (``../shared/data/
invoices``, an optional extra), else a seeded set drawn by the demo's generator (Factur-X and
text-only PDFs), so the soak runs on a bare clone. Each copy of an invoice gets a PDF comment with its own serial after the end-of-file marker:
PDF readers ignore it, and its md5 differs, so the dev server stores and extracts every copy as
a file of its own (no upload dedupe hides a lost input). About one input in fifty is broken: not
a PDF at all, or a PDF cut in half. A broken input must still end as a result line (a failed
one), never disappear.
"""

from __future__ import annotations

import random
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[1]
INVOICES = ROOT.parent / "shared" / "data" / "invoices" / "zugferd" / "correct"
GENERATED_COUNT = 24
#: Larger PDFs only slow the dev server's text extraction down; the soak is about the waits.
MAX_SOURCE_BYTES = 400_000
BROKEN_EVERY = 50


@dataclass(frozen=True)
class Document:
    name: str
    content: bytes
    broken: bool


def sources(folder: Path = INVOICES) -> list[bytes]:
    """The real invoices in ``folder`` when it exists, else generated ones."""
    if not folder.is_dir():
        return generated_sources()
    pdfs = sorted(p for p in folder.glob("*.pdf") if p.stat().st_size <= MAX_SOURCE_BYTES)
    if not pdfs:
        raise RuntimeError(f"no real invoices found in {folder}")
    return [p.read_bytes() for p in pdfs]


def generated_sources() -> list[bytes]:
    """Seeded invoices from the demo's generator: every other one embeds Factur-X XML."""
    examples = str(ROOT / "example_dags")
    if examples not in sys.path:
        sys.path.append(examples)
    from vlm_demo.samples import generate_samples

    with tempfile.TemporaryDirectory() as folder:
        invoices = generate_samples(
            Path(folder), count=GENERATED_COUNT, seed=2026, day=date(2026, 11, 20), embed_every=2, bad=0
        )
        return [invoice.path.read_bytes() for invoice in invoices]


def make_documents(count: int, prefix: str, seed: int, broken: bool = True) -> list[Document]:
    """``count`` unique documents ``<prefix>-00001.pdf`` ...; every ``BROKEN_EVERY``-th is broken."""
    rng = random.Random(f"{seed}:{prefix}")
    pool = sources()
    docs: list[Document] = []
    for i in range(1, count + 1):
        name = f"{prefix}-{i:05d}.pdf"
        base = rng.choice(pool)
        if broken and i % BROKEN_EVERY == 0:
            half = (i // BROKEN_EVERY) % 2 == 0
            content = base[: len(base) // 2] if half else f"not a PDF: {name}\n".encode()
            docs.append(Document(name, content, True))
        else:
            docs.append(Document(name, base + f"\n%soak {prefix} {i} {seed}\n".encode(), False))
    return docs


class Store(Protocol):
    """Where the inputs are put and the results read back: a local folder or an S3 bucket."""

    def uri(self, key: str) -> str: ...
    def put(self, key: str, content: bytes) -> None: ...
    def get(self, key: str) -> bytes | None: ...


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def uri(self, key: str) -> str:
        return (self.root / key).as_uri()

    def put(self, key: str, content: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def get(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.exists() else None


class BucketStore:
    """The S3 bucket, written with boto3 and read by the DAGs through ``s3://<conn>@bucket/...``."""

    def __init__(self, endpoint: str, bucket: str, conn_id: str) -> None:
        import boto3

        self.bucket, self.conn_id = bucket, conn_id
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="soak",
            aws_secret_access_key="soak",
            region_name="us-east-1",
        )
        self.client.create_bucket(Bucket=bucket)

    def uri(self, key: str) -> str:
        return f"s3://{self.conn_id}@{self.bucket}/{key}"

    def put(self, key: str, content: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=content)

    def get(self, key: str) -> bytes | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(body.read())


def publish(store: Store, folder: str, docs: list[Document]) -> None:
    for doc in docs:
        store.put(f"{folder}/{doc.name}", doc.content)
