"""What the built wheel carries: every file of the package, the licence, the package page's metadata."""

from __future__ import annotations

import email
import os
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

from conftest import HERE

PACKAGE = HERE.parents[1] / "airflow_provider_vlm"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_wheel_holds_every_file_of_the_package(wheel: Path) -> None:
    """Modules, ``py.typed`` and every data file the dev server reads (its schemas)."""
    in_clone = {
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert "airflow_provider_vlm/py.typed" in in_clone
    assert any(name.startswith("airflow_provider_vlm/devserver/schemas/") for name in in_clone)
    missing = in_clone - _names(wheel)
    assert not missing, sorted(missing)


def test_wheel_and_sdist_carry_the_licence(wheel: Path) -> None:
    licences = [n for n in _names(wheel) if n.endswith(".dist-info/licenses/LICENSE")]
    assert licences, sorted(_names(wheel))
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(licences[0]).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    with tarfile.open(os.environ["VLM_VERSIONS_SDIST"]) as sdist:
        assert any(name.endswith("/LICENSE") for name in sdist.getnames())


def test_metadata_names_licence_frameworks_pythons_and_typing(wheel: Path) -> None:
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in metadata.get_all("License-File", [])
    classifiers = set(metadata.get_all("Classifier", []))
    assert {
        "Framework :: Apache Airflow",
        "Framework :: Apache Airflow :: Provider",
        "Typing :: Typed",
    } <= classifiers, sorted(classifiers)
    for version in PYTHONS:
        assert f"Programming Language :: Python :: {version}" in classifiers, version
    assert metadata["Requires-Python"] == ">=3.10"
