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
from datetime import date
from typing import Any

from . import invoice_total
from .fields import Found
from .invoice_total import WINDOW, amount_after, labelled_amount, to_number

__all__ = ["Found", "parse", "parse_with_methods", "to_number"]

_ID_LABELS = (
    r"invoice\s*(?:no\.?|number|numb\w*|num\.?|nr\.?|#)|rechnungs?[\s-]*(?:nr\.?|nummer)|"
    # "Rechnung Nr.", "Rechnungskorrektur (384) Nr.", "Rechnung des Versicherers Nr.", and words
    # between only before a document type code: "Schlussrechnung Bau (877) Nr.".
    r"rechnung\w*\s*(?:(?:des|der)\s+\w+\s*)?(?:\(\d+\)\s*)?nr\.?|rechnung\w*(?:\s+\w+){1,2}\s*\(\d+\)\s*nr\.?|"
    r"gutschrift\w*\s*nr\.?|rechnung\s*#|"
    # A heading's document type code (UNTDID 1001) right before its number, whatever the words
    # before it: "Gutschrift (Selbst ausgestellte Rechnung) (389) Nr.", and with the date a text
    # layer puts between them: "Handelsrechnung (380) 05.03.2018 Nr.".
    r"\(\d{3}\)(?:\s*\d{2}\.\d{2}\.\d{4})?\s*nr\.?|"
    r"credit\s*note\s*(?:no\.?|number|#)|factuurnummer|(?:facture|avoir)\s*n[°o]\.?|"
    r"n[°o]\.?\s*de\s+(?:facture|l'avoir)|num[ée]ro\s+de\s+facture|booking\s+id"
)
_ID_VALUE = r"#?\s*([A-Z0-9](?:[A-Z0-9_/\-.]*[A-Z0-9])?)"
_ID_LABEL = re.compile(rf"(?:{_ID_LABELS})", re.IGNORECASE)
# Between label and value: a colon or "#", or what a scan's dust reads as (". .", "=", "|").
_ID_AFTER = re.compile(rf"(?:\s*[:;#.,=|_~'\"\u201c\u201d\u2018\u2019©°·•*])*\s*{_ID_VALUE}", re.IGNORECASE)
# "993548900Factuurnummer:": some text layers glue the value right before its label.
_ID_BEFORE = re.compile(r"(?:^|\s)#?([A-Z0-9][A-Z0-9_/\-.]*)$", re.IGNORECASE)
_COLON_NEXT = re.compile(r"[ \t]*:")
# A heading that names the document and its number, with no "No.": "Facture FA-2017-0010",
# "Avoir AV-2017-0005", "Invoice 2024-117" (only at a line's start, and only when no label gave one).
_ID_HEADING = re.compile(
    r"^[ \t]*(?:invoice|rechnung|gutschrift|credit\s+note|facture|avoir)[ \t]+#?[ \t]*"
    r"([A-Z0-9](?:[A-Z0-9_/\-.]*[A-Z0-9])?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)

# Issue-date labels, most specific first: a date after an earlier kind wins over a later one.
_ISSUE_LABELS: tuple[str, ...] = (
    r"invoice\s+date|date\s+of\s+invoice|issue\s+date|date\s+of\s+issue|rechnungsdatum|"
    r"belegdatum|ausstellungsdatum|factuurdatum|date\s+de\s+facture|date\s+d'[ée]mission",
    # "Rechnung Nr. 471102 vom 05.03.2018", "Invoice # RE-1/508 issued at 2020-11-21": the date the
    # document's own heading gives its number ("von": a scan's "vom", and some prints' own word).
    r"(?:rechnung|gutschrift|invoice|facture|avoir)[^\n]{0,60}?\d[^\n]{0,3}?\s+(?:vom|von|du|issued\s+(?:at|on)|dated)",
    # "Handelsrechnung Nr. vom 31.10.2018": the number lost to a scan, its date still the invoice's.
    r"(?:rechnung|gutschrift)\w*\s+nr\.?\s+vo[mn]",
    # "Handelsrechnung (380) 05.03.2018 Nr. 471102 vom": a text layer's order of the same heading.
    r"(?:rechnung|gutschrift)\w*\s*\(\d{3}\)",
    r"(?<!due\s)(?<!delivery\s)\b(?:date|datum)\b(?!\s+(?:of\s+)?(?:delivery|supply|service|shipment|order))",
    # Any "<number> vom <date>", last: a version line ("Version 2.1 vom 24.03.2020") is skipped.
    r"(?<=\d)\s+vom",
)
#: A line that dates a standard or a stylesheet, not the invoice ("ZUGFeRD-Version: 2.1 vom ...").
_NOT_ISSUE_LINE = re.compile(r"version|standard|stylesheet|codelist|spezifikation", re.IGNORECASE)
_DUE_LABELS: tuple[str, ...] = (
    r"due\s+date|payment\s+due|f[äa]llig(?:keitsdatum)?|vervaldatum|date\s+d'[ée]ch[ée]ance",
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
    # "05.03.2013", "03/05/2013", and "05. 03.2013" or "20 .09.2018" (a space a scan put beside a dot).
    re.compile(r"\b(\d{1,2})(?:[/-]| ?\. ?)(\d{1,2})(?:[/-]| ?\. ?)(\d{4})\b"),
    re.compile(rf"\b(\d{{1,2}})\.?\s*({_MONTH_RE})\.?\s+(\d{{4}})\b", re.IGNORECASE),
    re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})\s*,?\s*(\d{{4}})\b", re.IGNORECASE),
)
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/\d{4}\b")
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
_SUBTOTAL_LABELS: tuple[str, ...] = (
    r"subtotal",
    r"sub-total",
    r"net\s+amount",
    r"total\s+net",
    r"zwischensumme",
    r"nettobetrag",
    r"sous-total",
)
# "VAT 19%", "Tax", "MwSt. 19 %": a tax line, but not "VAT ID" or "Tax number".
_TAX_LABEL = re.compile(
    r"\b(?:VAT|tax|MwSt\.?|USt\.?|TVA)\b(?!\s*(?:ID|No\b|number|reg|identification))(?:\s*\d+(?:[.,]\d+)?\s*%)?",
    re.IGNORECASE,
)


def parse(text: str) -> dict[str, Any]:
    """The fields found in ``text``; keys absent when not found."""
    return {name: found.value for name, found in parse_with_methods(text).items()}


def parse_with_methods(text: str) -> dict[str, Found]:
    """The fields found in ``text``, each with how it was found; keys absent when not found."""
    out: dict[str, Found | None] = {
        "invoice_id": _invoice_id(text),
        "invoice_issue_date": _labelled_date(text, _ISSUE_LABELS, _month_first(text)),
        "invoice_due_date": _labelled_date(text, _DUE_LABELS, _month_first(text)),
        "total_amount": invoice_total.total(text),
        "subtotal": labelled_amount(text, _SUBTOTAL_LABELS),
        "tax_amount": amount_after(text, _TAX_LABEL),
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
    for heading in _ID_HEADING.finditer(text):
        if _has_digit(heading.group(1)) and len(heading.group(1)) >= 3:
            return Found(heading.group(1), "label")
    return None


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


def _month_first(text: str) -> bool:
    """Whether ``03/05/2013`` means March 5 in this document (US style) rather than 3 May.

    A slash date that can only be read one way decides (``03/20/2023``, ``20/03/2023``); else a
    document whose currency is the dollar (its most used currency mark: a scan may read one € as
    a $) is read US style. Dotted dates (``05.03.2013``) are always day first.
    """
    for match in _SLASH_DATE.finditer(text):
        first, second = int(match.group(1)), int(match.group(2))
        if second > 12 >= first:
            return True
        if first > 12 >= second:
            return False
    currency = _currency(text)
    return currency is not None and currency.value == "USD"


def _labelled_date(text: str, labels: tuple[str, ...], month_first: bool = False) -> Found | None:
    """The date bound to the first kind of label (in the order given) that has one.

    A date on a line that dates a standard or a stylesheet (``_NOT_ISSUE_LINE``) is never taken.
    """
    for kind in labels:
        for match in re.finditer(rf"(?:{kind})\s*:?", text, re.IGNORECASE):
            line_start = text.rfind("\n", 0, match.start()) + 1
            line_end = text.find("\n", match.end())
            if _NOT_ISSUE_LINE.search(text[line_start : line_end if line_end >= 0 else len(text)]):
                continue
            before = _first_date(text[line_start : match.start()], month_first)
            own_end = text.find("\n", match.start())
            if own_end < 0 or own_end < match.end() or not text[match.end() : own_end].strip():
                # The label ends its line: a date on that line, even inside the label, is its date
                # ("Handelsrechnung (380) 05.06.2018 Nr. 471102 vom", a text layer's order).
                on_line = _first_date(
                    text[line_start : min(match.end(), own_end if own_end >= 0 else len(text))], month_first
                )
                if on_line:
                    return Found(on_line[0], "label-before", raw=on_line[1])
            found = _first_date(text[match.end() : match.end() + WINDOW], month_first)
            if found:
                return Found(found[0], "label", raw=found[1])
            if before:
                return Found(before[0], "label-before", raw=before[1])
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


def _currency(text: str) -> Found | None:
    counts = {code: len(pattern.findall(text)) for code, pattern in _CURRENCIES}
    code, count = max(counts.items(), key=lambda item: item[1])
    return Found(code, "count", count / sum(counts.values())) if count else None
