"""``python -m rest_bridge --grpc-target 127.0.0.1:50051 --port 8000``."""

from __future__ import annotations

import argparse
import logging

from rest_bridge.app import run_bridge


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rest_bridge", description=__doc__)
    parser.add_argument("--grpc-target", default="127.0.0.1:50051", help="host:port of Mindo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    run_bridge(args.grpc_target, args.host, args.port)


if __name__ == "__main__":
    main()
