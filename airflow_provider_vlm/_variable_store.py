"""The durable record's home below Airflow 3.3: Airflow Variables, read and written strictly.

Airflow 3.0 to 3.2 have no ``task_state_store``, and XCom is cleared when a retry starts. Variables
survive retries, need no configuration, and are reached from a task through the execution API
like ``task_state_store`` itself. ``docs/airflow-versions.md`` says why they were chosen.

One task instance's values live under ``vlm_state.<identity key>.<key>`` (the identity key is the
sha256 of dag, task, run and map index, so the names stay far below the 250-character limit), and
an index variable ``vlm_state.<identity key>`` lists them: it is written before a new key, read
once per try, and lets the cleanup after success delete exactly what was written.

Strict on purpose: ``Variable.get`` asks the secrets backends first and turns their failures into
"not found", and ``Variable.set`` logs a failed write and goes on. Either would be how a duplicate
gets billed, so this store talks to the execution API directly: "not found" is the API's own
answer, anything else that is not a value is an error.
"""

from __future__ import annotations

import json
from typing import Any

#: Prefix of every variable this store writes. Renaming it breaks in-flight retries.
PREFIX = "vlm_state"
INDEX_VERSION = 1


class VariableStoreError(RuntimeError):
    """The execution API did not answer with a value or "not found"."""


def _send(message: Any) -> Any:
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

    return SUPERVISOR_COMMS.send(message)


def _get(key: str) -> Any:
    """The JSON value of one variable, or None when the API says it does not exist."""
    from airflow.sdk.exceptions import ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse, GetVariable, VariableResult

    reply = _send(GetVariable(key=key))
    if isinstance(reply, ErrorResponse):
        if reply.error == ErrorType.VARIABLE_NOT_FOUND:
            return None
        raise VariableStoreError(f"reading variable {key!r} failed: {reply.error} {reply.detail}")
    if not isinstance(reply, VariableResult) or reply.value is None:
        raise VariableStoreError(f"reading variable {key!r} gave {type(reply).__name__}")
    return json.loads(reply.value)


def _put(key: str, value: Any, description: str | None = None) -> None:
    from airflow.sdk.execution_time.comms import ErrorResponse, PutVariable

    reply = _send(PutVariable(key=key, value=json.dumps(value), description=description or _DESCRIPTION))
    if isinstance(reply, ErrorResponse):
        raise VariableStoreError(f"writing variable {key!r} failed: {reply.error} {reply.detail}")


def _delete(key: str) -> None:
    from airflow.sdk.execution_time.comms import DeleteVariable, ErrorResponse

    reply = _send(DeleteVariable(key=key))
    if isinstance(reply, ErrorResponse):
        raise VariableStoreError(f"deleting variable {key!r} failed: {reply.error} {reply.detail}")


_DESCRIPTION = (
    "airflow-provider-vlm: a task's durable submission record (no secret in it); "
    "deleted when the task succeeds"
)


def get_variable(key: str) -> Any:
    """One JSON variable read strictly (``None`` only when the API says it does not exist), for
    values that outlive a task instance (the schema drift's "last night")."""
    return _get(key)


def put_variable(key: str, value: Any, *, description: str) -> None:
    """Write one JSON variable strictly (a failed write raises ``VariableStoreError``)."""
    _put(key, value, description)


class VariableStateStore:
    """``state_store.StateStore`` over Airflow Variables for one task instance."""

    def __init__(self, identity: str) -> None:
        self.base = f"{PREFIX}.{identity}"
        self._keys: list[str] | None = None

    def __repr__(self) -> str:
        return f"VariableStateStore({self.base!r})"

    def variable(self, key: str) -> str:
        return f"{self.base}.{key}"

    @property
    def keys(self) -> list[str]:
        """The keys written so far by any try (read from the index once per store)."""
        if self._keys is None:
            index = _get(self.base)
            if index is None:
                self._keys = []
            elif isinstance(index, dict) and index.get("version") == INDEX_VERSION:
                self._keys = [str(k) for k in index.get("keys", [])]
            else:
                raise VariableStoreError(f"variable {self.base!r} is not this store's index: {index!r}")
        return self._keys

    def assume_empty(self) -> None:
        """The first try of a task instance: no index was written, so it is not read (a 404)."""
        if self._keys is None:
            self._keys = []

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self.keys:
            return default
        value = _get(self.variable(key))
        if value is None:  # the index names it: a missing value is damage, not "nothing stored"
            raise VariableStoreError(f"variable {self.variable(key)!r} is listed but missing")
        return value

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        """Write one value (``retention`` is ``task_state_store``'s; values here last until cleanup)."""
        if key not in self.keys:
            _put(self.base, {"version": INDEX_VERSION, "keys": [*self.keys, key]})
            self.keys.append(key)
        _put(self.variable(key), value)

    def clear(self) -> None:
        """Delete every value, then the index (a crash in between leaves a harmless index)."""
        if not self.keys:
            return
        for key in self.keys:
            _delete(self.variable(key))
        _delete(self.base)
        self._keys = []
