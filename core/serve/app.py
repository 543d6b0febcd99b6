"""The prediction service's HTTP interface (FastAPI): routes, bearer-token authentication, the
request body limit and the per-request timeout over a ``Service``.

Scoring runs in a pool of worker threads sized to the cores, never on the event loop, so
``/health`` answers while a batch is scored; uploads are read into memory, never written to disk.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Receive, Scope, Send

from core.detect.detector import VIEWS
from core.detect.explain import COLORMAPS
from core.detect.scanning import rows_to_csv
from core.serve.service import METHODS, OUTPUTS, Service, TooLarge

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_TIMEOUT_S", "BodyLimit", "create_app"]

DEFAULT_MAX_BODY_BYTES = 50 * 2**20
DEFAULT_TIMEOUT_S = 60.0

Models = Annotated[list[str] | None, Query(
    description="score with these loaded models (repeatable; default: every loaded model)")]
View = Annotated[Literal[tuple(VIEWS)], Query(
    description="whole image resized (default) or its centre square")]
Stability = Annotated[bool, Query(
    description="re-score mirrored, re-saved and shifted copies (the `stability` field)")]


def create_app(service: Service, *, token: str | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               timeout_s: float = DEFAULT_TIMEOUT_S, workers: int | None = None) -> FastAPI:
    """The FastAPI application over ``service``.

    With ``token``, every route but ``/health`` (and the docs) needs ``Authorization: Bearer
    <token>``. A request body over ``max_body_bytes`` gets 413; scoring that takes longer than
    ``timeout_s`` gets 504. ``workers`` threads score (default: one per core).
    """
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                              thread_name_prefix="score")
    # uploads stay in memory: Starlette spools a file part to disk only above this size
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_body_bytes)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPIOffline(  # /docs and /redoc with bundled scripts: no CDN needed
        title="CIFAKE Explorer prediction service",
        summary="The verdicts of Check an image and Batch scan over HTTP.",
        description="P(FAKE) per model, the ensemble verdict (or an abstention for inputs unlike "
                    "the training images), the stability check and heat maps, for 32x32 "
                    "CIFAKE-like images. Nothing uploaded is stored.",
        lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    bearer = HTTPBearer(auto_error=False, description="the token in the --token-file")

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if token is None:
            return
        given = (credentials.credentials if credentials else "").encode()
        if not hmac.compare_digest(given, token.encode()):
            raise HTTPException(401, "missing or wrong bearer token (Authorization: Bearer ...)",
                                headers={"WWW-Authenticate": "Bearer"})

    async def off_loop(fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` in the worker pool, its errors as HTTP errors."""
        work = asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args, **kwargs))
        try:
            return await asyncio.wait_for(work, timeout_s)
        except TimeoutError:
            raise HTTPException(504, f"scoring took longer than the {timeout_s:g} s limit") \
                from None
        except TooLarge as exc:
            raise HTTPException(413, str(exc)) from None
        except ValueError as exc:  # unreadable images (ImageError), unknown models or options
            raise HTTPException(422, str(exc)) from None

    @app.get("/health")
    async def health() -> dict:
        """The loaded models with their versions (sha256 of the file), the ensemble and the
        limits. Never needs the token."""
        return service.health()

    api = APIRouter(dependencies=[Depends(authorised)])

    @api.get("/models")
    async def models() -> list[dict]:
        """Every evaluated model: family, threshold, test and leak-free test accuracy, AUROC,
        sha256 and whether this service has it loaded."""
        return service.model_table()

    @api.post("/predict")
    async def predict(file: Annotated[UploadFile, File(description="one image")],
                      model: Models = None, view: View = "resize",
                      stability: Stability = True) -> dict:
        """One image's row of `python -m core predict`: `format`, `width`, `height`,
        `p_fake_<model>` per model and `p_fake_ensemble`, `verdict`, `ood_ratio`, `ood_reason`,
        `stability` (and `ood_score`, the ratio's older name, for one release). An unreadable
        image gets 422 with the reason, a file over the limit 413."""
        data = await file.read()
        return await off_loop(service.predict, file.filename or "upload", data, model,
                              view=view, check_stability=stability)

    @api.post("/predict/batch", response_model=None)
    async def predict_batch(
            files: Annotated[list[UploadFile], File(description="images and zips")],
            model: Models = None, view: View = "resize", stability: Stability = True,
            format: Annotated[Literal["json", "csv"], Query(
                description="a JSON list of rows (default) or CSV")] = "json",
    ) -> list[dict] | PlainTextResponse:
        """One row per image (every image inside a zip); a file that cannot be read gets a row
        with `status` `error` and the reason in `message`."""
        uploads = [(f.filename or f"upload-{i}", await f.read()) for i, f in enumerate(files)]
        rows = await off_loop(service.predict_batch, uploads, model, view=view,
                              check_stability=stability)
        return PlainTextResponse(rows_to_csv(rows), media_type="text/csv") \
            if format == "csv" else rows

    @api.post("/explain", response_class=Response,
              responses={200: {"content": {"image/png": {}},
                               "description": "the heat map as PNG"}})
    async def explain(
            file: Annotated[UploadFile, File(description="one image")],
            model: Annotated[str | None, Query(
                description="a loaded CNN (default: the most accurate)")] = None,
            method: Literal[tuple(METHODS)] = "gradcam",
            target: Annotated[Literal["FAKE", "REAL"] | None, Query(
                description="evidence for (default: the model's verdict)")] = None,
            layer: Annotated[str | None, Query(
                description="a convolution layer (default: the last)")] = None,
            view: View = "resize",
            output: Annotated[Literal[OUTPUTS], Query(
                description="the map over the enlarged input, or the map alone (grey, "
                            "input size)")] = "overlay",
            opacity: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
            colormap: Literal[tuple(COLORMAPS)] = "jet") -> Response:
        """A heat map of what the model's verdict depends on, as PNG; the `X-Model`,
        `X-Method`, `X-Layer`, `X-Target` and `X-P-Fake` headers say what it shows."""
        data = await file.read()
        png, about = await off_loop(service.explain, data, model, method, target=target,
                                    layer=layer, view=view, output=output, opacity=opacity,
                                    colormap=colormap)
        return Response(png, media_type="image/png",
                        headers={f"X-{key.title().replace('_', '-')}": str(value)
                                 for key, value in about.items()})

    app.include_router(api)
    return app


class BodyLimit:
    """413 with a JSON ``detail`` for a request whose body is over ``max_bytes``: at once when
    its Content-Length says so, else as soon as the bytes read exceed it. (FastAPI's own
    ``max_body_size`` answers in plain text.)"""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.detail = f"request body over the limit of {max_bytes / 2**20:g} MB"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await JSONResponse({"detail": self.detail}, 413)(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # reaches the client through the exception handler
                raise HTTPException(413, self.detail)
            return message

        await self.app(scope, counted, send)
