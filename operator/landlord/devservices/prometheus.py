"""A throwaway Prometheus server on 127.0.0.1 for the tests and the playground.

Why a real server: the usage reader's promises (one query per meter whatever the tenant count,
the exact values of a billing period, what a refused query or a server that is down looks like)
are Prometheus' behaviour, so only Prometheus can prove them. Debian's `prometheus` package
(2.42) is enough; it starts in well under a second.

How, and why each step is so:

- The binary comes from PATH, else `/usr/bin/prometheus` (`apt-get install prometheus`).
- A configuration is generated for the targets given (`127.0.0.1:PORT`, one job each), with
  the scrape interval asked for (the tests use 0.5-1 s) and the scrape timeout equal to it
  (Prometheus refuses a timeout longer than the interval).
- `out_of_order_window` (`storage.tsdb.out_of_order_time_window`) lets Prometheus ingest
  scraped samples that carry explicit timestamps older than its newest ones (the tests'
  exporter serves a past billing period that way). `retention` is long (400 days) so that
  such old samples are not deleted by the retention rule.
- The TSDB lives in a temporary folder removed by stop(); `stop(keep_data=True)` keeps it, and
  start() again reuses it and the same port (a restart, as after a crash).
- The server's output goes to a log file, never to a pipe (a pipe no one reads blocks the
  server and keeps CI steps waiting). It runs in its own session, and stop() ends it by its
  own PID: SIGTERM, then SIGKILL.
- start() returns once `/-/ready` answers 200; `wait_for_query` waits until a PromQL query
  gives what a test needs (scrapes are asynchronous).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .process import (
    LocalServer,
    answers_http,
    end_process,
    process_alive,
    spawn,
    start_on_free_port,
    tail,
    wait_ready,
)

logger = logging.getLogger(__name__)

DEFAULT_BINARY = "/usr/bin/prometheus"
INSTALL_HINT = "apt-get install --no-install-recommends prometheus"
CONFIG_NAME = "prometheus.yml"
LOG_NAME = "prometheus.log"
DATA_NAME = "tsdb"
STOP_SIGNALS = ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0))
"""SIGTERM first, with time to write its TSDB head (a restart replays it), then SIGKILL."""


class LocalPrometheusError(RuntimeError):
    """Prometheus could not be found, started, stopped or queried; the message says why (and where the log is)."""


@dataclass(frozen=True)
class ScrapeTarget:
    """One endpoint to scrape: `address` is `host:port`; each target is its own job."""

    address: str
    job: str = "exporter"
    path: str = "/metrics"
    honor_labels: bool = True  # keep the exporter's own `tenant`, `job`... labels as served


def find_binary() -> str | None:
    """`prometheus` on PATH, else Debian's /usr/bin/prometheus; None when neither exists."""
    found = shutil.which("prometheus")
    if found:
        return found
    return DEFAULT_BINARY if os.access(DEFAULT_BINARY, os.X_OK) else None


def _duration(seconds: float) -> str:
    """A Prometheus duration in milliseconds (`500ms`, `1000ms`): exact for any interval."""
    return f"{max(1, round(seconds * 1000))}ms"


class LocalPrometheus(LocalServer):
    """A Prometheus server of its own on 127.0.0.1: `with LocalPrometheus(targets) as prom:`.

    `targets`: `host:port` strings or `ScrapeTarget`s; `scrape_interval` in seconds;
    `out_of_order_window`: a Prometheus duration (`120d`) to accept old timestamped samples, or
    None; `port` 0 picks a free port (kept across a restart).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        targets: Sequence[str | ScrapeTarget] = (),
        scrape_interval: float = 1.0,
        out_of_order_window: str | None = None,
        port: int = 0,
        retention: str = "400d",
        start_timeout: float = 30.0,
    ) -> None:
        self.targets = [
            t if isinstance(t, ScrapeTarget) else ScrapeTarget(t, job=f"target{n}") for n, t in enumerate(targets)
        ]
        self.scrape_interval = scrape_interval
        self.out_of_order_window = out_of_order_window
        self.port = port
        self.retention = retention
        self.start_timeout = start_timeout
        self.pid: int | None = None
        self.binary: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.pid else "stopped"
        return f"<LocalPrometheus {self.host}:{self.port} {state} dir={self._dir}>"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise LocalPrometheusError("Prometheus was never started: it has no folder yet")
        return self._dir

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_NAME

    @property
    def data_dir(self) -> Path:
        return self.directory / DATA_NAME

    @property
    def running(self) -> bool:
        return self.pid is not None and process_alive(self.pid)

    @staticmethod
    def available() -> str | None:
        """None when a server can be started here; otherwise one line saying why not and what to install."""
        if find_binary() is None:
            return f"prometheus not found (PATH, {DEFAULT_BINARY}): {INSTALL_HINT}"
        return None

    # -- lifecycle ----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The configuration file's content."""
        interval = _duration(self.scrape_interval)
        config: dict[str, Any] = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {
                    "job_name": target.job,
                    "metrics_path": target.path,
                    "honor_labels": target.honor_labels,
                    "static_configs": [{"targets": [target.address]}],
                }
                for target in self.targets
            ],
        }
        if self.out_of_order_window:
            config["storage"] = {"tsdb": {"out_of_order_time_window": self.out_of_order_window}}
        return config

    def start(self) -> LocalPrometheus:
        """Writes the configuration, starts the server and waits until it is ready."""
        if self.running:
            raise LocalPrometheusError(f"Prometheus is already running here (pid {self.pid})")
        reason = self.available()
        if reason is not None:
            raise LocalPrometheusError(f"cannot start Prometheus: {reason}")
        self.binary = find_binary()
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="landlord-prom-"))
        try:
            start_on_free_port(
                self.host,
                self.port,
                self._attempt,
                lambda log, taken: LocalPrometheusError(
                    f"Prometheus did not become ready ({taken}log {self.log_path}); the end of its log:\n{log}"
                ),
            )
        except BaseException:
            self.stop()
            raise
        self._stop_at_exit()
        logger.info("Prometheus started on %s (pid %s, folder %s)", self.url, self.pid, self._dir)
        return self

    def stop(self, keep_data: bool = False) -> None:
        """Ends the server by its PID (SIGTERM, then SIGKILL); the folder goes unless `keep_data`."""
        self._forget_at_exit()
        self._kill()
        if not keep_data and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def restart(self) -> LocalPrometheus:
        """Stops and starts again on the same port with the same data (the WAL is replayed)."""
        self.stop(keep_data=True)
        return self.start()

    def _attempt(self, port: int) -> str | None:
        """Starts the server on `port`: None once ready, else the end of its log (the process ended)."""
        self.port = port
        if wait_ready(self._launch(), lambda: answers_http(f"{self.url}/-/ready"), self.start_timeout):
            return None
        log = tail(self.log_path)
        self._kill()
        return log

    def _launch(self) -> subprocess.Popen[bytes]:
        assert self.binary is not None and self._dir is not None
        (self._dir / CONFIG_NAME).write_text(yaml.safe_dump(self.config(), sort_keys=False))
        argv = [
            self.binary,
            f"--config.file={self._dir / CONFIG_NAME}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=info",
        ]
        self._process = spawn(argv, self.log_path, cwd=self._dir)
        self.pid = self._process.pid
        return self._process

    def _kill(self) -> None:
        process, self._process = self._process, None
        self.pid = None
        if process is not None:
            end_process(process, "Prometheus", STOP_SIGNALS)

    # -- queries --------------------------------------------------------------------------------
    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result (`[{metric, value}]`); `at` in Unix seconds, default now."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise LocalPrometheusError(f"query to {self.url} failed: {exc}") from None
        if body.get("status") != "success":
            raise LocalPrometheusError(f"Prometheus refused {promql!r}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for_query(
        self,
        promql: str,
        at: float | None = None,
        until: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout: float = 15.0,
    ) -> list[dict[str, Any]]:
        """Repeats the query until `until(result)` (default: a non-empty result); the last result.

        LocalPrometheusError when the time runs out, with the last result and the log's end.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql, at)
            if until(result):
                return result
            if time.monotonic() >= deadline:
                raise LocalPrometheusError(
                    f"{promql!r} did not give the expected result within {timeout:g} s; last: {result}; "
                    f"the end of the log:\n{tail(self.log_path)}"
                )
            time.sleep(0.1)
