"""``python -m hubplugins_dev.devcluster``: run a local Kubernetes API server and kubelet.

Prints the kubeconfig path, then ``url=...``, and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tempfile
from pathlib import Path

from .quantity import parse_resource_list
from .schema import DEFAULT_VERSIONS, supported_versions
from .server import DevCluster


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hubplugins_dev.devcluster",
        description="A local Kubernetes API server (the subset KubeSpawner uses) and kubelet.",
    )
    parser.add_argument("--root", type=Path, help="state directory (default: a new temp dir)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    parser.add_argument("--namespace", default="default", help="namespace that exists at start")
    parser.add_argument(
        "--capacity",
        default="",
        help="node capacity, e.g. cpu=8,memory=32Gi,nvidia.com/gpu=4,pods=110"
        " (unnamed resources keep their defaults)",
    )
    parser.add_argument(
        "--kubernetes-versions",
        default=",".join(DEFAULT_VERSIONS),
        help="Kubernetes versions whose OpenAPI schemas every object must satisfy, comma"
        f" separated (default: {','.join(DEFAULT_VERSIONS)}; shipped:"
        f" {','.join(supported_versions())})",
    )
    parser.add_argument("--log-level", default="WARNING", help="Python logging level")
    parser.add_argument(
        "--access-log", action="store_true", help="log every API request (to stderr)"
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    capacity = {k: str(v) for k, v in parse_resource_list(args.capacity).items()}
    root = args.root or Path(tempfile.mkdtemp(prefix="devcluster-"))
    versions = [v.strip() for v in args.kubernetes_versions.split(",") if v.strip()]
    dev = DevCluster(root.resolve(), args.namespace, capacity, kubernetes_versions=versions)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    url = await dev.start(args.host, args.port)
    config = dev.write_kubeconfig()
    sys.stdout.write(f"{config}\nurl={url}\n")
    sys.stdout.flush()
    await done.wait()
    await dev.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    if not args.access_log:
        logging.getLogger("tornado.access").disabled = True
    try:
        parse_resource_list(args.capacity)
    except ValueError as e:
        sys.stderr.write(f"--capacity: {e}\n")
        return 2
    shipped = supported_versions()
    unknown = [v for v in args.kubernetes_versions.split(",") if v.strip() not in shipped]
    if unknown or not args.kubernetes_versions.strip():
        sys.stderr.write(f"--kubernetes-versions: {unknown} not among {shipped}\n")
        return 2
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
