"""The ``responses`` fault keyed by one input: each prediction of a domain gets its own response."""

from __future__ import annotations

from typing import Any

import httpx
from devserver_helpers import make_pdf, upload


def _completed(api: httpx.Client, media: str, **body: Any) -> dict[str, Any]:
    reply = api.post(f"/{media}/generate", json={"domain": body.pop("domain", "document.invoice"), **body})
    reply.raise_for_status()
    result: dict[str, Any] = reply.json()
    assert result["status"] == "completed", result
    return result


def test_an_input_entry_wins_over_its_domain_entry(dev: Any, api: httpx.Client) -> None:
    file_id = upload(api, make_pdf(["input responses"]))["id"]
    dev.faults(
        responses={
            "document.invoice": {"invoice_id": "domain"},
            "https://cases.example/a.pdf": {"invoice_id": "by-url"},
            file_id: {"invoice_id": "by-file-id"},
            "https://cases.example/cat.jpg": {"caption": "by-image"},
        }
    )
    by_url = _completed(api, "document", url="https://cases.example/a.pdf", batch=False)
    assert by_url["response"]["invoice_id"] == "by-url"
    by_file = _completed(api, "document", file_id=file_id, batch=False)
    assert by_file["response"]["invoice_id"] == "by-file-id"
    other = _completed(api, "document", url="https://cases.example/other.pdf", batch=False)
    assert other["response"]["invoice_id"] == "domain"  # no entry for this input: the domain's
    image = _completed(
        api, "image", domain="image.caption", images=["https://cases.example/cat.jpg"], batch=False
    )
    assert image["response"]["caption"] == "by-image"
    assert image["response"]["_devserver"]["engine"] == "fault"
