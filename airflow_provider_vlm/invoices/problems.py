"""What a rule returns: a :class:`Problem` names the field and what is wrong with it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

#: Field name of a problem with the whole response rather than one field.
WHOLE_INVOICE = "(invoice)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an invoice: the field (a path such as ``items[1].total_price``) and why.

    ``str(problem)`` is the sentence for reports; ``rule`` names the rule that found it
    (``check_invoice`` fills it in when a rule leaves it empty).
    """

    field: str
    message: str
    rule: str = ""

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        """JSON form for output rows and XCom: ``{"field", "message", "rule"}``."""
        return {"field": self.field, "message": self.message, "rule": self.rule}


#: A rule: one invoice in, its problems out (a list, a generator, or ``(field, message)`` pairs).
Rule = Callable[[Mapping[str, Any]], Iterable["Problem | tuple[str, str]"]]


def rule_name(rule: Rule) -> str:
    """A rule's name for problems and logs: the function's, through ``functools.partial``."""
    inner = rule.func if isinstance(rule, partial) else rule
    return str(getattr(inner, "__name__", type(inner).__name__))


def as_problem(found: Problem | tuple[str, str], rule: Rule) -> Problem:
    """A rule's finding as a :class:`Problem` that names its rule; a wrong shape names the rule."""
    if isinstance(found, Problem):
        return found if found.rule else replace(found, rule=rule_name(rule))
    if isinstance(found, tuple) and len(found) == 2:
        return Problem(str(found[0]), str(found[1]), rule_name(rule))
    raise TypeError(
        f"invoice rule {rule_name(rule)} returned {found!r}; a rule returns Problem(field, message) "
        "objects or (field, message) pairs"
    )
