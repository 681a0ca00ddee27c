"""``docs/retries.md``'s error table matches the error classes' attributes (the one error table)."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_vlm.client.errors import error_classes

PAGE = Path(__file__).resolve().parents[1] / "docs" / "retries.md"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def expected_rows() -> dict[str, tuple[str, str, str, str, str]]:
    """The client's errors (operators' own errors, and classes tests define, are not in the table)."""
    return {
        cls.__name__: (
            _yes(cls.transient),
            _yes(cls.resent),
            _yes(cls.input_problem),
            _yes(cls.ends_wait),
            cls.task_retry.value,
        )
        for cls in error_classes()
        if cls.__module__ == "airflow_provider_vlm.client.errors"
    }


def documented_rows() -> dict[str, tuple[str, str, str, str, str]]:
    text = PAGE.read_text()
    table = text.split("<!-- error-table")[1].split("<!-- /error-table -->")[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[2], cells[3], cells[4], cells[5], cells[6])
    return rows


def test_the_error_table_in_the_docs_matches_the_classes() -> None:
    expected = expected_rows()
    fix = "\n".join(f"{name}: {' | '.join(row)}" for name, row in expected.items())
    assert documented_rows() == expected, f"update docs/retries.md's error table:\n{fix}"
