"""Schema drift's comparison and pin, without Airflow: what changed, what the messages say."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_provider_vlm.client import NotFoundError, SchemaInfo, ServerError
from airflow_provider_vlm.client.errors import TaskRetry
from airflow_provider_vlm.client.schema_check import schema_hash
from airflow_provider_vlm.operators._batch_output import InputResult, ResultWriter
from airflow_provider_vlm.operators._drift import (
    CUSTOM_VERSION,
    SchemaCheck,
    SchemaPinError,
    SchemaStamp,
    change,
    check_pin,
    read_stamp,
    summary_line,
    variable_key,
)

OLD = SchemaStamp("aaaa1111", "1.0.0")
NEW = SchemaStamp("bbbb2222", "1.1.0")


class FakeClient:
    """Answers ``get_schema`` with ``reply`` (or raises it) and counts the calls."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self.calls = 0

    def get_schema(self, domain: str, config: Any = None) -> SchemaInfo:
        self.calls += 1
        if isinstance(self.reply, Exception):
            raise self.reply
        return SchemaInfo.model_validate(self.reply)


def test_a_change_is_a_different_hash_and_the_first_night_has_none() -> None:
    assert change(None, NEW) is None  # first night: nothing to compare
    assert change(OLD, SchemaStamp("aaaa1111", "1.0.1")) is None  # same content, only the label
    assert change(OLD, None) is None  # the server could not say
    assert change(OLD, NEW) == {
        "from": {"schema_hash": "aaaa1111", "schema_version": "1.0.0"},
        "to": {"schema_hash": "bbbb2222", "schema_version": "1.1.0"},
    }


def test_the_pin_fails_naming_both_hashes_and_how_to_accept() -> None:
    check_pin(None, NEW, "document.invoice", None)
    check_pin("bbbb2222", NEW, "document.invoice", None)
    with pytest.raises(SchemaPinError) as raised:
        check_pin("aaaa1111", NEW, "document.invoice", OLD)
    text = str(raised.value)
    assert "pinned aaaa1111 (version 1.0.0)" in text and "bbbb2222 (version 1.1.0)" in text
    assert "pin_schema_hash='bbbb2222'" in text and "nothing was submitted" in text
    assert SchemaPinError.task_retry is TaskRetry.FAIL  # never retried
    with pytest.raises(SchemaPinError, match="cannot be checked"):
        check_pin("aaaa1111", None, "document.invoice", None)


def test_the_domain_schema_is_read_once_and_a_custom_one_not_at_all() -> None:
    client = FakeClient({"domain": "document.invoice", "schema_hash": "cafe0001", "schema_version": "0.1.2"})
    assert read_stamp(client, "document.invoice", None) == SchemaStamp("cafe0001", "0.1.2")
    assert client.calls == 1
    own = {"type": "object", "properties": {"total": {"type": "number"}}}
    assert read_stamp(client, "document.invoice", {"json_schema": own}) == SchemaStamp(
        schema_hash(own), CUSTOM_VERSION
    )
    assert client.calls == 1


def test_a_server_that_cannot_say_is_no_failure_unless_pinned() -> None:
    for error in (NotFoundError("no route", status_code=404), ServerError("down", status_code=503)):
        assert read_stamp(FakeClient(error), "document.invoice", None) is None
        with pytest.raises(type(error)):
            read_stamp(FakeClient(error), "document.invoice", None, required=True)


def test_the_summary_and_rows_carry_the_schema_and_the_change(tmp_path: Any) -> None:
    check = SchemaCheck("document.invoice", NEW, change(OLD, NEW))
    assert SchemaCheck.from_json(json.loads(json.dumps(check.to_json()))) == check
    with ResultWriter(tmp_path, schema=check) as writer:
        writer.add(InputResult("a.pdf", "completed", "p-1", {"total": 1}, {"credits_used": 1}))
    summary = writer.summary()
    assert summary["schema_hash"] == "bbbb2222" and summary["schema_version"] == "1.1.0"
    assert summary["schema_changed"]["from"]["schema_hash"] == "aaaa1111"
    row = json.loads((tmp_path / "results.jsonl").read_text())
    assert (row["schema_hash"], row["schema_version"]) == ("bbbb2222", "1.1.0")
    line = summary_line(summary)
    assert line == "; schema bbbb2222 (version 1.1.0), changed from aaaa1111 (version 1.0.0)"
    same = SchemaCheck("document.invoice", NEW, None).summary_fields()
    assert "schema_changed" not in same and summary_line(same) == "; schema bbbb2222 (version 1.1.0)"


def test_the_last_night_is_kept_per_dag_task_and_domain() -> None:
    key = variable_key("nightly", "extract", "document.invoice")
    assert key == variable_key("nightly", "extract", "document.invoice")
    assert (
        len(
            {
                key,
                variable_key("nightly", "extract", "document.receipt"),
                variable_key("other", "extract", "document.invoice"),
            }
        )
        == 3
    )
    assert len(variable_key("d" * 250, "t" * 250, "document.invoice")) < 250  # Variable keys are capped


def test_the_change_is_logged_as_a_warning_naming_both(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_vlm.operators import _drift

    log = logging.getLogger("drift-test")
    client = FakeClient(
        {"domain": "document.invoice", "schema_hash": NEW.schema_hash, "schema_version": "1.1.0"}
    )
    monkeypatch.setattr(_drift, "last_seen", lambda *a: OLD)
    with caplog.at_level(logging.INFO, logger="drift-test"):
        check = _drift.check_schema(
            client, domain="document.invoice", config=None, pin=None, dag_id="d", task_id="t", log=log
        )
    assert check.changed is not None and client.calls == 1
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        len(warning) == 1
        and "aaaa1111 (version 1.0.0) -> bbbb2222 (version 1.1.0)" in warning[0].getMessage()
    )
