"""Best-effort invoice fields from a PDF's text layer: id, dates, total, currency, issuer.

Text layers come out in odd orders (a value before its label, a label and its value on two
lines), so each field is looked for right after its label, then just before it on the same line.
Anything not found stays null: a partial result, never a guess from unrelated text.

``parse_with_methods`` also says how each field was found (``Found.how``): ``label`` (right
after its label), ``label-before`` (just before it, as some text layers glue them),
``label-generic`` (after a generic label such as a bare "Total"), ``pattern`` (a shape guess with
no label: a company suffix, an amount with a currency sign), ``count`` (the currency marks most
used; ``share`` is that currency's share of them). ``grounding`` turns that into a confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

_ID_LABELS = (
    r"invoice\s*(?:no\.?|number|num\.?|nr\.?|#)|rechnungs?[\s-]*(?:nr\.?|nummer)|rechnung\s*(?:\(\d+\)\s*)?nr\.?|"
    r"factuurnummer|facture\s*n[°o]\.?|num[ée]ro\s+de\s+facture|booking\s+id"
)
_ID_VALUE = r"#?\s*([A-Z0-9](?:[A-Z0-9_/\-.]*[A-Z0-9])?)"
_ID_LABEL = re.compile(rf"(?:{_ID_LABELS})", re.IGNORECASE)
# Between label and value: a colon or "#", or what a scan's dust reads as (". .", "=", "|").
_ID_AFTER = re.compile(rf"(?:\s*[:;#.,=|_~'\"\u201c\u201d\u2018\u2019©°·•*])*\s*{_ID_VALUE}", re.IGNORECASE)
# "993548900Factuurnummer:": some text layers glue the value right before its label.
_ID_BEFORE = re.compile(r"(?:^|\s)#?([A-Z0-9][A-Z0-9_/\-.]*)$", re.IGNORECASE)
_COLON_NEXT = re.compile(r"[ \t]*:")

# "(?<=\d)\s+vom": German headers date the number they give ("Rechnung Nr. 471102 vom 05.03.2018").
_ISSUE_LABELS = (
    r"invoice\s+date|date\s+of\s+invoice|rechnungsdatum|factuurdatum|date\s+de\s+facture|date|(?<=\d)\s+vom"
)
_DUE_LABELS = r"due\s+date|payment\s+due|f[äa]llig(?:keitsdatum)?|vervaldatum|date\s+d'[ée]ch[ée]ance"
_TOTAL_LABELS = (
    r"grand\s*total|total\s*amount\s*due|amount\s*due|total\s*due|total\s+for\s+this\s+invoice|"
    r"bruttosumme|bruttobetrag|gesamtbetrag(?!\s+der\b)|rechnungsbetrag|endbetrag|zahlbetrag|"
    r"totaal|total\s+ttc|total"
)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan", "januar", "janvier", "januari", "jänner"),
            ("february", "feb", "februar", "février", "februari"),
            ("march", "mar", "märz", "maerz", "mars", "maart"),
            ("april", "apr", "avril"),
            ("may", "mai", "mei"),
            ("june", "jun", "juni", "juin"),
            ("july", "jul", "juli", "juillet"),
            ("august", "aug", "août", "augustus"),
            ("september", "sep", "sept", "septembre"),
            ("october", "oct", "oktober", "okt", "octobre"),
            ("november", "nov", "novembre"),
            ("december", "dec", "dezember", "dez", "décembre"),
        ),
        start=1,
    )
    for name in names
}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
    re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{4})\b"),
    re.compile(rf"\b(\d{{1,2}})\.?\s*({_MONTH_RE})\.?\s+(\d{{4}})\b", re.IGNORECASE),
    re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})\s*,?\s*(\d{{4}})\b", re.IGNORECASE),
)
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/\d{4}\b")
_INTEGER_AMOUNT = re.compile(r"(?:Rs\.?|₹|\$|€|£|\b[A-Z]{3})\s?(-?\d+)(?![\d.,])")
_AMOUNT = re.compile(
    r"(?<![\d.,])-?\d{1,3}(?:[.,\s']\d{3})*[.,]\d{2}(?![\d])|(?<![\d.,])-?\d+[.,]\d{2}(?![\d])"
)
_CURRENCIES = (
    ("EUR", re.compile(r"€|\bEUR\b")),
    ("USD", re.compile(r"\$|\bUSD\b|US Dollars")),
    ("GBP", re.compile(r"£|\bGBP\b")),
    ("INR", re.compile(r"₹|\bINR\b|\bRs\.?\s?-?\d")),
    ("CHF", re.compile(r"\bCHF\b")),
)
_COMPANY = re.compile(
    r"\b((?:(?:[A-Z][\w&'.\-]*|&)[ \t,]+){1,4}"
    r"(?:Inc\.?|GmbH|AG|B\.V\.|Ltd\.?|LLC|S\.A\.|SARL|SAS|Pvt\.\s*Ltd\.?|Private Limited|Limited)(?!\w))"
)
_SUBTOTAL_LABELS = r"subtotal|sub-total|net\s+amount|total\s+net|zwischensumme|nettobetrag|sous-total"
# "VAT 19%", "Tax", "MwSt. 19 %": a tax line, but not "VAT ID" or "Tax number".
_TAX_LABEL = re.compile(
    r"\b(?:VAT|tax|MwSt\.?|USt\.?|TVA)\b(?!\s*(?:ID|No\b|number|reg|identification))(?:\s*\d+(?:[.,]\d+)?\s*%)?",
    re.IGNORECASE,
)
_WINDOW = 80
#: Total labels that name the amount due; a bare "total" or "totaal" may be a subtotal's line.
_GENERIC_TOTALS = ("total", "totaal")


@dataclass(frozen=True)
class Found:
    """A field's value, how it was found (see the module docstring) and the text it was read from."""

    value: Any
    how: str
    share: float = 1.0
    #: The text as the page has it (``Aug 3, 2014`` for ``2014-08-03``), where it differs.
    raw: str | None = None


def parse(text: str) -> dict[str, Any]:
    """The fields found in ``text``; keys absent when not found."""
    return {name: found.value for name, found in parse_with_methods(text).items()}


def parse_with_methods(text: str) -> dict[str, Found]:
    """The fields found in ``text``, each with how it was found; keys absent when not found."""
    out: dict[str, Found | None] = {
        "invoice_id": _invoice_id(text),
        "invoice_issue_date": _labelled_date(text, _ISSUE_LABELS, _month_first(text)),
        "invoice_due_date": _labelled_date(text, _DUE_LABELS, _month_first(text)),
        "total_amount": _labelled_amount(text, _TOTAL_LABELS, generic=_GENERIC_TOTALS),
        "subtotal": _labelled_amount(text, _SUBTOTAL_LABELS),
        "tax_amount": _amount_after(text, _TAX_LABEL),
        "currency": _currency(text),
    }
    issuer = _COMPANY.search(text)
    if issuer:
        out["issuer_name"] = Found(" ".join(issuer.group(1).split()).strip(" ,"), "pattern")
    return {name: found for name, found in out.items() if found is not None}


def _invoice_id(text: str) -> Found | None:
    for label in _ID_LABEL.finditer(text):
        line_start = text.rfind("\n", 0, label.start()) + 1
        before = _ID_BEFORE.search(text[line_start : label.start()])
        if before and _has_digit(before.group(1)) and _COLON_NEXT.match(text, label.end()):
            return Found(before.group(1), "label-before")
        after = _ID_AFTER.match(text, label.end())
        if after and _has_digit(after.group(1)):
            return Found(after.group(1), "label")
    return None


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


def _month_first(text: str) -> bool:
    """Whether ``03/05/2013`` means March 5 in this document (US style) rather than 3 May.

    A slash date that can only be read one way decides (``03/20/2023``, ``20/03/2023``); else a
    document in dollars is read US style. Dotted dates (``05.03.2013``) are always day first.
    """
    for match in _SLASH_DATE.finditer(text):
        first, second = int(match.group(1)), int(match.group(2))
        if second > 12 >= first:
            return True
        if first > 12 >= second:
            return False
    return bool(re.search(r"\$|\bUSD\b", text))


def _labelled_date(text: str, labels: str, month_first: bool = False) -> Found | None:
    for match in re.finditer(rf"(?:{labels})\s*:?", text, re.IGNORECASE):
        found = _first_date(text[match.end() : match.end() + _WINDOW], month_first)
        if found:
            return Found(found[0], "label", raw=found[1])
        line_start = text.rfind("\n", 0, match.start()) + 1
        found = _first_date(text[line_start : match.start()], month_first)
        if found:
            return Found(found[0], "label-before", raw=found[1])
    return None


def _first_date(chunk: str, month_first: bool = False) -> tuple[str, str] | None:
    """The first date in ``chunk``: (ISO date, the text it was read from)."""
    best: tuple[int, str, str] | None = None
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(chunk):
            value = _to_iso(pattern, match, month_first)
            if value and (best is None or match.start() < best[0]):
                best = (match.start(), value, match.group(0))
            if value:
                break
    return (best[1], best[2]) if best else None


def _to_iso(pattern: re.Pattern[str], match: re.Match[str], month_first: bool = False) -> str | None:
    a, b, c = match.groups()
    try:
        if pattern is _DATE_PATTERNS[0]:
            day = date(int(a), int(b), int(c))
        elif pattern is _DATE_PATTERNS[1]:
            first, second = int(a), int(b)
            # Day first unless that cannot be (03/20/2023), or a US document's slash date.
            us = second > 12 or (month_first and "/" in match.group(0) and first <= 12)
            day = date(int(c), first, second) if us else date(int(c), second, first)
        elif pattern is _DATE_PATTERNS[2]:
            day = date(int(c), _MONTHS[b.lower()], int(a))
        else:
            day = date(int(c), _MONTHS[a.lower()], int(b))
    except (ValueError, KeyError):
        return None
    return day.isoformat()


def to_number(raw: str) -> float:
    """``1.234,56``, ``1,234.56``, ``717,97`` and ``4.11`` all read as the number they mean."""
    cleaned = raw.replace(" ", "").replace("'", "")
    decimal_sep = cleaned[-3]
    integer = cleaned[:-3].replace(",", "").replace(".", "")
    return float(f"{integer}.{cleaned[-2:]}") if decimal_sep in ".," else float(cleaned)


def _labelled_amount(text: str, labels: str, generic: tuple[str, ...] = ()) -> Found | None:
    """The first amount after the first label (in the order given) that has one."""
    for label in labels.split("|"):
        found = _amount_after(text, re.compile(rf"\b{label}\b\s*[:*]?", re.IGNORECASE))
        if found is not None:
            if label in generic and found.how == "label":
                return Found(found.value, "label-generic", raw=found.raw)
            return found
    return None


def _amount_after(text: str, label: re.Pattern[str]) -> Found | None:
    for match in label.finditer(text):
        window = text[match.end() : match.end() + _WINDOW].split("\n", 1)[0]
        found = [m for m in (_AMOUNT.search(window), _INTEGER_AMOUNT.search(window)) if m]
        if found:
            first = min(found, key=lambda m: m.start())
            if first.re is _INTEGER_AMOUNT:  # "€ 12" with no decimals: a shape guess
                return Found(float(first.group(1)), "pattern", raw=first.group(1))
            return Found(to_number(first.group(0)), "label", raw=first.group(0).strip())
    return None


def _currency(text: str) -> Found | None:
    counts = {code: len(pattern.findall(text)) for code, pattern in _CURRENCIES}
    code, count = max(counts.items(), key=lambda item: item[1])
    return Found(code, "count", count / sum(counts.values())) if count else None
