"""The official ``vlmrun`` SDK drives the dev server unmodified, from its own virtual environment.

The SDK pins versions that clash with Airflow's, so ``sdk_conformance.py`` runs under the
interpreter named by ``VLM_SDK_PYTHON`` (CI makes that environment); without the variable the
test makes ``.venv-sdk/`` in the project root once (``pip install "vlmrun==0.9.*"``).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.invoices import InvoiceSet

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("sdk_conformance.py")
SDK_REQUIREMENT = "vlmrun==0.9.*"


def _sdk_python() -> str:
    named = os.environ.get("VLM_SDK_PYTHON")
    if named:
        return named
    venv = ROOT / ".venv-sdk"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    usable = python.exists() and subprocess.run([str(python), "-c", "import vlmrun.client"]).returncode == 0
    if not usable:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", SDK_REQUIREMENT], check=True, timeout=600)
    return str(python)


@pytest.mark.timeout(900)
def test_official_sdk_drives_the_dev_server(dev: Any, invoice_set: InvoiceSet) -> None:
    python = _sdk_python()
    dev.reset(state=True)  # the SDK's file checks expect a store without other tests' uploads
    invoice = invoice_set.primary.path
    xml = PdfReader(io.BytesIO(invoice.read_bytes())).attachments["factur-x.xml"][0]
    expected_id = ET.fromstring(xml).findtext("{*}ExchangedDocument/{*}ID", "").strip()
    result = subprocess.run(
        [python, str(SCRIPT), dev.base_url, dev.api_key, str(invoice), expected_id],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VLMRUN_BASE_URL": dev.base_url},
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("failing: 0")
    # Every call went through the wire contract's routes, as the SDK spells them.
    requests = dev.stats()["requests"]
    for route in (
        "GET /health",
        "GET /files/hash/{md5}",
        "POST /files",
        "POST /document/generate",
        "GET /predictions/{id}",
        "GET /predictions",
        "POST /image/generate",
        "POST /schema",
        "POST /document/schema",
        "GET /domains",
        "GET /hub/info",
        "GET /hub/domains",
        "POST /hub/schema",
        "GET /models",
        "POST /feedback/submit",
        "GET /feedback/{request_id}",
    ):
        assert requests.get(route, 0) >= 1, (route, requests)
