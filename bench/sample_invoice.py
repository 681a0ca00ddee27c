"""The invoice a benchmark extracts when it is not given one.

A real public e-invoice when the corpus is beside the project (``../shared/data/invoices``, an
optional extra the published figures were taken with), else a Factur-X invoice drawn by the
demo's seeded generator, so every benchmark runs on a bare clone.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = (
    ROOT.parent
    / "shared"
    / "data"
    / "invoices"
    / "zugferd"
    / "correct"
    / "XML-Rechnung__FX__EN16931_Einfach.pdf"
)


def sample_invoice() -> Path:
    """A PDF invoice with embedded XML; a generated one lives in a temp folder until the process exits."""
    if REAL.is_file():
        return REAL
    examples = str(ROOT / "example_dags")
    if examples not in sys.path:
        sys.path.append(examples)
    from vlm_demo.samples import generate_samples

    folder = Path(tempfile.mkdtemp(prefix="vlm-bench-invoice-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (invoice,) = generate_samples(folder, count=1, seed=2026, day=date(2026, 11, 20), embed_every=1, bad=0)
    print(f"no real invoices beside the project: using the generated {invoice.path.name}", file=sys.stderr)
    return invoice.path
