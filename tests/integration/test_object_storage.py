"""The object storage provider against a real S3 API server (moto_server, its own process).

The promises checked are the archive's: a document is written once and never replaced, a rerun
is harmless, keys stay under the configured prefix, object lock retention reaches the server
(which then refuses deletes), and every failure is a ProviderError that says what to fix,
whether to retry, and never shows a credential.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from landlord.devservices.process import free_port
from landlord.devservices.s3 import LocalS3
from landlord.providers import ProviderError, load_providers, registry
from landlord.providers.objectstorage import ObjectStorage, S3ObjectStorage
from landlord.redaction import MASK, redact
from tests.s3_server import s3_bucket, s3_server  # noqa: F401

Factory = Callable[..., Awaitable[S3ObjectStorage]]
PDF = "application/pdf"


@pytest.fixture
async def storage_for(s3_server: LocalS3) -> AsyncIterator[Factory]:  # noqa: F811
    """Builds providers for this server (settings override the defaults) and closes them all at the end."""
    made: list[S3ObjectStorage] = []

    async def make(bucket: str, **settings: Any) -> S3ObjectStorage:
        provider = S3ObjectStorage(s3_server.settings(bucket, **settings))
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.close()


async def client_of(storage: S3ObjectStorage) -> Any:
    """The provider's own boto3 client (made by a first call), to watch or alter what it sends."""
    await storage.check()
    return storage._client


async def failure(call: Awaitable[Any]) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await call
    return caught.value


# -- write once ---------------------------------------------------------------------------------
async def test_put_once_creates_and_a_rerun_with_the_same_bytes_changes_nothing(
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    storage_for: Factory,
) -> None:
    """A rerun of the archiver (a crash after the write, a second replica) must be a no-op, not an error."""
    storage = await storage_for(s3_bucket)
    assert await storage.put_once("2025/inv-1.pdf", b"%PDF-1 first", PDF) is True
    assert await storage.get("2025/inv-1.pdf") == b"%PDF-1 first"
    assert await storage.put_once("2025/inv-1.pdf", b"%PDF-1 first", PDF) is False

    raw = s3_server.client()
    assert raw.head_object(Bucket=s3_bucket, Key="2025/inv-1.pdf")["ContentType"] == PDF
    versions = raw.list_object_versions(Bucket=s3_bucket, Prefix="2025/inv-1.pdf").get("Versions", [])
    assert len(versions) == 1  # the rerun wrote nothing (the bucket is versioned: a rewrite would show)


async def test_other_bytes_under_an_existing_key_are_refused_and_the_original_stays(
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    storage_for: Factory,
) -> None:
    """An archived invoice never changes: a different document under its key is a bug a person must see."""
    storage = await storage_for(s3_bucket)
    await storage.put_once("inv-2.pdf", b"original", PDF)

    error = await failure(storage.put_once("inv-2.pdf", b"tampered", PDF))
    assert error.reason == "ObjectExists"
    assert error.retryable is False
    assert "inv-2.pdf" in error.message

    assert await storage.get("inv-2.pdf") == b"original"
    versions = s3_server.client().list_object_versions(Bucket=s3_bucket, Prefix="inv-2.pdf").get("Versions", [])
    assert len(versions) == 1  # not even a newer version was written


async def test_the_write_is_conditional_so_the_server_refuses_a_racing_writer(
    s3_bucket: str,  # noqa: F811
    storage_for: Factory,
) -> None:
    """Two replicas racing for one key: the server, not a read before the write, must decide (If-None-Match: *)."""
    storage = await storage_for(s3_bucket)
    sent: list[bytes | str | None] = []

    def watch(request: Any, **_: Any) -> None:
        sent.append(request.headers.get("If-None-Match"))  # botocore holds header values as bytes

    (await client_of(storage)).meta.events.register("before-send.s3.PutObject", watch)
    assert await storage.put_once("race.pdf", b"one", PDF) is True
    assert sent == [b"*"]


class _Raw:
    """The raw body botocore reads from a response it did not get from the network."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


async def test_a_server_without_conditional_writes_gets_a_read_before_the_write(
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    storage_for: Factory,
) -> None:
    """Some S3-compatible servers answer 501 to If-None-Match: write-once must still hold there."""
    storage = await storage_for(s3_bucket)
    refused: list[str] = []

    def not_implemented(request: Any, **_: Any) -> AWSResponse | None:
        if request.headers.get("If-None-Match") is None:
            return None
        refused.append(request.url)
        body = b"<Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message></Error>"  # noqa: E501
        return AWSResponse(request.url, 501, {"Content-Type": "application/xml"}, _Raw(body))

    (await client_of(storage)).meta.events.register("before-send.s3.PutObject", not_implemented)
    assert await storage.put_once("old-server.pdf", b"first", PDF) is True
    assert storage.conditional_writes is False
    assert len(refused) == 1
    assert await storage.put_once("old-server.pdf", b"first", PDF) is False
    error = await failure(storage.put_once("old-server.pdf", b"second", PDF))
    assert error.reason == "ObjectExists"
    assert len(refused) == 1  # learnt once: no more conditional writes to this server
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="old-server.pdf")["Body"].read() == b"first"


async def test_get_of_an_absent_key_is_none(s3_bucket: str, storage_for: Factory) -> None:  # noqa: F811
    """Absent is an answer, not an error: the archiver asks before deciding what to do."""
    storage = await storage_for(s3_bucket)
    assert await storage.get("nothing/here.pdf") is None


async def test_invalid_keys_are_refused(s3_bucket: str, storage_for: Factory) -> None:  # noqa: F811
    """An absolute or empty key would escape the prefix or name the prefix itself."""
    storage = await storage_for(s3_bucket, prefix="archive")
    for key in ("", "/etc/passwd"):
        error = await failure(storage.put_once(key, b"x", PDF))
        assert error.reason == "InvalidKey"
        assert error.retryable is False


# -- listing and prefixes -------------------------------------------------------------------------
async def test_list_follows_every_page(s3_bucket: str, storage_for: Factory) -> None:  # noqa: F811
    """S3 returns at most 1000 keys a request: without following the pages an archive looks incomplete."""
    storage = await storage_for(s3_bucket)
    storage.page_size = 2  # what S3 does at 1000 keys, with 7
    requests: list[str] = []
    (await client_of(storage)).meta.events.register(
        "before-send.s3.ListObjectsV2", lambda request, **_: requests.append(request.url)
    )
    keys = [f"2025/inv-{n}.pdf" for n in range(7)]
    for key in keys:
        await storage.put_once(key, key.encode(), PDF)
    await storage.put_once("2024/old.pdf", b"old", PDF)

    assert sorted(await storage.list("2025/")) == keys
    assert len(requests) == 4  # 2 + 2 + 2 + 1
    assert sorted(await storage.list("")) == sorted([*keys, "2024/old.pdf"])


async def test_keys_live_under_the_configured_prefix_and_are_listed_relative_to_it(
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    storage_for: Factory,
) -> None:
    """One bucket can serve several installations: each sees and writes only under its own prefix."""
    ours = await storage_for(s3_bucket, prefix="/landlord/prod")  # slashes around it do not matter
    theirs = await storage_for(s3_bucket, prefix="landlord/prod-eu/")
    await ours.put_once("invoices/a.pdf", b"a", PDF)
    await theirs.put_once("invoices/b.pdf", b"b", PDF)

    raw_keys = [item["Key"] for item in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert sorted(raw_keys) == ["landlord/prod-eu/invoices/b.pdf", "landlord/prod/invoices/a.pdf"]
    assert await ours.list("invoices/") == ["invoices/a.pdf"]  # not prod-eu's, though it starts alike
    assert await theirs.list("") == ["invoices/b.pdf"]
    assert await ours.get("invoices/b.pdf") is None
    whole = await storage_for(s3_bucket)
    assert sorted(await whole.list("landlord/")) == sorted(raw_keys)


# -- object lock ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["COMPLIANCE", "GOVERNANCE"])
async def test_object_lock_retention_is_set_and_the_server_refuses_to_delete_the_version(
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    storage_for: Factory,
    mode: str,
) -> None:
    """The retention is what makes the archive tamper-proof: the server itself keeps the document."""
    checked = await storage_for(s3_bucket, objectLock={"mode": mode})
    assert checked.object_lock is False  # not known before asking the server
    await checked.check()
    assert checked.object_lock is True

    storage = await storage_for(s3_bucket, objectLock={"mode": mode})
    until = (datetime.now(UTC) + timedelta(days=3650)).replace(microsecond=0)
    await storage.put_once("locked.pdf", b"kept", PDF, retain_until=until)  # no check() first: it asks itself
    assert storage.object_lock is True

    raw = s3_server.client()
    head = raw.head_object(Bucket=s3_bucket, Key="locked.pdf")
    assert head["ObjectLockMode"] == mode
    assert head["ObjectLockRetainUntilDate"] == until
    with pytest.raises(ClientError) as refused:  # moto enforces retention on deleting a version
        raw.delete_object(Bucket=s3_bucket, Key="locked.pdf", VersionId=head["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert raw.get_object(Bucket=s3_bucket, Key="locked.pdf", VersionId=head["VersionId"])["Body"].read() == b"kept"


async def test_without_object_lock_on_the_bucket_documents_are_written_without_retention(
    s3_server: LocalS3,  # noqa: F811
    storage_for: Factory,
) -> None:
    """objectLock configured but the bucket has none (it can only be enabled at creation): still archive."""
    bucket = s3_server.create_bucket(f"plain-{secrets.token_hex(6)}", object_lock=False)
    storage = await storage_for(bucket, objectLock={"mode": "COMPLIANCE"})
    until = datetime.now(UTC) + timedelta(days=1)
    # No check() first: the first locked write finds out by itself.
    assert await storage.put_once("a.pdf", b"a", PDF, retain_until=until) is True
    assert storage.object_lock is False
    assert "ObjectLockMode" not in s3_server.client().head_object(Bucket=bucket, Key="a.pdf")


async def test_without_object_lock_configured_no_retention_is_asked(
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    storage_for: Factory,
) -> None:
    """Retention is an operator's decision (objectLock), not the caller's: a retain_until alone sets nothing."""
    storage = await storage_for(s3_bucket)
    await storage.put_once("free.pdf", b"x", PDF, retain_until=datetime.now(UTC) + timedelta(days=1))
    assert "ObjectLockMode" not in s3_server.client().head_object(Bucket=s3_bucket, Key="free.pdf")


# -- configuration ----------------------------------------------------------------------------------
def test_configuration_problems_name_the_key() -> None:
    """A typo must fail the start with the key to fix, not the first archived invoice."""
    assert registry.problems("objectStorage", {"provider": "s3", "bucket": "invoices"}) == []
    unknown = registry.problems("objectStorage", {"provider": "s3", "bucket": "invoices", "bukcet": "x"})
    assert len(unknown) == 1 and unknown[0].startswith("objectStorage.bukcet: unknown key")
    missing = registry.problems("objectStorage", {"provider": "s3", "region": "eu-west-3"})
    assert missing == ["objectStorage.bucket: required by provider 's3' and missing; set it"]
    lock = registry.problems("objectStorage", {"provider": "s3", "bucket": "invoices", "objectLock": {"mode": "x"}})
    assert len(lock) == 1 and lock[0].startswith("objectStorage.objectLock.mode:")
    endpoint = registry.problems("objectStorage", {"provider": "s3", "bucket": "invoices", "endpoint": "minio:9000"})
    assert len(endpoint) == 1 and endpoint[0].startswith("objectStorage.endpoint:")
    half = registry.problems("objectStorage", {"provider": "s3", "bucket": "invoices", "accessKeyId": "AKIAX"})
    assert len(half) == 1 and "secretAccessKey" in half[0]


async def test_the_provider_is_built_from_the_configuration(s3_server: LocalS3, s3_bucket: str) -> None:  # noqa: F811
    """`objectStorage.provider: s3` selects this implementation (it is registered on import of the providers)."""
    providers = load_providers({"objectStorage": {"provider": "s3", **s3_server.settings(s3_bucket)}})
    storage = providers.get("objectStorage")
    assert isinstance(storage, S3ObjectStorage)
    assert isinstance(storage, ObjectStorage)
    try:
        await storage.check()
    finally:
        await providers.close()


# -- failures --------------------------------------------------------------------------------------
async def test_a_missing_bucket_is_reported_with_what_to_do(s3_server: LocalS3, storage_for: Factory) -> None:  # noqa: F811
    """Nobody can fix a bucket that is not named: the message names it, the server and the remedy."""
    storage = await storage_for("no-such-bucket")
    error = await failure(storage.check())
    assert error.message == (
        f"objectStorage.bucket: bucket 'no-such-bucket' does not exist at {s3_server.endpoint}; create it"
    )
    assert error.retryable is False
    assert (await failure(storage.put_once("a.pdf", b"a", PDF))).reason == "NoSuchBucket"


async def test_an_unreachable_server_is_a_retryable_error_naming_the_endpoint(s3_server: LocalS3) -> None:  # noqa: F811
    """A server down is a wait-and-retry, not a configuration error; the message says which server."""
    endpoint = f"http://127.0.0.1:{free_port('127.0.0.1')}"  # nothing listens there
    storage = S3ObjectStorage({**s3_server.settings("invoices"), "endpoint": endpoint})
    try:
        for call in (storage.check(), storage.get("a.pdf"), storage.put_once("a.pdf", b"a", PDF), storage.list("")):
            error = await failure(call)
            assert error.retryable is True
            assert error.reason == "ServerUnreachable"
            assert f"cannot reach {endpoint}" in error.message
    finally:
        await storage.close()


async def test_credentials_never_appear_in_errors(
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    storage_for: Factory,
) -> None:
    """Error texts reach status conditions and Events that tenants' admins read: keys must not leak."""
    key_id = "AKIA" + secrets.token_hex(8).upper()
    secret = secrets.token_urlsafe(30)
    assert redact(secret) == secret  # not known yet
    storage = await storage_for(s3_bucket, accessKeyId=key_id, secretAccessKey=secret)  # moto accepts any
    assert redact(f"{key_id} {secret}") == f"{MASK} {MASK}"  # registered when the provider is built
    assert secret not in repr(storage) and key_id not in repr(storage)

    await storage.put_once("a.pdf", b"a", PDF)
    missing = await storage_for("no-such-bucket", accessKeyId=key_id, secretAccessKey=secret)
    unreachable = await storage_for(
        s3_bucket, accessKeyId=key_id, secretAccessKey=secret, endpoint=f"http://127.0.0.1:{free_port('127.0.0.1')}"
    )
    errors = [
        await failure(storage.put_once("a.pdf", b"b", PDF)),
        await failure(missing.check()),
        await failure(unreachable.check()),
    ]
    for error in errors:
        assert key_id not in str(error) and secret not in str(error)


async def test_without_credentials_the_usual_chain_is_used(
    s3_server: LocalS3,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a cluster the keys come from the environment (AWS_*, a role): no keys in the configuration is valid."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookups from a laptop
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    settings = {"bucket": s3_bucket, "endpoint": s3_server.endpoint}

    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    without = S3ObjectStorage(settings)
    try:
        error = await failure(without.check())
        assert error.reason == "NoCredentials" and error.retryable is False
        assert "objectStorage.accessKeyId" in error.message
    finally:
        await without.close()

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    from_env = S3ObjectStorage(settings)
    try:
        assert await from_env.put_once("env.pdf", b"e", PDF) is True
    finally:
        await from_env.close()
