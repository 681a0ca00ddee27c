"""Which night the nightly example processes, and the example DAGs' reports go to the task log."""

from __future__ import annotations

import ast
from datetime import datetime, timezone
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from vlm_nightly_invoices import night_of

UTC = timezone.utc


def test_a_scheduled_run_keeps_its_folder_rule() -> None:
    # The run of 2026-11-21 02:00 covers the day before: its interval starts on the 20th.
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    run_after = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    assert night_of(None, start, run_after) == "2026-11-20"
    assert night_of("", start, run_after) == "2026-11-20"


def test_no_logical_date_is_the_day_before_run_after() -> None:
    assert night_of(None, None, datetime(2026, 11, 21, 0, 30, tzinfo=UTC)) == "2026-11-20"
    assert night_of("  ", None, datetime(2026, 1, 1, 23, 59, tzinfo=UTC)) == "2025-12-31"


def test_the_night_param_wins() -> None:
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert night_of("2026-10-05", start, None) == "2026-10-05"
    assert night_of(" 2026-10-05 ", None, datetime(2026, 11, 21, tzinfo=UTC)) == "2026-10-05"


@pytest.mark.parametrize(
    "value", ["2026-11-31", "21/11/2026", "20261120", "2026-W47-5", "yesterday", 20261120]
)
def test_a_bad_night_names_the_value_and_the_form(value: Any) -> None:
    with pytest.raises(ValueError) as info:
        night_of(value, None, datetime(2026, 11, 21, tzinfo=UTC))
    assert str(info.value).startswith(f"the night param is {value!r}: expected a date as YYYY-MM-DD")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_example_dags_log_instead_of_printing(path: Any) -> None:
    """``print`` lands under the task log's stdout source only; the default view shows log records."""
    calls = [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
    ]
    assert calls == [], f"{path.name} prints on lines {calls}: use the task logger"
