"""Bad input: each raises a specific error with a message a user can act on.

Shapes the dev server cannot produce (HTML pages, truncated JSON, unknown status values, missing
fields) come from ``httpx.MockTransport``; everything else goes to the real dev server.
"""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_vlm.client import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    Prediction,
    ResponseFormatError,
    VlmClient,
    VlmInputError,
)


def _mock_client(handler) -> VlmClient:
    return VlmClient("sk-mock", "http://api.test/v1", transport=httpx.MockTransport(handler), max_retries=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_key": ""}, "no API key"),
        ({"api_key": "   "}, "no API key"),
        ({"api_key": "k", "base_url": "ftp://host/v1"}, r"http\(s\) URL"),
        ({"api_key": "k", "base_url": "api.vlm.run/v1"}, r"http\(s\) URL"),
        ({"api_key": "k", "timeout": 0}, "timeout"),
    ],
)
def test_bad_settings(kwargs, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        VlmClient(**kwargs)


def test_wrong_key_is_an_authentication_error(dev) -> None:
    with VlmClient("wrong-key", dev.base_url) as client, pytest.raises(AuthenticationError) as info:
        client.healthcheck()
    assert info.value.status_code == 401
    assert "wrong-key" not in str(info.value)


def test_unknown_prediction_is_not_found(client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.predictions.get("does-not-exist")
    assert info.value.status_code == 404
    assert "GET /predictions/{id}" in str(info.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c, p, t: c.document.generate(file=t / "missing.pdf", domain="document.invoice"),
            "file not found",
        ),
        (lambda c, p, t: c.document.generate(file=t, domain="document.invoice"), "directory"),
        (
            lambda c, p, t: c.document.generate(
                file=p, url="https://x.test/a.pdf", domain="document.invoice"
            ),
            "exactly one",
        ),
        (lambda c, p, t: c.document.generate(domain="document.invoice"), "exactly one"),
        (lambda c, p, t: c.image.generate("image.caption", images=[]), "images is empty"),
        (lambda c, p, t: c.document.generate(url="ftp://x.test/a.pdf", domain="document.invoice"), "http"),
        (lambda c, p, t: c.document.generate(url="not a url", domain="document.invoice"), "http"),
        (lambda c, p, t: c.document.generate(file=p, domain="Invoice"), "malformed domain"),
        (lambda c, p, t: c.document.generate(file=b"", domain="document.invoice"), "empty"),
        (lambda c, p, t: c.predictions.get(""), "prediction_id"),
        (lambda c, p, t: c.predictions.list(skip=-1), "skip"),
    ],
)
def test_bad_arguments_fail_before_sending(dev, invoice_pdf, tmp_path, call, message) -> None:
    with VlmClient(dev.api_key, dev.base_url) as client:
        with pytest.raises(VlmInputError, match=message) as info:
            call(client, invoice_pdf, tmp_path)
        assert isinstance(info.value, ValueError)
    assert dev.stats()["requests"].get("POST /document/generate", 0) == 0


def test_unreadable_file(dev, tmp_path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(b"%PDF-1.4")
    locked.chmod(0)
    with VlmClient(dev.api_key, dev.base_url) as client, pytest.raises(VlmInputError, match="cannot read"):
        client.document.generate(file=locked, domain="document.invoice")


def test_html_error_page() -> None:
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with _mock_client(lambda r: httpx.Response(502, html=page)) as client, pytest.raises(Exception) as info:
        client.predictions.get("p1")
    assert "HTML page" in str(info.value) and "502 Bad Gateway" in str(info.value)


def test_html_instead_of_json_says_check_the_base_url() -> None:
    with _mock_client(lambda r: httpx.Response(200, html="<html><title>Login</title></html>")) as client:
        with pytest.raises(ResponseFormatError, match="base URL"):
            client.predictions.get("p1")


def test_truncated_json() -> None:
    body = b'{"id": "p1", "status": "compl'
    with (
        _mock_client(
            lambda r: httpx.Response(200, content=body, headers={"content-type": "application/json"})
        ) as client,
        pytest.raises(ResponseFormatError, match="not valid JSON"),
    ):
        client.predictions.get("p1")


def test_unknown_status_value() -> None:
    with _mock_client(lambda r: httpx.Response(200, json={"id": "p1", "status": "exploded"})) as client:
        with pytest.raises(ResponseFormatError, match="unknown prediction status 'exploded'"):
            client.predictions.get("p1")


def test_missing_required_field() -> None:
    with _mock_client(lambda r: httpx.Response(200, json={"status": "completed"})) as client:
        with pytest.raises(ResponseFormatError, match="missing the required field 'id'"):
            client.predictions.get("p1")


def test_unknown_fields_are_kept_and_type_filled_from_the_route() -> None:
    reply = {"id": "p1", "status": "completed", "usage": {"credits_used": 2, "new_meter": 7}, "region": "eu"}
    with _mock_client(lambda r: httpx.Response(201, json=reply)) as client:
        prediction = client.document.generate(url="https://x.test/a.pdf", domain="document.invoice")
    assert isinstance(prediction, Prediction)
    assert prediction.model_extra == {"region": "eu"}
    assert prediction.usage.model_extra == {"new_meter": 7}
    assert prediction.type == "document"


def test_error_body_shapes() -> None:
    with (
        _mock_client(
            lambda r: httpx.Response(422, json={"detail": [{"loc": ["body", "domain"], "msg": "bad"}]})
        ) as client,
        pytest.raises(InvalidRequestError, match="domain: bad"),
    ):
        client.predictions.get("p1")
    with (
        _mock_client(
            lambda r: httpx.Response(
                404, json={"error": {"message": "no such thing", "type": "not_found", "id": "e1"}}
            )
        ) as client,
        pytest.raises(NotFoundError, match="no such thing") as info,
    ):
        client.predictions.get("p1")
    assert info.value.error_type == "not_found" and info.value.error_id == "e1"
