"""Schema drift through real Airflow: the nightly batch stamps the domain schema it extracted
against, says when it changed since the last good night, and a pin stops a night before billing.

Each night is a ``dag.test()`` run against the dev server; ``POST /v1/_dev/schemas`` plays the
platform publishing a new version of the domain's schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import HERE, _harness, make_documents

pytestmark = pytest.mark.timeout(300)

DOMAIN = "document.receipt"
WARNING = "schema changed since the last successful run"


@pytest.fixture
def server(dev: Any) -> Iterator[Any]:
    """The session's dev server; the schema a test published is withdrawn after it."""
    yield dev
    dev.reset()


def served(server: Any) -> dict[str, Any]:
    with server.client() as http:
        reply = http.post("/schema", json={"domain": DOMAIN})
    reply.raise_for_status()
    found: dict[str, Any] = reply.json()
    return found


def publish_new_schema(server: Any) -> dict[str, Any]:
    """The platform adds an optional field to the domain's schema, as version 9.9.9."""
    schema = served(server)["json_schema"]
    schema = {
        **schema,
        "properties": {**schema["properties"], "loyalty_number": {"type": ["string", "null"]}},
    }
    reply = server._admin.post(
        "/_dev/schemas", json={"domain": DOMAIN, "json_schema": schema, "version": "9.9.9"}
    )
    reply.raise_for_status()
    return served(server)


def night(server: Any, home: Path, dag_id: str, source: Path, output: Path, **env: str) -> _harness.DagResult:
    run_env = {"VLM_BATCH_SOURCE": str(source), "VLM_BATCH_OUTPUT": str(output), **env}
    return _harness.run_dag(
        home, server.base_url, server.api_key, dag_id, env=run_env, dags_folder=HERE / "dags"
    )


def summary_file(output: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((output / "summary.json").read_text())
    return found


def rows(output: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]


def test_same_schema_says_nothing_a_new_one_is_reported_once(
    server: Any, batch_home: Path, tmp_path: Path
) -> None:
    docs = make_documents(tmp_path / "in", 2)
    before = served(server)
    stamp = {"schema_hash": before["schema_hash"], "schema_version": before["schema_version"]}

    first = night(server, batch_home, "vlm_drift_nights", docs[0].parent, tmp_path / "n1")
    assert first.state == "success", first.tail()
    second = night(server, batch_home, "vlm_drift_nights", docs[0].parent, tmp_path / "n2")
    assert second.state == "success", second.tail()
    for result, out in ((first, tmp_path / "n1"), (second, tmp_path / "n2")):
        assert WARNING not in result.output
        summary = result.xcom("extract")
        assert {k: summary[k] for k in stamp} == stamp and "schema_changed" not in summary
        assert summary_file(out) == summary  # summary.json is the XCom summary
        assert [{k: r[k] for k in stamp} for r in rows(out)] == [stamp, stamp]
        assert f"schema {stamp['schema_hash']} (version {stamp['schema_version']})" in result.output

    after = publish_new_schema(server)
    new = {"schema_hash": after["schema_hash"], "schema_version": "9.9.9"}
    assert new["schema_hash"] != stamp["schema_hash"]
    third = night(server, batch_home, "vlm_drift_nights", docs[0].parent, tmp_path / "n3")
    assert third.state == "success", third.tail()
    warned = [line for line in third.output.splitlines() if WARNING in line]
    assert warned and "warning" in warned[0].split(WARNING)[0].lower(), third.tail()  # its level
    assert stamp["schema_hash"] in warned[0] and new["schema_hash"] in warned[0] and "9.9.9" in warned[0]
    summary = summary_file(tmp_path / "n3")
    assert summary["schema_changed"] == {"from": stamp, "to": new}
    assert third.xcom("extract")["schema_changed"] == {"from": stamp, "to": new}
    assert [{k: r[k] for k in new} for r in rows(tmp_path / "n3")] == [new, new]
    assert f"changed from {stamp['schema_hash']}" in third.output  # the end-of-try line

    # The new schema is now the last one: the next night says nothing.
    fourth = night(server, batch_home, "vlm_drift_nights", docs[0].parent, tmp_path / "n4")
    assert fourth.state == "success" and WARNING not in fourth.output, fourth.tail()
    assert "schema_changed" not in summary_file(tmp_path / "n4")


def test_a_pinned_hash_that_changed_fails_before_anything_is_billed(
    server: Any, batch_home: Path, tmp_path: Path
) -> None:
    docs = make_documents(tmp_path / "in", 2)
    pinned = served(server)["schema_hash"]
    current = publish_new_schema(server)["schema_hash"]
    server.stats()  # the counters below start from the reset of the `dev` fixture
    result = night(server, batch_home, "vlm_drift_pinned", docs[0].parent, tmp_path / "out", VLM_PIN=pinned)
    task = result.task("extract")
    assert task["state"] == "failed" and task["try_number"] == 1, result.tail()  # no retry spent
    assert "SchemaPinError" in result.output
    message = next(line for line in result.output.splitlines() if "SchemaPinError" in line and pinned in line)
    assert current in message and "9.9.9" in message and f"pin_schema_hash={current!r}" in message
    stats = server.stats()
    assert stats["predictions_created"] == 0
    assert not any(route.startswith("POST /files") or "generate" in route for route in stats["requests"])
    assert not (tmp_path / "out").exists()


def test_the_pin_of_the_current_schema_lets_the_night_run(
    server: Any, batch_home: Path, tmp_path: Path
) -> None:
    docs = make_documents(tmp_path / "in", 1)
    pinned = served(server)["schema_hash"]
    result = night(server, batch_home, "vlm_drift_pinned", docs[0].parent, tmp_path / "out", VLM_PIN=pinned)
    assert result.state == "success", result.tail()
    assert summary_file(tmp_path / "out")["schema_hash"] == pinned


def test_generate_operator_pin_fails_before_uploading_and_passes_when_current(
    server: Any, batch_home: Path, tmp_path: Path
) -> None:
    docs = make_documents(tmp_path / "in", 1)
    pinned = served(server)["schema_hash"]
    ok = night(
        server, batch_home, "vlm_drift_generate_pinned", docs[0].parent, tmp_path / "o", VLM_PIN=pinned
    )
    assert ok.state == "success", ok.tail()
    assert server.stats()["predictions_created"] == 1

    server.reset()  # the counters below count the pinned run only
    current = publish_new_schema(server)["schema_hash"]
    result = night(
        server, batch_home, "vlm_drift_generate_pinned", docs[0].parent, tmp_path / "o", VLM_PIN=pinned
    )
    task = result.task("extract")
    assert task["state"] == "failed" and task["try_number"] == 1, result.tail()
    assert "SchemaPinError" in result.output and f"pin_schema_hash={current!r}" in result.output
    stats = server.stats()
    assert stats["predictions_created"] == 0
    assert not any(route.startswith("POST /files") or "generate" in route for route in stats["requests"])
