"""Schema drift: which schema a try extracted against, and whether it changed since the last good night.

The platform versions each domain's JSON schema (``POST /schema`` answers ``schema_hash`` and
``schema_version``). When it publishes a new one, last month's results and tonight's no longer
share a shape, and a load step downstream may break or, worse, quietly lose a field. So each try
reads the schema's identity once (one request, before anything is submitted), stamps it on what it
writes, and compares it with the hash the last successful try of the same task and domain saw:

- ``pin_schema_hash`` set and different: ``SchemaPinError`` before anything is uploaded or billed,
  not retried (the next try would see the same schema);
- otherwise a change is a warning naming both hashes and versions, and ``schema_changed`` in the
  summary; the first night has nothing to compare and says nothing.

"The last one" lives in an Airflow Variable per (dag, task, domain): it outlives runs, which the
durable records (one task instance each, cleaned up after success) do not, and Variables work on
every Airflow line. A custom ``config.json_schema`` (or ``response_model``) is hashed here with the
client's ``schema_hash``: the user's own schema needs no request.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from airflow_provider_vlm._variable_store import get_variable, put_variable
from airflow_provider_vlm.client import GenerationConfig, SchemaInfo, VlmError
from airflow_provider_vlm.client.autocast import explicit_schema
from airflow_provider_vlm.client.errors import TRANSIENT_ERRORS, NotFoundError, TaskRetry
from airflow_provider_vlm.client.schema_check import schema_hash

log = logging.getLogger(__name__)

#: Prefix of the Variables that remember the last successful try's schema. Renaming forgets them.
PREFIX = "vlm_schema"
#: ``schema_version`` of a schema the user gave in ``config.json_schema``/``response_model``.
CUSTOM_VERSION = "custom"
_DESCRIPTION = (
    "airflow-provider-vlm: the schema hash/version the last successful try of a task saw for a "
    "domain (schema drift); no secret in it"
)


#: Why a schema cannot be read that is no reason to stop an unpinned night.
_UNREADABLE: tuple[type[VlmError], ...] = (NotFoundError, *TRANSIENT_ERRORS)


class SchemaReader(Protocol):
    def get_schema(
        self, domain: str, config: GenerationConfig | Mapping[str, Any] | None = None
    ) -> SchemaInfo: ...


class SchemaPinError(VlmError):
    """The platform's schema for the domain is not the one ``pin_schema_hash`` names.

    Found before anything is submitted (nothing is billed). A retry would read the same schema,
    so the default ``retry_policy`` spends none: review the new schema, then pin its hash.
    """

    task_retry = TaskRetry.FAIL


@dataclass(frozen=True)
class SchemaStamp:
    """The identity of the schema a try extracted against."""

    schema_hash: str | None
    schema_version: str | None

    def to_json(self) -> dict[str, str | None]:
        return {"schema_hash": self.schema_hash, "schema_version": self.schema_version}

    @classmethod
    def from_json(cls, value: Any) -> SchemaStamp | None:
        if not isinstance(value, Mapping) or not value.get("schema_hash"):
            return None
        version = value.get("schema_version")
        return cls(str(value["schema_hash"]), None if version is None else str(version))

    def text(self) -> str:
        """E.g. ``2b9f0c1d (version 0.1.2)``."""
        version = f" (version {self.schema_version})" if self.schema_version else ""
        return f"{self.schema_hash or 'unknown'}{version}"


def read_stamp(
    client: SchemaReader,
    domain: str,
    config: GenerationConfig | Mapping[str, Any] | None,
    *,
    required: bool = False,
) -> SchemaStamp | None:
    """The schema's identity: the config's own ``json_schema`` hashed here, else one ``POST /schema``.

    ``None`` when the server cannot say (no schema route, a passing error): drift is a report, so
    the night goes on without it, unless ``required`` (a pin), when the error is raised.
    """
    custom = explicit_schema(config)
    if custom is not None:
        return SchemaStamp(schema_hash(custom), CUSTOM_VERSION)
    try:
        info = client.get_schema(domain, config)
    except _UNREADABLE as exc:
        if required:
            raise
        log.warning("could not read the %s schema (%s): its hash is not recorded this try", domain, exc)
        return None
    found = info.schema_hash or (schema_hash(info.json_schema) if info.json_schema else None)
    return SchemaStamp(found, info.schema_version) if found else None


def check_pin(pin: str | None, current: SchemaStamp | None, domain: str, last: SchemaStamp | None) -> None:
    """Raise ``SchemaPinError`` when the platform's schema is not the pinned one."""
    if not pin:
        return
    if current is None or current.schema_hash is None:
        raise SchemaPinError(
            f"pin_schema_hash={pin!r}: the server did not report a schema hash for {domain!r}, so the "
            "pin cannot be checked; nothing was submitted"
        )
    if current.schema_hash == pin:
        return
    pinned = last.text() if last is not None and last.schema_hash == pin else pin
    raise SchemaPinError(
        f"the {domain} schema changed: pinned {pinned}, the platform now serves {current.text()}; "
        f"nothing was submitted. Review the new schema (POST /schema; docs/batch.md, Schema drift) "
        f"and set "
        f"pin_schema_hash={current.schema_hash!r} to accept it"
    )


def variable_key(dag_id: str, task_id: str, domain: str) -> str:
    """One Variable per (dag, task, domain), hashed so the name stays under the key length limit."""
    digest = hashlib.sha256("\0".join((dag_id, task_id, domain)).encode()).hexdigest()
    return f"{PREFIX}.{digest}"


def last_seen(dag_id: str, task_id: str, domain: str) -> SchemaStamp | None:
    """The schema the last successful try saw; ``None`` on the first night (or when unreadable)."""
    try:
        return SchemaStamp.from_json(get_variable(variable_key(dag_id, task_id, domain)))
    except Exception as exc:  # a report, not a guard: the night goes on, and says it cannot compare
        log.warning("could not read the last night's %s schema (%s): no drift check this try", domain, exc)
        return None


def remember(dag_id: str, task_id: str, domain: str, stamp: SchemaStamp | None, run_id: str) -> None:
    """After a successful try: this schema is "the last one" for the next night."""
    if stamp is None or stamp.schema_hash is None:
        return
    value = {
        **stamp.to_json(),
        "dag_id": dag_id,
        "task_id": task_id,
        "domain": domain,
        "run_id": run_id,
        "seen_at": datetime.now(timezone.utc).isoformat(),
    }
    try:
        put_variable(variable_key(dag_id, task_id, domain), value, description=_DESCRIPTION)
    except Exception as exc:  # the task succeeded; the next night compares with an older hash
        log.warning("could not record the %s schema for the next night (%s)", domain, exc)


def change(last: SchemaStamp | None, current: SchemaStamp | None) -> dict[str, Any] | None:
    """``{"from": ..., "to": ...}`` when both are known and the hashes differ, else ``None``."""
    if last is None or current is None or current.schema_hash is None:
        return None
    if last.schema_hash == current.schema_hash:
        return None
    return {"from": last.to_json(), "to": current.to_json()}


def change_text(domain: str, changed: Mapping[str, Any]) -> str:
    old = SchemaStamp.from_json(changed.get("from"))
    new = SchemaStamp.from_json(changed.get("to"))
    return (
        f"the {domain} schema changed since the last successful run: "
        f"{old.text() if old else 'unknown'} -> {new.text() if new else 'unknown'}"
    )


@dataclass(frozen=True)
class SchemaCheck:
    """One try's reading: the schema it works against and how it compares with the last night's."""

    domain: str
    current: SchemaStamp | None
    changed: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "current": None if self.current is None else self.current.to_json(),
            "changed": self.changed,
        }

    @classmethod
    def from_json(cls, value: Any) -> SchemaCheck | None:
        if not isinstance(value, Mapping) or "domain" not in value:
            return None
        changed = value.get("changed")
        return cls(
            str(value["domain"]),
            SchemaStamp.from_json(value.get("current")),
            dict(changed) if isinstance(changed, Mapping) else None,
        )

    def row_fields(self) -> dict[str, str | None]:
        """What each result row says of the schema (hash and version)."""
        return self.current.to_json() if self.current else {"schema_hash": None, "schema_version": None}

    def summary_fields(self) -> dict[str, Any]:
        """What the batch summary (``summary.json`` and XCom) says of the schema."""
        fields: dict[str, Any] = dict(self.row_fields())
        if self.changed is not None:
            fields["schema_changed"] = self.changed
        return fields


def summary_line(summary: Mapping[str, Any]) -> str:
    """For the end-of-try line, from the summary: ``; schema 2b9f0c1d (version 0.1.2), changed from …``."""
    current = SchemaStamp.from_json(summary)
    if current is None:
        return ""
    text = f"; schema {current.text()}"
    changed = summary.get("schema_changed")
    if isinstance(changed, Mapping):
        old = SchemaStamp.from_json(changed.get("from"))
        text += f", changed from {old.text() if old else 'unknown'}"
    return text


def check_schema(
    client: SchemaReader,
    *,
    domain: str,
    config: GenerationConfig | Mapping[str, Any] | None,
    pin: str | None,
    dag_id: str,
    task_id: str,
    log: Any,
) -> SchemaCheck:
    """Read the schema once, enforce the pin, compare with the last night; log what changed."""
    current = read_stamp(client, domain, config, required=bool(pin))
    last = last_seen(dag_id, task_id, domain)
    check_pin(pin, current, domain, last)
    changed = change(last, current)
    if changed is not None:
        log.warning("%s", change_text(domain, changed))
    elif current is not None:
        log.info("%s schema %s", domain, current.text())
    return SchemaCheck(domain, current, changed)
