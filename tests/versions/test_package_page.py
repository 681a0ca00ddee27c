"""The built wheel's long description (the package page on PyPI) links nothing relative.

The scan is the main suite's (``tests/test_package_page.py``), loaded by path: this environment
has the wheel installed, not the clone's ``tests`` package.
"""

from __future__ import annotations

import email
import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

from conftest import HERE


def _checks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("package_page_checks", HERE.parent / "test_package_page.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wheel_long_description_has_no_relative_link(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_string(archive.read(name).decode("utf-8"))
    description = metadata.get_payload()
    assert isinstance(description, str) and "airflow-provider-vlm" in description
    assert metadata["Description-Content-Type"] == "text/markdown"
    checks = _checks()
    assert description.strip() == checks.long_description().strip()  # what the main suite scans
    targets = checks.link_targets(description)
    assert targets
    problems = {t: why for t in targets if (why := checks._problem(t)) is not None}
    assert not problems, problems
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL", []))
    assert urls.get("Documentation") == checks.DOCS and urls.get("Source") == checks.REPO
