"""An invoice's total from its text, checked against the invoice's own arithmetic.

A printed invoice says its total more than once: after its own label ("Bruttosumme", "Grand
total"), as the amount due ("Zahlbetrag"), and as net plus tax. OCR misreads a digit of one of
them, drops a label, glues dust to an amount ("2 529,87") or loses a decimal comma ("5687"). So
every amount after every total, net, tax and prepayment label is a candidate, each with the ways
it can be read, and the total is the candidate the other printed amounts agree with:

1. a total (grand-total labels first, then amount-due ones) that equals net plus tax;
2. an amount due that, with the prepayments added back, equals net plus tax;
3. a grand total that an amount due repeats;
4. the first total, put right when it is one digit off net plus tax;
5. net plus tax, when only an amount due was found and net plus tax is printed elsewhere (the
   grand total's label was lost; the amount due may be after prepayments);
6. else the first total as read, in the labels' order of preference.

A total confirmed by step 1-3 is found by its ``label``; one put right or summed is a guess
(``pattern``). A total with a negative net is negative (a correction's minus lost by OCR), and a
credit note's total is the amount credited (positive). On a text layer, where nothing is misread,
step 1 or 6 decides and the result is what the labels alone give.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .fields import Found

#: Characters after a label that its amount is looked for in (the rest of the line).
WINDOW = 80
_INTEGER_AMOUNT = re.compile(r"(?:Rs\.?|₹|\$|€|£|\b[A-Z]{3})\s?(-?\d+)(?![\d.,])")
_AMOUNT = re.compile(
    r"(?<![\d.,])-?\d{1,3}(?:[., ']\d{3})*[.,]\d{2}(?![\d])|(?<![\d.,])-?\d+[.,]\d{2}(?![\d])"
)
#: An amount whose decimal comma OCR lost ("5687" for "56,87"): read as cents only to check a
#: total against, never as a value of its own.
_NO_SEPARATOR = re.compile(r"(?<![\d.,])(-?\d{3,7})(?![\d.,])")
_SPACE_GROUP = re.compile(r"^-?\d{1,3} (?=\d)")

# A bare "total", but not the net or tax one ("Net total", "Total HT", "VAT total", "Total taxes").
BARE_TOTAL = r"(?<!net\s)(?<!vat\s)(?<!tax\s)(?<!sub)(?<!sub-)total(?!\s*(?:ht|net|excl|taxes?|vat|tva)\b)"
#: Total labels in order of preference: the first that has an amount after it wins unless the
#: invoice's arithmetic says otherwise.
TOTAL_LABELS: tuple[str, ...] = (
    r"grand\s*total",
    # EN 16931's own names (BT-112, BT-115), which XRechnung's and other viewers print.
    r"invoice\s+total\s+amount\s+with\s+vat",
    r"gesamtbetrag\s+der\s+rechnung\s+(?:einschlie(?:ß|ss)lich|inkl\.?)\s+umsatzsteuer",
    r"gesamtsumme\s+brutto",
    r"gesamtbetrag\s+brutto",
    r"rechnungssumme\s+(?:einschlie(?:ß|ss)lich|inkl\.?)\s+ust\.?",
    r"amount\s+due\s+for\s+payment",
    r"f[äa]lliger\s+(?:zahlungs)?betrag",
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
    BARE_TOTAL,
)
#: Of those, the labels of what is left to pay: after prepayments it is less than the total.
DUE_LABELS = frozenset(
    {
        r"amount\s+due\s+for\s+payment",
        r"f[äa]lliger\s+(?:zahlungs)?betrag",
        r"total\s*amount\s*due",
        r"amount\s*due",
        r"total\s*due",
        r"zahlbetrag",
        r"montant\s+[àa]\s+payer",
        r"net\s+[àa]\s+payer",
        r"(?:amount|total|due)\s+payable",
    }
)
#: Labels that may name a subtotal's line: a total found after them is a weaker finding.
GENERIC_TOTALS = (BARE_TOTAL, "totaal")
NET_TOTAL_LABELS: tuple[str, ...] = (
    r"rechnungssumme\s+ohne\s+ust\.?",
    r"invoice\s+total\s+amount\s+without\s+vat",
    r"gesamtbetrag\s+der\s+rechnung\s+ohne\s+umsatzsteuer",
    r"gesamtsumme\s+(?:netto|ohne\s+umsatzsteuer)",
    r"summe\s+netto",
    r"net\s+total",
    r"total\s+net",
    r"total\s+ht",
    r"subtotal",
)
TAX_TOTAL_LABELS: tuple[str, ...] = (
    r"steuerbetrag(?:\s+in\s+[A-Z]{3})?",
    r"invoice\s+total\s+vat\s+amount",
    r"gesamtbetrag\s+der\s+rechnungsumsatzsteuer",
    r"summe\s+umsatzsteuer",
    r"vat\s+total",
    r"total\s+vat",
    r"total\s+tax(?:es)?",
    r"total\s+tva",
)
PREPAID_LABELS: tuple[str, ...] = (
    r"erhaltene\s+anzahlungen?",
    r"gezahlter\s+betrag",
    r"vorauszahlungsbetrag",
    r"bereits\s+(?:bezahlt|gezahlt)",
    r"(?:amount\s+)?paid(?:\s+amount)?",
    r"prepa(?:id|yments?)(?:\s+amount)?",
    r"acomptes?(?:\s+vers[ée]s?)?",
)
#: Words that make the document a credit note: its printed total may carry a minus the amount lacks.
_CREDIT_NOTE = re.compile(r"^[ \t]*(?:avoir|gutschrift|credit\s+note)\b", re.IGNORECASE | re.MULTILINE)
_CENT = 0.005


def to_number(raw: str) -> float:
    """``1.234,56``, ``1,234.56``, ``717,97`` and ``4.11`` all read as the number they mean."""
    cleaned = raw.replace(" ", "").replace("'", "")
    decimal_sep = cleaned[-3]
    integer = cleaned[:-3].replace(",", "").replace(".", "")
    return float(f"{integer}.{cleaned[-2:]}") if decimal_sep in ".," else float(cleaned)


def label_pattern(label: str) -> re.Pattern[str]:
    """``label`` as a word, with what may follow it; a label that ends its line takes its amount
    from the next line (a text layer's order)."""
    return re.compile(rf"\b{label}\b\s*[:*]?", re.IGNORECASE)


def amount_after(text: str, label: re.Pattern[str], nonzero: bool = False) -> Found | None:
    """The first amount on the line after the first ``label`` that has one.

    ``nonzero`` passes over "0,00" (a total's line of zero is a discount's or a prepayment's).
    """
    return next((found for found, _ in _amounts_after(text, label, nonzero)), None)


def labelled_amount(text: str, labels: Sequence[str], generic: Sequence[str] = ()) -> Found | None:
    """The first nonzero amount after the first label (in the order given) that has one."""
    return next((candidate.found for candidate in _candidates(text, labels, generic)), None)


def total(text: str) -> Found | None:
    """The invoice's total (see the module docstring for how the candidates are weighed)."""
    candidates = list(_candidates(text, TOTAL_LABELS, GENERIC_TOTALS))
    if not candidates:
        return None
    sums = _net_plus_tax(text)
    grand = [c for c in candidates if not c.due]
    due = [c for c in candidates if c.due]
    chosen = (
        _first_equal(grand + due, sums)
        or _due_plus_prepaid(text, due, sums)
        or _repeated(grand, due)
        or _repaired(candidates[0], sums)
        or _summed(candidates[0], sums, text)
        or candidates[0].found
    )
    return _credited(text, _signed(text, chosen))


@dataclass(frozen=True)
class _Candidate:
    found: Found
    #: Every value the printed amount may stand for, the value as read first.
    readings: tuple[float, ...]
    due: bool = False


def _candidates(text: str, labels: Sequence[str], generic: Sequence[str] = ()) -> Iterator[_Candidate]:
    """Each nonzero amount after each label, labels in the order given, then in the text's order."""
    for label in labels:
        for found, readings in _amounts_after(text, label_pattern(label), nonzero=True):
            if label in generic and found.how == "label":
                found = Found(found.value, "label-generic", raw=found.raw)
            yield _Candidate(found, readings, label in DUE_LABELS)


def _amounts_after(
    text: str, label: re.Pattern[str], nonzero: bool = False
) -> Iterator[tuple[Found, tuple[float, ...]]]:
    for match in label.finditer(text):
        window = _rest_of_line(text, match)
        found = [m for m in (_AMOUNT.search(window), _INTEGER_AMOUNT.search(window)) if m]
        if not found:
            continue
        first = min(found, key=lambda m: m.start())
        if first.re is _INTEGER_AMOUNT:  # "€ 12" with no decimals: a shape guess
            value = float(first.group(1))
            if not (nonzero and not value):
                yield Found(value, "pattern", raw=first.group(1)), (value,)
            continue
        raw = first.group(0).strip()
        value = to_number(raw)
        if nonzero and not value:
            continue
        yield Found(value, "label", raw=raw), _readings(raw, value)


def _rest_of_line(text: str, label: re.Match[str]) -> str:
    """What follows ``label`` on its line (at most ``WINDOW`` characters): where its amount is."""
    return text[label.end() : label.end() + WINDOW].split("\n", 1)[0]


def _readings(raw: str, value: float) -> tuple[float, ...]:
    """``value``, and without a first group that a space set apart ("2 529,87": dust before
    529,87, or 2,529.87 grouped the French way)."""
    rest = _SPACE_GROUP.sub("-" if raw.startswith("-") else "", raw, count=1)
    return (value, to_number(rest)) if rest != raw else (value,)


def _values_after(text: str, labels: Sequence[str]) -> list[float]:
    """Every reading of every amount after ``labels``, and of every number on their lines that
    lost its decimal comma."""
    values: list[float] = []
    for label in labels:
        pattern = label_pattern(label)
        for _, readings in _amounts_after(text, pattern):
            values.extend(readings)
        for match in pattern.finditer(text):
            window = _rest_of_line(text, match)
            values.extend(int(m.group(1)) / 100 for m in _NO_SEPARATOR.finditer(window))
    return values


def _net_plus_tax(text: str) -> set[float]:
    nets, taxes = _values_after(text, NET_TOTAL_LABELS), _values_after(text, TAX_TOTAL_LABELS)
    return {round(net + tax, 2) for net in nets for tax in taxes}


def _equal(a: float, b: float) -> bool:
    return abs(a - b) < _CENT


def _first_equal(candidates: Sequence[_Candidate], sums: set[float]) -> Found | None:
    for candidate in candidates:
        for reading in candidate.readings:
            if any(_equal(reading, value) for value in sums):
                return _as_read(candidate.found, reading)
    return None


def _due_plus_prepaid(text: str, due: Sequence[_Candidate], sums: set[float]) -> Found | None:
    """Net plus tax, when an amount due plus a prepayment comes to it (the grand total's line was
    lost and the amount due is what is left after the prepayment)."""
    prepaid = [abs(value) for value in _values_after(text, PREPAID_LABELS) if value]
    for candidate in due:
        for reading in candidate.readings:
            for paid in prepaid:
                whole = round(reading + paid, 2)
                if any(_equal(whole, value) for value in sums):
                    return Found(whole, "pattern")
    return None


def _repeated(grand: Sequence[_Candidate], due: Sequence[_Candidate]) -> Found | None:
    """The first grand total an amount due repeats: two readings of one number that agree."""
    for candidate in grand:
        for reading in candidate.readings:
            if any(_equal(reading, other) for other_candidate in due for other in other_candidate.readings):
                return _as_read(candidate.found, reading)
    return None


def _repaired(first: _Candidate, sums: set[float]) -> Found | None:
    """Net plus tax, when it differs from ``first`` in exactly one digit ("329,87" for "529,87")."""
    read = f"{abs(first.found.value):.2f}"
    for value in sorted(sums):
        summed = f"{abs(value):.2f}"
        if len(read) == len(summed) and sum(a != b for a, b in zip(read, summed, strict=True)) == 1:
            return Found(round(value, 2), "pattern", raw=first.found.raw)
    return None


def _summed(first: _Candidate, sums: set[float], text: str) -> Found | None:
    """Net plus tax, when only an amount due was found and net plus tax is printed elsewhere."""
    if not first.due:
        return None
    printed = {round(to_number(m.group(0)), 2) for m in _AMOUNT.finditer(text)}
    agreed = [value for value in sums if value and value in printed]
    return Found(agreed[0], "pattern") if len(agreed) == 1 else None


def _as_read(found: Found, reading: float) -> Found:
    return found if _equal(found.value, reading) else Found(reading, found.how, found.share)


def _signed(text: str, total: Found) -> Found:
    """A total with a negative net is negative: the minus OCR lost on a correction's total."""
    net = labelled_amount(text, NET_TOTAL_LABELS)
    if total.value > 0 and net is not None and net.value < 0:
        return Found(-total.value, total.how, total.share, total.raw)
    return total


def _credited(text: str, total: Found) -> Found:
    """A credit note's total as the amount credited: it prints "-233,47", its amount is 233.47."""
    if total.value >= 0 or not _CREDIT_NOTE.search(text):
        return total
    return Found(-total.value, total.how, total.share, total.raw)
