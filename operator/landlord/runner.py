"""Runs the Landlord operator (kopf) against the cluster of the current kubeconfig.

kopf finds the credentials itself (in-cluster service account, `$KUBECONFIG` or
`~/.kube/config`). The tenant handlers register on import of `landlord.handlers`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

import kopf

logger = logging.getLogger(__name__)
HANDLER_MODULES = ("landlord.handlers",)


def load_handlers() -> list[str]:
    """Imports the handler modules that exist; returns their names."""
    loaded = []
    for name in HANDLER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        loaded.append(name)
    return loaded


def run(standalone: bool, liveness: str | None, namespaces: list[str]) -> int:
    loaded = load_handlers()
    logger.info("starting the Landlord operator (handlers: %s)", ", ".join(loaded) or "none")
    options: dict[str, Any] = {
        "standalone": standalone,
        "clusterwide": not namespaces,
        "namespaces": namespaces,
        "liveness_endpoint": liveness,
    }
    try:
        asyncio.run(kopf.operator(**options))
    except KeyboardInterrupt:
        return 130
    return 0
