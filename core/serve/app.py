"""The prediction service's HTTP interface (FastAPI): routes, bearer-token authentication, the
request body limit and the per-request timeout over a ``Service``.

Scoring runs in a pool of worker threads sized to the cores, never on the event loop, so
``/health`` answers while a batch is scored; uploads are read into memory, never written to disk.
The OpenAPI document says what the service does: every error has the body ``{"detail": "..."}``
(``ErrorBody``) and its status is declared on each route, the bearer token only when one is set,
model names as an enumeration of the loaded ones.
"""

import asyncio
import hmac
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from fastapi import APIRouter, Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Receive, Scope, Send

from core.detect.detector import VIEWS
from core.detect.explain import COLORMAPS, conv_layers
from core.detect.scanning import rows_to_csv
from core.serve.service import METHODS, OUTPUTS, Service, TooLarge

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_TIMEOUT_S", "BodyLimit", "ErrorBody", "create_app"]

DEFAULT_MAX_BODY_BYTES = 50 * 2**20
DEFAULT_TIMEOUT_S = 60.0

# Choices known only at run time: FastAPI validates them and lists them in the OpenAPI document
# as an enumeration (an Enum would move them into a schema component); a type checker sees str.
if TYPE_CHECKING:
    ViewName: TypeAlias = str
    MethodName: TypeAlias = str
    OutputName: TypeAlias = str
    ColormapName: TypeAlias = str
else:
    ViewName = Literal[tuple(VIEWS)]
    MethodName = Literal[tuple(METHODS)]
    OutputName = Literal[OUTPUTS]
    ColormapName = Literal[tuple(COLORMAPS)]

View = Annotated[ViewName, Query(
    description="whole image resized (default) or its centre square")]
Stability = Annotated[bool, Query(
    description="re-score mirrored, re-saved and shifted copies (the `stability` field)")]


class ErrorBody(BaseModel):
    """The body of every error response."""

    detail: str


Responses = dict[int | str, dict[str, Any]]  # a route's ``responses``: status -> OpenAPI


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# the headers of a heat map: what it shows
EXPLAIN_HEADERS = {"Model": "the model", "Method": "the heat-map method",
                   "Layer": "the convolution layer", "Target": "FAKE or REAL: evidence for",
                   "P-Fake": "the model's P(FAKE) of the image"}
ERRORS: Responses = {
    400: _error("the body is not valid multipart/form-data"),
    401: _error("missing or wrong bearer token"),
    413: _error("the request body, a file or the images a batch expands to are over a limit"),
    422: _error("a parameter is invalid, or a file is not a readable image (the reason in "
                "`detail`)"),
    504: _error("scoring took longer than the service's time limit"),
}


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

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_message(exc)}, 422)

    bearer = HTTPBearer(auto_error=False, description="the token in the --token-file")

    def authorised(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = (credentials.credentials if credentials else "").encode()
        if not hmac.compare_digest(given, (token or "").encode()):
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

    # the statuses each kind of route may answer besides 200
    guarded: Responses = {401: ERRORS[401]} if token else {}
    scoring: Responses = {**guarded, **{status: ERRORS[status] for status in (400, 413, 422, 504)}}
    names = service.detector.names
    cnns = [n for n in names if service.detector.families.get(n) != "classical"]
    layers = list(dict.fromkeys(layer for n in cnns for layer in
                                conv_layers(service.detector.predictors[n].model)))
    if TYPE_CHECKING:  # the loaded models' choices, as for ``ViewName``
        ModelName: TypeAlias = str
        CnnName: TypeAlias = str
        LayerName: TypeAlias = str
    else:
        ModelName = Literal[tuple(names)]
        CnnName = Literal[tuple(cnns)] if cnns else str
        LayerName = Literal[tuple(layers)] if layers else str
    Models = Annotated[list[ModelName], Query(
        default_factory=list,
        description="score with these loaded models (repeatable; default: every loaded model)")]
    Cnn = Annotated[CnnName | None, Query(
        description="a loaded CNN (default: the most accurate)")]
    Layer = Annotated[LayerName | None, Query(
        description="a convolution layer of the model (default: the last)")]

    @app.get("/health", dependencies=[Depends(known_query)], responses={422: ERRORS[422]})
    async def health() -> dict:
        """The loaded models with their versions (sha256 of the file), the ensemble and the
        limits. Never needs the token."""
        return service.health()

    api = APIRouter(dependencies=([Depends(authorised)] if token else [])
                    + [Depends(known_query)])

    @api.get("/models", responses={**guarded, 422: ERRORS[422]})
    async def models() -> list[dict]:
        """Every evaluated model: family, threshold, test and leak-free test accuracy, AUROC,
        sha256 and whether this service has it loaded."""
        return service.model_table()

    @api.post("/predict", responses=scoring)
    async def predict(file: Annotated[UploadFile, File(description="one image")],
                      model: Models, view: View = "resize",
                      stability: Stability = True) -> dict:
        """One image's row of `python -m core predict`: `format`, `width`, `height`,
        `p_fake_<model>` per model and `p_fake_ensemble`, `verdict`, `ood_ratio`, `ood_reason`,
        `stability` (and `ood_score`, the ratio's older name, for one release). An unreadable
        image gets 422 with the reason, a file over the limit 413."""
        data = await file.read()
        return await off_loop(service.predict, file.filename or "upload", data, model,
                              view=view, check_stability=stability)

    @api.post("/predict/batch", response_model=list[dict], responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}},
              "description": "the rows as JSON, or as CSV with `format=csv`"}, **scoring})
    async def predict_batch(
            files: Annotated[list[UploadFile], File(description="images and zips",
                                                    min_length=1)],
            model: Models, view: View = "resize", stability: Stability = True,
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

    @api.post("/explain", response_class=Response, responses={
        200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
              "description": "the heat map as PNG",
              "headers": {f"X-{name}": {"description": about, "schema": {"type": "string"}}
                          for name, about in EXPLAIN_HEADERS.items()}}, **scoring})
    async def explain(
            file: Annotated[UploadFile, File(description="one image")],
            model: Cnn = None,
            method: MethodName = "gradcam",
            target: Annotated[Literal["FAKE", "REAL"] | None, Query(
                description="evidence for (default: the model's verdict)")] = None,
            layer: Layer = None,
            view: View = "resize",
            output: Annotated[OutputName, Query(
                description="the map over the enlarged input, or the map alone (grey, "
                            "input size)")] = "overlay",
            opacity: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
            colormap: ColormapName = "jet") -> Response:
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


def known_query(request: Request) -> None:
    """422 for a query parameter the route does not take (a misspelt one would be ignored)."""
    route = request.scope.get("route")
    taken = {param.alias for param in route.dependant.query_params} if route else set()
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        raise HTTPException(422, f"unknown query parameter(s) {unknown}; this route takes "
                                 f"{sorted(taken) or 'none'}")


def validation_message(exc: RequestValidationError) -> str:
    """One line for the request's invalid parts, e.g. ``query parameter 'view': Input should be
    'resize' or 'crop'``."""
    places = {"query": "query parameter", "body": "form field", "header": "header",
              "path": "path parameter"}
    parts = []
    for error in exc.errors():
        where, *name = [str(part) for part in error.get("loc", ())] or ["request"]
        label = places.get(where, where)
        parts.append(f"{label} '{name[0]}': {error['msg']}" if name else f"{label}: {error['msg']}")
    return "; ".join(parts)


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
