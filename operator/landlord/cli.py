"""The `landlord` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from . import __version__


def _devcluster(args: argparse.Namespace) -> int:
    from .devcluster import DevCluster

    async def serve() -> None:
        async with DevCluster(host=args.host, port=args.port) as cluster:
            path = cluster.write_kubeconfig(args.kubeconfig)
            print(f"landlord devcluster serving on {cluster.url}; kubeconfig written to {path}", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            print("landlord devcluster stopped", flush=True)

    asyncio.run(serve())
    return 0


def _run(args: argparse.Namespace) -> int:
    from .runner import run

    return run(standalone=args.standalone, liveness=args.liveness, namespaces=args.namespace or [])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="landlord", description="GitOps tenant provisioner for Kubernetes.")
    parser.add_argument("--version", action="version", version=f"landlord {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser(
        "devcluster",
        help="serve the in-memory Kubernetes API server until interrupted",
        description="Serve Landlord's in-memory Kubernetes API server (plain HTTP) and write a kubeconfig for it.",
    )
    dev.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    dev.add_argument("--port", type=int, default=6443, help="port to listen on (default: 6443; 0 picks a free one)")
    dev.add_argument(
        "--kubeconfig",
        default=".landlord/kubeconfig",
        help="where to write the kubeconfig (default: .landlord/kubeconfig)",
    )
    dev.set_defaults(func=_devcluster)
    run = commands.add_parser(
        "run",
        help="run the operator against the current kubeconfig's cluster",
        description="Run the Landlord operator (kopf) against the cluster of the current kubeconfig "
        "or the in-cluster service account.",
    )
    run.add_argument("--standalone", action="store_true", help="no kopf peering (only one operator may run)")
    run.add_argument("--liveness", default="http://0.0.0.0:8080/healthz", help="liveness endpoint URL")
    run.add_argument("--namespace", action="append", help="limit to these namespaces (default: cluster-wide)")
    run.set_defaults(func=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
