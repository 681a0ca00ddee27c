"""OpenLineage for the operators: input datasets, output dataset and a ``vlm`` run facet.

Imported only from the operators' ``get_openlineage_facets_on_complete``, which the OpenLineage
provider calls: the provider works without ``apache-airflow-providers-openlineage`` installed
(extra ``openlineage``). Dataset names follow OpenLineage's naming: a local path is
``file`` + absolute path, a URI ``scheme://authority`` + path, an http(s) URL host + path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import attr
from airflow.providers.common.compat.openlineage.facet import Dataset, RunFacet
from airflow.providers.openlineage.extractors import OperatorLineage

#: Prediction ids listed in the run facet at most (a nightly batch may hold ten thousand).
MAX_PREDICTION_IDS = 100
FACET_NAME = "vlm"
#: Where the facet's JSON schema is published: the docs site serves ``docs/openlineage/VlmRunFacet.json``.
FACET_SCHEMA_URL = "https://airflow-provider-vlm.readthedocs.io/en/stable/openlineage/VlmRunFacet.json"


@attr.define
class VlmRunFacet(RunFacet):
    """What a run asked of the VLM Run API and what it cost.

    :param domain: the domain extracted (``None`` for schema generation).
    :param model: the model name.
    :param media: ``image``, ``document``, ``audio`` or ``video``.
    :param predictionIds: the predictions' ids, at most ``MAX_PREDICTION_IDS``.
    :param predictionCount: how many predictions the run has (all of them).
    :param creditsUsed: credits the server reported, ``None`` when none was reported.
    :param schemaHash: the ``schema_hash`` of the schema the run extracted against (``None``:
        not known); a new hash is a new shape of the output (schema drift).
    :param schemaVersion: that schema's ``schema_version`` (``custom`` for a schema of the run's own).
    """

    domain: str | None = attr.field(default=None)
    model: str | None = attr.field(default=None)
    media: str | None = attr.field(default=None)
    predictionIds: list[str] = attr.field(factory=list)  # camelCase, as OpenLineage facets spell fields
    predictionCount: int = attr.field(default=0)
    creditsUsed: float | None = attr.field(default=None)
    schemaHash: str | None = attr.field(default=None)
    schemaVersion: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


def dataset(location: Any) -> Dataset:
    """The OpenLineage dataset of a path, ``ObjectStoragePath``, URI or URL."""
    text = str(location)
    parts = urlsplit(text)
    if parts.scheme in ("", "file") or len(parts.scheme) == 1:  # one letter: a Windows drive
        path = parts.path if parts.scheme == "file" else text
        return Dataset(namespace="file", name=os.path.abspath(os.fspath(path)))
    if parts.scheme in ("http", "https"):
        return Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path or "/")
    return Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/") or "/")


def file_id_dataset(base_url: str | None, file_id: str) -> Dataset:
    """A file already stored on the server: the API's files route is its home."""
    parts = urlsplit(base_url or "https://api.vlm.run/v1")
    return Dataset(
        namespace=f"{parts.scheme}://{parts.netloc}", name=f"{parts.path.rstrip('/')}/files/{file_id}"
    )


def input_datasets(
    *, file: Any, file_id: str | None, url: str | None, images: Any, base_url: Callable[[], str | None]
) -> list[Dataset]:
    """The one input of a single-prediction operator as datasets (inline image data left out)."""
    if file_id is not None:
        return [file_id_dataset(base_url(), file_id)]
    if url is not None:
        return [dataset(url)]
    if images is not None:
        items = [images] if isinstance(images, str) else list(images)
        return [dataset(i) for i in items if not str(i).startswith("data:")]
    return [] if file is None else [dataset(file)]


def operator_lineage(
    *,
    inputs: Iterable[Dataset],
    outputs: Iterable[Dataset] = (),
    domain: str | None,
    model: str,
    media: str,
    prediction_ids: Sequence[str],
    credits_used: float | None,
    schema_hash: str | None = None,
    schema_version: str | None = None,
) -> OperatorLineage:
    facet = VlmRunFacet(
        domain=domain,
        model=model,
        media=media,
        predictionIds=list(prediction_ids[:MAX_PREDICTION_IDS]),
        predictionCount=len(prediction_ids),
        creditsUsed=credits_used,
        schemaHash=schema_hash,
        schemaVersion=schema_version,
    )
    return OperatorLineage(inputs=list(inputs), outputs=list(outputs), run_facets={FACET_NAME: facet})
