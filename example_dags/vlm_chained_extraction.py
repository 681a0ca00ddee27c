"""Chained extraction: read a document as markdown, pick its domain from the text, extract again.

What it shows: two ``GenerateOperator`` steps with a routing ``@task`` between them, every step
passing its result through XCom. The first step turns the document into text
(``document.markdown``); ``route`` picks the domain from that text with simple keyword rules
(invoice, receipt, bank statement; a document that matches none is skipped); the second step
extracts the document again with the routed domain, which it reads from ``route``'s XCom through
its templated ``domain``. Both steps are deferrable: no worker slot is held while the model runs.

Point it at real data: trigger the DAG with the param ``document`` (or set the environment
variable ``VLM_CHAINED_DOCUMENT``) to one file Airflow's object storage can read, e.g.
``s3://acme-inbox/scans/0042.pdf`` (with an ``aws_default`` connection), and the ``vlm_default``
connection to the VLM Run API (empty host, your API key). Left empty, a sample invoice is
generated under ``$AIRFLOW_HOME/vlm_demo/vlm_chained_extraction`` (needs the ``demo`` extra).
Extend ``ROUTES`` to route more kinds of documents.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

try:
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # Airflow 3.0 and 3.1 keep it outside the Task SDK
    from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]

from airflow_provider_vlm.operators.generate import GenerateOperator

log = logging.getLogger(__name__)

DOCUMENT = os.environ.get("VLM_CHAINED_DOCUMENT", "")
SAMPLES = (
    Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "vlm_demo" / "vlm_chained_extraction"
)

#: Domain → words that vote for it; the domain with the most hits in the text wins.
ROUTES: dict[str, tuple[str, ...]] = {
    "document.invoice": ("invoice", "invoice number", "bill to", "due date", "vat", "rechnung", "facture"),
    "document.receipt": ("receipt", "cashier", "change due", "card ending", "thank you for shopping"),
    "document.bank-statement": (
        "bank statement",
        "account statement",
        "opening balance",
        "closing balance",
        "kontoauszug",
    ),
}


def pick_domain(text: str) -> str | None:
    """The domain whose keywords occur most often in ``text`` (whole words), or None."""
    lowered = text.lower()
    votes = {
        domain: sum(len(re.findall(rf"\b{re.escape(word)}\b", lowered)) for word in words)
        for domain, words in ROUTES.items()
    }
    best = max(votes, key=lambda domain: votes[domain])
    return best if votes[best] > 0 else None


with DAG(
    dag_id="vlm_chained_extraction",
    description="Markdown first, then the domain the text calls for",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "document": Param(
            DOCUMENT, type="string", description="file path or URI; empty: a generated sample invoice"
        ),
    },
    doc_md=__doc__,
    tags=["vlm", "example"],
) as dag:

    @task
    def pick_document(params: dict[str, Any] | None = None) -> str:
        """The document to read: the ``document`` param, or a freshly generated sample invoice."""
        assert params is not None  # injected from the task context
        if params["document"]:
            return str(params["document"])
        from vlm_demo.samples import generate_samples

        (sample,) = generate_samples(SAMPLES, count=1, bad=0)
        return str(sample.path)

    document = pick_document()

    markdown = GenerateOperator(
        task_id="markdown",
        media="document",
        domain="document.markdown",
        file=document,
        deferrable=True,
        poll_interval=2.0,
    )

    @task
    def route(record: Any) -> str:
        """Pick the second step's domain from the markdown pages."""
        pages = (record.get("response") or {}).get("pages") or []
        text = "\n".join(str(page.get("content") or "") for page in pages)
        domain = pick_domain(text)
        if domain is None:
            raise AirflowSkipException("no routing rule matches this document; nothing more to extract")
        log.info("routing to %s", domain)
        return domain

    routed = route(markdown.output)

    extract = GenerateOperator(
        task_id="extract",
        media="document",
        domain="{{ ti.xcom_pull(task_ids='route') }}",
        file=document,
        deferrable=True,
        poll_interval=2.0,
    )
    routed >> extract
