"""Object storage: write-once documents in an S3 bucket (AWS or any S3-compatible server).

The billing sidecar archives issued documents here, so the interface is the few operations an
archive needs: a write that never replaces what exists (`put_once`), a read, a listing, and a
check at start. A rerun writing the same bytes is a no-op, writing other bytes under the same
key is an error: an archived invoice never changes.

`put_once` sends a conditional write (`If-None-Match: *`): the server refuses it when the key
exists, so two replicas racing for one key cannot both win. A server that answers that it does
not implement conditional writes (501 NotImplemented) gets a read-then-write instead from then on.
With `objectLock` configured and a bucket that has object lock enabled, each document is
written with a retention date, and the server itself refuses to delete or overwrite it.

boto3 is synchronous: every call runs in a worker thread (`asyncio.to_thread`), on one client
per provider, made at the first call. Every botocore error becomes a ProviderError whose text
is redacted and never holds the credentials (they are registered as secrets when configured).
"""

from __future__ import annotations

import asyncio
import builtins
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from ..redaction import redact, register_secret
from .base import ProviderError, ProviderSpec
from .registry import register

CAPABILITY = "objectStorage"
DEFAULT_REGION = "us-east-1"
_CONNECT_TIMEOUT = 5
_READ_TIMEOUT = 30
_ATTEMPTS = 3  # botocore's own retries of throttling and connection errors, per call

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_NO_BUCKET = {"NoSuchBucket"}
_DENIED = {"403", "AccessDenied", "Forbidden", "AllAccessDisabled"}
_BAD_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
_RETRYABLE = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ConditionalRequestConflict",  # a concurrent conditional write to the same key: try again
}
_NO_LOCK_CONFIG = {"ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"}


@runtime_checkable
class ObjectStorage(Protocol):
    """What the operator asks of an object store: write-once documents under keys."""

    name: str
    object_lock: bool  # the bucket has object lock enabled (known after check() or the first locked write)

    async def put_once(self, key: str, body: bytes, content_type: str, retain_until: datetime | None = None) -> bool:
        """True when written; False when the same bytes are there already; ProviderError otherwise."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes; None when absent."""
        ...

    async def list(self, prefix: str) -> builtins.list[str]:
        """Every key under `prefix`, relative to the configured prefix."""
        ...

    async def check(self) -> None:
        """Raises ProviderError unless the bucket exists and can be reached."""
        ...

    async def close(self) -> None:
        """Releases the client's connections."""
        ...


def _normalize_prefix(prefix: str) -> str:
    """'' or 'a/b/': keys are joined under the prefix as a folder, whatever slashes were configured."""
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


class S3ObjectStorage:
    """Documents in one S3 bucket under an optional prefix, through boto3."""

    name = "s3"
    page_size = 1000  # keys per ListObjectsV2 request (S3's maximum); smaller in tests

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})
        self.bucket: str = str(self.settings["bucket"])
        self.endpoint: str | None = self.settings.get("endpoint") or None
        self.region: str = self.settings.get("region") or DEFAULT_REGION
        self.prefix = _normalize_prefix(str(self.settings.get("prefix") or ""))
        self.lock_mode: str | None = (self.settings.get("objectLock") or {}).get("mode")
        self._access_key_id: str | None = self.settings.get("accessKeyId") or None
        self._secret_access_key: str | None = self.settings.get("secretAccessKey") or None
        for secret in (self._access_key_id, self._secret_access_key):
            register_secret(secret)  # masked wherever it could appear
        self.object_lock = False
        self._lock_known = False
        self.conditional_writes = True  # False once the server said it does not implement If-None-Match
        self._client: Any = None
        self._client_lock = asyncio.Lock()

    def __repr__(self) -> str:  # no credentials in reprs
        return f"<S3ObjectStorage bucket={self.bucket!r} at {self.where}>"

    @property
    def where(self) -> str:
        """The server, as error messages name it."""
        return self.endpoint or f"AWS S3 ({self.region})"

    # -- the client -------------------------------------------------------------------------------
    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            region_name=self.region,
            connect_timeout=_CONNECT_TIMEOUT,
            read_timeout=_READ_TIMEOUT,
            retries={"max_attempts": _ATTEMPTS, "mode": "standard"},
            # An S3-compatible server at an address of its own rarely serves bucket subdomains.
            s3={"addressing_style": "path" if self.endpoint else "auto"},
        )
        # A session of its own: boto3's default session is shared and not thread-safe to set up.
        session = boto3.session.Session(
            aws_access_key_id=self._access_key_id,
            aws_secret_access_key=self._secret_access_key,
            region_name=self.region,
        )
        return session.client("s3", endpoint_url=self.endpoint, config=config)

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        """One S3 operation in a worker thread; botocore errors are raised as they are."""
        if self._client is None:
            async with self._client_lock:
                if self._client is None:
                    self._client = await asyncio.to_thread(self._make_client)
        client = self._client
        return await asyncio.to_thread(getattr(client, operation), **kwargs)

    async def close(self) -> None:
        async with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)

    # -- keys -------------------------------------------------------------------------------------
    def _full_key(self, key: str) -> str:
        if not key or key.startswith("/"):
            raise ProviderError(f"invalid object key {key!r}: it must be non-empty and relative", False, "InvalidKey")
        return self.prefix + key

    # -- errors -----------------------------------------------------------------------------------
    def _error(self, exc: BaseException, doing: str, bucket_call: bool = False) -> ProviderError:
        """A botocore error as a ProviderError naming the bucket and the server, retryable unless a person must act."""
        where = f"bucket {self.bucket!r} at {self.where}"
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return ProviderError(
                f"{doing}: no credentials for {where}; set objectStorage.accessKeyId and "
                "objectStorage.secretAccessKey, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                False,
                "NoCredentials",
            )
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError | ReadTimeoutError):
            return ProviderError(f"{doing}: cannot reach {self.where}: {redact(exc)}", True, "ServerUnreachable")
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            detail = redact(error.get("Message") or code or exc)
            # A request on the bucket itself (HEAD) has no body: its 404 is the bucket's.
            if code in _NO_BUCKET or (bucket_call and code in _NOT_FOUND):
                return ProviderError(
                    f"objectStorage.bucket: bucket {self.bucket!r} does not exist at {self.where}; create it",
                    False,
                    "NoSuchBucket",
                )
            if code in _BAD_CREDENTIALS:
                return ProviderError(
                    f"{doing}: {self.where} refused the credentials for {where} ({code}: {detail}); "
                    "check objectStorage.accessKeyId and objectStorage.secretAccessKey",
                    False,
                    "AuthenticationFailed",
                )
            if code in _DENIED:
                return ProviderError(f"{doing}: access denied to {where} ({detail})", False, "PermissionDenied")
            retryable = code in _RETRYABLE or status >= 500 or status == 0
            return ProviderError(f"{doing}: {where} answered {code or status}: {detail}", retryable, "ServerError")
        if isinstance(exc, BotoCoreError):
            return ProviderError(f"{doing}: {where}: {redact(exc)}", True, "ServerError")
        return ProviderError(f"{doing}: {where}: {redact(exc)}", True, "ServerError")

    @staticmethod
    def _code(exc: ClientError) -> str:
        return str(exc.response.get("Error", {}).get("Code", ""))

    @staticmethod
    def _status(exc: ClientError) -> int:
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)

    # -- operations -------------------------------------------------------------------------------
    async def check(self) -> None:
        """The bucket exists and answers; also finds whether it has object lock enabled."""
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, "check", bucket_call=True) from None
        await self._probe_lock()

    async def _probe_lock(self) -> None:
        """Whether the bucket has object lock enabled (a bucket without it refuses lock headers)."""
        try:
            answer = await self._call("get_object_lock_configuration", Bucket=self.bucket)
        except ClientError as exc:
            code = self._code(exc)
            # Without objectLock configured, a key that may not read the lock setting can still write.
            denied = code in _DENIED and not self.lock_mode
            if code not in _NO_LOCK_CONFIG and not denied:
                raise self._error(exc, "reading the object lock configuration") from None
            answer = {}
        except BotoCoreError as exc:
            raise self._error(exc, "reading the object lock configuration") from None
        self.object_lock = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        self._lock_known = True

    async def get(self, key: str) -> bytes | None:
        full = self._full_key(key)
        try:
            answer = await self._call("get_object", Bucket=self.bucket, Key=full)
            body: bytes = await asyncio.to_thread(answer["Body"].read)
        except ClientError as exc:
            if self._code(exc) in _NOT_FOUND:
                return None
            raise self._error(exc, f"reading {full!r}") from None
        except BotoCoreError as exc:
            raise self._error(exc, f"reading {full!r}") from None
        return body

    async def list(self, prefix: str = "") -> builtins.list[str]:
        """Every key under the configured prefix + `prefix`, all pages, without the configured prefix."""
        start = self.prefix + prefix
        keys: builtins.list[str] = []
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": start, "MaxKeys": self.page_size}
            if token:
                args["ContinuationToken"] = token
            try:
                page = await self._call("list_objects_v2", **args)
            except (BotoCoreError, ClientError) as exc:
                raise self._error(exc, f"listing {start!r}") from None
            keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return keys

    async def put_once(self, key: str, body: bytes, content_type: str, retain_until: datetime | None = None) -> bool:
        """Writes the object unless it exists: True when written, False when the same bytes are there.

        Other bytes under the key: ProviderError(reason="ObjectExists", retryable=False). With
        `objectLock` configured, `retain_until` (timezone-aware) and a bucket with object lock,
        the object is written with that retention and the configured mode.
        """
        full = self._full_key(key)
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": full, "Body": body, "ContentType": content_type}
        if self.lock_mode and retain_until is not None:
            if retain_until.tzinfo is None:
                raise ValueError("retain_until must be timezone-aware")
            if not self._lock_known:
                await self._probe_lock()
            if self.object_lock:
                args["ObjectLockMode"] = self.lock_mode
                args["ObjectLockRetainUntilDate"] = retain_until
        if self.conditional_writes:
            try:
                await self._call("put_object", IfNoneMatch="*", **args)
                return True
            except ClientError as exc:
                code, status = self._code(exc), self._status(exc)
                if code == "PreconditionFailed" or status == 412:
                    return await self._same(key, full, body)
                if code != "NotImplemented" and status != 501:
                    raise self._error(exc, f"writing {full!r}") from None
                self.conditional_writes = False  # read-then-write from now on
            except BotoCoreError as exc:
                raise self._error(exc, f"writing {full!r}") from None
        if await self.get(key) is not None:
            return await self._same(key, full, body)
        try:
            await self._call("put_object", **args)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, f"writing {full!r}") from None
        return True

    async def _same(self, key: str, full: str, body: bytes) -> bool:
        """False when the object there has these bytes; ProviderError(ObjectExists) when it differs."""
        existing = await self.get(key)
        if existing is None:  # deleted (a delete marker) between the refused write and this read
            raise ProviderError(
                f"writing {full!r} in bucket {self.bucket!r}: the object changed while it was written; retry",
                True,
                "ObjectChanged",
            )
        if existing == body:
            return False
        raise ProviderError(
            f"object {full!r} already exists in bucket {self.bucket!r} with different content "
            f"({len(existing)} bytes there, {len(body)} to write); objects are written once",
            False,
            "ObjectExists",
        )


SPEC = register(
    ProviderSpec(
        CAPABILITY,
        "s3",
        S3ObjectStorage,
        schema={
            "type": "object",
            "required": ["bucket"],
            "properties": {
                "bucket": {"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"},
                "endpoint": {"type": "string", "pattern": "^https?://[^\\s/]+(/.*)?$"},
                "region": {"type": "string", "minLength": 1},
                "prefix": {"type": "string"},
                "accessKeyId": {"type": "string", "minLength": 1},
                "secretAccessKey": {"type": "string", "minLength": 1},
                "objectLock": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["mode"],
                    "properties": {"mode": {"enum": ["COMPLIANCE", "GOVERNANCE"]}},
                },
            },
            "dependentRequired": {"accessKeyId": ["secretAccessKey"], "secretAccessKey": ["accessKeyId"]},
        },
        description="An S3 bucket (AWS or S3-compatible): write-once documents, optional object lock",
    )
)
