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
    r"invoice\s*(?:no\.?|number|numb\w*|num\.?|nr\.?|#)|rechnungs?[\s-]*(?:nr\.?|nummer)|"
    # "Rechnung Nr.", "Rechnungskorrektur (384) Nr.", "Rechnung des Versicherers Nr.", and words
    # between only before a document type code: "Schlussrechnung Bau (877) Nr.".
    r"rechnung\w*\s*(?:(?:des|der)\s+\w+\s*)?(?:\(\d+\)\s*)?nr\.?|rechnung\w*(?:\s+\w+){1,2}\s*\(\d+\)\s*nr\.?|"
    r"gutschrift\w*\s*nr\.?|"
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
    # document's own heading gives its number.
    r"(?:rechnung|gutschrift|invoice|facture|avoir)[^\n]{0,60}?\d[^\n]{0,3}?\s+(?:vom|du|issued\s+(?:at|on)|dated)",
    r"(?<!due\s)(?<!delivery\s)\b(?:date|datum)\b(?!\s+(?:of\s+)?(?:delivery|supply|service|shipment|order))",
    # Any "<number> vom <date>", last: a version line ("Version 2.1 vom 24.03.2020") is skipped.
    r"(?<=\d)\s+vom",
)
#: A line that dates a standard or a stylesheet, not the invoice ("ZUGFeRD-Version: 2.1 vom ...").
_NOT_ISSUE_LINE = re.compile(r"version|standard|stylesheet|codelist|spezifikation", re.IGNORECASE)
_DUE_LABELS: tuple[str, ...] = (
    r"due\s+date|payment\s+due|f[äa]llig(?:keitsdatum)?|vervaldatum|date\s+d'[ée]ch[ée]ance",
)
# A bare "total", but not the net or tax one ("Net total", "Total HT", "VAT total", "Total taxes").
_BARE_TOTAL = r"(?<!net\s)(?<!vat\s)(?<!tax\s)(?<!sub)(?<!sub-)total(?!\s*(?:ht|net|excl|taxes?|vat|tva)\b)"
#: Total labels in order of preference: the first that has an amount after it wins.
_TOTAL_LABELS: tuple[str, ...] = (
    r"grand\s*total",
    r"total\s*amount\s*due",
    r"amount\s*due",
    r"total\s*due",
    r"total\s+for\s+this\s+invoice",
    r"bruttosumme",
    r"bruttobetrag",
    r"gesamtbetrag(?!\s+der\b)",
    r"rechnungsbetrag",
    r"endbetrag",
    r"zahlbetrag",
    r"montant\s+[àa]\s+payer",
    r"net\s+[àa]\s+payer",
    r"total\s+ttc",
    r"(?:amount|total|due)\s+payable",
    r"totaal",
    _BARE_TOTAL,
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
    # "05.03.2013", "03/05/2013", and "05. 03.2013" (a space a scan put after a dot).
    re.compile(r"\b(\d{1,2})(?:[/-]|\.\s?)(\d{1,2})(?:[/-]|\.\s?)(\d{4})\b"),
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
#: The net total and the tax total, only to check a total read by OCR (``_checked``).
_NET_TOTAL_LABELS: tuple[str, ...] = (
    r"rechnungssumme\s+ohne\s+ust\.?",
    r"summe\s+netto",
    r"net\s+total",
    r"total\s+net",
    r"total\s+ht",
    r"subtotal",
)
_TAX_TOTAL_LABELS: tuple[str, ...] = (
    r"steuerbetrag(?:\s+in\s+[A-Z]{3})?",
    r"vat\s+total",
    r"total\s+vat",
    r"total\s+tax(?:es)?",
    r"total\s+tva",
)
_SUBTOTAL_LABELS = r"subtotal|sub-total|net\s+amount|total\s+net|zwischensumme|nettobetrag|sous-total"
# "VAT 19%", "Tax", "MwSt. 19 %": a tax line, but not "VAT ID" or "Tax number".
_TAX_LABEL = re.compile(
    r"\b(?:VAT|tax|MwSt\.?|USt\.?|TVA)\b(?!\s*(?:ID|No\b|number|reg|identification))(?:\s*\d+(?:[.,]\d+)?\s*%)?",
    re.IGNORECASE,
)
_WINDOW = 80
#: Total labels that name the amount due; a bare "total" or "totaal" may be a subtotal's line.
_GENERIC_TOTALS = (_BARE_TOTAL, "totaal")
#: Words that make the document a credit note: its printed total may carry a minus the amount lacks.
_CREDIT_NOTE = re.compile(r"^[ \t]*(?:avoir|gutschrift|credit\s+note)\b", re.IGNORECASE | re.MULTILINE)


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
        "total_amount": _credited(
            text, _checked(text, _labelled_amount(text, _TOTAL_LABELS, generic=_GENERIC_TOTALS))
        ),
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
    for heading in _ID_HEADING.finditer(text):
        if _has_digit(heading.group(1)) and len(heading.group(1)) >= 3:
            return Found(heading.group(1), "label")
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
            found = _first_date(text[match.end() : match.end() + _WINDOW], month_first)
            if found:
                return Found(found[0], "label", raw=found[1])
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


def _labelled_amount(text: str, labels: str | tuple[str, ...], generic: tuple[str, ...] = ()) -> Found | None:
    """The first amount after the first label (in the order given) that has one.

    A zero amount is passed over (a total's line of "0,00" is a discount's or a prepayment's).
    """
    for label in labels if isinstance(labels, tuple) else labels.split("|"):
        found = _amount_after(text, re.compile(rf"\b{label}\b\s*[:*]?", re.IGNORECASE), nonzero=True)
        if found is not None:
            if label in generic and found.how == "label":
                return Found(found.value, "label-generic", raw=found.raw)
            return found
    return None


def _amount_after(text: str, label: re.Pattern[str], nonzero: bool = False) -> Found | None:
    for match in label.finditer(text):
        window = text[match.end() : match.end() + _WINDOW].split("\n", 1)[0]
        found = [m for m in (_AMOUNT.search(window), _INTEGER_AMOUNT.search(window)) if m]
        if found:
            first = min(found, key=lambda m: m.start())
            guess = first.re is _INTEGER_AMOUNT  # "€ 12" with no decimals: a shape guess
            value = float(first.group(1)) if guess else to_number(first.group(0))
            if nonzero and not value:
                continue
            if guess:
                return Found(value, "pattern", raw=first.group(1))
            return Found(value, "label", raw=first.group(0).strip())
    return None


def _checked(text: str, total: Found | None) -> Found | None:
    """``total``, or the net total plus the tax when those disagree with it in exactly one digit.

    One digit is what a scan's reading typically gets wrong ("329,87" for "529,87"); the sum of
    two other printed amounts then says which digit. Anything else is left as read (a total after
    prepayments, a net or tax amount not found). A repaired total counts as a guess (``pattern``).
    """
    if total is None:
        return None
    net = _labelled_amount(text, _NET_TOTAL_LABELS)
    tax = _labelled_amount(text, _TAX_TOTAL_LABELS)
    if net is None or tax is None:
        return total
    read, summed = f"{abs(total.value):.2f}", f"{abs(net.value + tax.value):.2f}"
    if len(read) != len(summed) or sum(a != b for a, b in zip(read, summed, strict=True)) != 1:
        return total
    return Found(round(net.value + tax.value, 2), "pattern", raw=total.raw)


def _credited(text: str, total: Found | None) -> Found | None:
    """A credit note's total as the amount credited: it prints "-233,47", its amount is 233.47."""
    if total is None or total.value >= 0 or not _CREDIT_NOTE.search(text):
        return total
    return Found(-total.value, total.how, total.share, total.raw)


def _currency(text: str) -> Found | None:
    counts = {code: len(pattern.findall(text)) for code, pattern in _CURRENCIES}
    code, count = max(counts.items(), key=lambda item: item[1])
    return Found(code, "count", count / sum(counts.values())) if count else None
