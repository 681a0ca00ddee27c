"""Reading amounts off an extracted invoice: numbers may arrive as strings such as ``"1,234.56"``."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

# Plain or comma-grouped decimals: "1234.5", "1,234.56", "-12".
_NUMBER = re.compile(r"-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")

# Float sums such as 0.1 + 0.2 must not trip a one-cent tolerance.
_EPSILON = 1e-9


def number(value: Any) -> float | None:
    """A finite number from a result field, or None when absent or unreadable.

    Accepts ints, floats, Decimals and strings like ``"1,234.56"`` or ``"EUR 12.50"``; rejects
    booleans (``True`` is an int in Python, but never an amount) and ambiguous strings such as
    ``"1.234,56"``, which are reported as unreadable rather than misread.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        result = float(value)
    elif isinstance(value, str):
        cleaned = "".join(ch for ch in value if ch.isdigit() or ch in ",.-")
        if not _NUMBER.fullmatch(cleaned):
            return None
        result = float(Decimal(cleaned.replace(",", "")))
    else:
        return None
    return result if math.isfinite(result) else None


def is_missing(value: Any) -> bool:
    """``None`` or a blank string: what "not extracted" looks like in a response."""
    return value is None or (isinstance(value, str) and not value.strip())


def money(value: float) -> str:
    return f"{value:,.2f}"


def differs(left: float, right: float, tolerance: float) -> bool:
    return abs(left - right) > tolerance + _EPSILON
