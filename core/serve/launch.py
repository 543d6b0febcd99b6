"""Starting the prediction service: in this process, or in N worker processes under uvicorn's
own process manager, each worker loading the models once.

Why uvicorn's workers (not gunicorn with uvicorn workers): they need no other package, run the
same ASGI server as one process does, restart a worker that dies, replace workers one at a time
on SIGHUP and add or remove one on SIGTTIN/SIGTTOU. The workers share one listening socket; the
kernel hands each new connection to one of them. Each worker is a fresh interpreter (spawned,
not forked: TensorFlow does not survive a fork), so the options travel in an environment
variable and every worker builds its app from them (``worker_app``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from fastapi import FastAPI

from core.serve.app import DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT_S, create_app

__all__ = ["OPTIONS_VARIABLE", "ServeOptions", "build_app", "check", "read_token", "serve",
           "worker_app"]

OPTIONS_VARIABLE = "CIFAKE_SERVE_OPTIONS"  # the options, as JSON, for the worker processes


@dataclass(frozen=True)
class ServeOptions:
    """What every worker serves: the models (None: those of a scan), the token file (None: no
    authentication), the request body limit, the scoring time limit and the threads that
    score in each process (None: one per core)."""

    models: list[str] | None = None
    token_file: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timeout_s: float = DEFAULT_TIMEOUT_S
    threads: int | None = None


def read_token(path: str) -> str:
    """The bearer token in a file (surrounding whitespace removed). Raises ValueError when it is
    empty, FileNotFoundError when the file is missing."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no token file {path}")
    token = Path(path).read_text().strip()
    if not token:
        raise ValueError(f"the token file {path} is empty")
    return token


def build_app(options: ServeOptions) -> FastAPI:
    """The service's app with its models loaded and warmed up."""
    from core.serve.service import Service

    token = read_token(options.token_file) if options.token_file else None
    return create_app(Service.load(options.models), token=token,
                      max_body_bytes=options.max_body_bytes, timeout_s=options.timeout_s,
                      workers=options.threads)


def worker_app() -> FastAPI:
    """The app of one worker process, from the options its parent put in the environment (the
    factory uvicorn calls in each worker)."""
    return build_app(ServeOptions(**json.loads(os.environ[OPTIONS_VARIABLE])))


def serve(options: ServeOptions, *, host: str, port: int, workers: int = 1) -> None:
    """Serve until interrupted. One worker: the models load here, before the port opens (as
    ``python -m core serve`` always did); more: uvicorn starts ``workers`` processes that each
    load them and score with their share of the cores (unless ``options.threads`` says).
    Raises ValueError for unknown models or an empty token file before any worker starts."""
    import uvicorn

    if workers == 1:
        uvicorn.run(build_app(options), host=host, port=port, log_level="warning")
        return
    check(options)
    threads = options.threads or max(1, (os.cpu_count() or 1) // workers)
    os.environ[OPTIONS_VARIABLE] = json.dumps(asdict(replace(options, threads=threads)))
    uvicorn.run("core.serve.launch:worker_app", factory=True, workers=workers, host=host,
                port=port, log_level="warning", timeout_worker_healthcheck=30)


def check(options: ServeOptions) -> list[str]:
    """The names of the models the service will load; raises the errors a worker would meet at
    start-up (unknown models, a missing or empty token file) without loading a model."""
    from core.detect.detector import load_detector, scan_models

    if options.token_file:
        read_token(options.token_file)
    # the reports are read and checked, no model is loaded
    unloaded = load_detector(options.models or scan_models(), load=lambda _name: None)  # type: ignore[arg-type,return-value]
    return unloaded.names
