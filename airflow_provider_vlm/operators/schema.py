"""``GenerateSchemaOperator``: propose a JSON schema from a sample image or document.

The SDK's ``image.schema`` / ``document.schema`` as a task. It returns the SchemaResponse
(``{domain, description, schema_version, schema_hash, gql_stmt, json_schema}``) so a downstream
task can pass ``json_schema`` to ``GenerateOperator(config={"json_schema": ...})``. Schema
generation is short, so it waits in the worker; retries follow the same durable record as
``GenerateOperator`` (``durable.submit_once``, under its own key) and never submit twice. A
local file is uploaded under its own name, as ``GenerateOperator`` uploads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_vlm._compat import task_entry
from airflow_provider_vlm.client import GenerationConfig, VlmInputError
from airflow_provider_vlm.durable import submit_once
from airflow_provider_vlm.hooks.vlm import VlmHook
from airflow_provider_vlm.identity import fingerprint
from airflow_provider_vlm.links import PREDICTION_ID_KEY, VlmPredictionLink
from airflow_provider_vlm.operators._common import seconds
from airflow_provider_vlm.operators._inputs import check_arguments, load_input
from airflow_provider_vlm.operators._submission import Submission, build_config
from airflow_provider_vlm.retry_policy import with_default_retry_policy
from airflow_provider_vlm.sensors._completion import outcome, wait_blocking

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

SCHEMA_RECORD_KEY = "vlm_schema_submission"


class GenerateSchemaOperator(BaseOperator):
    """Return the schema the server proposes for a sample ``file``/``file_id``/``url``/``images``.

    :param media: ``image`` or ``document``.
    :param file: a local path, an ``ObjectStoragePath`` or a URI, uploaded under its own name
        (templated). Exactly one of ``file``, ``file_id``, ``url``, ``images``.
    :param file_id: the id of a file already stored on the server (templated).
    :param url: an http(s) URL the server fetches (templated).
    :param images: image paths or URLs, ``media="image"`` only (templated).
    :param model: model name (templated).
    :param config: GenerationConfig as a dict or ``GenerationConfig`` (templated), e.g. a ``prompt``
        that says what the schema should cover.
    :param poll_interval: polling interval while the schema is generated (seconds or timedelta).
    :param timeout: how long to wait for the schema (seconds or timedelta).
    :param vlm_conn_id: Airflow connection of type ``vlm``.
    """

    template_fields: Sequence[str] = ("file", "file_id", "url", "images", "model", "config")
    operator_extra_links = (VlmPredictionLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        media: str = "document",
        file: Any = None,
        file_id: str | None = None,
        url: str | None = None,
        images: Sequence[Any] | None = None,
        model: str = "vlm-1",
        config: GenerationConfig | Mapping[str, Any] | None = None,
        poll_interval: float | timedelta = 2.0,
        timeout: float | timedelta = 600.0,
        vlm_conn_id: str = VlmHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        with_default_retry_policy(kwargs)
        super().__init__(**kwargs)
        if media not in ("image", "document"):
            raise VlmInputError(
                f"{self.task_id}: schema generation takes media 'image' or 'document', not {media!r}"
            )
        check_arguments(
            media=media, domain=None, file=file, file_id=file_id, url=url, images=images, owner=self.task_id
        )
        self.media = media
        self.file = file
        self.file_id = file_id
        self.url = url
        self.images = images
        self.model = model
        self.config = config
        self.poll_interval = seconds(poll_interval, name="poll_interval") or 2.0
        self.timeout = seconds(timeout, name="timeout") or 600.0
        self.vlm_conn_id = vlm_conn_id
        #: The prediction of this try, for OpenLineage (not serialized).
        self._lineage_prediction_id: str | None = None
        self._lineage_credits: float | None = None

    @cached_property
    def hook(self) -> VlmHook:
        return VlmHook(self.vlm_conn_id)

    @task_entry
    def execute(self, context: Context) -> Any:
        import time

        loaded = load_input(file=self.file, file_id=self.file_id, url=self.url, images=self.images)
        config = build_config(self.config, None)
        client = self.hook.get_client()
        # The request's source is prepared as GenerateOperator's (upload under the file's name).
        uploader = Submission(media=self.media, domain="", model=self.model, conn_id=self.vlm_conn_id)
        input_fingerprint = fingerprint(
            kind="schema",
            media=self.media,
            model=self.model,
            input=loaded.identity(),
            config=config,
            conn_id=self.vlm_conn_id,
        )
        submitted = submit_once(
            context,
            client,
            input_fingerprint,
            prepare=lambda: uploader.prepare(client, loaded),
            create=lambda source, key: (client.image if self.media == "image" else client.document).schema(
                model=self.model, config=config, idempotency_key=key, **source
            ),
            log=self.log,
            record_key=SCHEMA_RECORD_KEY,
        )
        context["ti"].xcom_push(key=PREDICTION_ID_KEY, value=submitted.prediction_id)
        prediction = submitted.prediction
        if prediction is None or not prediction.status.is_terminal:
            prediction = wait_blocking(
                client,
                submitted.prediction_id,
                deadline=time.time() + self.timeout,
                timeout=self.timeout,
                poll_interval=self.poll_interval,
                max_poll_interval=max(self.poll_interval, 10.0),
            )
        self._lineage_prediction_id = prediction.id
        self._lineage_credits = prediction.usage.credits_used
        return outcome(client, prediction)["response"]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Called by the OpenLineage provider after a successful try: the sample input and the cost."""
        from airflow_provider_vlm.lineage import input_datasets, operator_lineage

        return operator_lineage(
            inputs=input_datasets(
                file=self.file,
                file_id=self.file_id,
                url=self.url,
                images=self.images,
                base_url=lambda: self.hook.get_connection(self.vlm_conn_id).host,
            ),
            domain=None,
            model=self.model,
            media=self.media,
            prediction_ids=[self._lineage_prediction_id] if self._lineage_prediction_id else [],
            credits_used=self._lineage_credits,
        )
