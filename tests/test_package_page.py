"""The README is the package page on PyPI: every link in it works off the repository.

The long description is built as setuptools builds it for the wheel (``[project] readme`` names
the file, its text becomes the description as it is); ``tests/versions/test_package_page.py``
checks the built wheel's own METADATA with the same scan (this module imports only the standard
library and pytest at its top, so that the version suite's environments can load it). Links go to the docs site or the repository that
``[project.urls]`` name, and each names a docs page (and heading) or a repository path that exists.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
URLS: dict[str, str] = PROJECT["urls"]
DOCS = URLS["Documentation"]
REPO = URLS["Source"]

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HTML = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)


def long_description() -> str:
    """What setuptools puts in the wheel's METADATA body for ``readme = "<file>"``."""
    readme = PROJECT["readme"]
    name = readme if isinstance(readme, str) else readme["file"]
    return (ROOT / name).read_text(encoding="utf-8")


def link_targets(markdown: str) -> list[str]:
    """Every link and image target, outside code (a URL in a code block is text, not a link)."""
    prose = INLINE_CODE.sub("", FENCE.sub("", markdown))
    return [m.group(1) for pattern in (INLINE_LINK, REFERENCE, HTML) for m in pattern.finditer(prose)]


def _slugify(text: str) -> str:
    """Python-Markdown's ``toc`` default slugify, which mkdocs uses for heading ids (written out:
    the version suite's environments have no ``markdown``)."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _heading_slugs(page: Path) -> set[str]:
    """The ids mkdocs gives the page's headings."""
    slugs = set()
    for line in FENCE.sub("", page.read_text()).splitlines():
        found = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if found:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", found.group(1)).replace("`", "").replace("*", "")
            slugs.add(_slugify(text))
    return slugs


def _problem(target: str) -> str | None:
    parts = urlsplit(target)
    if parts.scheme not in ("https", "http", "mailto"):
        return "relative (breaks on the package page)"
    if target.startswith(DOCS):
        path = target[len(DOCS) :].split("#")[0].strip("/")
        page = ROOT / "docs" / (f"{path}.md" if path else "index.md")
        if not page.is_file():
            return f"no docs page {page.relative_to(ROOT)}"
        if parts.fragment and parts.fragment not in _heading_slugs(page):
            return f"no heading #{parts.fragment} in {page.relative_to(ROOT)}"
    elif target.startswith(REPO + "/"):
        found = re.match(r"(?:blob|tree)/main/(.+)$", target[len(REPO) + 1 :].split("#")[0])
        if found and not (ROOT / found.group(1)).exists():
            return f"no {found.group(1)} in the repository"
    return None


def test_long_description_links_only_absolute_urls_that_resolve() -> None:
    targets = link_targets(long_description())
    assert len(targets) > 10, targets  # the scan finds the README's links at all
    problems = {t: why for t in targets if (why := _problem(t)) is not None}
    assert not problems, problems
    assert any(t.startswith(DOCS) for t in targets) and any(t.startswith(REPO) for t in targets)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("docs/operators.md", "relative"),
        ("#the-two-commands", "relative"),
        (f"{DOCS}no-such-page/", "no docs page"),
        (f"{DOCS}retries/#no-such-heading", "no heading"),
        (f"{REPO}/blob/main/example_dags/no_such_dag.py", "no example_dags/no_such_dag.py"),
    ],
)
def test_the_check_catches_broken_links(target: str, reason: str) -> None:
    assert link_targets(f"see [this]({target}) and `[not a link](x.md)`") == [target]
    assert reason in (_problem(target) or "")


def test_readme_names_the_pip_path_and_the_clone_path() -> None:
    text = long_description()
    for step in (
        "pip install",
        "vlm-devserver",
        "AIRFLOW_CONN_VLM_DEFAULT",
        "vlm_submit_then_sense",
        "airflow dags test",
        "make demo",
        "make test",
    ):
        assert step in text, step


def test_heading_ids_are_the_ones_mkdocs_makes() -> None:
    from markdown.extensions.toc import slugify

    for heading in ("The retry budget (max_retries)", "Waits with no deadline", "Après `pip install`"):
        assert _slugify(heading.replace("`", "")) == slugify(heading.replace("`", ""), "-")


def test_docs_address_is_one_everywhere() -> None:
    """The docs site that Read the Docs publishes (``site_url``) is the one the package names."""
    from airflow_provider_vlm import DOCUMENTATION_URL
    from tests.ui.docs_site import site_url

    assert DOCS == DOCUMENTATION_URL == site_url()
    mkdocs = (ROOT / "mkdocs.yml").read_text()
    assert f"repo_url: {REPO}\n" in mkdocs
    hosting = (ROOT / ".readthedocs.yaml").read_text()
    assert "configuration: mkdocs.yml" in hosting
    extras = re.search(r"extra_requirements:\s*\n((?:\s+-\s*\S+\n)+)", hosting)
    assert extras, hosting
    for extra in re.findall(r"-\s*(\S+)", extras.group(1)):
        assert extra in PROJECT["optional-dependencies"], extra
