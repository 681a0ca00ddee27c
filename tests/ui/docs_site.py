"""The docs site's address, read from ``mkdocs.yml`` (the one place it is set for the site)."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def site_url() -> str:
    found = re.search(r"^site_url:\s*(\S+)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    assert found, "mkdocs.yml sets no site_url"
    return found.group(1)
