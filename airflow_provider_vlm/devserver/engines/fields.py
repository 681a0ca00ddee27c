"""What the text engines say about one field: its value and how it was found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Found:
    """A field's value, how it was found (``invoice_text``'s docstring lists the ways) and the text
    it was read from."""

    value: Any
    how: str
    share: float = 1.0
    #: The text as the page has it (``Aug 3, 2014`` for ``2014-08-03``), where it differs.
    raw: str | None = None
