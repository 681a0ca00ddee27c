"""Every Python code block in the README and docs compiles."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer(page.read_text()), start=1):
            found.append((f"{page.relative_to(ROOT)}#{number}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "source"), _blocks(), ids=[w for w, _ in _blocks()])
def test_python_block_compiles(where: str, source: str) -> None:
    # A snippet may show the inside of a ``with DAG(...)`` block, indented as it would be there.
    compile(textwrap.dedent(source), where, "exec")
