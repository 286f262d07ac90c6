"""A throwaway S3 API server (moto_server) on 127.0.0.1 for the tests and the playground.

Why a server of its own rather than moto's in-process mock: the object storage provider talks
HTTP through botocore exactly as it does against AWS or an S3-compatible server, so endpoint
handling, path-style addressing, retries and connection errors are exercised for real; and the
server's conditional writes and object lock checks are the ones that refuse, not our code.

How, and why each step is so:

- The executable is the `moto_server` next to the running interpreter (the project's venv),
  else the first one on PATH: a venv that is not activated still finds its own.
- It runs as its own process (own session: a Ctrl-C meant for pytest does not reach it) on a
  free port; the output goes to a log file, never to a pipe nobody reads.
- It is ready when it answers an HTTP request; stop() ends it by its own PID (SIGTERM, then
  SIGKILL) and reaps it.
- moto accepts any credentials; a random pair is made per start anyway, registered with the
  redaction, so tests can prove that credentials never reach an error message.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .process import TERM_THEN_KILL, LocalServer, answers_http, end_process, spawn, start_on_free_port, tail, wait_ready

logger = logging.getLogger(__name__)

EXECUTABLE = "moto_server"
INSTALL_HINT = "pip install 'moto[s3]' flask flask-cors (the test extra has them)"
LOG_NAME = "moto_server.log"
REGION = "us-east-1"
KILL_AT_ONCE = ((signal.SIGKILL, 5.0),)
"""After a failed start: nothing to shut down cleanly."""


class LocalS3Error(RuntimeError):
    """moto_server could not be found or started; the message says why (and where the log is)."""


def find_moto_server(path: str | None = None) -> Path | None:
    """`moto_server` beside sys.executable (the venv's bin), else the first on PATH (`path`, default $PATH)."""
    beside = Path(sys.executable).parent / EXECUTABLE
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(EXECUTABLE, path=path)
    return Path(found) if found else None


class LocalS3(LocalServer):
    """An S3 API server of its own on 127.0.0.1: `with LocalS3() as s3:`, or start() and stop().

    `port` 0 picks a free port. `endpoint` is the URL to give the provider (`objectStorage.endpoint`).
    """

    host = "127.0.0.1"
    region = REGION

    def __init__(self, port: int = 0, start_timeout: float = 30.0) -> None:
        self.port = port
        self.start_timeout = start_timeout
        self.pid: int | None = None
        self.access_key_id = ""
        self.secret_access_key = ""
        self.log_path: Path = Path()
        self._process: subprocess.Popen[bytes] | None = None
        self._temp_dir: Path | None = None

    def __repr__(self) -> str:  # no credentials in reprs (pytest prints fixtures' reprs on failures)
        state = f"pid {self.pid}" if self.pid else "stopped"
        return f"<LocalS3 {self.endpoint} {state}>"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @staticmethod
    def available() -> str | None:
        """None when a server can be started here; otherwise one line saying what to install."""
        if find_moto_server() is None:
            return f"{EXECUTABLE} not found (beside {sys.executable}, PATH): {INSTALL_HINT}"
        return None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> LocalS3:
        """Starts moto_server on a free port and waits until it answers HTTP."""
        if self.pid is not None:
            raise LocalS3Error(f"moto_server is already running here (pid {self.pid})")
        executable = find_moto_server()
        if executable is None:
            raise LocalS3Error(f"cannot start an S3 server: {self.available()}")
        self._temp_dir = Path(tempfile.mkdtemp(prefix="landlord-s3-"))
        self.log_path = self._temp_dir / LOG_NAME
        self.access_key_id = "AKIA" + secrets.token_hex(8).upper()
        self.secret_access_key = secrets.token_urlsafe(30)
        from ..redaction import register_secret  # masked if it ever reaches a message or a log

        register_secret(self.access_key_id)
        register_secret(self.secret_access_key)
        try:
            self._start_server(executable)
        except BaseException:
            self.stop()
            raise
        self._stop_at_exit()
        logger.info("moto_server started on %s (pid %s, log %s)", self.endpoint, self.pid, self.log_path)
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if still there, to its own PID; reaps it; removes the log folder."""
        self._forget_at_exit()
        self._stop_process()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def _start_server(self, executable: Path) -> None:
        def attempt(port: int) -> str | None:
            self.port = port
            argv = [str(executable), "-H", self.host, "-p", str(port)]
            self._process = spawn(argv, self.log_path, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            self.pid = self._process.pid
            if wait_ready(
                self._process, lambda: answers_http(self.endpoint + "/", any_status=True), self.start_timeout
            ):
                return None
            log = tail(self.log_path)
            self._stop_process(KILL_AT_ONCE)
            return log

        start_on_free_port(
            self.host,
            self.port,
            attempt,
            lambda log, taken: LocalS3Error(f"moto_server did not start ({taken}see {self.log_path}):\n{log}".rstrip()),
        )

    def _stop_process(self, steps: Sequence[tuple[signal.Signals, float]] = TERM_THEN_KILL) -> None:
        """Ends the server process but keeps the log folder (after a failed start, to report the log)."""
        process, self._process = self._process, None
        self.pid = None
        if process is not None:
            end_process(process, "moto_server", steps)

    # -- helpers for tests and the playground ---------------------------------------------------
    def client(self) -> Any:
        """A boto3 S3 client for this server (path-style, its credentials)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def create_bucket(self, name: str, object_lock: bool = False) -> str:
        """Creates a bucket (with object lock enabled, hence versioning, when asked); returns its name."""
        args: dict[str, Any] = {"Bucket": name}
        if object_lock:
            args["ObjectLockEnabledForBucket"] = True
        self.client().create_bucket(**args)
        return name

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """The `objectStorage` configuration section (without `provider`) for a bucket on this server."""
        return {
            "bucket": bucket,
            "endpoint": self.endpoint,
            "region": self.region,
            "accessKeyId": self.access_key_id,
            "secretAccessKey": self.secret_access_key,
            **extra,
        }
