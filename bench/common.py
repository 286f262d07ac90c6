"""What the benchmarks share: free ports, `landlord` subprocesses, waiting for an HTTP endpoint,
a pool of concurrent jobs, RSS from /proc and a line about the machine.

The benchmarks are run as scripts (`python bench/provision.py`); each puts the repository root
and `operator/` on `sys.path` before importing this module as `bench.common`.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from landlord.devservices import process

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free port on 127.0.0.1 (the emulator, the operator's probes and metrics listen there)."""
    return process.free_port("127.0.0.1")


def landlord_env(**extra: str) -> dict[str, str]:
    """This environment with `operator/` on PYTHONPATH (for `python -m landlord`), and `extra`."""
    return {**os.environ, "PYTHONPATH": str(ROOT / "operator"), **extra}


async def spawn(
    *args: str, env: dict[str, str], log: Path | None = None, as_image: bool = False
) -> asyncio.subprocess.Process:
    """`python -m landlord ARGS` in its own process: stdout discarded, stderr appended to `log` (or
    discarded). `as_image`: with only what the operator image installs (`bench/as_image.py`)."""
    stderr: Any = asyncio.subprocess.DEVNULL if log is None else log.open("ab")
    launcher = [str(ROOT / "bench" / "as_image.py")] if as_image else ["-m", "landlord"]
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *launcher,
            *args,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    finally:
        if log is not None:
            stderr.close()


async def wait_http(url: str, timeout: float = 60, session: aiohttp.ClientSession | None = None) -> None:
    """Until `url` answers 200 (every 0.1 s), with `session` or a session of its own."""
    if session is None:
        async with aiohttp.ClientSession() as own:
            await wait_http(url, timeout, own)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


async def pool(count: int, concurrency: int, job: Callable[[int], Awaitable[Any]]) -> None:
    """`job(0)` .. `job(count - 1)`, `concurrency` at a time."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            await job(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def status_mib(pid: int | str, key: str) -> float:
    """A `kB` line of /proc/PID/status (VmRSS, VmHWM...) in MiB; nan when absent."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"{key}:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def rss_mib(pid: int | str = "self") -> float:
    """A process' resident set size now."""
    return status_mib(pid, "VmRSS")


def peak_rss_mib(pid: int | str = "self") -> float:
    """A process' peak resident set size (its high-water mark)."""
    return status_mib(pid, "VmHWM")


def cpu_seconds(pid: int | str = "self") -> float:
    """The CPU time a process has used so far (user and system), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine(load_average: bool = False) -> str:
    """CPUs and Python, then the load average now (`load_average`) or the architecture."""
    described = f"{os.cpu_count()} CPU(s), Python {platform.python_version()}"
    if load_average:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        return f"{described}, load average {load} at the start"
    return f"{described}, {platform.machine()}"
