"""``python -m core serve``: the prediction service (``core.serve``) on uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from core.cli.common import command_parser

__all__ = ["main"]


def _port(text: str) -> int:
    """A TCP port number from the command line."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return int(text)


def main(argv: list[str]) -> int:
    parser = command_parser("serve")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default %(default)s: this machine only)")
    parser.add_argument("--port", type=_port, default=8000,
                        help="port, 1-65535 (default %(default)s)")
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help="load this model (repeatable; default: scanner, or every evaluated "
                             "model when it is absent); requests choose among the loaded ones")
    parser.add_argument("--token-file", metavar="FILE",
                        help="require 'Authorization: Bearer <the file's text>' on every route "
                             "but /health")
    parser.add_argument("--max-mb", type=float, default=50,
                        help="request body limit in MB (default %(default)g)")
    parser.add_argument("--timeout", type=float, default=60,
                        help="seconds a request may spend scoring (default %(default)g)")
    args = parser.parse_args(argv)
    token = read_token(args.token_file) if args.token_file else None
    if token is None and not is_loopback(args.host):
        print(f"warning: listening on {args.host} without --token-file: anyone who can reach "
              "this address can use the service", file=sys.stderr)

    import uvicorn

    from core.serve.app import create_app
    from core.serve.service import Service

    service = Service.load(args.models)
    app = create_app(service, token=token, max_body_bytes=int(args.max_mb * 2**20),
                     timeout_s=args.timeout)
    print(f"serving {', '.join(service.detector.names)} on http://{args.host}:{args.port} "
          f"(docs: /docs; token: {'required' if token else 'none'})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def read_token(path: str) -> str:
    """The bearer token in a file (surrounding whitespace removed). Raises ValueError when it is
    empty, FileNotFoundError when the file is missing."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no token file {path}")
    token = Path(path).read_text().strip()
    if not token:
        raise ValueError(f"the token file {path} is empty")
    return token


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: assume it is reachable from elsewhere
        return False
