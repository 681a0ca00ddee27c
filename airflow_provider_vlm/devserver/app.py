"""The routes of the wire contract (under ``/v1``) and the ``/v1/_dev`` admin routes.

Replies are serialised with ``json.dumps`` into a plain ``Response``: no response-model
validation on the hot path (``GET /predictions/{id}``), the records already have the wire shape.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, File, Query, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from . import catalog, domains, engines, tiers
from .bodies import (
    DomainSchemaBody,
    FeedbackSubmitBody,
    FileGenerateBody,
    FileSchemaBody,
    FinishBody,
    HubSchemaBody,
    ImageGenerateBody,
    ImageSchemaBody,
    PublishSchemaBody,
    ResetBody,
)
from .callbacks import Callbacks
from .clock import iso, now
from .config import ServerConfig
from .connections import ConnectionDropper
from .engines import ocr_pool
from .engines.base import MARKER_KEY, marker
from .engines.infer import domain_for
from .errors import ApiError, error_body
from .faults import Faults, FaultUpdate
from .gateway import PREFIX, Gateway, RouteTemplate
from .inputs import check_domain, file_input, image_input
from .published import PublishedSchemas
from .records import FeedbackRecord, FileRecord, PredictionRecord, request_info
from .stats import Stats
from .store import Store, open_store

MEDIA = ("image", "document", "audio", "video")
FILE_MEDIA = ("document", "audio", "video")
PURPOSES = ("fine-tune", "assistants", "assistants_output", "batch", "batch_output", "vision", "datasets")
MAX_PAGE = 1000
#: The one model the dev server offers (the API's default).
MODEL = "vlm-1"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload).encode(), status_code=status, media_type="application/json", headers=headers
    )


class DevServer:
    """State shared by the routes: store, faults, stats and settings."""

    def __init__(self, config: ServerConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store if store is not None else open_store(config.state)
        self.faults = Faults(config.faults, config.seed, config.processing_time)
        self.stats = Stats()
        self.callbacks = Callbacks()
        self.schemas = PublishedSchemas()
        self.ocr = ocr_pool.configure(config.ocr_workers, config.tesseract)
        catalog.domains()  # load the catalog now, not on the first request

    # --- predictions ---------------------------------------------------------------------

    async def generate(
        self, media: str, body: FileGenerateBody | ImageGenerateBody, request: Request
    ) -> Response:
        """Create a prediction, or hand back the one already made for this Idempotency-Key."""
        key = request.headers.get("idempotency-key")
        fingerprint = _fingerprint(media, body.model_dump(mode="json"))
        if key and (existing := self.store.prediction_by_key(key)) is not None:
            return await self._replay(existing, key, fingerprint)
        domain = check_domain(body.domain)
        tier = tiers.tier_of(body.config)
        if body.callback_url is not None and not body.callback_url.startswith(("http://", "https://")):
            raise ApiError(400, f"'callback_url' must be an http(s) URL, got {body.callback_url[:80]!r}")
        if isinstance(body, ImageGenerateBody):
            inp = image_input(domain, body.images, body.config)
        else:
            inp = file_input(self.store, media, domain, body.file_id, body.url, body.config)
        created = now()
        result = await run_in_threadpool(engines.run, inp)
        canned = self.faults.response_for(domain, _input_keys(body))
        if canned is not None:
            result = _canned_result(canned, result)
        # A request with the same key may have created the prediction while the engine ran.
        if key and (existing := self.store.prediction_by_key(key)) is not None:
            return await self._replay(existing, key, fingerprint)
        pause = self.faults.settings.pause
        processing = tiers.processing_time(self.faults.processing_time, tier)
        usage = tiers.bill(result.usage, domain, media, body.config)
        record = PredictionRecord(
            id=str(uuid.uuid4()),
            media=media,
            domain=domain,
            created_at=created,
            ready_at=max(created + pause + processing, now()),
            batch=body.batch,
            response=result.response,
            message=result.message,
            usage=usage,
            idempotency_key=key or "",
            fingerprint=fingerprint,
            paused_until=created + pause if pause else 0.0,
            callback_url=body.callback_url,
            request=request_info(body.config, body.metadata, tier),
        )
        self.store.add_prediction(record)
        self.stats.prediction_created(key or "")
        self.stats.billed(tier, int(usage["credits_used"]))
        self.callbacks.schedule(record)
        return await self._answer(record)

    async def _replay(self, existing: PredictionRecord, key: str, fingerprint: str) -> Response:
        if existing.fingerprint != fingerprint:
            raise ApiError(
                409,
                f"Idempotency-Key {key!r} was already used for prediction {existing.id} with a different "
                "request; use a new key for a different request",
            )
        return await self._answer(existing, replayed=True)

    async def _answer(self, record: PredictionRecord, replayed: bool = False) -> Response:
        """batch=true answers now; batch=false waits (without blocking the loop) until it is done."""
        at = now()
        if not record.batch:
            if record.ready_at > at:
                await asyncio.sleep(record.ready_at - at)
            # Loop timers may fire a millisecond early: the answer is the finished state anyway.
            at = max(now(), record.ready_at)
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return json_response(record.to_wire(at), headers=headers)

    # --- feedback ------------------------------------------------------------------------------

    def submit_feedback(self, body: FeedbackSubmitBody, request: Request) -> Response:
        """Keep a correction for a known prediction; a repeated Idempotency-Key hands back the first."""
        if body.response is None and body.notes is None:
            raise ApiError(400, "`response` or `notes` is required: feedback needs a correction or a note")
        if self.store.get_prediction(body.request_id) is None:
            raise ApiError(
                404, f"prediction {body.request_id!r} not found: feedback needs an existing prediction"
            )
        key = request.headers.get("idempotency-key") or ""
        fingerprint = _fingerprint("feedback", body.model_dump(mode="json"))
        if key and (existing := self.store.feedback_by_key(key)) is not None:
            if existing.fingerprint != fingerprint:
                raise ApiError(
                    409,
                    f"Idempotency-Key {key!r} was already used for feedback {existing.id} with a different "
                    "request; use a new key for a different request",
                )
            self.stats.feedback(replayed=True)
            return json_response(existing.to_submit_wire(), headers={"Idempotent-Replayed": "true"})
        record = FeedbackRecord(
            id=str(uuid.uuid4()),
            request_id=body.request_id,
            created_at=now(),
            response=body.response,
            notes=body.notes,
            idempotency_key=key,
            fingerprint=fingerprint,
        )
        self.store.add_feedback(record)
        self.stats.feedback(replayed=False)
        return json_response(record.to_submit_wire())

    def list_feedback(self, request_id: str, offset: int, limit: int) -> Response:
        if self.store.get_prediction(request_id) is None:
            raise ApiError(404, f"prediction {request_id!r} not found")
        items = self.store.feedback_for(request_id, offset, limit)
        return json_response({"request_id": request_id, "items": [i.to_item_wire() for i in items]})

    def schema_prediction(self, media: str, domain: str) -> Response:
        """A finished prediction whose response is the SchemaResponse of ``domain``."""
        published = self.schemas.get(domain)
        schema = published.json_schema if published is not None else {}
        at = now()
        record = PredictionRecord(
            id=str(uuid.uuid4()),
            media=media,
            domain=domain,
            created_at=at,
            ready_at=at,
            batch=False,
            response=domains.schema_response(domain, schema, published.version if published else None),
            usage={
                "elements_processed": 1,
                "element_type": "image" if media == "image" else "page",
                "credits_used": 1,
            },
        )
        self.store.add_prediction(record)
        self.stats.prediction_created(None)
        return json_response(record.to_wire(at))


def _canned_result(canned: dict[str, Any], engine: engines.EngineResult) -> engines.EngineResult:
    """The ``responses`` fault: complete with ``canned`` (marked as the dev server's), the engine's usage."""
    if MARKER_KEY not in canned:
        canned = {**canned, **marker("fault", note="response set with POST /_dev/faults")}
    return engines.EngineResult(canned, engine.usage)


def _input_keys(body: FileGenerateBody | ImageGenerateBody) -> list[str]:
    """What a ``responses`` fault entry may name a request's input by: its URL, file id or images."""
    if isinstance(body, ImageGenerateBody):
        return [i for i in body.images if isinstance(i, str)]
    return [i for i in (body.url, body.file_id) if i]


def _fingerprint(media: str, body: dict[str, Any]) -> str:
    canonical = json.dumps([media, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _api_router(server: DevServer) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    store = server.store

    @router.get("/health")
    async def health() -> Response:
        return json_response({"status": "ok", "server": "vlm-devserver"})

    @router.post("/files")
    async def upload(file: UploadFile = File(...), purpose: str = Query("assistants")) -> Response:  # noqa: B008
        if purpose not in PURPOSES:
            raise ApiError(400, f"unknown purpose {purpose!r}: expected one of {', '.join(PURPOSES)}")
        limit = server.config.max_upload_bytes
        if file.size is not None and file.size > limit:
            raise ApiError(413, f"file is {file.size} bytes; this server accepts at most {limit}")
        content = await file.read()
        if len(content) > limit:
            raise ApiError(413, f"file is {len(content)} bytes; this server accepts at most {limit}")
        record = FileRecord(
            id=str(uuid.uuid4()),
            filename=file.filename or "upload",
            bytes=len(content),
            purpose=purpose,
            created_at=now(),
            md5=hashlib.md5(content).hexdigest(),
        )
        store.add_file(record, content)
        return json_response(record.to_wire(), status=201)

    @router.get("/files/hash/{md5}")
    async def file_by_hash(md5: str) -> Response:
        record = store.file_by_md5(md5.lower())
        if record is None:
            raise ApiError(404, f"no file with md5 {md5!r}")
        return json_response(record.to_wire())

    @router.get("/files/{id}")
    async def get_file(id: str) -> Response:
        record = store.get_file(id)
        if record is None:
            raise ApiError(404, f"file {id!r} not found")
        return json_response(record.to_wire())

    @router.get("/files")
    async def list_files(skip: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=MAX_PAGE)) -> Response:
        return json_response([r.to_wire() for r in store.list_files(skip, limit)])

    for media in FILE_MEDIA:
        router.add_api_route(f"/{media}/generate", _file_generate(server, media), methods=["POST"])

    @router.post("/image/generate")
    async def image_generate(body: ImageGenerateBody, request: Request) -> Response:
        return await server.generate("image", body, request)

    @router.post("/{media}/generate")
    async def unknown_media(media: str) -> Response:
        raise ApiError(404, f"unknown media {media!r}: expected one of {', '.join(MEDIA)}")

    @router.post("/document/schema")
    async def document_schema(body: FileSchemaBody) -> Response:
        inp = file_input(store, "document", "document.schema", body.file_id, body.url, None)
        domain = await run_in_threadpool(domain_for, inp)
        return server.schema_prediction("document", domain)

    @router.post("/image/schema")
    async def image_schema(body: ImageSchemaBody) -> Response:
        inp = image_input("image.schema", body.images, None)
        return server.schema_prediction("image", domain_for(inp))

    @router.post("/schema")
    async def domain_schema(body: DomainSchemaBody) -> Response:
        custom = (body.config or {}).get("json_schema")
        if isinstance(custom, dict):
            return json_response(domains.schema_response(body.domain, custom))
        published = server.schemas.get(body.domain)
        if published is None:
            raise ApiError(404, catalog.unknown_message(body.domain))
        return json_response(domains.schema_response(body.domain, published.json_schema, published.version))

    # The SDK's hub routes (``client.hub``) and model list (``client.models.list()``).

    @router.get("/hub/info")
    async def hub_info() -> Response:
        return json_response({"version": catalog.hub_version()})

    @router.get("/hub/domains")
    async def hub_domains() -> Response:
        return json_response([d.hub_info() for d in catalog.hub_domains()])

    @router.post("/hub/schema")
    async def hub_schema(body: HubSchemaBody) -> Response:
        entry = catalog.get(body.domain)
        if entry is None or entry.source != "hub":
            raise ApiError(404, catalog.unknown_message(body.domain))
        return json_response(domains.schema_response(entry.name, entry.json_schema))

    @router.get("/models")
    async def list_models() -> Response:
        return json_response([{"model": MODEL, "domain": d} for d in catalog.known()])

    @router.get("/predictions/{id}")
    async def get_prediction(id: str) -> Response:
        record = store.get_prediction(id)
        if record is None:
            raise ApiError(404, f"prediction {id!r} not found")
        return json_response(record.to_wire(now()))

    @router.get("/predictions")
    async def list_predictions(
        skip: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=MAX_PAGE)
    ) -> Response:
        at = now()
        return json_response([r.to_wire(at) for r in store.list_predictions(skip, limit)])

    @router.get("/domains")
    async def list_domains() -> Response:
        return json_response([{"domain": d} for d in domains.known_domains()])

    @router.post("/feedback/submit")
    async def submit_feedback(body: FeedbackSubmitBody, request: Request) -> Response:
        return server.submit_feedback(body, request)

    @router.get("/feedback/{request_id}")
    async def get_feedback(
        request_id: str, offset: int = Query(0, ge=0), limit: int = Query(10, ge=1, le=MAX_PAGE)
    ) -> Response:
        return server.list_feedback(request_id, offset, limit)

    return router


def _file_generate(
    server: DevServer, media: str
) -> Callable[[FileGenerateBody, Request], Awaitable[Response]]:
    async def generate(body: FileGenerateBody, request: Request) -> Response:
        return await server.generate(media, body, request)

    generate.__name__ = f"{media}_generate"
    return generate


def _admin_router(server: DevServer) -> APIRouter:
    router = APIRouter(prefix=PREFIX + "/_dev")

    @router.post("/faults")
    async def set_faults(body: FaultUpdate) -> Response:
        server.faults.update(body)
        return json_response(server.faults.to_wire())

    @router.get("/faults")
    async def get_faults() -> Response:
        return json_response(server.faults.to_wire())

    @router.post("/reset")
    async def reset(body: ResetBody | None = None) -> Response:
        state = bool(body and body.state)
        server.faults.reset()
        server.stats.reset()
        server.callbacks.reset_counts()
        server.schemas.restore()
        if state:
            server.store.clear()
        return json_response({"reset": True, "state": state, "faults": server.faults.to_wire()})

    @router.post("/schemas")
    async def publish_schema(body: PublishSchemaBody) -> Response:
        # The platform publishes a new version of a domain's schema (schema drift, for tests).
        if catalog.get(body.domain) is None:
            raise ApiError(404, catalog.unknown_message(body.domain))
        server.schemas.publish(body.domain, body.json_schema, body.version)
        published = domains.schema_response(body.domain, body.json_schema, body.version)
        return json_response({k: published[k] for k in ("domain", "schema_version", "schema_hash")})

    @router.get("/schemas")
    async def published_schemas() -> Response:
        return json_response(server.schemas.to_wire())

    @router.delete("/schemas/{domain}")
    async def restore_schema(domain: str) -> Response:
        server.schemas.restore(domain)
        return json_response({"domain": domain, "restored": True})

    @router.post("/finish")
    async def finish(body: FinishBody | None = None) -> Response:
        # Benchmarks hold many waits open, then end them all at one known instant. Callbacks
        # already scheduled keep their original time.
        at = now() + (body.after if body else 0.0)
        return json_response({"finished": server.store.finish_unfinished(at), "at": iso(at)})

    @router.get("/predictions/{id}")
    async def prediction_request(id: str) -> Response:
        record = server.store.get_prediction(id)
        if record is None:
            raise ApiError(404, f"prediction {id!r} not found")
        return json_response(record.to_dev_wire(now()))

    @router.get("/stats")
    async def stats() -> Response:
        return json_response({**server.stats.to_wire(), "callbacks": server.callbacks.to_wire()})

    return router


def build_app(server: DevServer) -> FastAPI:
    """The FastAPI app alone (no auth, no faults): the gateway wraps it."""
    app = FastAPI(
        title="VLM dev server", docs_url=PREFIX + "/_dev/docs", openapi_url=PREFIX + "/_dev/openapi.json"
    )

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return Response(error_body(exc.status, exc.message), exc.status, exc.headers, "application/json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        path = request.url.path
        message = f"no route {request.method} {path}" if exc.status_code in (404, 405) else str(exc.detail)
        return Response(error_body(exc.status_code, message), exc.status_code, None, "application/json")

    app.include_router(_api_router(server))
    app.include_router(_admin_router(server))
    return app


def route_templates(app: FastAPI) -> list[RouteTemplate]:
    """Stats keys for the API routes: the path template relative to /v1."""
    out = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith(PREFIX + "/") and "/_dev/" not in route.path:
            out.append(
                RouteTemplate(route.path_regex, frozenset(route.methods or ()), route.path[len(PREFIX) :])
            )
    # The hot route first: it is matched on every poll.
    out.sort(key=lambda r: (not r.template.startswith("/predictions/"), r.template.startswith("/{")))
    return out


def create_app(config: ServerConfig, store: Store | None = None) -> Gateway:
    """The whole server as one ASGI app; the CLI attaches its uvicorn server to ``.dropper``."""
    server = DevServer(config, store)
    app = build_app(server)
    gateway = Gateway(
        app,
        route_templates(app),
        server.faults,
        server.stats,
        config.api_keys,
        ConnectionDropper(),
        config.admin_keys,
    )
    gateway.server = server
    return gateway
