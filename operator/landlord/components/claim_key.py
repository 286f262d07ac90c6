"""The operator's key for namespace claims, and the claim a namespace it creates carries.

A namespace Landlord creates carries a token that only the operator can make: an HMAC, with a
key held in a Secret of the operator's namespace (`landlord-namespace-claims`), of the Tenant's
uid and the namespace uid its status recorded before (none: empty). A kill between the create and
the uid's recording is recognised on restart by that token, with no status write before the
create: nobody without the key can put it on a namespace made in advance, and once readable on
the namespace it claims no later one (the next namespace's token names this one's uid).

Where the key cannot be had (no operator namespace, no right to its Secrets), the namespace
component falls back to a status write of the claim before the create, as before.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import secrets
import time

from ..kube import KubeClient, KubeError
from ..render.cluster import OPERATOR_NAMESPACE

logger = logging.getLogger(__name__)

SECRET_NAME = "landlord-namespace-claims"
TOKEN_PREFIX = "hmac-sha256:"
RETRY_AFTER = 60.0  # seconds between attempts to read the key after one failed for want of rights


def claim_token(key: bytes, tenant_uid: str, recorded: str | None) -> str:
    """The claim of a namespace created for the Tenant `tenant_uid` while its status recorded the
    namespace uid `recorded` (None: none yet). Pure."""
    mac = hmac.new(key, f"{tenant_uid}\n{recorded or ''}".encode(), hashlib.sha256).digest()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")


class ClaimKey:
    """The key, read from (or, the first time, created in) the operator's namespace, then kept."""

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or os.environ.get("LANDLORD_NAMESPACE") or OPERATOR_NAMESPACE
        self._key: bytes | None = None
        self._failed_at: float | None = None
        self._reread_at: float | None = None
        self._lock = asyncio.Lock()  # concurrent reconciles: one reads (or makes) the key, the others wait

    async def get(self, client: KubeClient) -> bytes | None:
        """The key; None when it cannot be read or made here (no namespace, no rights): the caller
        records its claim in the status instead. Other API errors are raised."""
        if self._key is not None:
            return self._key
        async with self._lock:
            return await self._load(client)

    async def _load(self, client: KubeClient) -> bytes | None:
        if self._key is not None:  # read by another reconcile meanwhile
            return self._key
        if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_AFTER:
            return None
        try:
            self._key = await self._read_or_create(client)
        except KubeError as exc:
            if exc.status not in (403, 404):
                raise
            if self._failed_at is None:
                logger.warning(
                    "no key for namespace claims (Secret %s/%s: %s); each new namespace's claim is written to "
                    "the Tenant's status first instead. Create the namespace %s (crds/landlord-admission.yaml) "
                    "and let the operator get and create Secrets in it",
                    self.namespace,
                    SECRET_NAME,
                    exc.status,
                    self.namespace,
                )
            self._failed_at = time.monotonic()
            return None
        self._failed_at = None
        return self._key

    def reread(self) -> bool:
        """Forgets the key so that the next `get` reads it again (the Secret may have been replaced):
        at most once a minute. Whether it was forgotten."""
        now = time.monotonic()
        if self._key is None or (self._reread_at is not None and now - self._reread_at < RETRY_AFTER):
            return False
        self._key, self._reread_at = None, now
        return True

    async def _read_or_create(self, client: KubeClient) -> bytes:
        found = await client.get("Secret", SECRET_NAME, self.namespace)
        if found is None:
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": SECRET_NAME, "namespace": self.namespace},
                "type": "Opaque",
                "data": {"key": base64.b64encode(secrets.token_bytes(32)).decode()},
            }
            try:
                found = await client.create(secret)
            except KubeError as exc:
                if exc.status != 409:
                    raise
                found = await client.get("Secret", SECRET_NAME, self.namespace)  # another replica made it
                if found is None:
                    raise
        encoded = (found.get("data") or {}).get("key")
        key = base64.b64decode(encoded) if isinstance(encoded, str) else b""
        if len(key) < 16:
            message = (
                f"Secret {self.namespace}/{SECRET_NAME} holds no usable key (data.key: base64 of at least 16 "
                f"bytes); delete it and the operator makes a new one"
            )
            raise KubeError(422, {"reason": "Invalid", "message": message}, "the key of namespace claims")
        return key
