"""A task whose connection holds a wrong key fails once, and its log names the connection, not the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vlm_dag_support import runner

WRONG_KEY = "sk-wrong-key-in-a-dag-4242"

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("dag_id", ["vlm_deferrable", "vlm_blocking"])
def test_wrong_key_fails_the_task_naming_the_connection(
    dag_id: str, dev: Any, airflow_home: Path, bad_file: Path
) -> None:
    result = runner(airflow_home, dev.base_url, WRONG_KEY, bad_file)(dag_id)
    task = result.task("extract")
    assert task["state"] == "failed", result.tail()
    assert task["try_number"] == 1, result.tail()  # retrying cannot fix a wrong key
    assert "connection 'vlm_default': API key rejected" in result.output, result.tail()
    assert WRONG_KEY not in result.output
