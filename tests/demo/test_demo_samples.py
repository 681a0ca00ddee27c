"""The sample invoice generator: reproducible, readable, and truthful about its own defects."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from airflow_provider_vlm.invoices import check_invoice
from tests.invoices import REAL_INVOICES, needs_real_invoices
from vlm_demo.samples import (
    BAD_KINDS,
    FACTURX_FILENAME,
    UBL_FILENAME,
    Party,
    build_ubl_xml,
    compose_invoice,
    generate_samples,
    main,
    write_invoice,
)

DAY = date(2026, 1, 15)
CENT = Decimal("0.01")


def validate_invoice(result: Any) -> list[str]:
    """The provider's default invoice rules, as the report prints their problems."""
    return [str(problem) for problem in check_invoice(result)]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Default batch (12 invoices, 2 bad) of one day, with its manifest."""
    out = tmp_path_factory.mktemp("samples")
    generate_samples(out, day=DAY)
    folder = out / DAY.isoformat()
    return folder, json.loads((folder / "manifest.json").read_text())


@pytest.fixture(scope="module")
def all_kinds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A batch with one invoice of every defect kind, every invoice with Factur-X XML."""
    out = tmp_path_factory.mktemp("kinds")
    generate_samples(out, count=8, seed=7, day=DAY, embed_every=1, bad=len(BAD_KINDS))
    folder = out / DAY.isoformat()
    return folder, json.loads((folder / "manifest.json").read_text())


def _d(value: float) -> Decimal:
    return Decimal(str(value))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, path: str) -> ET.Element | None:
    """Namespace-blind lookup by local names, e.g. ``"ExchangedDocument/ID"``."""
    current: ET.Element | None = element
    for name in path.split("/"):
        if current is None:
            return None
        current = next((child for child in current if _local(child.tag) == name), None)
    return current


def _text(element: ET.Element, path: str) -> str | None:
    found = _find(element, path)
    return found.text if found is not None else None


def _cii_date(value: str | None) -> str | None:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if value else None


def cii_to_invoice(xml: bytes) -> dict[str, Any]:
    """Read a CII invoice into the ``document.invoice`` shape (what an exact extractor returns)."""
    root = ET.fromstring(xml)
    transaction = _find(root, "SupplyChainTradeTransaction")
    assert transaction is not None
    agreement = _find(transaction, "ApplicableHeaderTradeAgreement")
    settlement = _find(transaction, "ApplicableHeaderTradeSettlement")
    assert agreement is not None and settlement is not None
    money = "SpecifiedTradeSettlementHeaderMonetarySummation"
    items = []
    for line in transaction:
        if _local(line.tag) != "IncludedSupplyChainTradeLineItem":
            continue
        items.append(
            {
                "description": _text(line, "SpecifiedTradeProduct/Name"),
                "quantity": float(_text(line, "SpecifiedLineTradeDelivery/BilledQuantity") or "nan"),
                "unit_price": float(
                    _text(line, "SpecifiedLineTradeAgreement/NetPriceProductTradePrice/ChargeAmount") or "nan"
                ),
                "total_price": float(
                    _text(
                        line,
                        "SpecifiedLineTradeSettlement/SpecifiedTradeSettlementLineMonetarySummation/LineTotalAmount",
                    )
                    or "nan"
                ),
            }
        )
    seller = _find(agreement, "SellerTradeParty")
    assert seller is not None
    return {
        "invoice_id": _text(root, "ExchangedDocument/ID"),
        "invoice_issue_date": _cii_date(_text(root, "ExchangedDocument/IssueDateTime/DateTimeString")),
        "invoice_due_date": _cii_date(
            _text(settlement, "SpecifiedTradePaymentTerms/DueDateDateTime/DateTimeString")
        ),
        "issuer_name": _text(seller, "Name"),
        "issuer_vat_id": _text(seller, "SpecifiedTaxRegistration/ID"),
        "issuer_postcode": _text(seller, "PostalTradeAddress/PostcodeCode"),
        "customer_name": _text(agreement, "BuyerTradeParty/Name"),
        "currency": _text(settlement, "InvoiceCurrencyCode"),
        "items": items,
        "line_total": float(_text(settlement, f"{money}/LineTotalAmount") or "nan"),
        "subtotal": float(_text(settlement, f"{money}/TaxBasisTotalAmount") or "nan"),
        "tax_amount": float(_text(settlement, f"{money}/TaxTotalAmount") or "nan"),
        "total_amount": float(_text(settlement, f"{money}/GrandTotalAmount") or "nan"),
        "due_payable": float(_text(settlement, f"{money}/DuePayableAmount") or "nan"),
    }


def _embedded_xml(pdf: Path) -> bytes | None:
    """The Factur-X XML found the way e-invoice readers look: the EmbeddedFiles name tree."""
    root: Any = PdfReader(pdf).trailer["/Root"]  # pypdf's dictionary types are loose
    names = root.get("/Names")
    if names is None or "/EmbeddedFiles" not in names:
        return None
    entries = names["/EmbeddedFiles"]["/Names"]
    spec: Any
    for key, spec in zip(entries[::2], entries[1::2], strict=True):
        if key == FACTURX_FILENAME:
            spec = spec.get_object()
            assert spec["/AFRelationship"] in ("/Data", "/Alternative")
            assert spec.indirect_reference in [ref.indirect_reference for ref in root["/AF"]]
            return bytes(spec["/EF"]["/F"].get_object().get_data())
    return None


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = generate_samples(tmp_path / "a", count=6, seed=11, day=DAY)
    second = generate_samples(tmp_path / "b", count=6, seed=11, day=DAY)
    assert [inv.path.name for inv in first] == [inv.path.name for inv in second]
    for name in [inv.path.name for inv in first] + ["manifest.json"]:
        assert (tmp_path / "a" / DAY.isoformat() / name).read_bytes() == (
            tmp_path / "b" / DAY.isoformat() / name
        ).read_bytes(), name


def test_other_seed_or_day_gives_other_invoices(tmp_path: Path) -> None:
    base = generate_samples(tmp_path / "a", count=4, seed=11, day=DAY)
    other_seed = generate_samples(tmp_path / "b", count=4, seed=12, day=DAY)
    other_day = generate_samples(tmp_path / "c", count=4, seed=11, day=date(2026, 1, 16))
    assert other_day[0].path.parent.name == "2026-01-16"
    for other in (other_seed, other_day):
        assert [i.total_amount for i in base] != [i.total_amount for i in other]


def test_layout_and_manifest(batch: tuple[Path, dict[str, Any]]) -> None:
    folder, manifest = batch
    entries = manifest["invoices"]
    assert manifest["day"] == DAY.isoformat() and manifest["count"] == 12 == len(entries)
    assert sorted(p.name for p in folder.glob("*.pdf")) == [e["file"] for e in entries]
    assert all(e["file"].startswith("INV-20260115-") for e in entries)
    # Several issuers (so a per-issuer summary says something), mostly in euros.
    issuers = {e["issuer_name"] for e in entries}
    assert 3 <= len(issuers) <= 4
    currencies = [e["currency"] for e in entries]
    assert currencies.count("EUR") > len(currencies) / 2
    # Issued on the day or shortly before, due later.
    for e in entries:
        assert e["invoice_issue_date"] <= DAY.isoformat() < e["invoice_due_date"]
    ids = [e["invoice_id"] for e in entries if e["invoice_id"]]
    assert len(ids) == len(set(ids))
    assert sorted(e["bad"] for e in entries if e["bad"]) == sorted(BAD_KINDS[:2])


def test_every_other_invoice_embeds_facturx(batch: tuple[Path, dict[str, Any]]) -> None:
    folder, manifest = batch
    for index, entry in enumerate(manifest["invoices"]):
        assert entry["embedded"] is (index % 2 == 0)
        xml = _embedded_xml(folder / entry["file"])
        assert (xml is not None) is entry["embedded"]
        if not entry["embedded"]:
            assert not list(PdfReader(folder / entry["file"]).attachments)


def test_embed_every_is_configurable(tmp_path: Path) -> None:
    never = generate_samples(tmp_path / "never", count=3, day=DAY, embed_every=0, bad=0)
    every = generate_samples(tmp_path / "every", count=3, day=DAY, embed_every=1, bad=0)
    third = generate_samples(tmp_path / "third", count=7, day=DAY, embed_every=3, bad=0)
    assert [i.embedded for i in never] == [False] * 3
    assert [i.embedded for i in every] == [True] * 3
    assert [i.embedded for i in third] == [True, False, False, True, False, False, True]
    assert all(_embedded_xml(i.path) is not None for i in every)


@pytest.mark.parametrize("fixture", ["batch", "all_kinds"])
def test_embedded_xml_matches_manifest(fixture: str, request: pytest.FixtureRequest) -> None:
    folder, manifest = request.getfixturevalue(fixture)
    checked = 0
    for entry in manifest["invoices"]:
        if not entry["embedded"]:
            continue
        xml = _embedded_xml(folder / entry["file"])
        assert xml is not None and xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = ET.fromstring(xml)
        assert _local(root.tag) == "CrossIndustryInvoice"
        issued = _find(root, "ExchangedDocument/IssueDateTime/DateTimeString")
        assert issued is not None and issued.attrib["format"] == "102"
        got = cii_to_invoice(xml)
        for key in (
            "invoice_id",
            "invoice_issue_date",
            "invoice_due_date",
            "issuer_name",
            "issuer_vat_id",
            "customer_name",
            "currency",
            "subtotal",
            "tax_amount",
            "total_amount",
        ):
            assert got[key] == entry[key], (entry["file"], key)
        assert got["items"] == entry["items"]
        assert got["due_payable"] == entry["total_amount"]
        assert _d(got["line_total"]) == sum((_d(i["total_price"]) for i in entry["items"]), Decimal(0))
        assert got["issuer_postcode"] in entry["issuer_address"]
        checked += 1
    assert checked >= 4


def test_text_layer_has_number_and_total(all_kinds: tuple[Path, dict[str, Any]]) -> None:
    folder, manifest = all_kinds
    for entry in manifest["invoices"]:
        reader = PdfReader(folder / entry["file"])
        assert len(reader.pages) == 1
        text = reader.pages[0].extract_text()
        assert text.splitlines()[:2] == ["INVOICE", entry["issuer_name"]]
        total = f"{_d(entry['total_amount']):,.2f}"
        assert f"Total due ({entry['currency']}) {total} {entry['currency']}" in text, entry["file"]
        assert entry["issuer_name"] in text and entry["customer_name"] in text
        assert entry["invoice_issue_date"] in text and entry["invoice_due_date"] in text
        if entry["invoice_id"] is None:
            assert "Invoice number" not in text
        else:
            assert f"Invoice number: {entry['invoice_id']}" in text
        for item in entry["items"]:
            assert f"{_d(item['total_price']):,.2f}" in text


def _consistency(entry: dict[str, Any]) -> dict[str, bool]:
    items = entry["items"]
    subtotal, tax, total = _d(entry["subtotal"]), _d(entry["tax_amount"]), _d(entry["total_amount"])
    return {
        "lines": all(
            (_d(i["quantity"]) * _d(i["unit_price"])).quantize(CENT, ROUND_HALF_UP) == _d(i["total_price"])
            for i in items
        ),
        "subtotal": sum((_d(i["total_price"]) for i in items), Decimal(0)) == subtotal,
        "tax": (subtotal * _d(entry["tax_rate"])).quantize(CENT, ROUND_HALF_UP) == tax,
        "total": subtotal + tax == total,
        "id": bool(entry["invoice_id"]),
    }


BROKEN_BY_KIND = {
    "total_mismatch": "total",
    "missing_invoice_id": "id",
    "line_total_mismatch": "lines",
    "subtotal_mismatch": "subtotal",
}


@pytest.mark.parametrize("fixture", ["batch", "all_kinds"])
def test_amounts_consistent_except_the_declared_defect(fixture: str, request: pytest.FixtureRequest) -> None:
    _, manifest = request.getfixturevalue(fixture)
    for entry in manifest["invoices"]:
        checks = _consistency(entry)
        broken = {name for name, ok in checks.items() if not ok}
        expected = {BROKEN_BY_KIND[entry["bad"]]} if entry["bad"] else set()
        assert broken == expected, (entry["file"], entry["bad"], checks)


EXPECTED_PROBLEM = {
    "total_mismatch": "but total_amount is",
    "missing_invoice_id": "missing invoice_id",
    "line_total_mismatch": "but total_price is",
    "subtotal_mismatch": "but subtotal is",
}


@pytest.mark.parametrize("fixture", ["batch", "all_kinds"])
def test_validation_flags_exactly_the_bad_ones(fixture: str, request: pytest.FixtureRequest) -> None:
    folder, manifest = request.getfixturevalue(fixture)
    for entry in manifest["invoices"]:
        problems = validate_invoice(entry)
        if entry["bad"] is None:
            assert problems == [], entry["file"]
        else:
            assert len(problems) == 1 and EXPECTED_PROBLEM[entry["bad"]] in problems[0], (entry, problems)
        # What an exact XML reader returns validates the same way as the ground truth.
        if entry["embedded"]:
            xml = _embedded_xml(folder / entry["file"])
            assert xml is not None
            assert validate_invoice(cii_to_invoice(xml)) == problems


def test_rerun_with_fewer_invoices_removes_stale_files(tmp_path: Path) -> None:
    generate_samples(tmp_path, count=5, day=DAY, bad=1)
    (tmp_path / DAY.isoformat() / "notes.txt").write_text("kept")
    generate_samples(tmp_path, count=3, day=DAY, bad=0)
    folder = tmp_path / DAY.isoformat()
    assert sorted(p.name for p in folder.iterdir()) == [
        "INV-20260115-001.pdf",
        "INV-20260115-002.pdf",
        "INV-20260115-003.pdf",
        "manifest.json",
        "notes.txt",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"count": 0}, "count"), ({"count": 2, "bad": 3}, "bad"), ({"embed_every": -1}, "embed_every")],
)
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_samples(tmp_path, day=DAY, **kwargs)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--count", "4", "--seed", "5", "--day", "2026-03-02", "--bad", "1"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "2026-03-02"
    assert len(list(folder.glob("INV-20260302-*.pdf"))) == 4
    assert "factur-x" in out and "bad: total_mismatch" in out and "wrote 4 invoices" in out
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--count", "1", "--bad", "2"])


def _composed(path: Path) -> Any:
    return compose_invoice(
        path,
        invoice_id="T-1",
        issuer=Party("Seller AG", "Hauptstrasse 1", "8001", "Zuerich", "CH", "CHE-123.456.789"),
        customer=Party("Buyer Ltd", "1 High Street", "SW1A 1AA", "London", "GB"),
        issue_date=date(2026, 3, 2),
        currency="CHF",
        tax_rate=Decimal("0.081"),
        lines=[
            ("Audit", Decimal("2.5"), "h", "HUR", Decimal("180.00")),
            ("Report", Decimal(1), "pcs", "C62", Decimal("99.95")),
        ],
        payment_days=10,
    )


def test_composed_invoice_adds_up_and_its_ubl_states_it(tmp_path: Path) -> None:
    invoice = _composed(tmp_path / "a.pdf")
    assert [i.total_price for i in invoice.items] == [Decimal("450.00"), Decimal("99.95")]
    assert (invoice.subtotal, invoice.tax_amount, invoice.total_amount) == (
        Decimal("549.95"),
        Decimal("44.55"),
        Decimal("594.50"),
    )
    assert invoice.due_date == date(2026, 3, 12) and invoice.payment_terms == "Net 10 days"
    root = ET.fromstring(build_ubl_xml(invoice))
    assert _local(root.tag) == "Invoice"
    assert root.findtext("{*}ID") == "T-1" and root.findtext("{*}DueDate") == "2026-03-12"
    assert root.findtext("{*}DocumentCurrencyCode") == "CHF"
    assert root.findtext("{*}AccountingSupplierParty/{*}Party/{*}PartyName/{*}Name") == "Seller AG"
    assert root.findtext("{*}LegalMonetaryTotal/{*}TaxInclusiveAmount") == "594.50"
    lines = root.findall("{*}InvoiceLine")
    assert [(x.findtext("{*}InvoicedQuantity"), x.findtext("{*}LineExtensionAmount")) for x in lines] == [
        ("2.5", "450.00"),
        ("1", "99.95"),
    ]


def test_write_invoice_embeds_the_attachment_given(tmp_path: Path) -> None:
    invoice = _composed(tmp_path / "ubl.pdf")
    xml = build_ubl_xml(invoice)
    write_invoice(invoice, attachment=(UBL_FILENAME, xml))
    first = invoice.path.read_bytes()
    assert PdfReader(invoice.path).attachments == {UBL_FILENAME: [xml]}
    write_invoice(invoice, attachment=(UBL_FILENAME, xml))
    assert invoice.path.read_bytes() == first  # reproducible
    plain = compose_invoice(**{**_fields(invoice), "path": tmp_path / "plain.pdf", "embedded": False})
    write_invoice(plain)
    assert PdfReader(plain.path).attachments == {}
    assert "Invoice number: T-1" in PdfReader(plain.path).pages[0].extract_text()


def _fields(invoice: Any) -> dict[str, Any]:
    return {
        "invoice_id": invoice.invoice_id,
        "issuer": invoice.issuer,
        "customer": invoice.customer,
        "issue_date": invoice.issue_date,
        "currency": invoice.currency,
        "tax_rate": invoice.tax_rate,
        "lines": [(i.description, i.quantity, i.unit, i.unit_code, i.unit_price) for i in invoice.items],
    }


ZUGFERD = REAL_INVOICES / "zugferd" / "correct"


@needs_real_invoices
def test_real_einvoices_pass_header_checks() -> None:
    """Correct real e-invoices (ZUGFeRD 2 / Factur-X / XRechnung) never draw a header complaint.

    Only the header is compared: CII line amounts may depend on a basis quantity, gross prices
    or document-level allowances and charges, which the ``document.invoice`` shape (and this
    test's small reader) does not model.
    """
    checked = 0
    for pdf in sorted(ZUGFERD.glob("*.pdf")):
        attachments = PdfReader(pdf).attachments
        xml_names = [name for name in attachments if name.lower().endswith(".xml")]
        xml = attachments[xml_names[0]][0] if xml_names else b""
        if b"CrossIndustryInvoice:100" not in xml:
            continue  # ZUGFeRD 1 and other syntaxes: another reader's job
        invoice = cii_to_invoice(xml)
        assert invoice["invoice_id"] and invoice["issuer_name"], pdf.name
        assert validate_invoice({**invoice, "items": None}) == [], pdf.name
        checked += 1
    assert checked >= 40
