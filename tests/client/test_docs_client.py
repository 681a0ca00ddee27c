"""Every example of ``docs/client.md`` runs, in order, on the hook's client against the dev server."""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.invoices import InvoiceSet

DOC = ROOT / "docs" / "client.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[\w+\s*\] ")


def test_every_client_doc_example_runs(dev, tmp_path: Path, monkeypatch, invoice_set: InvoiceSet) -> None:
    from PIL import Image

    monkeypatch.setenv(
        "AIRFLOW_CONN_VLM_DEFAULT",
        json.dumps({"conn_type": "vlm", "host": dev.base_url, "password": dev.api_key}),
    )
    invoice = invoice_set.primary.path
    (tmp_path / "invoice.pdf").symlink_to(invoice)
    (tmp_path / "credit-note.pdf").symlink_to(invoice_set.xrechnung.path)
    with Image.open(invoice_set.image) as png:
        png.convert("RGB").save(tmp_path / "image.jpg", format="JPEG")
    monkeypatch.chdir(tmp_path)

    namespace: dict[str, Any] = {"__builtins__": builtins}
    out = io.StringIO()
    blocks = BLOCK.findall(DOC.read_text())
    with contextlib.redirect_stdout(out):
        for number, source in enumerate(blocks, start=1):
            exec(compile(source, f"docs/client.md#{number}", "exec", dont_inherit=True), namespace)
    namespace["client"].close()
    # Airflow's structlog may write the client's log records to stdout too: they are not the examples' output.
    printed = [line for line in out.getvalue().splitlines() if not LOG_LINE.match(line)]

    expected = [
        r"\S+: completed",  # submit
        r"Status: completed",
        r"\S+: \w+ \((image|document|audio|video)\)",
        r"completed at \d{4}-\d\d-\d\d .*",
        r"\S+ completed \d{4}-.* document",
        r"Result: 529.87",
        r"True True",
        r"True",  # find
        r"Success! Total: 529.87",
        r"still (enqueued|pending|running) after 0.01s",
        r"image completed True",
        r"document audio video completed",
        r"True",  # cached file
        rf"{invoice.stat().st_size} True",  # the stored file is the invoice
        r"True",  # domains
        r"\['amount_paid', 'balance_due'\] Invoice",
        r"True",  # healthcheck
        r"Invoice number: 471102",
        r"Total: 529.87",
        r"True",  # dict form
        r"Issuer: .+",
        r"2 of 2 completed",
        r"Invalid parameters: file not found: missing.pdf",
        r"completed",  # tqdm
        r"completed True",  # async
        r"True 4",  # confidence and box
        r"1 529.78 reviewer",  # feedback
    ]
    listed = [line for line in printed if re.fullmatch(expected[2], line)]
    printed = [line for line in printed if line not in listed[1:]]  # the list example prints up to 10 lines
    assert len(printed) == len(expected), printed
    for line, pattern in zip(printed, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
