"""Units of the Airflow-native features: the decorator's input rules, lineage naming, the metrics
table, progress lines of the one wait loop."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_vlm import get_provider_info, metrics
from airflow_provider_vlm.client import Prediction, PredictionStatus, VlmInputError
from airflow_provider_vlm.client._polling import QUIET_LOG_EVERY, _Progress
from airflow_provider_vlm.decorators.vlm import input_arguments

ROOT = Path(__file__).resolve().parents[2]


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, /, *args: Any) -> None:
        self.lines.append(msg % args)

    def warning(self, msg: str, /, *args: Any) -> None:
        self.lines.append(msg % args)


def _p(pid: str, status: str) -> Prediction:
    return Prediction(id=pid, status=PredictionStatus(status))


# --- @task.vlm --------------------------------------------------------------------------------


def test_decorator_is_registered() -> None:
    assert {
        "name": "vlm",
        "class-name": "airflow_provider_vlm.decorators.vlm.vlm_task",
    } in get_provider_info()["task-decorators"]
    from airflow.sdk import task

    assert task.vlm.__name__ == "vlm_task"


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ("https://example.com/a.pdf", {"url": "https://example.com/a.pdf"}),
        ("s3://bucket/a.pdf", {"file": "s3://bucket/a.pdf"}),
        (Path("/data/a.pdf"), {"file": Path("/data/a.pdf")}),
        (
            {"file_id": "f-1", "config": {"page_indices": [0]}},
            {"file_id": "f-1", "config": {"page_indices": [0]}},
        ),
    ],
)
def test_returned_input(returned: Any, expected: dict[str, Any]) -> None:
    assert input_arguments(returned) == expected


@pytest.mark.parametrize(
    ("returned", "message"),
    [(42, "got int"), ("  ", "empty string"), ({"path": "a.pdf"}, "unknown key(s) 'path'")],
)
def test_returned_input_errors_say_what_is_allowed(returned: Any, message: str) -> None:
    with pytest.raises(VlmInputError, match=re.escape(message)):
        input_arguments(returned)


def test_input_comes_from_the_function_not_the_decorator() -> None:
    from airflow.sdk import DAG, task

    with DAG("d", schedule=None), pytest.raises(VlmInputError, match="comes from the function"):

        @task.vlm(domain="document.invoice", file="a.pdf")
        def extract() -> str:
            return "a.pdf"

        extract()


# --- OpenLineage --------------------------------------------------------------------------------


def test_dataset_names_follow_openlineage_naming() -> None:
    from airflow_provider_vlm.lineage import dataset, file_id_dataset

    assert (dataset("/data/a.pdf").namespace, dataset("/data/a.pdf").name) == ("file", "/data/a.pdf")
    assert (dataset("file:///data/a.pdf").namespace, dataset("file:///data/a.pdf").name) == (
        "file",
        "/data/a.pdf",
    )
    assert (dataset("s3://bucket/in/a.pdf").namespace, dataset("s3://bucket/in/a.pdf").name) == (
        "s3://bucket",
        "in/a.pdf",
    )
    url = dataset("https://example.com/docs/a.pdf")
    assert (url.namespace, url.name) == ("https://example.com", "/docs/a.pdf")
    stored = file_id_dataset("http://127.0.0.1:8765/v1", "f-1")
    assert (stored.namespace, stored.name) == ("http://127.0.0.1:8765", "/v1/files/f-1")


def test_facet_caps_prediction_ids() -> None:
    from airflow_provider_vlm.lineage import MAX_PREDICTION_IDS, operator_lineage

    ids = [f"p-{i}" for i in range(MAX_PREDICTION_IDS + 50)]
    lineage = operator_lineage(
        inputs=[],
        domain="document.invoice",
        model="vlm-1",
        media="document",
        prediction_ids=ids,
        credits_used=3,
    )
    facet = lineage.run_facets["vlm"]
    assert facet.predictionIds == ids[:MAX_PREDICTION_IDS] and facet.predictionCount == len(ids)


def test_schema_operator_lineage() -> None:
    from airflow_provider_vlm.operators.schema import GenerateSchemaOperator

    op = GenerateSchemaOperator(task_id="schema", url="https://example.com/sample.pdf")
    op._lineage_prediction_id, op._lineage_credits = "p-1", 1.0
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("https://example.com", "/sample.pdf")]
    assert lineage.run_facets["vlm"].predictionIds == ["p-1"] and lineage.run_facets["vlm"].domain is None


# --- metrics ----------------------------------------------------------------------------------


def test_metrics_table_in_docs_matches_the_module() -> None:
    rows = re.findall(
        r"^\| `([a-z_.]+)` \| (\w+) \| [^|]+ \| ([^|]+) \|$", (ROOT / "docs" / "metrics.md").read_text(), re.M
    )
    assert [(name, kind, meaning.strip()) for name, kind, meaning in rows] == list(metrics.METRICS)


# --- progress ---------------------------------------------------------------------------------


def test_one_prediction_logs_changes_and_a_line_a_minute_while_quiet() -> None:
    log = Lines()
    progress = _Progress(("p-1",), log, started=1000.0, deadline=1000.0 + 3600)
    progress.record([_p("p-1", "pending")], 1001.0)
    progress.record([_p("p-1", "pending")], 1030.0)  # nothing changed, under a minute: silent
    assert log.lines == ["prediction p-1: submitted -> pending"]
    progress.record([_p("p-1", "pending")], 1001.0 + QUIET_LOG_EVERY)
    assert log.lines[-1] == "prediction p-1 still pending after 61 s; 58 min 59 s to the deadline"
    progress.record([_p("p-1", "running")], 1070.0)
    assert log.lines[-1] == "prediction p-1: pending -> running"


def test_batch_progress_counts_failed_apart_with_rate_and_eta() -> None:
    log = Lines()
    ids = ("a", "b", "c", "d")
    progress = _Progress(ids, log, started=0.0, deadline=None)
    progress.record([_p(i, "running") for i in ids], 10.0)
    assert log.lines == []  # nothing done, under a minute
    progress.record([_p("a", "completed"), _p("b", "failed")], 60.0)
    assert log.lines[-1] == "2/4 done (1 completed, 1 failed); 2.0/min, about 60 s left; no deadline"
    progress.record([], 100.0)
    assert len(log.lines) == 1  # no change, under a minute since the last line
    progress.record([], 121.0)
    assert log.lines[-1].startswith("2/4 done (1 completed, 1 failed); 1.0/min, about 2 min 1 s left")


def test_run_facet_matches_its_published_schema() -> None:
    """The ``_schemaURL`` names a file the docs site publishes, and the facet as emitted fits it."""
    import json
    from pathlib import Path

    import attr
    import jsonschema

    from airflow_provider_vlm.lineage import FACET_SCHEMA_URL, operator_lineage

    docs = Path(__file__).resolve().parents[2] / "docs"
    site_url = next(
        line.split(":", 1)[1].strip()
        for line in (docs.parent / "mkdocs.yml").read_text().splitlines()
        if line.startswith("site_url:")
    )
    assert FACET_SCHEMA_URL.startswith(site_url)
    schema = json.loads((docs / FACET_SCHEMA_URL.removeprefix(site_url)).read_text())
    assert schema["$id"] == FACET_SCHEMA_URL
    facet = operator_lineage(
        inputs=[],
        domain="document.invoice",
        model="vlm-1",
        media="document",
        prediction_ids=["p-1", "p-2"],
        credits_used=4.0,
        schema_hash="2b9f0c1d",
        schema_version="0.1.2",
    ).run_facets["vlm"]
    assert facet._schemaURL == FACET_SCHEMA_URL
    emitted = {k: v for k, v in attr.asdict(facet).items() if not k.startswith("_")}
    facet_schema = schema["$defs"]["VlmRunFacet"]["allOf"][1]
    jsonschema.validate(emitted, facet_schema)
    assert set(emitted) == set(facet_schema["properties"])
    assert (emitted["schemaHash"], emitted["schemaVersion"]) == ("2b9f0c1d", "0.1.2")
