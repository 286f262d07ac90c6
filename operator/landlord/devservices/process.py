"""The process plumbing the throwaway servers (PostgreSQL, Prometheus, moto_server) share.

Each of them runs on a free 127.0.0.1 port, in its own session, with its output in a log file,
and is stopped by its own PID: the same rules, written once here, for the same reasons.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

logger = logging.getLogger(__name__)

START_ATTEMPTS = 5
TERM_THEN_KILL: tuple[tuple[signal.Signals, float], ...] = ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))
"""The signals stop sends, each with the seconds it then waits for the process to end."""


class LocalServer(ABC):
    """A server's lifecycle: `with Server() as server:`, or start() and stop().

    A started server registers stop() to run at exit: a forgotten stop() (a test that fails
    before it, an interrupted playground) must not leave a server behind.
    """

    @abstractmethod
    def start(self) -> Self:
        """Starts the server and waits until it answers."""

    @abstractmethod
    def stop(self) -> None:
        """Stops the server by its own PID."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _stop_at_exit(self) -> None:
        atexit.register(self.stop)

    def _forget_at_exit(self) -> None:
        atexit.unregister(self.stop)


def free_port(host: str) -> int:
    """A port nothing listens on now; another process may still take it before the server binds it."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def tail(path: Path, lines: int = 15) -> str:
    """The end of a log, for error messages ("" when there is no log yet)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def port_taken(log: str) -> bool:
    """Whether a server's log says its port was taken (by another process, between our probe and its bind)."""
    text = log.lower()
    return "address already in use" in text or "could not bind" in text


def start_on_free_port(
    host: str, chosen: int, attempt: Callable[[int], str | None], failure: Callable[[str, str], Exception]
) -> None:
    """Starts a server on the `chosen` port, or on a free one, trying other free ports while the port was taken.

    `attempt(port)` starts the server; it returns None once it runs, else the end of its log
    (after ending what it started). When the log says the port was taken (a race with another
    process, not a fault of ours), another free port is tried, up to START_ATTEMPTS in all; a
    chosen port is tried once. Otherwise `failure(log, note)` is raised; `note` is
    "port N is taken; " when that was why, else "".
    """
    for number in range(START_ATTEMPTS):
        port = chosen or free_port(host)
        log = attempt(port)
        if log is None:
            return
        taken = port_taken(log)
        if not (taken and not chosen and number < START_ATTEMPTS - 1):
            raise failure(log, f"port {port} is taken; " if taken else "")


def spawn(
    argv: Sequence[str], log_path: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Starts `argv` in its own session, its output appended to `log_path`.

    Its own session: a Ctrl-C meant for the caller does not reach it. A log file, never a pipe:
    a pipe no one reads fills up and blocks the server, and an inherited one keeps CI steps waiting.
    """
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )


def wait_ready(process: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float) -> bool:
    """True once `ready()`; False when the process exits first (no use waiting) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.05)
    return False


def answers_http(url: str, any_status: bool = False) -> bool:
    """Whether `url` answers 200; with `any_status`, any HTTP answer (an error too means the server serves)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return any_status or response.status == 200
    except urllib.error.HTTPError:
        return any_status
    except (urllib.error.URLError, OSError):
        return False


def process_alive(pid: int) -> bool:
    """Whether `pid` runs. A zombie counts as gone: an init that does not reap leaves exited servers as zombies."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def wait_gone(pid: int, seconds: float) -> bool:
    """Whether `pid` is gone within `seconds` (for a server that is not our child: pg_ctl detaches it)."""
    deadline = time.monotonic() + seconds
    while process_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def end_pid(
    pid: int,
    name: str,
    gone: Callable[[float], bool],
    steps: Sequence[tuple[signal.Signals, float]] = TERM_THEN_KILL,
) -> bool:
    """Sends each of `steps`' signals to `pid` until `gone(seconds)` sees it end; False if it outlives them all.

    Its own PID only, never a name or a process group: other servers on the machine, and the
    caller's own processes, are not ours to end.
    """
    for sig, seconds in steps:
        if gone(0):
            return True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        if gone(seconds):
            return True
        logger.warning("%s (pid %s) still running after %s", name, pid, sig.name)
    return False


def end_process(
    process: subprocess.Popen[bytes], name: str, steps: Sequence[tuple[signal.Signals, float]] = TERM_THEN_KILL
) -> bool:
    """end_pid for a child of ours: waiting on it also reaps it, so no zombie stays behind."""

    def gone(seconds: float) -> bool:
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    return end_pid(process.pid, name, gone, steps)
