"""Runs the Landlord operator (kopf) against the cluster of the current kubeconfig.

kopf finds the credentials itself (in-cluster service account, `$KUBECONFIG` or
`~/.kube/config`); the handlers come from `landlord.handlers.build_registry`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import kopf

from .config import Config
from .handlers import OperatorState, build_registry
from .redaction import install_log_redaction

logger = logging.getLogger(__name__)


async def operate(
    config: Config,
    standalone: bool = True,
    liveness: str | None = None,
    login: Callable[[], kopf.ConnectionInfo] | None = None,
    stop_flag: Any = None,
    ready_flag: Any = None,
    state: OperatorState | None = None,
) -> None:
    state = state or OperatorState(config)
    if stop_flag is None:  # a process of its own: the signals stop it (handlers.stop_on_signals)
        stop_flag = state.stop_flag = asyncio.Event()
    registry = build_registry(state, login)
    await kopf.operator(
        registry=registry,
        clusterwide=True,
        standalone=standalone,
        liveness_endpoint=liveness,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )


def run(config: Config, standalone: bool, liveness: str | None) -> int:
    install_log_redaction()  # also when called from Python rather than the CLI
    logger.info("starting the Landlord operator")
    try:
        asyncio.run(operate(config, standalone=standalone, liveness=liveness))
    except KeyboardInterrupt:
        return 130
    return 0


class KopfThread:
    """A kopf operator coroutine with its own event loop in a thread (start/stop block).

    The tests' in-process API server and the playground's live on the main loop; kopf must
    not share it (it cancels tasks it did not start when it stops).
    """

    def __init__(self, operator: Callable[[threading.Event, threading.Event], Coroutine[Any, Any, None]]) -> None:
        self.operator = operator
        self.stop_flag = threading.Event()
        self.ready_flag = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="landlord-operator", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.operator(self.stop_flag, self.ready_flag))
        except BaseException as exc:  # reported to whoever started the thread
            self.error = exc
            logger.exception("the operator stopped with an error")

    def start(self, timeout: float = 60.0) -> None:
        self.thread.start()
        if not self.ready_flag.wait(timeout):
            raise RuntimeError(f"the operator did not become ready: {self.error!r}")

    def stop(self, timeout: float = 60.0) -> None:
        self.stop_flag.set()
        self.thread.join(timeout)


class OperatorThread(KopfThread):
    """The Landlord operator in a thread (tests and the playground)."""

    def __init__(self, config: Config, login: Callable[[], kopf.ConnectionInfo] | None = None) -> None:
        self.state = OperatorState(config)
        super().__init__(
            lambda stop, ready: operate(config, login=login, stop_flag=stop, ready_flag=ready, state=self.state)
        )
