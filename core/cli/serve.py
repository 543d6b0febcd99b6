"""``python -m core serve``: the prediction service (``core.serve``) on uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from core.cli.common import command_parser

__all__ = ["main"]


def _count(text: str) -> int:
    """A number of worker processes from the command line."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1 or more)")
    return int(text)


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
    parser.add_argument("--workers", type=_count, default=1,
                        help="worker processes, each with the models loaded once (default "
                             "%(default)s: this process)")
    args = parser.parse_args(argv)
    if args.token_file is None and not is_loopback(args.host):
        print(f"warning: listening on {args.host} without --token-file: anyone who can reach "
              "this address can use the service", file=sys.stderr)

    from core.serve.launch import ServeOptions, check, serve

    options = ServeOptions(models=args.models, token_file=args.token_file,
                           max_body_bytes=int(args.max_mb * 2**20), timeout_s=args.timeout)
    names = check(options)  # unknown models or a bad token file stop here, before any load
    print(f"serving {', '.join(names)} on http://{args.host}:{args.port} with {args.workers} "
          f"worker process(es) (docs: /docs; token: "
          f"{'required' if args.token_file else 'none'})", file=sys.stderr)
    serve(options, host=args.host, port=args.port, workers=args.workers)
    return 0


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: assume it is reachable from elsewhere
        return False
